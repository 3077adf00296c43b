"""The embedded stack's run launcher: Dagster's DefaultRunLauncher, plus a worker health check.

With the DefaultRunLauncher a run whose worker process dies with the machine (SIGKILL, OOM, a
power cut) stays STARTED forever: nothing ever marks it failed, so run retries never start and the
run keeps its partition's concurrency slot, which stalls every later run of that round or campaign.
Run monitoring (dagster.yaml `run_monitoring`) asks the launcher whether the worker still lives; this
launcher answers from the pid the worker recorded in its RUN_START event, on this host. A dead worker
makes the run FAILED and `run_retries` starts it again. Production uses K8sRunLauncher, whose health
check asks Kubernetes for the run's job instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher

# not exported at dagster's top level; they are the run launcher interface's own types
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus


def process_alive(pid: int) -> bool:
    """True while `pid` runs on this host (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    stat = Path(f"/proc/{pid}/stat")
    try:
        # the state letter follows the parenthesised command name
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) is all we can know


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose runs' workers run on this host, with a health check for monitoring."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def worker_pid(self, run_id: str) -> int | None:
        started = self._instance.all_logs(run_id, of_type=DagsterEventType.RUN_START)
        pids = [e.dagster_event.pid for e in started if e.dagster_event and e.dagster_event.pid]
        return pids[-1] if pids else None

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = self.worker_pid(run.run_id)
        if pid is None:
            # monitoring fails a run on any answer but RUNNING; without a pid we know nothing: leave it be
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker pid recorded; assumed alive")
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker process {pid} is alive")
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"run worker process {pid} is gone (killed, or its host restarted)"
        )
