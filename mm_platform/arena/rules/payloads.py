"""Typed, validated Arena payloads (spec §1, §4.1, §5.3, §11.3-4). Pure: no Dagster, no I/O.

Each record's attributes are the Arena column names in lower case; a field's metadata says how the
column is read. Parsing raises ArenaPayloadError naming the field, which the processors turn into
INVALID (spec §10). `to_ledger_json` writes a record back out with the upper-case Arena names, so the
ledger keeps the typed payload and drops unknown columns (spec §2.1), and re-parsing it gives the same
record.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
    fixed_place_datetime,
)

ARENA_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Arena's yyyy-MM-dd HH:mm:ss
# ASCII only: Python's \d, int() and float() also take other scripts' digits (and "1_000", "nan"),
# none of which Jackson reads.
_ARENA_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
_WHOLE = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class ArenaPayloadError(ValueError):
    """A payload column that is missing or cannot be read; `field` is its Arena name."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field = field
        self.reason = reason


# ---- column readers: (Arena name, raw JSON value) -> typed value; None means null/absent -------------


def parse_arena_datetime(name: str, value: Any) -> datetime:
    if not isinstance(value, str) or not _ARENA_DATETIME.fullmatch(value):
        raise ArenaPayloadError(name, f"{value!r} is not a date of the form yyyy-MM-dd HH:mm:ss")
    moment = fixed_place_datetime(value)
    if moment is not None:
        return moment
    try:
        return datetime.strptime(value, ARENA_DATETIME_FORMAT)
    except ValueError as exc:  # e.g. 2022-02-30
        raise ArenaPayloadError(name, f"{value!r} is not a valid date: {exc}") from exc


def format_arena_datetime(value: date) -> str:
    # A date column goes back out at midnight: the time part was dropped on reading (spec §1).
    moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
    if moment.year >= 1000:  # what strftime writes, without its cost; it leaves years before 1000 unpadded
        return (
            f"{moment.year}-{moment.month:02d}-{moment.day:02d} "
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        )
    return moment.strftime(ARENA_DATETIME_FORMAT)


def _read_whole(name: str, value: Any) -> int | None:
    number = _whole(name, value)
    # a Kotlin Long, and a BIGINT column in both databases (SQLite would overflow, PostgreSQL refuse)
    if number is not None and not -(2**63) <= number < 2**63:
        raise ArenaPayloadError(name, f"{value!r} is out of range")
    return number


def _whole(name: str, value: Any) -> int | None:
    # Jackson reads whole numbers from JSON numbers or numeric strings; fractions and booleans fail.
    if value is None:
        return None
    if isinstance(value, bool):
        raise ArenaPayloadError(name, f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    raise ArenaPayloadError(name, f"{value!r} is not a whole number")


def _read_float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (is_number or (isinstance(value, str) and _DECIMAL.fullmatch(value.strip()))):
        raise ArenaPayloadError(name, f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ArenaPayloadError(name, f"{value!r} is not a finite number")
    return number


def _read_text(name: str, value: Any) -> str | None:
    # Jackson turns scalar numbers into text for String columns (PROFILELEMENT_ID_OPPL_TILTAK is a number).
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise ArenaPayloadError(name, f"is a JSON {type(value).__name__}, not text")


def _read_date(name: str, value: Any) -> date | None:
    return None if value is None else parse_arena_datetime(name, value).date()


def _read_datetime(name: str, value: Any) -> datetime | None:
    return None if value is None else parse_arena_datetime(name, value)


def _read_id(name: str, value: Any) -> int | None:
    number = _read_whole(name, value)
    if number == 0:  # the original rejects a zero id (spec §5.3, scenario 10)
        raise ArenaPayloadError(name, "is 0")
    return number


_READERS: dict[str, Callable[[str, Any], Any]] = {
    "id": _read_id,
    "whole": _read_whole,
    "float": _read_float,
    "text": _read_text,
    "date": _read_date,
    "datetime": _read_datetime,
}


def _kind(kind: str, *, required: bool = False) -> dict[str, Any]:
    """Field metadata: how the column is read. Records are keyword-only, so a required column simply
    has no default and an optional one defaults to None."""
    return {"kind": kind, "required": required}


Record = TypeVar("Record")


# per record class, worked out once: (attribute, Arena name, reader, required) in field order, and
# (Arena name, attribute, is a date) in ledger order
_READ_PLANS: dict[type, list[tuple[str, str, Callable[[str, Any], Any], bool]]] = {}
_WRITE_PLANS: dict[type, list[tuple[str, str, bool]]] = {}


def _read_plan(cls: type) -> list[tuple[str, str, Callable[[str, Any], Any], bool]]:
    plan = _READ_PLANS.get(cls)
    if plan is None:
        plan = [
            (c.name, c.name.upper(), _READERS[c.metadata["kind"]], c.metadata["required"])
            for c in fields(cls)
        ]
        _READ_PLANS[cls] = plan
    return plan


def _write_plan(cls: type) -> list[tuple[str, str, bool]]:
    plan = _WRITE_PLANS.get(cls)
    if plan is None:
        # The row's own id first, for people reading the ledger; the rest in column order.
        columns = sorted(fields(cls), key=lambda column: column.metadata["kind"] != "id")
        plan = [(c.name.upper(), c.name, c.metadata["kind"] in ("date", "datetime")) for c in columns]
        _WRITE_PLANS[cls] = plan
    return plan


def _parse_values(cls: type, payload: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(payload, Mapping):
        raise ArenaPayloadError("payload", f"is a JSON {type(payload).__name__}, not an object")
    values: dict[str, Any] = {}
    get = payload.get
    for attribute, name, reader, required in _read_plan(cls):
        value = reader(name, get(name))
        if value is None and required:
            raise ArenaPayloadError(name, "is missing")
        values[attribute] = value
    return values


def _parse(cls: type[Record], payload: Mapping[str, Any]) -> Record:
    return cls(**_parse_values(cls, payload))


# ---- the ledger's JSON straight from a payload (intake's hot path) ------------------------------------


@functools.lru_cache(maxsize=1 << 16)
def _datetime_text(value: str) -> str:
    # Arena repeats the same few timestamps across millions of rows: read and write each text once
    return format_arena_datetime(parse_arena_datetime("", value))


@functools.lru_cache(maxsize=1 << 16)
def _date_text(value: str) -> str:
    return format_arena_datetime(parse_arena_datetime("", value).date())


def _cached(text_of: Callable[[str], str]) -> Callable[[str, Any], str | None]:
    def normalize(name: str, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return text_of(value)
            except ArenaPayloadError as exc:
                raise ArenaPayloadError(name, exc.reason) from None
        raise ArenaPayloadError(name, f"{value!r} is not a date of the form yyyy-MM-dd HH:mm:ss")

    return normalize


# what each kind of column becomes in the ledger: the reader's value, dates as Arena date text
_NORMALIZERS: dict[str, Callable[[str, Any], Any]] = {
    **_READERS,
    "date": _cached(_date_text),
    "datetime": _cached(_datetime_text),
}
_LEDGER_PLANS: dict[type, tuple[dict[str, None], list[tuple[str, Callable[[str, Any], Any], bool]]]] = {}


def _ledger_plan(cls: type) -> tuple[dict[str, None], list[tuple[str, Callable[[str, Any], Any], bool]]]:
    plan = _LEDGER_PLANS.get(cls)
    if plan is None:
        # columns are read in field order (the first bad one is the reason) and written in ledger order
        order = dict.fromkeys(name for name, _attribute, _is_date in _write_plan(cls))
        steps = [
            (c.name.upper(), _NORMALIZERS[c.metadata["kind"]], c.metadata["required"]) for c in fields(cls)
        ]
        plan = _LEDGER_PLANS[cls] = (order, steps)
    return plan


def ledger_json(table: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """`to_ledger_json(parse_payload(table, payload))` without building the record: the same values,
    the same order and the same errors, at a fraction of the cost (a replay reads millions)."""
    cls = _RECORD_CLASSES.get(table)
    if cls is None:
        raise ValueError(f"unknown Arena table {table!r}")
    if not isinstance(payload, Mapping):
        raise ArenaPayloadError("payload", f"is a JSON {type(payload).__name__}, not an object")
    order, steps = _ledger_plan(cls)
    out = dict(order)
    get = payload.get
    for name, normalize, required in steps:
        value = get(name)
        if value is None:
            if required:
                raise ArenaPayloadError(name, "is missing")
        elif not (type(value) is str and normalize is _read_text):  # text is kept as it is
            value = normalize(name, value)
        out[name] = value
    for name, default in cls.LEDGER_DEFAULTS.items():
        if out[name] is None:
            out[name] = default
    return out


def to_ledger_json(record: ArenaGjennomforing | ArenaDeltaker | ArenaHistDeltaker) -> dict[str, Any]:
    """The typed payload with upper-case Arena names and Arena date strings, ready for the ledger."""
    out: dict[str, Any] = {}
    for name, attribute, is_date in _write_plan(type(record)):
        value = getattr(record, attribute)
        out[name] = format_arena_datetime(value) if is_date and value is not None else value
    return out


# ---- tiltakgjennomføring ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ArenaGjennomforing:
    """Stored whatever its other columns hold: only the id and TILTAKSKODE are required. Dates stay as
    text because a bad one makes the gjennomføring invalid (spec §4.1), not unreadable."""

    LEDGER_DEFAULTS: ClassVar[Mapping[str, Any]] = {}

    tiltakgjennomforing_id: int = field(metadata=_kind("id", required=True))
    tiltakskode: str = field(metadata=_kind("text", required=True))
    sak_id: int | None = field(default=None, metadata=_kind("whole"))
    antall_deltakere: int | None = field(default=None, metadata=_kind("whole"))
    antall_varighet: int | None = field(default=None, metadata=_kind("whole"))
    dato_fra: str | None = field(default=None, metadata=_kind("text"))
    dato_til: str | None = field(default=None, metadata=_kind("text"))
    fagplankode: str | None = field(default=None, metadata=_kind("text"))
    maaleenhet_varighet: str | None = field(default=None, metadata=_kind("text"))
    tekst_fagbeskrivelse: str | None = field(default=None, metadata=_kind("text"))
    tekst_kurssted: str | None = field(default=None, metadata=_kind("text"))
    tekst_maalgruppe: str | None = field(default=None, metadata=_kind("text"))
    status_treverdikode_innsokning: str | None = field(default=None, metadata=_kind("text"))
    reg_dato: str | None = field(default=None, metadata=_kind("text"))
    reg_user: str | None = field(default=None, metadata=_kind("text"))
    mod_dato: str | None = field(default=None, metadata=_kind("text"))
    mod_user: str | None = field(default=None, metadata=_kind("text"))
    lokaltnavn: str | None = field(default=None, metadata=_kind("text"))
    tiltakstatuskode: str | None = field(default=None, metadata=_kind("text"))
    prosent_deltid: float | None = field(default=None, metadata=_kind("float"))
    kommentar: str | None = field(default=None, metadata=_kind("text"))
    arbgiv_id_arrangor: int | None = field(default=None, metadata=_kind("whole"))
    profilelement_id_geografi: str | None = field(default=None, metadata=_kind("text"))
    klokketid_fremmote: str | None = field(default=None, metadata=_kind("text"))
    dato_fremmote: str | None = field(default=None, metadata=_kind("text"))
    begrunnelse_status: str | None = field(default=None, metadata=_kind("text"))
    avtale_id: int | None = field(default=None, metadata=_kind("whole"))
    aktivitet_id: int | None = field(default=None, metadata=_kind("whole"))
    dato_innsokningstart: str | None = field(default=None, metadata=_kind("text"))
    gml_fra_dato: str | None = field(default=None, metadata=_kind("text"))
    gml_til_dato: str | None = field(default=None, metadata=_kind("text"))
    aetat_fremmotereg: str | None = field(default=None, metadata=_kind("text"))
    aetat_konteringssted: str | None = field(default=None, metadata=_kind("text"))
    opplaeringnivaakode: str | None = field(default=None, metadata=_kind("text"))
    tiltakgjennomforing_id_rel: str | None = field(default=None, metadata=_kind("text"))
    vurdering_gjennomforing: str | None = field(default=None, metadata=_kind("text"))
    profilelement_id_oppl_tiltak: str | None = field(default=None, metadata=_kind("text"))
    dato_oppfolging_ok: str | None = field(default=None, metadata=_kind("text"))
    partisjon: int | None = field(default=None, metadata=_kind("whole"))
    maalform_kravbrev: str | None = field(default=None, metadata=_kind("text"))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ArenaGjennomforing:
        return _parse(cls, payload)

    @property
    def arena_id(self) -> str:
        return str(self.tiltakgjennomforing_id)

    @property
    def invalid_reason(self) -> str | None:
        """Why the gjennomføring is not valid (spec §4.1), or None when it is. Invalid ones are still
        stored; their deltakere wait (WAITING) until a valid version arrives."""
        for name, value in (
            ("SAK_ID", self.sak_id),
            ("ARBGIV_ID_ARRANGOR", self.arbgiv_id_arrangor),
            ("LOKALTNAVN", self.lokaltnavn),
            ("TILTAKSTATUSKODE", self.tiltakstatuskode),
            ("REG_DATO", self.reg_dato),
        ):
            if value is None:
                return f"{name} is missing"
        # REG_DATO must parse; the dates must parse when present (the original also reads DATO_FREMMOTE).
        for name, value in (
            ("REG_DATO", self.reg_dato),
            ("DATO_FRA", self.dato_fra),
            ("DATO_TIL", self.dato_til),
            ("DATO_FREMMOTE", self.dato_fremmote),
        ):
            if value is not None:
                try:
                    parse_arena_datetime(name, value)
                except ArenaPayloadError as exc:
                    return str(exc)
        return None

    @property
    def is_valid(self) -> bool:
        return self.invalid_reason is None


# ---- tiltakdeltaker and hist_tiltakdeltaker ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _DeltakerColumns:
    """The columns both deltaker tables share (spec §1, required ones per §11.3)."""

    # a null column the ledger keeps as this value instead (the live deltaker's only)
    LEDGER_DEFAULTS: ClassVar[Mapping[str, Any]] = {}

    person_id: int | None = field(default=None, metadata=_kind("whole"))
    # 0 is allowed here: the gjennomføring lookup for id 0 runs first and ends RETRY (spec §11.4).
    tiltakgjennomforing_id: int = field(metadata=_kind("whole", required=True))
    deltakerstatuskode: str = field(metadata=_kind("text", required=True))
    deltakertypekode: str | None = field(default=None, metadata=_kind("text"))
    aarsakverdikode_status: str | None = field(default=None, metadata=_kind("text"))
    oppmotetypekode: str | None = field(default=None, metadata=_kind("text"))
    prioritet: int | None = field(default=None, metadata=_kind("whole"))
    begrunnelse_innsokt: str | None = field(default=None, metadata=_kind("text"))
    begrunnelse_prioritering: str | None = field(default=None, metadata=_kind("text"))
    reg_dato: datetime = field(metadata=_kind("datetime", required=True))
    reg_user: str | None = field(default=None, metadata=_kind("text"))
    mod_dato: datetime = field(metadata=_kind("datetime", required=True))
    mod_user: str | None = field(default=None, metadata=_kind("text"))
    dato_svarfrist: str | None = field(default=None, metadata=_kind("text"))
    dato_fra: date | None = field(default=None, metadata=_kind("date"))
    dato_til: date | None = field(default=None, metadata=_kind("date"))
    begrunnelse_status: str | None = field(default=None, metadata=_kind("text"))
    prosent_deltid: float | None = field(default=None, metadata=_kind("float"))
    brukerid_statusendring: str = field(metadata=_kind("text", required=True))
    dato_statusendring: datetime | None = field(default=None, metadata=_kind("datetime"))
    aktivitet_id: int = field(metadata=_kind("whole", required=True))
    brukerid_endring_prioritering: str | None = field(default=None, metadata=_kind("text"))
    dato_endring_prioritering: str | None = field(default=None, metadata=_kind("text"))
    dokumentkode_siste_brev: str | None = field(default=None, metadata=_kind("text"))
    status_innsok_pakke: str | None = field(default=None, metadata=_kind("text"))
    status_opptak_pakke: str | None = field(default=None, metadata=_kind("text"))
    opplysninger_innsok: str | None = field(default=None, metadata=_kind("text"))
    partisjon: int | None = field(default=None, metadata=_kind("whole"))
    begrunnelse_bestilling: str | None = field(default=None, metadata=_kind("text"))
    # A float: 2.5 days a week is a real value.
    antall_dager_pr_uke: float | None = field(default=None, metadata=_kind("float"))
    # Set when the deltakelse was created outside Arena (the external-source guard, spec §5.2).
    ekstern_id: str | None = field(default=None, metadata=_kind("text"))


@dataclass(frozen=True, kw_only=True)
class ArenaDeltaker(_DeltakerColumns):
    # A null BEGRUNNELSE_BESTILLING becomes "" so that downstream clears the text (spec §5.3).
    LEDGER_DEFAULTS: ClassVar[Mapping[str, Any]] = {"BEGRUNNELSE_BESTILLING": ""}

    tiltakdeltaker_id: int = field(metadata=_kind("id", required=True))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ArenaDeltaker:
        values = _parse_values(cls, payload)
        for name, default in cls.LEDGER_DEFAULTS.items():
            if values[name.lower()] is None:
                values[name.lower()] = default
        return cls(**values)

    @property
    def arena_id(self) -> str:
        return str(self.tiltakdeltaker_id)


@dataclass(frozen=True, kw_only=True)
class ArenaHistDeltaker(_DeltakerColumns):
    hist_tiltakdeltaker_id: int = field(metadata=_kind("id", required=True))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ArenaHistDeltaker:
        # BEGRUNNELSE_BESTILLING stays None here, unlike the live deltaker (spec §6.4).
        return _parse(cls, payload)

    @property
    def arena_id(self) -> str:
        return str(self.hist_tiltakdeltaker_id)


ArenaRecord = ArenaGjennomforing | ArenaDeltaker | ArenaHistDeltaker

_RECORD_CLASSES: dict[str, type[ArenaRecord]] = {
    TILTAKGJENNOMFORING_TABLE: ArenaGjennomforing,
    TILTAKDELTAKER_TABLE: ArenaDeltaker,
    HIST_TILTAKDELTAKER_TABLE: ArenaHistDeltaker,
}


def parse_payload(table: str, payload: Mapping[str, Any]) -> ArenaRecord:
    """The typed record of a payload from `table` (one of the three SIAMO tables)."""
    try:
        cls = _RECORD_CLASSES[table]
    except KeyError:
        raise ValueError(f"unknown Arena table {table!r}") from None
    return cls.from_payload(payload)
