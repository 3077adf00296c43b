"""The crash soak, small: the same input on a clean stack and on one whose daemon (with its run
workers) is killed twice and whose broker is killed once, with SIGKILL at random points; the end
states must be equal: 0 lost, 0 stored twice, 0 applied twice. `benchmarks/soak.py` runs it big."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mm_platform_tests.soak import SoakPlan, build_input, mismatches, run_soak


@pytest.mark.soak  # minutes of two whole stacks' CPU: `make soak`, outside the 15-minute `make test`
@pytest.mark.timeout(1200)  # two stacks, a daemon each, kills and restarts: minutes on a busy machine
def test_killing_the_daemon_and_the_broker_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    # small, for a run in minutes: two whole stacks with a daemon each, whose ticks cost CPU for as
    # long as the input takes to settle (`benchmarks/soak.py` runs it big)
    plan = SoakPlan(
        messages=100, rounds=1, files=2, campaigns=1, rows_per_file=120, batches=2, daemon_kills=2
    )
    data = build_input(plan)
    assert data.duplicates > 0 and data.uploads == plan.files

    # side by side: each stack spends most of its time waiting on its own daemon's ticks
    with ThreadPoolExecutor(2) as pool:
        clean_run = pool.submit(run_soak, plan, data, tmp_path / "clean", chaos=False)
        chaos_run = pool.submit(run_soak, plan, data, tmp_path / "chaos", chaos=True)
        clean, chaos = clean_run.result(), chaos_run.result()

    assert (chaos.daemon_kills, chaos.broker_kills) == (2, 1)
    assert clean.lost == chaos.lost == []
    assert clean.stored_twice == chaos.stored_twice == []
    assert "profiles not indexed" not in chaos.unsettled and "parts STAGED" not in chaos.unsettled
    assert sum(clean.snapshot["member stats"].values()) > 0  # the rounds reached the end of the chain
    found = mismatches(clean, chaos)
    shown = "\n".join(f"{part}: {line[:400]}" for part, lines in found.items() for line in lines)
    assert not found, f"left unsettled: clean {clean.unsettled}, chaos {chaos.unsettled}\n{shown}"
