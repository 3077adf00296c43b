"""Values that SQLite would store and PostgreSQL refuse (or that overflow SQLite's INTEGER) get the
same status on both: INVALID with the reason at intake or in the processor, never a stuck run."""

from __future__ import annotations

import json

from mm_platform_tests.arena.flow import ArenaFlow
from mm_platform_tests.arena.samples import deltaker_payload, envelope, gjennomforing_payload

GJENNOMFORING, DELTAKER = "SIAMO.TILTAKGJENNOMFORING", "SIAMO.TILTAKDELTAKER"


def test_oversized_values_are_invalid_alike_on_sqlite_and_postgresql(any_flow: ArenaFlow) -> None:
    flow = any_flow
    flow.publish(GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=3461841), pos=1)
    flow.publish(
        GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=7, TILTAKSKODE="X" * 5000), pos=2
    )
    flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=1, PERSON_ID=10**30), pos=10)
    flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=2, EKSTERN_ID="x" * 300), pos=11)
    flow.publish(
        DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=3, BEGRUNNELSE_BESTILLING="å" * 20_000), pos=12
    )
    flow.publish_raw(
        flow.arena.deltaker_topic,
        json.dumps(envelope(DELTAKER, "I", after=deltaker_payload(TILTAKDELTAKER_ID=10**25), pos="13")),
    )
    flow.ingest_and_run()
    assert flow.status("gjennomforing", 7) == "IGNORED"  # stored whole, and not supported
    assert flow.status("deltaker", 1) == "INVALID"
    assert (
        flow.rows("deltaker", 1)[0]["note"]
        == "after: PERSON_ID 1000000000000000000000000000000 is out of range"
    )
    assert flow.status("deltaker", 2) == "INVALID"
    assert "er ikke en UUID" in flow.rows("deltaker", 2)[0]["note"]
    assert flow.status("deltaker", 3) == "HANDLED"  # a long free text is carried as it is
    [(_key, message)] = flow.output()
    assert message["payload"]["innsokBegrunnelse"] == "å" * 20_000
    rejected = [
        e.reason
        for e in flow.inbox.get_inbox().select(topic=flow.arena.deltaker_topic)
        if e.entity_key is None
    ]
    assert rejected == ["after: TILTAKDELTAKER_ID 10000000000000000000000000 is out of range"]
