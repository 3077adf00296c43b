"""What `mm-platform dev` shows in its terminal: warnings, errors and settled events, not INFO."""

from __future__ import annotations

import io
from pathlib import Path

from mm_platform.core.devconsole import InboxFollower, is_shown, relay_output
from mm_platform.core.inbox import EventInbox, NewEvent, Status, Verdict
from mm_platform.core.sql import engine_for

INFO = "2026-12-01 00:07:30 +0000 - dagster.daemon.SensorDaemon - INFO - Checking for new runs"
WARN = "\x1b[32m2026-12-01 00:07:31 +0000\x1b[0m - dagster - \x1b[33mWARNING\x1b[0m - slow tick"
ERROR = "2026-12-01 00:07:32 +0000 - dagster.daemon - ERROR - Sensor failed"


def test_info_goes_to_the_log_file_only_and_errors_keep_their_traceback(tmp_path: Path) -> None:
    lines = [
        INFO,
        WARN,
        INFO,
        ERROR,
        "Traceback (most recent call last):",
        '  File "x.py"',
        "KeyError: 1",
        INFO,
    ]
    stream = io.BytesIO("".join(f"{line}\n" for line in lines).encode())
    shown: list[str] = []
    log = tmp_path / "dagster.log"
    relay_output(stream, log, shown.append)
    assert shown == [WARN, ERROR, "Traceback (most recent call last):", '  File "x.py"', "KeyError: 1"]
    assert log.read_text().splitlines() == lines
    assert is_shown("Serving dagster-webserver on http://127.0.0.1:3000", previous_shown=False)


def test_settled_events_are_reported_once(tmp_path: Path) -> None:
    inbox = EventInbox(engine_for(f"sqlite:///{tmp_path / 'platform.db'}"))
    inbox.create_schema()

    def event(offset: int, verdict: Verdict) -> NewEvent:
        return NewEvent("t", 0, offset, None, {}, b"{}", {}, verdict)

    inbox.record_batch(
        [event(0, Verdict.run("r1", event_type="e", entity_key="project-1", dedup_key="a"))]
    )  # before start
    said: list[str] = []
    follower = InboxFollower(inbox, said.append)
    [new] = inbox.record_batch(
        [
            event(1, Verdict.run("r2", event_type="e", entity_key="project-2", dedup_key="b")),
            event(2, Verdict.ignored("another phase", entity_key="project-3")),
            event(3, Verdict.invalid("malformed JSON")),
        ]
    )[:1]
    follower.poll()
    assert len(said) == 1 and "INVALID" in said[0] and "malformed JSON" in said[0]
    inbox.transition([new.id], Status.HANDLED, None)
    follower.poll()
    follower.poll()
    assert len(said) == 2 and "HANDLED" in said[1] and "project-2 -> partition r2" in said[1]
