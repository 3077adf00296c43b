"""Supported tiltak, the MR tiltakskode mapping and the derived gjennomføring flags (spec §4)."""

from __future__ import annotations

import uuid

import pytest

from mm_platform.arena.rules.tiltak import (
    ENKELTPLASS_TILTAK,
    MR_TILTAKSKODE_TO_ARENA,
    SUPPORTED_TILTAK,
    GjennomforingFlags,
    MulighetsrommetAnswerError,
    is_enkeltplass,
    is_supported,
    mr_gjennomforing_id,
    to_arena_kode,
)

MR_ID = "9d1e2f3a-4b5c-4d6e-8f7a-1b2c3d4e5f60"


def _answer(**changes):
    answer = {
        "id": MR_ID,
        "tiltakskode": "OPPFOLGING",
        "arrangor": {"organisasjonsnummer": "999888777"},
        "oppstart": "LOPENDE",
    }
    answer.update(changes)
    return answer


def test_supported_tiltak_are_the_twelve_of_the_original():
    assert sorted(SUPPORTED_TILTAK) == sorted(
        [
            "INDOPPFAG",
            "ARBFORB",
            "AVKLARAG",
            "VASV",
            "ARBRRHDAG",
            "DIGIOPPARB",
            "JOBBK",
            "GRUPPEAMO",
            "GRUFAGYRKE",
            "ENKELAMO",
            "ENKFAGYRKE",
            "HOYEREUTD",
        ]
    )
    assert {"ENKELAMO", "ENKFAGYRKE", "HOYEREUTD"} == ENKELTPLASS_TILTAK
    assert ENKELTPLASS_TILTAK <= SUPPORTED_TILTAK
    assert is_supported("INDOPPFAG")
    assert not is_supported("UTDYRK")  # the original's sample gjennomføring: recorded, deltakere ignored
    assert is_enkeltplass("HOYEREUTD")
    assert not is_enkeltplass("GRUPPEAMO")


@pytest.mark.parametrize(
    ("mr_kode", "arena_kode"),
    [
        ("ARBEIDSFORBEREDENDE_TRENING", "ARBFORB"),
        ("ARBEIDSRETTET_REHABILITERING", "ARBRRHDAG"),
        ("AVKLARING", "AVKLARAG"),
        ("DIGITALT_OPPFOLGINGSTILTAK", "DIGIOPPARB"),
        ("GRUPPE_ARBEIDSMARKEDSOPPLAERING", "GRUPPEAMO"),
        ("GRUPPE_FAG_OG_YRKESOPPLAERING", "GRUFAGYRKE"),
        ("JOBBKLUBB", "JOBBK"),
        ("OPPFOLGING", "INDOPPFAG"),
        ("VARIG_TILRETTELAGT_ARBEID_SKJERMET", "VASV"),
        ("ENKELTPLASS_ARBEIDSMARKEDSOPPLAERING", "ENKELAMO"),
        ("ENKELTPLASS_FAG_OG_YRKESOPPLAERING", "ENKFAGYRKE"),
        ("HOYERE_UTDANNING", "HOYEREUTD"),
        ("ARBEIDSMARKEDSOPPLAERING", "GRUPPEAMO"),
        ("NORSKOPPLAERING_GRUNNLEGGENDE_FERDIGHETER_FOV", "GRUPPEAMO"),
        ("STUDIESPESIALISERING", "GRUPPEAMO"),
        ("FAG_OG_YRKESOPPLAERING", "GRUFAGYRKE"),
        ("HOYERE_YRKESFAGLIG_UTDANNING", "GRUFAGYRKE"),
    ],
)
def test_mr_tiltakskode_maps_to_arena_code(mr_kode, arena_kode):
    assert to_arena_kode(mr_kode) == arena_kode


def test_every_mapped_arena_code_is_supported():
    assert set(MR_TILTAKSKODE_TO_ARENA.values()) <= SUPPORTED_TILTAK
    assert len(MR_TILTAKSKODE_TO_ARENA) == 17


@pytest.mark.parametrize("mr_kode", ["TILPASSET_JOBBSTOTTE", "TILRETTELAGT_ARBEID_ORDINAER"])
def test_tilpasset_jobbstotte_cannot_come_from_arena(mr_kode):
    with pytest.raises(MulighetsrommetAnswerError, match="cannot come from Arena"):
        to_arena_kode(mr_kode)


def test_unknown_mr_tiltakskode():
    with pytest.raises(MulighetsrommetAnswerError, match="unknown Mulighetsrommet tiltakskode 'NY_KODE'"):
        to_arena_kode("NY_KODE")


def test_flags_of_a_lopende_oppfolging():
    flags = GjennomforingFlags.from_mr_v2(_answer())
    assert flags.id == uuid.UUID(MR_ID)
    assert flags.arena_kode == "INDOPPFAG"
    assert flags.virksomhetsnummer == "999888777"
    assert (flags.enkeltplass, flags.kurs, flags.avsluttet, flags.krever_godkjenning) == (
        False,
        False,
        False,
        False,
    )


def test_felles_oppstart_is_kurs():
    flags = GjennomforingFlags.from_mr_v2(
        _answer(tiltakskode="GRUPPE_ARBEIDSMARKEDSOPPLAERING", oppstart="FELLES")
    )
    assert flags.kurs
    assert flags.krever_godkjenning
    assert not flags.enkeltplass


@pytest.mark.parametrize(
    "mr_kode",
    ["ENKELTPLASS_ARBEIDSMARKEDSOPPLAERING", "ENKELTPLASS_FAG_OG_YRKESOPPLAERING", "HOYERE_UTDANNING"],
)
def test_enkeltplass_codes(mr_kode):
    flags = GjennomforingFlags.from_mr_v2(_answer(tiltakskode=mr_kode))
    assert flags.enkeltplass
    assert flags.krever_godkjenning
    assert not flags.kurs


def test_v2_answer_has_no_status_so_never_avsluttet():
    assert GjennomforingFlags.from_mr_v2(_answer()).status is None
    assert not GjennomforingFlags.from_mr_v2(_answer()).avsluttet


@pytest.mark.parametrize(
    ("status", "avsluttet"),
    [("AVSLUTTET", True), ("AVBRUTT", True), ("AVLYST", True), ("GJENNOMFORES", False)],
)
def test_avsluttet_when_a_status_is_given(status, avsluttet):
    assert GjennomforingFlags.from_mr_v2(_answer(status=status)).avsluttet is avsluttet


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": "not-a-uuid"}, "id 'not-a-uuid' is not a UUID"),
        ({"id": None}, "id None is not a UUID"),
        ({"tiltakskode": None}, "tiltakskode None is missing"),
        ({"tiltakskode": "TILPASSET_JOBBSTOTTE"}, "cannot come from Arena"),
        ({"arrangor": None}, "arrangor.organisasjonsnummer is missing"),
        ({"arrangor": {}}, "arrangor.organisasjonsnummer is missing"),
        ({"oppstart": "SNART"}, "unknown oppstart 'SNART'"),
        ({"oppstart": None}, "unknown oppstart None"),
        ({"status": "KANSKJE"}, "unknown gjennomføring status 'KANSKJE'"),
    ],
)
def test_unusable_answers(changes, reason):
    with pytest.raises(MulighetsrommetAnswerError, match=reason):
        GjennomforingFlags.from_mr_v2(_answer(**changes))


def test_answer_that_is_not_an_object():
    with pytest.raises(MulighetsrommetAnswerError, match="not an object"):
        GjennomforingFlags.from_mr_v2([])


def test_mr_id_answer():
    assert mr_gjennomforing_id({"id": MR_ID}) == uuid.UUID(MR_ID)
    with pytest.raises(MulighetsrommetAnswerError):
        mr_gjennomforing_id({})
