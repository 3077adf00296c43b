"""The Kubernetes scorer launcher (spec §3): one pod per (submission, phase) through dagster-k8s
`PipesK8sClient`, with the challenge config's image and command; the Pipes messages come from the pod's
log (PipesK8sPodLogsMessageReader, the client's default).

The client deletes the pod before it returns or raises, which would leave no status to word the
outcome from; so it keeps the pod, the launcher reads its status, then deletes it. The pod is found by
a label of this launch, because PipesK8sClient names the pod itself and does not return the name.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import kubernetes
from dagster import AssetExecutionContext, OpExecutionContext
from dagster_k8s import PipesK8sClient
from dagster_k8s.client import DagsterK8sError
from kubernetes.client.rest import ApiException

from mm_platform.scoring.rules.scores import exit_code_failure, launch_failure, timeout_failure
from mm_platform.scoring.stores.launcher import ScorerOutcome, ScorerRequest

CONTAINER = "scorer"
LAUNCH_LABEL = "mm-platform/scorer-launch"
# the kubelet enforces activeDeadlineSeconds; the client's own wait gets this much more as a backstop
WAIT_GRACE_SECONDS = 60
DEFAULT_POLL_SECONDS = 10.0


def pod_spec(request: ScorerRequest) -> dict[str, Any]:
    """The scorer pod's spec, before PipesK8sClient adds its Pipes variables to the container's env."""
    config = request.challenge
    memory = f"{config.memory_limit_mb}Mi"
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": config.image,
        "env": [{"name": name, "value": value} for name, value in request.environment.items()],
        # request what the limit allows, so the scheduler never places it where it cannot get it
        "resources": {"requests": {"memory": memory}, "limits": {"memory": memory}},
    }
    if config.command:
        container["command"] = list(config.command)
    return {
        "containers": [container],
        # a scorer that failed is an outcome, not something to run again
        "restartPolicy": "Never",
        "activeDeadlineSeconds": config.timeout_seconds,
    }


@dataclass(frozen=True)
class K8sScorerLauncher:
    namespace: str
    kubeconfig_file: str | None = None  # None: the in-cluster service account
    poll_seconds: float = DEFAULT_POLL_SECONDS

    def score(
        self, context: AssetExecutionContext | OpExecutionContext, request: ScorerRequest
    ) -> ScorerOutcome:
        started = time.monotonic()
        if not request.challenge.image:
            return ScorerOutcome(None, launch_failure("the challenge config names no image"), "", 0.0)
        launch = uuid.uuid4().hex
        pipes = PipesK8sClient(
            load_incluster_config=self.kubeconfig_file is None,
            kubeconfig_file=self.kubeconfig_file,
            poll_interval=self.poll_seconds,
        )
        reported: Any = None
        error: Exception | None = None
        try:
            invocation = pipes.run(
                context=context,
                extras=request.extras,
                namespace=self.namespace,
                base_pod_meta={"labels": {LAUNCH_LABEL: launch}},
                base_pod_spec=pod_spec(request),
                pod_wait_timeout=request.challenge.timeout_seconds + WAIT_GRACE_SECONDS,
                delete_pod_on_completion=False,
            )
            messages = invocation.get_custom_messages()
            reported = messages[-1] if messages else None
        except (DagsterK8sError, ApiException) as raised:
            error = raised
        pod = None
        try:
            with self._api_client() as api:
                core = kubernetes.client.CoreV1Api(api)
                pod = self._pod(core, launch)
                if pod is not None:
                    self._delete(context, core, pod.metadata.name)
        except (ApiException, kubernetes.config.ConfigException, OSError) as raised:
            # the pod's status is out of reach: without a report that is the outcome, not a crash
            if reported is None:
                error = error or raised
            context.log.warning(f"could not read or delete scorer pod (launch {launch}): {raised}")
        failure = pod_failure(pod, request)
        if failure is None and error is not None:
            failure = _error_failure(error, request)
        return ScorerOutcome(
            reported=None if failure else reported,
            failure=failure,
            reference=pod.metadata.name if pod is not None else "",
            seconds=time.monotonic() - started,
        )

    def _api_client(self) -> kubernetes.client.ApiClient:
        if self.kubeconfig_file is None:
            configuration = kubernetes.client.Configuration()
            kubernetes.config.load_incluster_config(client_configuration=configuration)
            return kubernetes.client.ApiClient(configuration)
        return kubernetes.config.new_client_from_config(config_file=self.kubeconfig_file)

    def _pod(self, core: kubernetes.client.CoreV1Api, launch: str) -> Any:
        pods = core.list_namespaced_pod(self.namespace, label_selector=f"{LAUNCH_LABEL}={launch}").items
        return pods[0] if pods else None

    def _delete(
        self,
        context: AssetExecutionContext | OpExecutionContext,
        core: kubernetes.client.CoreV1Api,
        name: str,
    ) -> None:
        try:
            core.delete_namespaced_pod(name, self.namespace)
        except ApiException as error:
            # the outcome is decided; a leftover pod is the cluster's to collect
            context.log.warning(f"could not delete scorer pod {name}: {error.reason}")


def pod_failure(pod: Any, request: ScorerRequest) -> str | None:
    """Why a finished pod did not deliver, read from its status: the deadline, or the scorer's exit."""
    if pod is None or pod.status is None:
        return None
    if pod.status.reason == "DeadlineExceeded":
        return timeout_failure(request.challenge.timeout_seconds)
    for status in pod.status.container_statuses or []:
        terminated = status.state.terminated if status.state else None
        if status.name == CONTAINER and terminated is not None and terminated.exit_code != 0:
            return exit_code_failure(terminated.exit_code)
    return None


def _error_failure(error: Exception, request: ScorerRequest) -> str:
    """Why the client gave up when the pod's status does not say (it never started, or is gone)."""
    if str(error).startswith("Timed out"):
        # the client's own wait gave up: the cluster did not enforce the deadline
        return timeout_failure(request.challenge.timeout_seconds)
    if isinstance(error, ApiException):
        return launch_failure(f"Kubernetes API {error.status} {error.reason}")
    return launch_failure(str(error))
