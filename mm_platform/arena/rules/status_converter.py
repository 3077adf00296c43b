"""Arena deltaker status -> AMT deltaker status (spec §5 "Status mapping").

A port of amt-arena-acl's ArenaDeltakerStatusConverter with every input explicit: "today" is a field
of `StatusInput`, never read from a clock, so a decision is reproducible (and explainable) later.
A date "has passed" when it is strictly before `today`.

`StatusDecision.rule` names the branch that decided. The names are stable (operators and logs use them):

  sokt_inn                          AKTUELL->SOKT_INN, INFOMOETE->VURDERES, VENTELISTE->VENTELISTE
  feilreg                           FEILREG->FEILREGISTRERT
  G.har_sluttet                     gjennomforende, start and slutt passed (date = slutt)
  G.deltar                          gjennomforende, starts today or start passed (date = start)
  G.venter_pa_oppstart              gjennomforende otherwise (date = status change)
  A.har_sluttet                     avsluttende, status changed after the start day began
  A.ikke_aktuell                    avsluttende otherwise
  IA.feilregistrert                 IKKAKTUELL changed on the registration day
  IA.ikke_aktuell                   ikke_aktuell otherwise
  kurs.gjennomforende.avbrutt       kurs: started, ended, and ended before the gjennomføring's end
  kurs.G.fullfort / kurs.G.deltar / kurs.G.venter_pa_oppstart
                                    kurs: rule G (FULLFORT instead of HAR_SLUTTET)
  kurs.A.fullfort / kurs.A.ikke_aktuell
                                    kurs FULLF: rule A (FULLFORT instead of HAR_SLUTTET)
  kurs.avsluttende.avbrutt / kurs.avsluttende.ikke_aktuell
                                    kurs, other avsluttende codes: like A but AVBRUTT
  kurs.IA.feilregistrert / kurs.IA.ikke_aktuell
                                    kurs: rule IA
  post.avsluttet_not_final          gjennomføring avsluttet and the status was not final -> IKKE_AKTUELL
  post.enkeltplass_avsluttet_gjenn  the override above was skipped: enkeltplass, gjennomføring status
                                    AVSLUTTET and Arena code GJENN keep the computed status

`base_rule` is the branch before the post-rules (equal to `rule` when no post-rule fired), so the
computed status behind a post-rule stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from mm_platform.arena.rules.codes import (
    AVSLUTTENDE,
    GJENNOMFORENDE,
    IKKE_AKTUELL,
    SOKT_INN,
    AmtDeltakerStatus,
    ArenaDeltakerStatus,
    GjennomforingStatus,
)

_SOKT_INN_STATUS = {
    ArenaDeltakerStatus.AKTUELL: AmtDeltakerStatus.SOKT_INN,
    ArenaDeltakerStatus.INFOMOETE: AmtDeltakerStatus.VURDERES,
    ArenaDeltakerStatus.VENTELISTE: AmtDeltakerStatus.VENTELISTE,
}


@dataclass(frozen=True)
class StatusInput:
    """Everything the conversion reads. Dates are naive local Arena dates (no zone), like the source."""

    arena_status: ArenaDeltakerStatus
    registrert_dato: datetime  # REG_DATO
    start_dato: date | None  # DATO_FRA
    slutt_dato: date | None  # DATO_TIL
    er_enkeltplass: bool
    dato_status_endring: datetime | None  # DATO_STATUSENDRING
    er_gjennomforing_avsluttet: bool
    gjennomforing_slutt_dato: date | None
    gjennomforing_status: GjennomforingStatus | None
    # deltakelseKreverGodkjenningLoep: kurs (or enkeltplass); switches on FULLFORT/AVBRUTT
    krever_godkjenning: bool
    today: date


@dataclass(frozen=True)
class StatusDecision:
    status: AmtDeltakerStatus
    endret_dato: datetime | None
    rule: str
    base_rule: str


def convert_status(inp: StatusInput) -> StatusDecision:
    """The AMT status, the date it took effect, and the branch that decided."""
    status, endret, rule = _base(inp)
    base_rule = rule
    if inp.er_gjennomforing_avsluttet and not status.is_final:
        if _enkeltplass_bypass(inp):
            rule = "post.enkeltplass_avsluttet_gjenn"
        else:
            status, endret, rule = (
                AmtDeltakerStatus.IKKE_AKTUELL,
                inp.dato_status_endring,
                "post.avsluttet_not_final",
            )
    return StatusDecision(status=status, endret_dato=endret, rule=rule, base_rule=base_rule)


_Result = tuple[AmtDeltakerStatus, datetime | None, str]


def _base(inp: StatusInput) -> _Result:
    code = inp.arena_status
    # Order matters: sokt_inn and FEILREG win even on kurs.
    if code in SOKT_INN:
        return _SOKT_INN_STATUS[code], inp.dato_status_endring, "sokt_inn"
    if code is ArenaDeltakerStatus.FEILREG:
        return AmtDeltakerStatus.FEILREGISTRERT, inp.dato_status_endring, "feilreg"
    if inp.krever_godkjenning:
        return _kurs(inp)
    if code in GJENNOMFORENDE:
        return _gjennomforende(inp, "G")
    if code in AVSLUTTENDE:
        return _avsluttende(inp, "A")
    if code in IKKE_AKTUELL:
        return _ikke_aktuell(inp, "IA")
    raise AssertionError(f"ArenaDeltakerStatus {code} belongs to no group")  # codes.py covers every member


def _kurs(inp: StatusInput) -> _Result:
    code = inp.arena_status
    if code in GJENNOMFORENDE:
        if _start_passed(inp) and _slutt_passed(inp) and _ended_before_gjennomforing(inp):
            return AmtDeltakerStatus.AVBRUTT, _at_midnight(inp.slutt_dato), "kurs.gjennomforende.avbrutt"
        return _gjennomforende(inp, "kurs.G")
    if code is ArenaDeltakerStatus.FULLF:
        return _avsluttende(inp, "kurs.A")
    if code in AVSLUTTENDE:
        if _changed_after_start(inp):
            return AmtDeltakerStatus.AVBRUTT, _end_date(inp), "kurs.avsluttende.avbrutt"
        return AmtDeltakerStatus.IKKE_AKTUELL, inp.dato_status_endring, "kurs.avsluttende.ikke_aktuell"
    if code in IKKE_AKTUELL:
        return _ikke_aktuell(inp, "kurs.IA")
    raise AssertionError(f"ArenaDeltakerStatus {code} belongs to no kurs group")


def _gjennomforende(inp: StatusInput, prefix: str) -> _Result:
    if _start_passed(inp) and _slutt_passed(inp):
        if inp.krever_godkjenning:
            return AmtDeltakerStatus.FULLFORT, _at_midnight(inp.slutt_dato), f"{prefix}.fullfort"
        return AmtDeltakerStatus.HAR_SLUTTET, _at_midnight(inp.slutt_dato), f"{prefix}.har_sluttet"
    if inp.start_dato == inp.today or _start_passed(inp):
        return AmtDeltakerStatus.DELTAR, _at_midnight(inp.start_dato), f"{prefix}.deltar"
    return AmtDeltakerStatus.VENTER_PA_OPPSTART, inp.dato_status_endring, f"{prefix}.venter_pa_oppstart"


def _avsluttende(inp: StatusInput, prefix: str) -> _Result:
    if not _changed_after_start(inp):
        return AmtDeltakerStatus.IKKE_AKTUELL, inp.dato_status_endring, f"{prefix}.ikke_aktuell"
    if inp.krever_godkjenning:
        return AmtDeltakerStatus.FULLFORT, _end_date(inp), f"{prefix}.fullfort"
    return AmtDeltakerStatus.HAR_SLUTTET, _end_date(inp), f"{prefix}.har_sluttet"


def _ikke_aktuell(inp: StatusInput, prefix: str) -> _Result:
    changed = inp.dato_status_endring
    # Set and withdrawn on the registration day: Arena's way of undoing a mistaken registration.
    if (
        inp.arena_status is ArenaDeltakerStatus.IKKAKTUELL
        and changed is not None
        and changed.date() == inp.registrert_dato.date()
    ):
        return AmtDeltakerStatus.FEILREGISTRERT, changed, f"{prefix}.feilregistrert"
    return AmtDeltakerStatus.IKKE_AKTUELL, changed, f"{prefix}.ikke_aktuell"


def _enkeltplass_bypass(inp: StatusInput) -> bool:
    # Only this exact combination: AVBRUTT/AVLYST gjennomføringer and JATAKK/TILBUD are still overridden.
    return (
        inp.er_enkeltplass
        and inp.gjennomforing_status is GjennomforingStatus.AVSLUTTET
        and inp.arena_status is ArenaDeltakerStatus.GJENN
    )


def _start_passed(inp: StatusInput) -> bool:
    return inp.start_dato is not None and inp.start_dato < inp.today


def _slutt_passed(inp: StatusInput) -> bool:
    return inp.slutt_dato is not None and inp.slutt_dato < inp.today


def _ended_before_gjennomforing(inp: StatusInput) -> bool:
    return (
        inp.gjennomforing_slutt_dato is not None
        and inp.slutt_dato is not None
        and inp.slutt_dato < inp.gjennomforing_slutt_dato
    )


def _changed_after_start(inp: StatusInput) -> bool:
    # Strictly after the start day's 00:00: a change at exactly midnight of the start day does not count.
    return (
        inp.start_dato is not None
        and inp.dato_status_endring is not None
        and inp.dato_status_endring > _midnight(inp.start_dato)
    )


def _end_date(inp: StatusInput) -> datetime | None:
    """The date an ended deltakelse took effect: DATO_TIL if it had passed when the status changed."""
    changed = inp.dato_status_endring
    if changed is not None and inp.slutt_dato is not None and _midnight(inp.slutt_dato) < changed:
        return _midnight(inp.slutt_dato)
    return changed


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _at_midnight(day: date | None) -> datetime | None:
    return None if day is None else _midnight(day)
