"""Running a solution on each seed and turning its answers into the report (spec §3): `score` and
`testScores` `[{"testcase", "score", "runTimeMs", "error"?}]`, a failed test scoring -1."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

FAILED_TEST_SCORE = -1.0
DEFAULT_TIME_LIMIT_SECONDS = 10.0
# enough of a traceback to see what went wrong, short enough for the review's metadata
MAX_ERROR_CHARS = 300

Scoring = Callable[[int, float], float]


def run_test(solution: Path, seed: int, scoring: Scoring, time_limit: float) -> dict[str, Any]:
    """One test case: the solution gets the seed on stdin and must print one number."""
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [sys.executable, solution.name],
            input=f"{seed}\n",
            capture_output=True,
            text=True,
            cwd=solution.parent,
            timeout=time_limit,
        )
    except subprocess.TimeoutExpired:
        return _failed(seed, started, f"exceeded the time limit of {time_limit:g} s")
    if completed.returncode != 0:
        reason = f"exited with code {completed.returncode}: {_last_line(completed.stderr)}"
        return _failed(seed, started, reason)
    answer = _number(completed.stdout)
    if answer is None:
        return _failed(seed, started, f"printed no number: {completed.stdout.strip()[:80]!r}")
    return {"testcase": seed, "score": scoring(seed, answer), "runTimeMs": _elapsed_ms(started)}


def run_tests(
    solution: Path,
    seeds: Iterable[int],
    scoring: Scoring,
    time_limit: float = DEFAULT_TIME_LIMIT_SECONDS,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    tests = []
    for seed in seeds:
        test = run_test(solution, seed, scoring, time_limit)
        tests.append(test)
        if progress is not None:
            progress(test)
    return {"score": overall_score(tests), "testScores": tests}


def overall_score(tests: list[dict[str, Any]]) -> float:
    """The mean of the tests that did not fail; 0 when all failed (for both score directions)."""
    scored = [test["score"] for test in tests if "error" not in test]
    return sum(scored) / len(scored) if scored else 0.0


def _failed(seed: int, started: float, error: str) -> dict[str, Any]:
    return {
        "testcase": seed,
        "score": FAILED_TEST_SCORE,
        "runTimeMs": _elapsed_ms(started),
        "error": error[:MAX_ERROR_CHARS],
    }


def _number(output: str) -> float | None:
    try:
        value = float(output.strip())
    except ValueError:
        return None
    # NaN or infinity would make the whole report refused; it is this test's failure only
    return value if math.isfinite(value) else None


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no error output"


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
