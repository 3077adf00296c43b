"""The 72 cases of amt-arena-acl's DeltakerStatusConverterTest (55 in the main spec, 17 in the
EnkeltplassStatusConverterTest), same inputs and expected statuses, with "today" fixed instead of
LocalDate.now(). Expected endret dates are asserted where the original asserted them, and where spec §5
fixes them (marked "spec"). Each case also pins the rule that decided.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mm_platform.arena.rules.codes import (
    AmtDeltakerStatus,
    ArenaDeltakerStatus,
    GjennomforingStatus,
)
from mm_platform.arena.rules.status_converter import StatusDecision, StatusInput, convert_status

TODAY = date(2026, 6, 15)
NOW = datetime.combine(TODAY, time(10, 30))  # the original's LocalDateTime.now(): a time after 00:00
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)
_UNSET = object()

A = ArenaDeltakerStatus
S = AmtDeltakerStatus
G = GjennomforingStatus


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def at(d: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute))


@dataclass(frozen=True)
class Case:
    id: str
    inp: StatusInput
    status: AmtDeltakerStatus
    rule: str
    endret: object = _UNSET  # datetime | None when asserted


def case(
    id: str,
    arena: ArenaDeltakerStatus,
    status: AmtDeltakerStatus,
    rule: str,
    *,
    start: date | None = None,
    slutt: date | None = None,
    changed: datetime | None = None,
    enkeltplass: bool = False,
    avsluttet: bool = False,
    gj_slutt: date | None = TODAY,
    gj_status: GjennomforingStatus | None = G.GJENNOMFORES,
    kurs: bool = False,
    endret: object = _UNSET,
) -> Case:
    inp = StatusInput(
        arena_status=arena,
        registrert_dato=NOW,
        start_dato=start,
        slutt_dato=slutt,
        er_enkeltplass=enkeltplass,
        dato_status_endring=changed,
        er_gjennomforing_avsluttet=avsluttet,
        gjennomforing_slutt_dato=gj_slutt,
        gjennomforing_status=gj_status,
        krever_godkjenning=kurs,
        today=TODAY,
    )
    return Case(id, inp, status, rule, endret)


# DeltakerStatusArenaDeltakerStatusConvertererTest: gjennomføring not avsluttet, status GJENNOMFORES.
MAIN_CASES = [
    case("AKTUELL-sokt_inn", A.AKTUELL, S.SOKT_INN, "sokt_inn"),
    case("FEILREG-feilregistrert", A.FEILREG, S.FEILREGISTRERT, "feilreg"),
    case("AVSLAG-no_start-ikke_aktuell", A.AVSLAG, S.IKKE_AKTUELL, "IA.ikke_aktuell"),
    case("DELAVB-no_start-ikke_aktuell", A.DELAVB, S.IKKE_AKTUELL, "A.ikke_aktuell"),
    case(
        "DELAVB-start_before_change-har_sluttet",
        A.DELAVB,
        S.HAR_SLUTTET,
        "A.har_sluttet",
        start=day(-2),
        changed=at(YESTERDAY),
    ),
    case(
        "DELAVB-start_after_change-ikke_aktuell",
        A.DELAVB,
        S.IKKE_AKTUELL,
        "A.ikke_aktuell",
        start=YESTERDAY,
        changed=at(day(-2)),
    ),
    case("DELAVB-start_future-ikke_aktuell", A.DELAVB, S.IKKE_AKTUELL, "A.ikke_aktuell", start=TOMORROW),
    case("FULLF-no_start-ikke_aktuell", A.FULLF, S.IKKE_AKTUELL, "A.ikke_aktuell"),
    case(
        "FULLF-start_before_change-har_sluttet",
        A.FULLF,
        S.HAR_SLUTTET,
        "A.har_sluttet",
        start=day(-2),
        changed=at(YESTERDAY, 13, 30),
        endret=at(YESTERDAY, 13, 30),
    ),
    case(
        "FULLF-start_after_change-ikke_aktuell",
        A.FULLF,
        S.IKKE_AKTUELL,
        "A.ikke_aktuell",
        start=YESTERDAY,
        changed=at(day(-2), 13, 30),
        endret=at(day(-2), 13, 30),
    ),
    case("FULLF-start_future-ikke_aktuell", A.FULLF, S.IKKE_AKTUELL, "A.ikke_aktuell", start=TOMORROW),
    case(
        "FULLF-change_after_slutt-har_sluttet",
        A.FULLF,
        S.HAR_SLUTTET,
        "A.har_sluttet",
        start=YESTERDAY,
        slutt=TODAY,
        changed=at(TODAY, 12, 30),
        endret=at(TODAY),  # spec: DATO_TIL had passed at the status change
    ),
    case("GJENN-no_dates-venter", A.GJENN, S.VENTER_PA_OPPSTART, "G.venter_pa_oppstart"),
    case(
        "GJENN-start_past-deltar",
        A.GJENN,
        S.DELTAR,
        "G.deltar",
        start=day(-2),
        changed=at(YESTERDAY, 12, 30),
        endret=at(day(-2)),
    ),
    case(
        "GJENN-start_future-venter",
        A.GJENN,
        S.VENTER_PA_OPPSTART,
        "G.venter_pa_oppstart",
        start=day(3),
        changed=at(TOMORROW, 10, 30),
        endret=at(TOMORROW, 10, 30),
    ),
    case(
        "GJENN-slutt_past-har_sluttet",
        A.GJENN,
        S.HAR_SLUTTET,
        "G.har_sluttet",
        start=day(-2),
        slutt=YESTERDAY,
    ),
    case(
        "GJENN-slutt_future-deltar",
        A.GJENN,
        S.DELTAR,
        "G.deltar",
        start=YESTERDAY,
        slutt=day(2),
        changed=at(TOMORROW, 10, 20),
        endret=at(YESTERDAY),
    ),
    case(
        "GJENN-slutt_passed_before_change-har_sluttet",
        A.GJENN,
        S.HAR_SLUTTET,
        "G.har_sluttet",
        start=day(-2),
        slutt=YESTERDAY,
        changed=at(TODAY, 10, 20),
        endret=at(YESTERDAY),
    ),
    case("GJENN_AVB-no_start-ikke_aktuell", A.GJENN_AVB, S.IKKE_AKTUELL, "A.ikke_aktuell"),
    case(
        "GJENN_AVB-start_before_change-har_sluttet",
        A.GJENN_AVB,
        S.HAR_SLUTTET,
        "A.har_sluttet",
        start=day(-2),
        changed=at(YESTERDAY),
    ),
    case(
        "GJENN_AVB-start_after_change-ikke_aktuell",
        A.GJENN_AVB,
        S.IKKE_AKTUELL,
        "A.ikke_aktuell",
        start=YESTERDAY,
        changed=at(day(-2)),
    ),
    case(
        "GJENN_AVB-start_future-ikke_aktuell", A.GJENN_AVB, S.IKKE_AKTUELL, "A.ikke_aktuell", start=TOMORROW
    ),
    case("GJENN_AVL-no_start-ikke_aktuell", A.GJENN_AVL, S.IKKE_AKTUELL, "A.ikke_aktuell"),
    case(
        "GJENN_AVL-start_before_change-har_sluttet",
        A.GJENN_AVL,
        S.HAR_SLUTTET,
        "A.har_sluttet",
        start=day(-2),
        changed=at(YESTERDAY),
    ),
    case(
        "GJENN_AVL-start_after_change-ikke_aktuell",
        A.GJENN_AVL,
        S.IKKE_AKTUELL,
        "A.ikke_aktuell",
        start=YESTERDAY,
        changed=at(day(-2)),
    ),
    case(
        "GJENN_AVL-start_future-ikke_aktuell", A.GJENN_AVL, S.IKKE_AKTUELL, "A.ikke_aktuell", start=TOMORROW
    ),
    case(
        "IKKAKTUELL-changed_later_than_registered-ikke_aktuell",
        A.IKKAKTUELL,
        S.IKKE_AKTUELL,
        "IA.ikke_aktuell",
        start=day(-4),
        slutt=day(-2),
        changed=at(day(-6)),
        endret=at(day(-6)),
    ),
    case(
        "IKKAKTUELL-changed_on_registration_day-feilregistrert",
        A.IKKAKTUELL,
        S.FEILREGISTRERT,
        "IA.feilregistrert",
        changed=NOW,
    ),
    case("IKKEM-no_start-ikke_aktuell", A.IKKEM, S.IKKE_AKTUELL, "A.ikke_aktuell"),
    case(
        "IKKEM-start_before_change-har_sluttet",
        A.IKKEM,
        S.HAR_SLUTTET,
        "A.har_sluttet",
        start=day(-2),
        changed=at(YESTERDAY),
    ),
    case(
        "IKKEM-start_after_change-ikke_aktuell",
        A.IKKEM,
        S.IKKE_AKTUELL,
        "A.ikke_aktuell",
        start=YESTERDAY,
        changed=at(day(-2)),
    ),
    case("IKKEM-start_future-ikke_aktuell", A.IKKEM, S.IKKE_AKTUELL, "A.ikke_aktuell", start=TOMORROW),
    case("INFOMOETE-vurderes", A.INFOMOETE, S.VURDERES, "sokt_inn"),
    case("JATAKK-no_dates-venter", A.JATAKK, S.VENTER_PA_OPPSTART, "G.venter_pa_oppstart"),
    case("JATAKK-start_past-deltar", A.JATAKK, S.DELTAR, "G.deltar", start=YESTERDAY, endret=at(YESTERDAY)),
    case(
        "JATAKK-start_future-venter", A.JATAKK, S.VENTER_PA_OPPSTART, "G.venter_pa_oppstart", start=TOMORROW
    ),
    case(
        "JATAKK-slutt_past-har_sluttet",
        A.JATAKK,
        S.HAR_SLUTTET,
        "G.har_sluttet",
        start=day(-2),
        slutt=YESTERDAY,
        endret=at(YESTERDAY),
    ),
    case("JATAKK-slutt_future-deltar", A.JATAKK, S.DELTAR, "G.deltar", start=YESTERDAY, slutt=TOMORROW),
    case("NEITAKK-ikke_aktuell", A.NEITAKK, S.IKKE_AKTUELL, "IA.ikke_aktuell"),
    case("TILBUD-no_dates-venter", A.TILBUD, S.VENTER_PA_OPPSTART, "G.venter_pa_oppstart", endret=None),
    case("TILBUD-start_past-deltar", A.TILBUD, S.DELTAR, "G.deltar", start=YESTERDAY),
    case(
        "TILBUD-start_future-venter", A.TILBUD, S.VENTER_PA_OPPSTART, "G.venter_pa_oppstart", start=TOMORROW
    ),
    case(
        "TILBUD-slutt_past-har_sluttet",
        A.TILBUD,
        S.HAR_SLUTTET,
        "G.har_sluttet",
        start=day(-2),
        slutt=YESTERDAY,
    ),
    case("TILBUD-slutt_future-deltar", A.TILBUD, S.DELTAR, "G.deltar", start=YESTERDAY, slutt=TOMORROW),
    case("VENTELISTE-venteliste", A.VENTELISTE, S.VENTELISTE, "sokt_inn"),
    # kurs (deltakelseKreverGodkjenningLoep = true)
    case(
        "kurs-VENTELISTE-venteliste",
        A.VENTELISTE,
        S.VENTELISTE,
        "sokt_inn",
        start=TODAY,
        changed=NOW,
        kurs=True,
    ),
    case(
        "kurs-AKTUELL-sokt_inn",
        A.AKTUELL,
        S.SOKT_INN,
        "sokt_inn",
        start=TODAY,
        changed=NOW,
        gj_status=G.AVSLUTTET,
        kurs=True,
    ),
    case(
        "kurs-TILBUD-ended_before_course_end-avbrutt",
        A.TILBUD,
        S.AVBRUTT,
        "kurs.gjennomforende.avbrutt",
        start=day(-4),
        slutt=day(-3),
        changed=NOW - timedelta(days=5),
        gj_slutt=TODAY,
        gj_status=G.AVSLUTTET,
        kurs=True,
        endret=at(day(-3)),  # spec: date = DATO_TIL
    ),
    case(
        "kurs-TILBUD-ended_with_course-fullfort",
        A.TILBUD,
        S.FULLFORT,
        "kurs.G.fullfort",
        start=day(-4),
        slutt=day(-3),
        changed=NOW - timedelta(days=5),
        gj_slutt=day(-3),
        gj_status=G.AVSLUTTET,
        kurs=True,
    ),
    case(
        "kurs-TILBUD-not_started-venter",
        A.TILBUD,
        S.VENTER_PA_OPPSTART,
        "kurs.G.venter_pa_oppstart",
        start=day(1),
        slutt=day(3),
        changed=NOW,
        gj_slutt=day(3),
        gj_status=G.AVSLUTTET,
        kurs=True,
    ),
    case(
        "kurs-FULLF-same_day_as_course_end-fullfort",
        A.FULLF,
        S.FULLFORT,
        "kurs.A.fullfort",
        start=day(1),
        slutt=day(3),
        changed=NOW + timedelta(days=3),
        gj_slutt=day(3),
        gj_status=G.AVSLUTTET,
        kurs=True,
    ),
    case(
        "kurs-FULLF-before_course_end-fullfort",
        A.FULLF,
        S.FULLFORT,
        "kurs.A.fullfort",
        start=day(1),
        slutt=day(2),
        changed=NOW + timedelta(days=2),
        gj_slutt=day(3),
        kurs=True,
    ),
    case(
        "kurs-DELAVB-before_course_end-avbrutt",
        A.DELAVB,
        S.AVBRUTT,
        "kurs.avsluttende.avbrutt",
        start=day(1),
        slutt=day(2),
        changed=NOW + timedelta(days=2),
        gj_slutt=day(3),
        gj_status=G.AVSLUTTET,
        kurs=True,
    ),
    case(
        "kurs-DELAVB-after_course_end-avbrutt",
        A.DELAVB,
        S.AVBRUTT,
        "kurs.avsluttende.avbrutt",
        start=day(1),
        slutt=day(4),
        changed=NOW + timedelta(days=2),
        gj_slutt=day(3),
        gj_status=G.AVSLUTTET,
        kurs=True,
        endret=NOW + timedelta(days=2),  # spec: DATO_TIL had not passed at the change
    ),
    case(
        "kurs-FULLF-one_day_course-fullfort",
        A.FULLF,
        S.FULLFORT,
        "kurs.A.fullfort",
        start=day(1),
        slutt=day(1),
        changed=NOW + timedelta(days=1),
        gj_slutt=day(1),
        gj_status=G.AVSLUTTET,
        kurs=True,
        endret=at(day(1)),  # spec: DATO_TIL 00:00 is before the change at 10:30
    ),
]


def enkeltplass_case(
    id: str, arena: ArenaDeltakerStatus, status: AmtDeltakerStatus, rule: str, **kw: object
) -> Case:
    # EnkeltplassStatusConverterTest: the gjennomføring is avsluttet, its status AVSLUTTET unless given.
    kw.setdefault("gj_status", G.AVSLUTTET)
    return case(id, arena, status, rule, avsluttet=True, **kw)  # type: ignore[arg-type]


ENKELTPLASS_CASES = [
    enkeltplass_case(
        "avsluttet-not_enkeltplass-GJENN_no_start-ikke_aktuell",
        A.GJENN,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        endret=None,
    ),
    enkeltplass_case(
        "avsluttet-not_enkeltplass-GJENN_start_past-ikke_aktuell",
        A.GJENN,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        start=YESTERDAY,
    ),
    enkeltplass_case(
        "avsluttet-not_enkeltplass-AKTUELL-ikke_aktuell",
        A.AKTUELL,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
    ),
    enkeltplass_case(
        "avsluttet-enkeltplass-GJENN_no_start-venter",
        A.GJENN,
        S.VENTER_PA_OPPSTART,
        "post.enkeltplass_avsluttet_gjenn",
        enkeltplass=True,
    ),
    enkeltplass_case(
        "avsluttet-enkeltplass-GJENN_start_past-deltar",
        A.GJENN,
        S.DELTAR,
        "post.enkeltplass_avsluttet_gjenn",
        start=YESTERDAY,
        enkeltplass=True,
        endret=at(YESTERDAY),
    ),
    enkeltplass_case(
        "avsluttet-enkeltplass-AKTUELL_kurs-ikke_aktuell",
        A.AKTUELL,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        enkeltplass=True,
        kurs=True,
    ),
    enkeltplass_case(
        "avsluttet-enkeltplass-INFOMOETE-ikke_aktuell",
        A.INFOMOETE,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        enkeltplass=True,
    ),
    enkeltplass_case(
        "avsluttet-enkeltplass-GJENN_running-deltar",
        A.GJENN,
        S.DELTAR,
        "post.enkeltplass_avsluttet_gjenn",
        start=day(-2),
        slutt=day(2),
        enkeltplass=True,
    ),
    enkeltplass_case(
        "avsluttet-enkeltplass-VENTELISTE-ikke_aktuell",
        A.VENTELISTE,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        enkeltplass=True,
    ),
    enkeltplass_case(
        "avsluttet-enkeltplass-GJENN_slutt_passed-har_sluttet",
        A.GJENN,
        S.HAR_SLUTTET,
        "G.har_sluttet",
        start=day(-2),
        slutt=YESTERDAY,
        enkeltplass=True,
    ),
    enkeltplass_case(
        "avsluttet-not_enkeltplass-GJENN_slutt_passed-har_sluttet",
        A.GJENN,
        S.HAR_SLUTTET,
        "G.har_sluttet",
        start=day(-2),
        slutt=YESTERDAY,
    ),
    # Only enkeltplass + gjennomføring status AVSLUTTET + code GJENN bypasses the override.
    enkeltplass_case(
        "bypass-enkeltplass_AVSLUTTET_GJENN-deltar",
        A.GJENN,
        S.DELTAR,
        "post.enkeltplass_avsluttet_gjenn",
        start=YESTERDAY,
        enkeltplass=True,
    ),
    enkeltplass_case(
        "bypass-not_enkeltplass-ikke_aktuell",
        A.GJENN,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        start=YESTERDAY,
    ),
    enkeltplass_case(
        "bypass-gjennomforing_AVBRUTT-ikke_aktuell",
        A.GJENN,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        start=YESTERDAY,
        enkeltplass=True,
        gj_status=G.AVBRUTT,
    ),
    enkeltplass_case(
        "bypass-gjennomforing_AVLYST-ikke_aktuell",
        A.GJENN,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        start=YESTERDAY,
        enkeltplass=True,
        gj_status=G.AVLYST,
    ),
    enkeltplass_case(
        "bypass-code_JATAKK-ikke_aktuell",
        A.JATAKK,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        start=YESTERDAY,
        enkeltplass=True,
    ),
    enkeltplass_case(
        "bypass-code_TILBUD-ikke_aktuell",
        A.TILBUD,
        S.IKKE_AKTUELL,
        "post.avsluttet_not_final",
        start=YESTERDAY,
        enkeltplass=True,
    ),
]

ALL_CASES = MAIN_CASES + ENKELTPLASS_CASES


def test_the_original_72_cases_are_all_here() -> None:
    assert (len(MAIN_CASES), len(ENKELTPLASS_CASES)) == (55, 17)
    assert len({c.id for c in ALL_CASES}) == 72


@pytest.mark.parametrize("c", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_status_conversion(c: Case) -> None:
    decision = convert_status(c.inp)
    assert (decision.status, decision.rule) == (c.status, c.rule)
    if c.endret is not _UNSET:
        assert decision.endret_dato == c.endret
    # Pure and deterministic (§11.7: the original calls two DELAVB cases twice).
    assert convert_status(c.inp) == decision


def test_post_override_keeps_the_computed_branch_as_base_rule() -> None:
    by_id = {c.id: c for c in ALL_CASES}
    decision = convert_status(by_id["bypass-code_JATAKK-ikke_aktuell"].inp)
    assert (decision.rule, decision.base_rule) == ("post.avsluttet_not_final", "G.deltar")
    bypassed = convert_status(by_id["bypass-enkeltplass_AVSLUTTET_GJENN-deltar"].inp)
    assert (bypassed.rule, bypassed.base_rule) == ("post.enkeltplass_avsluttet_gjenn", "G.deltar")


def test_bypass_rule_names_itself_only_when_it_prevented_an_override() -> None:
    # Enkeltplass + AVSLUTTET + GJENN, but the gjennomføring is not flagged avsluttet: nothing to bypass.
    base = next(c for c in ALL_CASES if c.id == "bypass-enkeltplass_AVSLUTTET_GJENN-deltar").inp
    decision = convert_status(replace(base, er_gjennomforing_avsluttet=False))
    assert (decision.status, decision.rule) == (S.DELTAR, "G.deltar")


def test_today_is_an_input_not_the_clock() -> None:
    inp = case("x", A.GJENN, S.DELTAR, "G.deltar", start=date(2030, 1, 10), slutt=date(2030, 3, 1)).inp
    assert convert_status(replace(inp, today=date(2030, 1, 9))).status is S.VENTER_PA_OPPSTART
    assert convert_status(replace(inp, today=date(2030, 1, 10))).status is S.DELTAR  # starts today
    assert convert_status(replace(inp, today=date(2030, 3, 1))).status is S.DELTAR  # slutt not yet passed
    assert convert_status(replace(inp, today=date(2030, 3, 2))).status is S.HAR_SLUTTET


def test_a_change_at_exactly_midnight_of_the_start_day_is_not_after_the_start() -> None:
    inp = case("x", A.FULLF, S.IKKE_AKTUELL, "", start=YESTERDAY, changed=at(YESTERDAY)).inp
    assert convert_status(inp).rule == "A.ikke_aktuell"
    assert convert_status(replace(inp, dato_status_endring=at(YESTERDAY, 0, 1))).rule == "A.har_sluttet"


_dates = st.one_of(st.none(), st.dates(min_value=day(-30), max_value=day(30)))
_datetimes = st.one_of(st.none(), st.datetimes(min_value=at(day(-30)), max_value=at(day(30))))


@given(
    arena=st.sampled_from(list(A)),
    start=_dates,
    slutt=_dates,
    changed=_datetimes,
    enkeltplass=st.booleans(),
    avsluttet=st.booleans(),
    gj_slutt=_dates,
    gj_status=st.one_of(st.none(), st.sampled_from(list(G))),
    kurs=st.booleans(),
)
def test_every_input_gets_a_status_and_an_ended_gjennomforing_leaves_only_final_ones(
    arena: ArenaDeltakerStatus,
    start: date | None,
    slutt: date | None,
    changed: datetime | None,
    enkeltplass: bool,
    avsluttet: bool,
    gj_slutt: date | None,
    gj_status: GjennomforingStatus | None,
    kurs: bool,
) -> None:
    inp = StatusInput(
        arena_status=arena,
        registrert_dato=NOW,
        start_dato=start,
        slutt_dato=slutt,
        er_enkeltplass=enkeltplass,
        dato_status_endring=changed,
        er_gjennomforing_avsluttet=avsluttet,
        gjennomforing_slutt_dato=gj_slutt,
        gjennomforing_status=gj_status,
        krever_godkjenning=kurs,
        today=TODAY,
    )
    decision: StatusDecision = convert_status(inp)
    assert decision.status is not S.PABEGYNT_REGISTRERING  # never produced (§11.6)
    if avsluttet and not decision.status.is_final:
        assert decision.rule == "post.enkeltplass_avsluttet_gjenn"
        assert (enkeltplass, gj_status, arena) == (True, G.AVSLUTTET, A.GJENN)
    if decision.status in (S.FULLFORT, S.AVBRUTT):
        assert kurs  # the kurs statuses come only from kurs branches
