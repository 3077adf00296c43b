"""The ECS Fargate scorer launcher (spec §3): one Fargate task per (submission, phase) through dagster-aws
`PipesECSClient`, reading the scorer's Pipes messages from the task's CloudWatch log stream.

`score()` is called from several threads of one step at once, so every call builds its own Pipes client
and message reader (the reader keeps the log group and stream of its task); the boto3 clients are shared,
which boto3 allows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError
from dagster import AssetExecutionContext, OpExecutionContext, PipesLogReader
from dagster_aws.pipes import PipesCloudWatchMessageReader, PipesECSClient

from mm_platform.scoring.rules.scores import exit_code_failure, launch_failure, timeout_failure
from mm_platform.scoring.stores.launcher import ScorerOutcome, ScorerRequest

# how often the waiter asks ECS whether the task stopped; dagster-aws' own default
DEFAULT_POLL_SECONDS = 6


@dataclass(frozen=True)
class EcsNetwork:
    """Where scorer tasks run (from settings, not from the challenge config)."""

    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]


def run_task_request(request: ScorerRequest, network: EcsNetwork, container: str) -> dict[str, Any]:
    """The RunTask parameters of one scorer run. PipesECSClient adds its own environment and tags to
    this dict, so a fresh one is built per run."""
    config = request.challenge
    environment = [{"name": name, "value": value} for name, value in request.environment.items()]
    return {
        "cluster": config.ecs_cluster,
        "taskDefinition": config.ecs_task_definition,
        "launchType": "FARGATE",
        "count": 1,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(network.subnets),
                "securityGroups": list(network.security_groups),
                # a scorer runs submitted code: it gets no public address
                "assignPublicIp": "DISABLED",
            }
        },
        # the container's hard limit; the task's Fargate size stays the task definition's, because
        # Fargate accepts only fixed task memory sizes
        "overrides": {
            "containerOverrides": [
                {"name": container, "environment": environment, "memory": config.memory_limit_mb}
            ]
        },
    }


def waiter_config(timeout_seconds: int, poll_seconds: int = DEFAULT_POLL_SECONDS) -> dict[str, int]:
    """The `tasks_stopped` waiter's Delay/MaxAttempts such that it gives up once `timeout_seconds` have
    passed: N attempts sleep N-1 times, so ceil(timeout / delay) + 1 attempts wait at least the timeout."""
    delay = max(1, min(poll_seconds, timeout_seconds))
    return {"Delay": delay, "MaxAttempts": math.ceil(timeout_seconds / delay) + 1}


class _MessagesOnlyReader(PipesCloudWatchMessageReader):
    """Reads the Pipes messages but does not forward the scorer's other output to this process:
    dagster-aws' PipesCloudWatchLogReader tails the stream in a thread that polls GetLogEvents without
    pause and checks for the session's end only after new events, so once the task is quiet it never
    ends (one busy thread per scored task). The output stays in CloudWatch, found by the task ARN."""

    def add_log_reader(self, log_reader: PipesLogReader) -> None:
        return None


class _LaunchRefused(Exception):
    """RunTask answered with `failures` and no task."""


class _RecordingEcs:
    """The ECS client as PipesECSClient sees it, keeping what the launcher needs to word the outcome:
    PipesECSClient indexes `tasks[0]` of a refused RunTask and drops the exit code from its error."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.task_arn: str | None = None
        self.last_tasks: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def run_task(self, **params: Any) -> dict[str, Any]:
        response = self._client.run_task(**params)
        if not response.get("tasks"):
            failures = response.get("failures") or [{"reason": "no task started"}]
            raise _LaunchRefused("; ".join(_failure_text(failure) for failure in failures))
        self.task_arn = response["tasks"][0]["taskArn"]
        return response

    def describe_tasks(self, **params: Any) -> dict[str, Any]:
        response = self._client.describe_tasks(**params)
        self.last_tasks = response.get("tasks", [])
        return response

    def exit_code(self, container: str) -> int | None:
        for task in self.last_tasks:
            for described in task.get("containers", []):
                if described.get("name") == container and described.get("exitCode") not in (0, None):
                    return int(described["exitCode"])
        return None


def _failure_text(failure: dict[str, Any]) -> str:
    return " ".join(str(failure[key]) for key in ("arn", "reason", "detail") if failure.get(key))


@dataclass(frozen=True)
class EcsScorerLauncher:
    ecs: Any  # a boto3 ECS client
    logs: Any  # a boto3 CloudWatch Logs client
    network: EcsNetwork
    container: str
    poll_seconds: int = DEFAULT_POLL_SECONDS

    def score(
        self, context: AssetExecutionContext | OpExecutionContext, request: ScorerRequest
    ) -> ScorerOutcome:
        started = time.monotonic()
        ecs = _RecordingEcs(self.ecs)
        pipes = PipesECSClient(client=ecs, message_reader=_MessagesOnlyReader(client=self.logs))
        timeout = request.challenge.timeout_seconds

        def outcome(failure: str | None, reported: Any = None) -> ScorerOutcome:
            return ScorerOutcome(
                reported=reported,
                failure=failure,
                reference=ecs.task_arn or "",
                seconds=time.monotonic() - started,
            )

        try:
            invocation = pipes.run(
                context=context,
                run_task_params=run_task_request(request, self.network, self.container),  # type: ignore[arg-type]
                extras=request.extras,
                pipes_container_name=self.container,
                waiter_config=waiter_config(timeout, self.poll_seconds),  # type: ignore[arg-type]
            )
        except _LaunchRefused as error:
            return outcome(launch_failure(str(error)))
        except WaiterError as error:
            if "Max attempts exceeded" not in str(error):
                # the waiter's failure state: the task vanished (MISSING)
                return outcome(launch_failure(str(error)))
            self._stop(context, request, ecs.task_arn, f"scorer timed out after {timeout} s")
            return outcome(timeout_failure(timeout))
        except (ClientError, BotoCoreError) as error:
            if ecs.task_arn is not None:
                self._stop(context, request, ecs.task_arn, "scoring could not follow the task")
            return outcome(launch_failure(str(error)))
        except RuntimeError as error:
            # PipesECSClient's word for a non-zero exit or a task that failed to start
            code = ecs.exit_code(self.container)
            return outcome(launch_failure(str(error)) if code is None else exit_code_failure(code))
        messages = invocation.get_custom_messages()
        return outcome(None, messages[-1] if messages else None)

    def _stop(
        self,
        context: AssetExecutionContext | OpExecutionContext,
        request: ScorerRequest,
        task_arn: str | None,
        reason: str,
    ) -> None:
        if task_arn is None:
            return
        try:
            self.ecs.stop_task(cluster=request.challenge.ecs_cluster, task=task_arn, reason=reason)
        except (ClientError, BotoCoreError) as error:
            # the outcome is already decided; the operator finds the task by its ARN
            context.log.warning(f"could not stop ECS task {task_arn}: {error}")
