"""The messages the ACL publishes (spec §7). Pure: no Dagster, no I/O, no clock, no randomness: the
transaction id and timestamp are passed in, so one input gives one byte-identical message.

JSON follows the original's Jackson defaults: ISO dates and datetimes with no zone, enums by name,
nulls written out, floats kept as floats, compact separators, non-ASCII left as is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import Enum
from typing import Any

from mm_platform.arena.rules.envelope import Operation

AMT_SOURCE = "AMT_ARENA_ACL"
PAYLOAD_TYPE_DELTAKER = "DELTAKER"
FEILREGISTRERT = "FEILREGISTRERT"


@dataclass(frozen=True)
class AmtDeltaker:
    """The AMT deltaker (`AmtDeltaker.kt`). status and status_aarsak hold AMT names; an Enum member is
    accepted too and written by its name."""

    id: uuid.UUID
    gjennomforing_id: uuid.UUID  # the Mulighetsrommet id
    person_ident: str
    start_dato: date | None
    slutt_dato: date | None
    status: str | Enum
    status_aarsak: str | Enum | None
    dager_per_uke: float | None
    prosent_deltid: float | None
    registrert_dato: datetime
    status_endret_dato: datetime | None
    innsok_begrunnelse: str | None

    def as_feilregistrert(self) -> AmtDeltaker:
        """The copy published when Arena deletes a deltaker that was never historised (spec §5.10)."""
        return replace(
            self,
            status=FEILREGISTRERT,
            status_aarsak=None,
            dager_per_uke=None,
            prosent_deltid=None,
            innsok_begrunnelse=None,
        )


def iso_datetime(value: datetime) -> str:
    """ISO_LOCAL_DATE_TIME as Jackson writes it: seconds always, a fraction only when there is one and
    without trailing zeros, no zone."""
    text = value.replace(microsecond=0, tzinfo=None).isoformat()
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, datetime):  # before date: a datetime is a date
        return iso_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _float(value: float | None) -> float | None:
    # Kotlin Float: a whole number still goes out as 40.0, never 40.
    return None if value is None else float(value)


def deltaker_json(deltaker: AmtDeltaker) -> dict[str, Any]:
    """The AmtDeltaker as its JSON object, in the original's field order."""
    return {
        "id": _json_value(deltaker.id),
        "gjennomforingId": _json_value(deltaker.gjennomforing_id),
        "personIdent": deltaker.person_ident,
        "startDato": _json_value(deltaker.start_dato),
        "sluttDato": _json_value(deltaker.slutt_dato),
        "status": _json_value(deltaker.status),
        "statusAarsak": _json_value(deltaker.status_aarsak),
        "dagerPerUke": _float(deltaker.dager_per_uke),
        "prosentDeltid": _float(deltaker.prosent_deltid),
        "registrertDato": _json_value(deltaker.registrert_dato),
        "statusEndretDato": _json_value(deltaker.status_endret_dato),
        "innsokBegrunnelse": deltaker.innsok_begrunnelse,
    }


def amt_envelope(
    deltaker: AmtDeltaker, operation: Operation | str, transaction_id: uuid.UUID, timestamp: datetime
) -> dict[str, Any]:
    """The value for `amt.amt-tiltak-v1`. Only CREATED and MODIFIED are published in practice; DELETED
    exists in the enum and is accepted for completeness."""
    name = operation.value if isinstance(operation, Operation) else Operation(operation).value
    return {
        "transactionId": str(transaction_id),
        "source": AMT_SOURCE,
        "type": PAYLOAD_TYPE_DELTAKER,
        "timestamp": iso_datetime(timestamp),
        "operation": name,
        "payload": deltaker_json(deltaker),
    }


def enkeltplass_value(deltaker: AmtDeltaker) -> dict[str, Any]:
    """The value for `amt.arena-enkeltplass-deltaker-v1`: the bare AmtDeltaker, no envelope."""
    return deltaker_json(deltaker)


def message_key(deltaker: AmtDeltaker) -> str:
    """Both topics key on the AMT deltaker id."""
    return str(deltaker.id)


def serialize(value: Mapping[str, Any] | None) -> bytes | None:
    """Bytes for Kafka; None stays None (an enkeltplass tombstone)."""
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
