"""`mm-platform arena explain-status --json '{...}'`: run the status and aarsak rules on fields an
operator pastes (Arena payload values plus what the gjennomføring lookup would supply) and say which
branch decided. Pure: parsing and the two converters, no clock (the caller passes `now`), no I/O.

Input fields (JSON names; null is the same as absent):
  arenaStatus                      Arena DELTAKERSTATUSKODE, required
  deltakerRegistrertDato           REG_DATO, date-time, required unless `status` is given
  deltakerStartdato, deltakerSluttdato, gjennomforingSluttdato
                                   dates (a date-time is accepted; its time is dropped, as for DATO_FRA)
  datoStatusEndring                DATO_STATUSENDRING, date-time (a bare date means 00:00)
  erEnkeltplass, deltakelseKreverGodkjenningLoep
                                   booleans, default false
  erGjennomforingAvsluttet         boolean; when absent it follows gjennomforingStatus
                                   (AVSLUTTET, AVBRUTT or AVLYST), else false
  gjennomforingStatus              GJENNOMFORES, AVBRUTT, AVLYST or AVSLUTTET
  statusAarsakKode                 Arena AARSAKVERDIKODE_STATUS
  today (date) / now (date-time)   the converter's clock; default: the date of the given `now`
  status                           an AMT status: skip the status conversion, explain the aarsak only

Output: {"status", "endretDato", "statusAarsak", "rule"} with ISO strings. `rule` names the status
branch (see status_converter), or the aarsak rule when `status` was given; endretDato is then null
because no conversion ran. Date-times are local and zone-less like Arena's; one with an offset is
rejected rather than silently shifted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from mm_platform.arena.rules.aarsak_converter import convert_aarsak
from mm_platform.arena.rules.codes import (
    AmtDeltakerStatus,
    ArenaDeltakerStatus,
    ArenaStatusAarsak,
    GjennomforingStatus,
    UnknownArenaCode,
)
from mm_platform.arena.rules.status_converter import StatusInput, convert_status

FIELDS = frozenset(
    {
        "arenaStatus",
        "deltakerRegistrertDato",
        "deltakerStartdato",
        "deltakerSluttdato",
        "erEnkeltplass",
        "datoStatusEndring",
        "erGjennomforingAvsluttet",
        "gjennomforingSluttdato",
        "gjennomforingStatus",
        "deltakelseKreverGodkjenningLoep",
        "statusAarsakKode",
        "today",
        "now",
        "status",
    }
)


class ExplainError(ValueError):
    """Bad explain input; `field` names the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


def explain_status(fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    if not isinstance(fields, Mapping):
        raise ExplainError("input", f"expected a JSON object, got {type(fields).__name__}")
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        # A misspelt field would otherwise silently read as null and explain the wrong case.
        raise ExplainError(unknown[0], f"unknown field; known: {', '.join(sorted(FIELDS))}")

    arena_status = _code(fields, "arenaStatus", ArenaDeltakerStatus, required=True)
    aarsak_kode = _code(fields, "statusAarsakKode", ArenaStatusAarsak)
    gjennomforing_status = _code(fields, "gjennomforingStatus", GjennomforingStatus)
    avsluttet = _bool(fields, "erGjennomforingAvsluttet")
    if avsluttet is None:
        avsluttet = gjennomforing_status is not None and gjennomforing_status.er_avsluttet
    given_status = _code(fields, "status", AmtDeltakerStatus)

    if given_status is not None:
        aarsak = convert_aarsak(given_status, arena_status, aarsak_kode, avsluttet)
        return _output(given_status, None, aarsak.aarsak, aarsak.rule)

    registrert = _datetime(fields, "deltakerRegistrertDato")
    if registrert is None:
        raise ExplainError("deltakerRegistrertDato", "required (REG_DATO) unless `status` is given")
    decision = convert_status(
        StatusInput(
            arena_status=arena_status,
            registrert_dato=registrert,
            start_dato=_date(fields, "deltakerStartdato"),
            slutt_dato=_date(fields, "deltakerSluttdato"),
            er_enkeltplass=_bool(fields, "erEnkeltplass") or False,
            dato_status_endring=_datetime(fields, "datoStatusEndring"),
            er_gjennomforing_avsluttet=avsluttet,
            gjennomforing_slutt_dato=_date(fields, "gjennomforingSluttdato"),
            gjennomforing_status=gjennomforing_status,
            krever_godkjenning=_bool(fields, "deltakelseKreverGodkjenningLoep") or False,
            today=_today(fields, now),
        )
    )
    aarsak = convert_aarsak(decision.status, arena_status, aarsak_kode, avsluttet)
    return _output(decision.status, decision.endret_dato, aarsak.aarsak, decision.rule)


def _output(status: AmtDeltakerStatus, endret: datetime | None, aarsak: object, rule: str) -> dict[str, Any]:
    return {
        "status": status.value,
        "endretDato": None if endret is None else endret.isoformat(),
        "statusAarsak": None if aarsak is None else str(aarsak),
        "rule": rule,
    }


def _today(fields: Mapping[str, Any], now: datetime) -> date:
    today = _date(fields, "today", strict=True)
    given_now = _datetime(fields, "now", allow_zone=True)
    if today is not None and given_now is not None and given_now.date() != today:
        raise ExplainError("today", f"{today.isoformat()} disagrees with now={given_now.isoformat()}")
    if today is not None:
        return today
    return (given_now or now).date()


def _code(fields: Mapping[str, Any], field: str, enum: Any, required: bool = False) -> Any:
    value = fields.get(field)
    if value is None:
        if required:
            raise ExplainError(field, "required")
        return None
    try:
        return enum.parse(value, field)
    except UnknownArenaCode as exc:
        raise ExplainError(field, str(exc)) from exc


def _bool(fields: Mapping[str, Any], field: str) -> bool | None:
    value = fields.get(field)
    if value is None or isinstance(value, bool):
        return value
    raise ExplainError(field, f"expected true, false or null, got {value!r}")


def _date(fields: Mapping[str, Any], field: str, strict: bool = False) -> date | None:
    value = fields.get(field)
    if value is None:
        return None
    if isinstance(value, str):
        if strict or len(value) == 10:
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        else:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                # Like DATO_FRA/DATO_TIL: a date-time's time part is dropped.
                return _naive(field, parsed).date()
    raise ExplainError(field, f"expected an ISO-8601 date (YYYY-MM-DD), got {value!r}")


def _datetime(fields: Mapping[str, Any], field: str, allow_zone: bool = False) -> datetime | None:
    value = fields.get(field)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)  # a bare date parses as 00:00
        except ValueError:
            pass
        else:
            return parsed if allow_zone else _naive(field, parsed)
    raise ExplainError(field, f"expected an ISO-8601 date-time (YYYY-MM-DDTHH:MM:SS), got {value!r}")


def _naive(field: str, value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise ExplainError(
            field, f"Arena date-times are local without a zone; drop the offset in {value.isoformat()}"
        )
    return value
