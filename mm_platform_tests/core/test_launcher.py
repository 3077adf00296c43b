"""A run whose worker process was killed is found by run monitoring and marked failed (so run
retries start it again); a run whose worker lives is left alone."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, job, op

from mm_platform.core.launcher import LocalRunLauncher, process_alive

REPO = Path(__file__).resolve().parents[2]


@op
def wait_a_minute() -> None:
    time.sleep(60)


@job
def slow_job() -> None:
    wait_a_minute()


@pytest.fixture
def instance(tmp_path: Path) -> DagsterInstance:
    shutil.copyfile(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        yield instance


def start_worker(home: str) -> subprocess.Popen:
    code = (
        "from dagster import DagsterInstance\n"
        "from mm_platform_tests.core.test_launcher import slow_job\n"
        f"slow_job.execute_in_process(instance=DagsterInstance.from_config({home!r}))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
    )


def wait_until_started(instance: DagsterInstance, worker: subprocess.Popen) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        records = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED]))
        if records:
            return records[0].dagster_run.run_id
        assert worker.poll() is None, "the worker exited before its run started"
        time.sleep(0.2)
    pytest.fail("the run did not start within 120 s")


def test_the_embedded_instance_uses_the_launcher_with_monitoring(instance: DagsterInstance) -> None:
    assert isinstance(instance.run_launcher, LocalRunLauncher)
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_resume_run_attempts == 0


def test_a_run_whose_worker_was_killed_is_marked_failed_and_a_live_one_is_left_alone(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    worker = start_worker(str(tmp_path))
    try:
        run_id = wait_until_started(instance, worker)
        launcher = instance.run_launcher
        assert launcher.worker_pid(run_id) == worker.pid
        alive = launcher.check_run_worker_health(instance.get_run_by_id(run_id))
        assert alive.status.value == "RUNNING"

        record = instance.get_run_records(RunsFilter(run_ids=[run_id]))[0]
        monitor_started_run(instance, None, record, logging.getLogger("test"))
        assert instance.get_run_by_id(run_id).status is DagsterRunStatus.STARTED

        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert not process_alive(worker.pid)
        record = instance.get_run_records(RunsFilter(run_ids=[run_id]))[0]
        assert record.dagster_run.status is DagsterRunStatus.STARTED  # nothing else would ever end it
        monitor_started_run(instance, None, record, logging.getLogger("test"))
    finally:
        if worker.poll() is None:
            worker.kill()
    run = instance.get_run_by_id(run_id)
    assert run.status is DagsterRunStatus.FAILURE
    messages = [
        e.message for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.is_run_failure
    ]
    assert any(f"process {worker.pid} is gone" in m for m in messages)


def test_a_zombie_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and Path(f"/proc/{child.pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    ):
        time.sleep(0.05)
    assert not process_alive(child.pid)  # exited, not yet reaped by us
    child.wait()
    assert not process_alive(child.pid)
    assert process_alive(os.getpid())
