"""The ECS scorer launcher against the moto server. moto runs no container, so a thread here plays the
scorer: it waits for each task RunTask starts and writes the task's Pipes messages into the CloudWatch
stream `ecs/<container>/<task-id>`, where PipesCloudWatchMessageReader reads them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.request import Request, urlopen

import boto3
import pytest
from dagster import AssetExecutionContext, MaterializeResult, asset, instance_for_test, materialize
from dagster_pipes import PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD

from mm_platform.scoring.rules.config import ChallengeConfig, PhaseConfig
from mm_platform.scoring.rules.scores import exit_code_failure, timeout_failure
from mm_platform.scoring.stores.ecs_launcher import (
    EcsNetwork,
    EcsScorerLauncher,
    run_task_request,
    waiter_config,
)
from mm_platform.scoring.stores.launcher import ScorerOutcome, ScorerRequest

CONTAINER = "scorer"
LOG_GROUP = "/mm/scorers"
PHASE = PhaseConfig("provisional", "rt-1", "sc-1", start_seed=7, number_of_tests=3)
CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}


def challenge(cluster: str, task_definition: str, timeout_seconds: int = 60) -> ChallengeConfig:
    return ChallengeConfig(
        challenge_id="c-1",
        scorer_type="ecs",
        ecs_cluster=cluster,
        ecs_task_definition=task_definition,
        timeout_seconds=timeout_seconds,
        memory_limit_mb=1536,
        phases=(PHASE,),
    )


def scorer_request(config: ChallengeConfig, submission_id: str = "s-1") -> ScorerRequest:
    return ScorerRequest(config, PHASE, submission_id, f"http://files.test/{submission_id}.zip")


def pipes_line(method: str, params: dict[str, Any] | None) -> str:
    return json.dumps(
        {PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION, "method": method, "params": params}
    )


@dataclass
class Ecs:
    endpoint: str
    ecs: Any
    logs: Any
    network: EcsNetwork
    cluster: str
    task_definition: str

    def launcher(self, ecs: Any = None) -> EcsScorerLauncher:
        return EcsScorerLauncher(ecs or self.ecs, self.logs, self.network, CONTAINER, poll_seconds=1)


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> Ecs:
    clients = {
        name: boto3.client(name, endpoint_url=moto_endpoint, **CREDENTIALS) for name in ("ecs", "logs", "ec2")
    }
    ec2 = clients["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    # moto needs DNS host names for the private DNS name of an awsvpc task's network interface
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"scorers-{uuid.uuid4().hex[:6]}", Description="s", VpcId=vpc)
    cluster = f"scoring-{uuid.uuid4().hex[:6]}"
    clients["ecs"].create_cluster(clusterName=cluster)
    clients["logs"].create_log_group(logGroupName=LOG_GROUP)
    definition = clients["ecs"].register_task_definition(
        family=f"scorer-{uuid.uuid4().hex[:6]}",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="2048",
        containerDefinitions=[
            {
                "name": CONTAINER,
                "image": "scorer:latest",
                "cpu": 1024,
                "memory": 2048,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": LOG_GROUP,
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ],
    )["taskDefinition"]
    return Ecs(
        moto_endpoint,
        clients["ecs"],
        clients["logs"],
        EcsNetwork(subnets=(subnet,), security_groups=(group["GroupId"],)),
        cluster,
        definition["taskDefinitionArn"],
    )


def reported_score(submission_id: str) -> dict[str, Any]:
    return {"score": float(len(submission_id)), "testScores": [{"testcase": 7, "score": 1.0, "runTimeMs": 5}]}


@pytest.fixture
def scorer(aws: Ecs) -> Iterator[dict[str, str]]:
    """Plays the scorer of every task the test starts: opened, the report (by the task's submission id,
    read from its container overrides) and closed. Yields {task ARN: submission id} as seen."""
    seen: dict[str, str] = {}
    # earlier tests' tasks have had their messages
    earlier = set(aws.ecs.list_tasks(cluster=aws.cluster)["taskArns"])
    stop = threading.Event()

    def play() -> None:
        while not stop.is_set():
            for arn in aws.ecs.list_tasks(cluster=aws.cluster)["taskArns"]:
                if arn not in seen and arn not in earlier:
                    seen[arn] = write_messages(aws, arn)
            time.sleep(0.2)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    yield seen
    stop.set()
    thread.join(timeout=10)


def write_messages(aws: Ecs, task_arn: str) -> str:
    task = aws.ecs.describe_tasks(cluster=aws.cluster, tasks=[task_arn])["tasks"][0]
    environment = {e["name"]: e["value"] for e in task["overrides"]["containerOverrides"][0]["environment"]}
    submission_id = environment["MM_SUBMISSION_ID"]
    stream = f"ecs/{CONTAINER}/{task_arn.split('/')[-1]}"
    aws.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    lines = [
        pipes_line("opened", {"extras": {}}),
        "a scorer's own output, not a Pipes message",
        pipes_line("report_custom_message", {"payload": {"score": -1, "testScores": []}}),
        pipes_line("report_custom_message", {"payload": reported_score(submission_id)}),
    ]
    if submission_id != "never-closes":
        lines.append(pipes_line("closed", {}))
    aws.logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)],
    )
    return submission_id


def run_in_asset(score: Callable[[AssetExecutionContext], list[ScorerOutcome]]) -> list[ScorerOutcome]:
    """Runs `score` inside a materialization, for a real execution context."""
    outcomes: list[ScorerOutcome] = []

    @asset
    # unannotated: dagster refuses the string annotation `from __future__` makes
    def scoring(context) -> MaterializeResult:
        outcomes.extend(score(context))
        # a step that opened a Pipes session must return a typed result
        return MaterializeResult()

    # an instance of its own: without one, materialize resolves the process's current instance, which
    # an earlier test on the same worker may have disposed of
    with instance_for_test() as instance:
        assert materialize([scoring], instance=instance).success
    return outcomes


def test_run_task_request_is_a_private_fargate_task_with_the_config_s_limits() -> None:
    config = challenge("cluster-a", "scorer:3")
    request = scorer_request(config)
    network = EcsNetwork(subnets=("subnet-1", "subnet-2"), security_groups=("sg-1",))
    params = run_task_request(request, network, CONTAINER)
    assert params["cluster"] == "cluster-a"
    assert params["taskDefinition"] == "scorer:3"
    assert params["launchType"] == "FARGATE"
    assert params["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": ["subnet-1", "subnet-2"],
            "securityGroups": ["sg-1"],
            "assignPublicIp": "DISABLED",
        }
    }
    (override,) = params["overrides"]["containerOverrides"]
    assert override["name"] == CONTAINER
    assert override["memory"] == 1536
    assert {e["name"]: e["value"] for e in override["environment"]} == request.environment
    # fresh per call: PipesECSClient appends its own variables to the lists
    assert run_task_request(request, network, CONTAINER) is not params


@pytest.mark.parametrize(("timeout", "poll", "expected"), [(60, 6, (6, 11)), (2, 6, (2, 2)), (7, 3, (3, 4))])
def test_the_waiter_gives_up_once_the_timeout_passed(
    timeout: int, poll: int, expected: tuple[int, int]
) -> None:
    config = waiter_config(timeout, poll)
    assert (config["Delay"], config["MaxAttempts"]) == expected
    assert (config["MaxAttempts"] - 1) * config["Delay"] >= timeout


def test_a_scorer_task_reports_its_last_message_and_is_found_by_its_arn(
    aws: Ecs, scorer: dict[str, str]
) -> None:
    config = challenge(aws.cluster, aws.task_definition)
    request = scorer_request(config, "s-12345")
    (outcome,) = run_in_asset(lambda context: [aws.launcher().score(context, request)])
    assert outcome.failure is None
    assert outcome.ok
    assert outcome.reported == reported_score("s-12345")
    assert scorer[outcome.reference] == "s-12345"
    assert outcome.seconds > 0
    # the task as ECS got it: cluster, definition, overrides, private network
    task = aws.ecs.describe_tasks(cluster=aws.cluster, tasks=[outcome.reference])["tasks"][0]
    assert task["clusterArn"].endswith(f"/{aws.cluster}")
    assert task["taskDefinitionArn"] == aws.task_definition
    assert task["launchType"] == "FARGATE"
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == CONTAINER
    assert override["memory"] == 1536
    environment = {e["name"]: e["value"] for e in override["environment"]}
    assert environment.items() >= request.environment.items()
    assert "DAGSTER_PIPES_CONTEXT" in environment


def test_concurrent_scorers_each_get_their_own_task_s_report(aws: Ecs, scorer: dict[str, str]) -> None:
    config = challenge(aws.cluster, aws.task_definition)
    ids = ["a", "bb", "ccc"]

    def score_all(context: AssetExecutionContext) -> list[ScorerOutcome]:
        launcher = aws.launcher()
        with ThreadPoolExecutor(len(ids)) as pool:
            return list(pool.map(lambda i: launcher.score(context, scorer_request(config, i)), ids))

    outcomes = run_in_asset(score_all)
    assert [o.reported for o in outcomes] == [reported_score(i) for i in ids]
    assert [scorer[o.reference] for o in outcomes] == ids


class ExitingEcs:
    """The moto client, except that stopped containers exited with `code` (moto never sets one)."""

    def __init__(self, client: Any, code: int) -> None:
        self._client = client
        self._code = code

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def describe_tasks(self, **params: Any) -> dict[str, Any]:
        response = self._client.describe_tasks(**params)
        for task in response["tasks"]:
            if task["lastStatus"] == "STOPPED":
                for container in task["containers"]:
                    container.update(exitCode=self._code, runtimeId=container["containerArn"])
        return response


def test_a_non_zero_exit_is_an_exit_code_failure(aws: Ecs, scorer: dict[str, str]) -> None:
    config = challenge(aws.cluster, aws.task_definition)
    launcher = aws.launcher(ExitingEcs(aws.ecs, 137))
    (outcome,) = run_in_asset(lambda context: [launcher.score(context, scorer_request(config))])
    assert outcome.failure == exit_code_failure(137)
    assert outcome.reported is None
    assert outcome.reference in scorer


# one case: both refusals take the same path, and each costs Pipes' 10 s wait for a closing message
@pytest.mark.parametrize("missing", ["task definition"])
def test_a_refused_launch_is_a_launch_failure(aws: Ecs, missing: str) -> None:
    if missing == "cluster":
        config = challenge("no-such-cluster", aws.task_definition)
    else:
        config = challenge(aws.cluster, "no-such-scorer:1")
    (outcome,) = run_in_asset(lambda context: [aws.launcher().score(context, scorer_request(config))])
    assert outcome.failure is not None
    assert outcome.failure.startswith("scorer launch failed:")
    assert outcome.reference == ""
    assert not outcome.ok


def moto_transition(endpoint: str, action: str, transition: dict[str, Any] | None = None) -> None:
    body = {"model_name": "ecs::task", **({"transition": transition} if transition else {})}
    call = Request(
        f"{endpoint}/moto-api/state-manager/{action}", data=json.dumps(body).encode(), method="POST"
    )
    with urlopen(call, timeout=10):
        pass


@pytest.fixture
def tasks_keep_running(aws: Ecs) -> Iterator[None]:
    # moto moves a task one state per DescribeTasks; here it stays RUNNING until stopped
    moto_transition(aws.endpoint, "set-transition", {"progression": "manual", "times": 100_000})
    yield
    moto_transition(aws.endpoint, "unset-transition")


def test_a_task_running_past_the_timeout_is_stopped_and_a_timeout_failure(
    aws: Ecs, scorer: dict[str, str], tasks_keep_running: None
) -> None:
    config = challenge(aws.cluster, aws.task_definition, timeout_seconds=2)
    started = time.monotonic()
    (outcome,) = run_in_asset(
        lambda context: [aws.launcher().score(context, scorer_request(config, "never-closes"))]
    )
    assert outcome.failure == timeout_failure(2)
    assert outcome.reported is None
    assert outcome.seconds >= 2
    assert time.monotonic() - started < 60
    task = aws.ecs.describe_tasks(cluster=aws.cluster, tasks=[outcome.reference])["tasks"][0]
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"] == "scorer timed out after 2 s"
