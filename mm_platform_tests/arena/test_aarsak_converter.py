"""The 9 cases of amt-arena-acl's DeltakerGjennomforingStatusAarsakConverterTest, same inputs and
expected aarsaker, each with the rule that decided; plus the rules the original left untested."""

from __future__ import annotations

import pytest

from mm_platform.arena.rules.aarsak_converter import convert_aarsak
from mm_platform.arena.rules.codes import (
    AmtDeltakerStatus,
    AmtStatusAarsak,
    ArenaDeltakerStatus,
    ArenaStatusAarsak,
)

A = ArenaDeltakerStatus
S = AmtDeltakerStatus
AA = ArenaStatusAarsak
R = AmtStatusAarsak

# (id, arena status, AMT status, arena aarsak, gjennomføring avsluttet, expected aarsak, rule)
ORIGINAL_CASES = [
    ("direct_aarsak_SYK_is_used", A.NEITAKK, S.HAR_SLUTTET, AA.SYK, False, R.SYK, "aarsak.arena_aarsak"),
    ("FULLF_with_unmappable_aarsak-none", A.FULLF, S.HAR_SLUTTET, AA.UTV, False, None, "aarsak.fullf"),
    ("IKKEM_over_BEGA-ikke_mott", A.IKKEM, S.FULLFORT, AA.BEGA, False, R.IKKE_MOTT, "aarsak.ikkem"),
    ("unmappable_aarsak-annet", A.IKKAKTUELL, S.HAR_SLUTTET, AA.UTV, False, R.ANNET, "aarsak.annet"),
    ("status_not_final-none", A.IKKAKTUELL, S.DELTAR, AA.SYK, False, None, "aarsak.not_final"),
    ("IKKEM_over_HENLU-ikke_mott", A.IKKEM, S.HAR_SLUTTET, AA.HENLU, False, R.IKKE_MOTT, "aarsak.ikkem"),
    (
        "AVSLAG_unmappable-fikk_ikke_plass",
        A.AVSLAG,
        S.HAR_SLUTTET,
        AA.HENLU,
        False,
        R.FIKK_IKKE_PLASS,
        "aarsak.avslag",
    ),
    ("AVSLAG_with_SYK-syk", A.AVSLAG, S.HAR_SLUTTET, AA.SYK, False, R.SYK, "aarsak.arena_aarsak"),
    (
        "INFOMOETE_gjennomforing_avsluttet-fikk_ikke_plass",
        A.INFOMOETE,
        S.IKKE_AKTUELL,
        AA.SYK,
        True,
        R.FIKK_IKKE_PLASS,
        "aarsak.gjennomforing_avsluttet",
    ),
]

# Rules of spec §5 that the original's tests did not reach.
EXTRA_CASES = [
    ("BEGA-fatt_jobb", A.DELAVB, S.HAR_SLUTTET, AA.BEGA, False, R.FATT_JOBB, "aarsak.arena_aarsak"),
    (
        "FTOAT-trenger_annen_stotte",
        A.DELAVB,
        S.AVBRUTT,
        AA.FTOAT,
        False,
        R.TRENGER_ANNEN_STOTTE,
        "aarsak.arena_aarsak",
    ),
    (
        "GJENN_AVB-avlyst_kontrakt",
        A.GJENN_AVB,
        S.HAR_SLUTTET,
        None,
        False,
        R.AVLYST_KONTRAKT,
        "aarsak.avlyst_kontrakt",
    ),
    (
        "GJENN_AVL-avlyst_kontrakt",
        A.GJENN_AVL,
        S.IKKE_AKTUELL,
        AA.ANN,
        False,
        R.AVLYST_KONTRAKT,
        "aarsak.avlyst_kontrakt",
    ),
    ("no_aarsak-annet", A.DELAVB, S.HAR_SLUTTET, None, False, R.ANNET, "aarsak.annet"),
    ("AKTUELL_not_avsluttet-annet", A.AKTUELL, S.IKKE_AKTUELL, None, False, R.ANNET, "aarsak.annet"),
    ("IKKEM_beats_avsluttet", A.IKKEM, S.IKKE_AKTUELL, None, True, R.IKKE_MOTT, "aarsak.ikkem"),
    (
        "VENTELISTE_avsluttet_beats_SYK",
        A.VENTELISTE,
        S.IKKE_AKTUELL,
        AA.SYK,
        True,
        R.FIKK_IKKE_PLASS,
        "aarsak.gjennomforing_avsluttet",
    ),
    ("GJENN_avsluttet_uses_aarsak", A.GJENN, S.IKKE_AKTUELL, AA.SYK, True, R.SYK, "aarsak.arena_aarsak"),
    ("FEILREGISTRERT_is_final-annet", A.FEILREG, S.FEILREGISTRERT, None, False, R.ANNET, "aarsak.annet"),
    ("VENTER_not_final-none", A.IKKEM, S.VENTER_PA_OPPSTART, AA.SYK, True, None, "aarsak.not_final"),
]


FIELDS = ("arena", "status", "aarsak", "avsluttet", "expected", "rule")


def _run(
    arena: ArenaDeltakerStatus,
    status: AmtDeltakerStatus,
    aarsak: ArenaStatusAarsak | None,
    avsluttet: bool,
    expected: AmtStatusAarsak | None,
    rule: str,
) -> None:
    decision = convert_aarsak(status, arena, aarsak, avsluttet)
    assert (decision.aarsak, decision.rule) == (expected, rule)


@pytest.mark.parametrize(FIELDS, [c[1:] for c in ORIGINAL_CASES], ids=[c[0] for c in ORIGINAL_CASES])
def test_original_aarsak_cases(
    arena: ArenaDeltakerStatus,
    status: AmtDeltakerStatus,
    aarsak: ArenaStatusAarsak | None,
    avsluttet: bool,
    expected: AmtStatusAarsak | None,
    rule: str,
) -> None:
    _run(arena, status, aarsak, avsluttet, expected, rule)


@pytest.mark.parametrize(FIELDS, [c[1:] for c in EXTRA_CASES], ids=[c[0] for c in EXTRA_CASES])
def test_aarsak_rules_the_original_left_untested(
    arena: ArenaDeltakerStatus,
    status: AmtDeltakerStatus,
    aarsak: ArenaStatusAarsak | None,
    avsluttet: bool,
    expected: AmtStatusAarsak | None,
    rule: str,
) -> None:
    _run(arena, status, aarsak, avsluttet, expected, rule)


def test_the_original_9_cases_are_all_here() -> None:
    assert len({c[0] for c in ORIGINAL_CASES}) == 9


@pytest.mark.parametrize("status", [s for s in S if not s.is_final], ids=str)
def test_only_final_statuses_carry_an_aarsak(status: AmtDeltakerStatus) -> None:
    for arena in A:
        for aarsak in [None, *AA]:
            assert convert_aarsak(status, arena, aarsak, True).aarsak is None
