"""LocalScorerLauncher: the sample scorer (and stand-in scorers) as real processes through Dagster
Pipes, called from a real asset step the way the scoring asset calls it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from dagster import AssetExecutionContext, MaterializeResult, asset, instance_for_test, materialize

from mm_platform.scoring.dev.sample_submissions import (
    broken_submission,
    crashing_submission,
    good_submission,
    zip_of,
)
from mm_platform.scoring.rules.config import ChallengeConfig, parse_challenge_config
from mm_platform.scoring.rules.scores import (
    exit_code_failure,
    launch_failure,
    timeout_failure,
    validate_result,
)
from mm_platform.scoring.stores.launcher import ScorerOutcome, ScorerRequest
from mm_platform.scoring.stores.local_launcher import NO_REPORT_FAILURE, LocalScorerLauncher
from mm_platform_tests.scoring.submission_server import SubmissionServer, serve_submissions

T = TypeVar("T")
SAMPLE_SCORER = [sys.executable, "-m", "mm_platform.scoring.scorer.sample_scorer"]


@pytest.fixture(scope="module")
def server() -> Iterator[SubmissionServer]:
    with serve_submissions() as running:
        yield running


def challenge(command: list[str] | None = None, timeout: int = 30, tests: int = 10) -> ChallengeConfig:
    config: dict[str, Any] = {
        "challengeId": "c1",
        "scorerType": "local",
        "ecsCluster": "unused",
        "ecsTaskDefinition": "unused",
        "timeout": timeout,
        "memoryLimit": 512,
        "phases": [
            {"name": "provisional", "reviewTypeId": "r1", "scoreCardId": "sc1", "numberOfTests": tests}
        ],
    }
    if command is not None:
        config["command"] = command
    return parse_challenge_config(config, "c1")


def request(config: ChallengeConfig, url: str, submission_id: str = "s1") -> ScorerRequest:
    return ScorerRequest(config, config.phase("provisional"), submission_id, url)


def in_asset_step(body: Callable[[AssetExecutionContext, LocalScorerLauncher], T], **launcher: Any) -> T:
    """Run `body` inside a real asset step with the launcher as a resource, as the scoring asset will."""
    box: dict[str, T] = {}

    @asset(required_resource_keys={"scorer_launcher"})
    def scoring(context) -> MaterializeResult:  # unannotated: dagster rejects a string annotation
        box["value"] = body(context, context.resources.scorer_launcher)
        # a Pipes session makes the step require an explicit result
        return MaterializeResult()

    with instance_for_test() as instance:  # see test_ecs_launcher.run_in_asset
        result = materialize(
            [scoring], resources={"scorer_launcher": LocalScorerLauncher(**launcher)}, instance=instance
        )
    assert result.success
    return box["value"]


def score_one(req: ScorerRequest, **launcher: Any) -> ScorerOutcome:
    return in_asset_step(lambda context, scorer: scorer.score(context, req), **launcher)


def test_good_submission_reports_a_valid_deterministic_result(server: SubmissionServer) -> None:
    outcome = score_one(request(challenge(), server.put("good90.zip", good_submission(90))))

    assert outcome.ok, outcome.failure
    result = validate_result(outcome.reported, expected_tests=10)
    assert [test.score for test in result.test_scores] == [1000 - 10 * (1 + s % 3) for s in range(1, 11)]
    assert result.score == 980
    assert outcome.reference == f"local scorer {sys.executable} for s1/provisional"
    assert 0 < outcome.seconds < 10


def test_broken_submission_reports_failed_tests(server: SubmissionServer) -> None:
    outcome = score_one(request(challenge(), server.put("broken.zip", broken_submission())))

    result = validate_result(outcome.reported, expected_tests=10)
    assert [test.testcase for test in result.test_scores if test.failed] == [3, 5, 6, 9, 10]
    assert all(test.error for test in result.test_scores if test.failed)
    assert result.score == 1000


def test_distance_problem_reports_the_miss_to_minimize(server: SubmissionServer) -> None:
    config = challenge([*SAMPLE_SCORER, "--problem", "distance"], tests=4)
    outcome = score_one(request(config, server.put("good70.zip", good_submission(70))))

    assert outcome.ok, outcome.failure
    assert [t["score"] for t in outcome.reported["testScores"]] == [30 * (1 + s % 3) for s in range(1, 5)]


def test_crashing_submission_is_the_scorers_exit_code(server: SubmissionServer) -> None:
    outcome = score_one(request(challenge(), server.put("crashing.zip", crashing_submission())))

    assert outcome.failure == exit_code_failure(2)
    assert outcome.reported is None


def test_hung_scorer_is_killed_at_the_configured_timeout() -> None:
    config = challenge([sys.executable, "-c", "import time; time.sleep(60)"], timeout=2)
    started = time.monotonic()
    outcome = score_one(request(config, "http://127.0.0.1:9/unused.zip"))

    assert outcome.failure == timeout_failure(2)
    assert 2 <= outcome.seconds < 5
    assert time.monotonic() - started < 8


def test_timeout_also_kills_the_solution_the_scorer_started(server: SubmissionServer, tmp_path: Path) -> None:
    pid_file = tmp_path / "solution.pid"
    solution = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    hanging = zip_of({"solution.py": solution})
    outcome = score_one(request(challenge(timeout=2, tests=1), server.put("hanging.zip", hanging)))

    assert outcome.failure == timeout_failure(2)
    assert not is_running(int(pid_file.read_text()))


def is_running(pid: int, wait_seconds: float = 2.0) -> bool:
    """Whether `pid` is still alive (a zombie waiting for its reaper counts as gone)."""
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True


def test_scorer_ignoring_sigterm_is_killed_after_the_grace_period() -> None:
    ignore_term = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    config = challenge([sys.executable, "-c", ignore_term], timeout=1)
    outcome = score_one(request(config, "http://127.0.0.1:9/unused.zip"), kill_after_seconds=1)

    assert outcome.failure == timeout_failure(1)
    assert 2 <= outcome.seconds < 5


def test_scorer_exiting_124_on_its_own_is_not_a_timeout() -> None:
    config = challenge([sys.executable, "-c", "import sys; sys.exit(124)"], timeout=30)
    outcome = score_one(request(config, "http://127.0.0.1:9/unused.zip"))

    assert outcome.failure == exit_code_failure(124)


def test_command_not_found_is_a_launch_failure() -> None:
    config = challenge(["/nonexistent/mm-scorer", "--problem", "target"])
    outcome = score_one(request(config, "http://127.0.0.1:9/unused.zip"))

    assert outcome.failure == launch_failure("command not found: /nonexistent/mm-scorer")


def test_scorer_exiting_cleanly_without_a_report_fails() -> None:
    config = challenge([sys.executable, "-c", "pass"])
    outcome = score_one(request(config, "http://127.0.0.1:9/unused.zip"))

    assert outcome.failure == NO_REPORT_FAILURE


def test_scorer_gets_the_extras_and_environment_and_the_last_report_counts(tmp_path: Path) -> None:
    # a stand-in scorer that echoes what it was given, reporting twice
    echo = tmp_path / "echo_scorer.py"
    echo.write_text(
        "import os\n"
        "from dagster_pipes import open_dagster_pipes\n"
        "with open_dagster_pipes() as pipes:\n"
        "    pipes.report_custom_message({'draft': True})\n"
        "    env = {k: v for k, v in os.environ.items() if k.startswith('MM_')}\n"
        "    pipes.report_custom_message({'extras': dict(pipes.extras), 'env': env})\n"
    )
    config = challenge([sys.executable, str(echo)], tests=3)
    outcome = score_one(request(config, "http://example.test/s9.zip", submission_id="s9"))

    assert outcome.ok, outcome.failure
    assert outcome.reported["extras"]["seeds"] == [1, 2, 3]
    assert outcome.reported["extras"]["url"] == "http://example.test/s9.zip"
    assert outcome.reported["env"]["MM_SUBMISSION_ID"] == "s9"
    assert outcome.reported["env"]["MM_NUMBER_OF_TESTS"] == "3"


def test_concurrent_scorings_in_one_asset_step_each_get_their_own_report(server: SubmissionServer) -> None:
    """The scoring asset scores up to maxConcurrent submissions at once from one step's threads."""
    requests = [
        request(challenge(tests=3), server.put("c90.zip", good_submission(90)), submission_id="s90"),
        request(challenge(tests=3), server.put("c60.zip", good_submission(60)), submission_id="s60"),
        request(challenge(tests=3), server.put("cbroken.zip", broken_submission()), submission_id="sb"),
    ]

    def score_all(context: AssetExecutionContext, scorer: LocalScorerLauncher) -> list[ScorerOutcome]:
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            return list(pool.map(lambda req: scorer.score(context, req), requests))

    outcomes = in_asset_step(score_all)

    assert [outcome.failure for outcome in outcomes] == [None, None, None]
    scores = [[t["score"] for t in outcome.reported["testScores"]] for outcome in outcomes]
    assert scores[0] == [1000 - 10 * (1 + s % 3) for s in (1, 2, 3)]
    assert scores[1] == [1000 - 40 * (1 + s % 3) for s in (1, 2, 3)]
    assert scores[2] == [1000, 1000, -1]
