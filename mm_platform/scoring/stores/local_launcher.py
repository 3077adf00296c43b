"""The embedded launcher (spec §3): the challenge's scorer as a local process through Dagster Pipes
(`PipesSubprocessClient`), by default the project's sample scorer.

PipesSubprocessClient has no timeout, so the command runs under coreutils `timeout`, which kills the
scorer's whole process group (the solutions it started too) when the challenge's timeout passes.
Safe to call from several threads of one asset step: each call has its own client and Pipes session,
and the scorer only sends logs and a custom message, never a materialization.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from dagster import AssetExecutionContext, OpExecutionContext, PipesSubprocessClient

# what PipesSubprocessClient raises for a non-zero exit; dagster does not export it publicly
from dagster._core.errors import DagsterPipesExecutionError

from mm_platform.scoring.rules.scores import exit_code_failure, launch_failure, timeout_failure
from mm_platform.scoring.stores.launcher import ScorerOutcome, ScorerRequest

SAMPLE_SCORER_COMMAND = (
    sys.executable,
    "-m",
    "mm_platform.scoring.scorer.sample_scorer",
    "--problem",
    "target",
)
NO_REPORT_FAILURE = "scorer reported no score"
# after the timeout's SIGTERM, how long a scorer may take to stop before SIGKILL
KILL_AFTER_SECONDS = 5
# coreutils timeout's own exit codes: 124 when the scorer stopped on TERM; when KILL was needed it kills
# its whole process group, itself included, so Popen sees -9 (137 only under --foreground)
_TIMED_OUT_CODES = (124, 128 + 9, -9)
# and when it could not run the command at all
_NOT_STARTED_CODES = {125: "timeout could not run", 126: "not executable", 127: "not found"}
_EXIT_CODE = re.compile(r"failed with code (-?\d+)")
# the directory holding the mm_platform package, so `-m mm_platform...` works from any cwd
_PROJECT_ROOT = str(Path(__file__).resolve().parents[3])


class LocalScorerLauncher:
    def __init__(
        self,
        default_command: Sequence[str] = SAMPLE_SCORER_COMMAND,
        kill_after_seconds: int = KILL_AFTER_SECONDS,
    ) -> None:
        self.default_command = tuple(default_command)
        self.kill_after_seconds = kill_after_seconds

    def score(
        self, context: AssetExecutionContext | OpExecutionContext, request: ScorerRequest
    ) -> ScorerOutcome:
        command = _own_python(list(request.challenge.command or self.default_command))
        reference = f"local scorer {command[0]} for {request.submission_id}/{request.phase.name}"
        timeout_command = shutil.which("timeout")
        if timeout_command is None:
            return ScorerOutcome(None, launch_failure("coreutils `timeout` is not installed"), reference)
        if shutil.which(command[0]) is None:
            return ScorerOutcome(None, launch_failure(f"command not found: {command[0]}"), reference)
        timeout_seconds = request.challenge.timeout_seconds
        wrapped = [timeout_command, f"--kill-after={self.kill_after_seconds}", str(timeout_seconds), *command]
        started = time.monotonic()
        try:
            invocation = PipesSubprocessClient().run(
                context=context,
                command=wrapped,
                extras=request.extras,
                env={**request.environment, "PYTHONPATH": _python_path()},
            )
        except DagsterPipesExecutionError as error:
            seconds = time.monotonic() - started
            failure = _exit_failure(_exit_code(error), seconds, timeout_seconds, command[0])
            return ScorerOutcome(None, failure, reference, seconds)
        except OSError as error:
            # Popen itself failed (the binary vanished, a permission problem): nothing was started
            return ScorerOutcome(None, launch_failure(str(error)), reference, time.monotonic() - started)
        seconds = time.monotonic() - started
        messages = invocation.get_custom_messages()
        if not messages:
            return ScorerOutcome(None, NO_REPORT_FAILURE, reference, seconds)
        return ScorerOutcome(messages[-1], None, reference, seconds)


def _exit_failure(code: int, seconds: float, timeout_seconds: int, program: str) -> str:
    # the wall time tells `timeout`'s 124 from a scorer that exited with 124 on its own
    if code in _TIMED_OUT_CODES and seconds >= timeout_seconds:
        return timeout_failure(timeout_seconds)
    if code in _NOT_STARTED_CODES:
        return launch_failure(f"{program}: {_NOT_STARTED_CODES[code]} (exit code {code})")
    return exit_code_failure(code)


def _exit_code(error: DagsterPipesExecutionError) -> int:
    """The process's exit code, which the client only gives in its message."""
    match = _EXIT_CODE.search(str(error))
    if match is None:
        raise error  # a client change we must notice, not a scorer failure to record
    return int(match.group(1))


def _own_python(command: list[str]) -> list[str]:
    """A config's `python` is this platform's interpreter: the daemon's PATH need not hold the
    environment the scorer module is installed in."""
    return [sys.executable, *command[1:]] if command[0] in ("python", "python3") else command


def _python_path() -> str:
    existing = os.environ.get("PYTHONPATH")
    return f"{_PROJECT_ROOT}{os.pathsep}{existing}" if existing else _PROJECT_ROOT
