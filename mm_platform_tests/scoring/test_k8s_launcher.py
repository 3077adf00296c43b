"""The Kubernetes scorer launcher. No cluster exists here (no kind, k3s or minikube), so PipesK8sClient
talks to a small Kubernetes API server in a thread: it answers the calls the client makes (create pod,
list pods by name and by label, the pod's log, delete pod) and plays the kubelet, taking each pod from
Pending to Running and, once its log was read, to Succeeded or Failed; it kills a pod that outlives its
activeDeadlineSeconds as the kubelet does (phase Failed, reason DeadlineExceeded)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from dagster import MaterializeResult, asset, instance_for_test, materialize
from dagster_k8s.pipes import build_pod_body
from dagster_pipes import PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD

from mm_platform.scoring.rules.config import ChallengeConfig, PhaseConfig
from mm_platform.scoring.rules.scores import exit_code_failure, timeout_failure
from mm_platform.scoring.stores.k8s_launcher import CONTAINER, LAUNCH_LABEL, K8sScorerLauncher, pod_spec
from mm_platform.scoring.stores.launcher import ScorerOutcome, ScorerRequest

NAMESPACE = "scoring"
PHASE = PhaseConfig("provisional", "rt-1", "sc-1", start_seed=7, number_of_tests=3)
CONFIG = ChallengeConfig(
    challenge_id="c-1",
    scorer_type="k8s",
    ecs_cluster="unused",
    ecs_task_definition="unused",
    timeout_seconds=60,
    memory_limit_mb=1536,
    phases=(PHASE,),
    image="registry.test/scorer:4",
    command=("python", "-m", "scorer", "--quiet"),
)


def scorer_request(submission_id: str = "s-1", config: ChallengeConfig = CONFIG) -> ScorerRequest:
    return ScorerRequest(config, PHASE, submission_id, f"http://files.test/{submission_id}.zip")


def test_the_pod_runs_the_config_s_image_and_command_once_with_its_memory_and_deadline() -> None:
    request = scorer_request()
    spec = pod_spec(request)
    (container,) = spec["containers"]
    assert container["name"] == CONTAINER
    assert container["image"] == "registry.test/scorer:4"
    assert container["command"] == ["python", "-m", "scorer", "--quiet"]
    assert {e["name"]: e["value"] for e in container["env"]} == request.environment
    assert container["resources"] == {"requests": {"memory": "1536Mi"}, "limits": {"memory": "1536Mi"}}
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 60
    # as PipesK8sClient builds the pod from it: nothing lost, the Pipes variables added
    pod = build_pod_body("p", None, None, {"DAGSTER_PIPES_CONTEXT": "x"}, {"labels": {"a": "b"}}, spec)
    built = pod.spec.containers[0]
    assert (built.image, built.command, pod.spec.restart_policy) == (
        container["image"],
        container["command"],
        "Never",
    )
    assert pod.spec.active_deadline_seconds == 60
    assert built.resources.limits == {"memory": "1536Mi"}
    assert {e.name for e in built.env} == {*request.environment, "DAGSTER_PIPES_CONTEXT"}


def test_without_a_command_the_image_s_own_entrypoint_runs() -> None:
    spec = pod_spec(scorer_request(config=replace(CONFIG, command=None)))
    assert "command" not in spec["containers"][0]


def reported_score(submission_id: str) -> dict[str, Any]:
    return {"score": float(len(submission_id)), "testScores": [{"testcase": 7, "score": 1.0, "runTimeMs": 5}]}


def pipes_line(method: str, params: dict[str, Any] | None) -> str:
    return json.dumps(
        {PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION, "method": method, "params": params}
    )


def kube_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakePod:
    body: dict[str, Any]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    lists: int = 0
    log_read: bool = False
    deadline_exceeded: bool = False
    deleted: bool = False

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def environment(self) -> dict[str, str]:
        return {e["name"]: e.get("value", "") for e in self.body["spec"]["containers"][0].get("env", [])}

    @property
    def submission_id(self) -> str:
        return self.environment["MM_SUBMISSION_ID"]

    @property
    def exit_code(self) -> int:
        # the submission id says how this scorer ends: "exit-3" exits with 3
        sid = self.submission_id
        return 137 if self.deadline_exceeded else int(sid.split("-")[1]) if sid.startswith("exit-") else 0

    @property
    def deadline(self) -> datetime:
        return self.created + timedelta(seconds=self.body["spec"]["activeDeadlineSeconds"])

    def log_lines(self) -> list[str]:
        lines = [
            pipes_line("opened", {"extras": {}}),
            "the scorer's own output",
            pipes_line("report_custom_message", {"payload": {"score": -1, "testScores": []}}),
            pipes_line("report_custom_message", {"payload": reported_score(self.submission_id)}),
        ]
        if self.submission_id != "hangs":
            lines.append(pipes_line("closed", {}))
        start = self.created + timedelta(seconds=1)
        return [
            f"{(start + timedelta(milliseconds=i)).isoformat()[:-6]}Z {line}" for i, line in enumerate(lines)
        ]

    def as_json(self) -> dict[str, Any]:
        """The pod as the API shows it, advanced as the kubelet would at this read."""
        if not self.log_read and datetime.now(UTC) > self.deadline:
            self.deadline_exceeded = True
        container = {
            "name": CONTAINER,
            "image": "scorer",
            "imageID": "sha",
            "restartCount": 0,
            "ready": False,
        }
        status: dict[str, Any]
        if self.log_read or self.deadline_exceeded:
            code = self.exit_code
            container["state"] = {
                "terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
            }
            status = {"phase": "Succeeded" if code == 0 else "Failed"}
            if self.deadline_exceeded:
                status.update(phase="Failed", reason="DeadlineExceeded")
        elif self.lists <= 1:
            container["state"] = {"waiting": {"reason": "ContainerCreating"}}
            status = {"phase": "Pending"}
        else:
            container.update(ready=True, state={"running": {"startedAt": kube_time(self.created)}})
            status = {"phase": "Running"}
        return {**self.body, "status": {**status, "containerStatuses": [container]}}


class FakeKubernetes:
    def __init__(self) -> None:
        self.pods: dict[str, FakePod] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["metadata"].setdefault("namespace", NAMESPACE)
                with fake.lock:
                    pod = fake.pods[body["metadata"]["name"]] = FakePod(body)
                    self.answer(201, pod.as_json())

            def do_DELETE(self) -> None:
                name = urlparse(self.path).path.rsplit("/", 1)[-1]
                with fake.lock:
                    pod = fake.pods[name]
                    pod.deleted = True
                    self.answer(200, pod.as_json())

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                if url.path.endswith("/log"):
                    return self.log(
                        fake.pods[url.path.split("/")[-2]], follow=query.get("follow", "").lower() == "true"
                    )
                with fake.lock:
                    items = [pod for pod in fake.pods.values() if not pod.deleted and matches(pod, query)]
                    for pod in items:
                        pod.lists += 1
                    self.answer(
                        200, {"kind": "PodList", "apiVersion": "v1", "items": [p.as_json() for p in items]}
                    )

            def log(self, pod: FakePod, follow: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write("".join(line + "\n" for line in pod.log_lines()).encode())
                self.wfile.flush()
                if follow and pod.submission_id == "hangs":
                    # the stream stays open until the kubelet kills the pod at its deadline
                    time.sleep(max(0.0, (pod.deadline - datetime.now(UTC)).total_seconds()) + 0.1)
                if follow:
                    pod.log_read = not pod.deadline_exceeded and datetime.now(UTC) <= pod.deadline

            def answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def matches(pod: FakePod, query: dict[str, str]) -> bool:
    if "fieldSelector" in query:
        return query["fieldSelector"] == f"metadata.name={pod.name}"
    if "labelSelector" in query:
        key, _, value = query["labelSelector"].partition("=")
        return pod.body["metadata"].get("labels", {}).get(key) == value
    return True


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[FakeKubernetes, Path]]:
    fake = FakeKubernetes()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": fake.url}}],
                "users": [{"name": "scorer", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "scorer"}}],
                "current-context": "fake",
            }
        )
    )
    yield fake, kubeconfig
    fake.server.shutdown()
    fake.server.server_close()


def run_in_asset(score: Callable[[Any], list[ScorerOutcome]]) -> list[ScorerOutcome]:
    outcomes: list[ScorerOutcome] = []

    @asset
    # unannotated: dagster refuses the string annotation `from __future__` makes
    def scoring(context) -> MaterializeResult:
        outcomes.extend(score(context))
        # a step that opened a Pipes session must return a typed result
        return MaterializeResult()

    with instance_for_test() as instance:  # see test_ecs_launcher.run_in_asset
        assert materialize([scoring], instance=instance).success
    return outcomes


def launcher(kubeconfig: Path) -> K8sScorerLauncher:
    return K8sScorerLauncher(namespace=NAMESPACE, kubeconfig_file=str(kubeconfig), poll_seconds=0.2)


def test_a_scorer_pod_reports_its_last_message_and_is_deleted(kube: tuple[FakeKubernetes, Path]) -> None:
    fake, kubeconfig = kube
    request = scorer_request("s-12345")
    (outcome,) = run_in_asset(lambda context: [launcher(kubeconfig).score(context, request)])
    assert outcome.failure is None
    assert outcome.reported == reported_score("s-12345")
    pod = fake.pods[outcome.reference]
    assert pod.deleted
    assert pod.body["metadata"]["namespace"] == NAMESPACE
    assert LAUNCH_LABEL in pod.body["metadata"]["labels"]
    container = pod.body["spec"]["containers"][0]
    assert (container["image"], container["command"]) == (CONFIG.image, list(CONFIG.command or ()))
    assert container["resources"]["limits"] == {"memory": "1536Mi"}
    assert pod.body["spec"]["restartPolicy"] == "Never"
    assert pod.environment.items() >= request.environment.items()
    assert "DAGSTER_PIPES_CONTEXT" in pod.environment


def test_concurrent_scorers_each_get_their_own_pod_s_report(kube: tuple[FakeKubernetes, Path]) -> None:
    fake, kubeconfig = kube
    ids = ["a", "bb", "ccc"]

    def score_all(context: Any) -> list[ScorerOutcome]:
        with ThreadPoolExecutor(len(ids)) as pool:
            return list(pool.map(lambda i: launcher(kubeconfig).score(context, scorer_request(i)), ids))

    outcomes = run_in_asset(score_all)
    assert [o.reported for o in outcomes] == [reported_score(i) for i in ids]
    assert [fake.pods[o.reference].submission_id for o in outcomes] == ids


def test_a_failed_pod_is_an_exit_code_failure(kube: tuple[FakeKubernetes, Path]) -> None:
    fake, kubeconfig = kube
    (outcome,) = run_in_asset(lambda context: [launcher(kubeconfig).score(context, scorer_request("exit-3"))])
    assert outcome.failure == exit_code_failure(3)
    assert outcome.reported is None
    assert fake.pods[outcome.reference].deleted


def test_a_pod_past_its_deadline_is_a_timeout_failure(kube: tuple[FakeKubernetes, Path]) -> None:
    fake, kubeconfig = kube
    config = replace(CONFIG, timeout_seconds=2)
    (outcome,) = run_in_asset(
        lambda context: [launcher(kubeconfig).score(context, scorer_request("hangs", config))]
    )
    assert outcome.failure == timeout_failure(2)
    assert outcome.reported is None
    assert fake.pods[outcome.reference].deleted


def test_a_challenge_without_an_image_is_a_launch_failure(kube: tuple[FakeKubernetes, Path]) -> None:
    fake, kubeconfig = kube
    request = scorer_request(config=replace(CONFIG, image=None))
    (outcome,) = run_in_asset(lambda context: [launcher(kubeconfig).score(context, request)])
    assert outcome.failure == "scorer launch failed: the challenge config names no image"
    assert fake.pods == {}
