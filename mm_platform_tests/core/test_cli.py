"""`mm-platform publish / inbox / replay` against a real broker and inbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mm_platform.cli import main
from mm_platform.core.inbox import EventInbox, NewEvent, Status, Verdict
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for


@pytest.fixture
def env(kafka: KafkaResource, tmp_path: Path) -> dict[str, str]:
    return {
        "MM_PLATFORM_STATE_DIR": str(tmp_path),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
    }


def test_publish_sends_json_and_refuses_non_json(
    env: dict[str, str], kafka: KafkaResource, topic: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["publish", topic, "--sample", "review-end"], env=env)
    assert ok.exit_code == 0, ok.output
    file = tmp_path / "event.json"
    file.write_text(json.dumps({"payload": {"projectId": 1}}))
    assert runner.invoke(main, ["publish", topic, "--file", str(file), "--key", "k"], env=env).exit_code == 0
    refused = runner.invoke(main, ["publish", topic, "--json", "{nope"], env=env)
    assert refused.exit_code != 0 and "not JSON" in refused.output
    assert runner.invoke(main, ["publish", topic, "--json", "{nope", "--raw"], env=env).exit_code == 0
    records, _ = kafka.consume_batch([topic], {}, 100, 5)
    values = sorted((r.value for r in records), key=len)
    assert values[0] == b"{nope"
    assert json.loads(max(values, key=len))["payload"]["phaseTypeName"] == "Review"
    assert len(records) == 3


def test_publish_to_a_down_broker_fails_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["publish", "t", "--json", "{}"],
        env={
            "MM_PLATFORM_STATE_DIR": str(tmp_path),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "MM_PLATFORM_KAFKA_TIMEOUT_SECONDS": "2",
        },
    )
    assert result.exit_code == 1
    assert "produce to 't' at 127.0.0.1:1 failed" in result.output


def test_inbox_lists_by_status_and_replay_requeues(env: dict[str, str], tmp_path: Path) -> None:
    inbox = EventInbox(engine_for(f"sqlite:///{tmp_path}/platform.db"))
    inbox.create_schema()
    handled = [
        NewEvent(
            "t",
            0,
            i,
            None,
            {},
            b"{}",
            {},
            Verdict.run("1", event_type="review.end", entity_key=f"project-{i % 2}", dedup_key=f"d{i}"),
        )
        for i in range(4)
    ]
    invalid = NewEvent("t", 0, 9, None, {}, b"x", None, Verdict.invalid("malformed JSON: x"))
    stored = inbox.record_batch([*handled, invalid])
    inbox.transition([s.id for s in stored[:4]], Status.HANDLED, None)
    runner = CliRunner()
    listing = runner.invoke(main, ["inbox", "--status", "INVALID"], env=env)
    assert listing.exit_code == 0
    assert "INVALID" in listing.output and "malformed JSON: x" in listing.output
    assert "HANDLED" not in listing.output
    paged = runner.invoke(main, ["inbox", "--limit", "2"], env=env)
    assert "-- more: --after-id" in paged.output
    replay = runner.invoke(main, ["replay", "--topic", "t", "--entity", "project-1"], env=env)
    assert replay.output.strip() == "1 event(s) set to RETRY"
    assert [e.offset for e in inbox.select(statuses=[Status.RETRY])] == [3]
    status = runner.invoke(main, ["stack", "status"], env=env)
    assert "kafka     up" in status.output and "RETRY=1" in status.output
