"""`python -m mm_platform.scoring.scorer.sample_scorer --problem target|distance`

Launched through Dagster Pipes it reads the submission's URL and seeds from the extras, logs progress
with `pipes.log` and reports `{"score", "testScores"}` once as a custom message. Run by hand (no
DAGSTER_PIPES_CONTEXT) it reads MM_URL, MM_START_SEED and MM_NUMBER_OF_TESTS and prints the JSON
report. A submission that cannot be downloaded or unpacked, or lacks solution.py, exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, open_dagster_pipes

from mm_platform.scoring.scorer.problems import PROBLEMS
from mm_platform.scoring.scorer.runner import DEFAULT_TIME_LIMIT_SECONDS, run_tests
from mm_platform.scoring.scorer.submission import SubmissionError, download, unpack

SUBMISSION_FAILED_EXIT_CODE = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if DAGSTER_PIPES_CONTEXT_ENV_VAR in os.environ:
            _score_with_pipes(args.problem, args.time_limit)
        else:
            report = score(_environment_job(os.environ), args.problem, args.time_limit, _print_progress)
            print(json.dumps(report))
    except SubmissionError as error:
        print(f"sample scorer: {error}", file=sys.stderr)
        return SUBMISSION_FAILED_EXIT_CODE
    return 0


def score(
    job: Mapping[str, Any],
    problem: str,
    time_limit: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Download `job["url"]`, run its solution on `job["seeds"]` and return the report."""
    progress(f"scoring submission {job.get('submission_id')} phase {job.get('phase')} (pid {os.getpid()})")
    data = download(job["url"])
    with tempfile.TemporaryDirectory(prefix="mm-submission-") as directory:
        solution = unpack(data, Path(directory))
        seeds = [int(seed) for seed in job["seeds"]]
        progress(f"running {len(seeds)} tests of problem {problem}")
        report = run_tests(
            solution,
            seeds,
            PROBLEMS[problem],
            time_limit,
            lambda test: progress(f"test {test['testcase']}: score {test['score']} {test.get('error', '')}"),
        )
    progress(f"score {report['score']}")
    return report


def _score_with_pipes(problem: str, time_limit: float) -> None:
    with open_dagster_pipes() as pipes:
        extras = pipes.extras
        report = score(_pipes_job(extras), problem, time_limit, pipes.log.info)
        # exactly one report: the launcher takes the last custom message as the result
        pipes.report_custom_message(report)


def _pipes_job(extras: Mapping[str, Any]) -> dict[str, Any]:
    seeds = extras.get("seeds")
    if seeds is None:
        seeds = _seed_range(extras["start_seed"], extras["number_of_tests"])
    return {**extras, "seeds": seeds}


def _environment_job(environ: Mapping[str, str]) -> dict[str, Any]:
    """The same values as `rules.scores.scorer_environment` sets, for a person running the scorer."""
    if not environ.get("MM_URL"):
        raise SubmissionError("MM_URL is not set (run through Dagster Pipes or set MM_URL)")
    return {
        "url": environ["MM_URL"],
        "submission_id": environ.get("MM_SUBMISSION_ID"),
        "phase": environ.get("MM_PHASE"),
        "seeds": _seed_range(environ.get("MM_START_SEED", "1"), environ.get("MM_NUMBER_OF_TESTS", "10")),
    }


def _seed_range(start: Any, count: Any) -> list[int]:
    try:
        return list(range(int(start), int(start) + int(count)))
    except ValueError:
        raise SubmissionError(f"start seed {start!r} and test count {count!r} must be integers") from None


def _print_progress(message: str) -> None:
    # stdout carries the JSON report, so progress goes to stderr
    print(message, file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sample_scorer", description=__doc__.split("\n\n")[1])
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="target")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT_SECONDS,
        help="seconds a solution may take per test case",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
