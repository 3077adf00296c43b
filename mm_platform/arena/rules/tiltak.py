"""Which tiltak the ACL handles and what a Mulighetsrommet gjennomføring says about it (spec §4).
Pure: no Dagster, no I/O; the HTTP answer arrives as a decoded JSON dict."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Arena tiltakskoder whose deltakere the ACL translates; any other gjennomføring is recorded but its
# deltakere end IGNORED.
SUPPORTED_TILTAK = frozenset(
    {
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
    }
)

# Enkeltplass deltakere go bare to the enkeltplass topic and are the only ones the re-send endpoint takes.
ENKELTPLASS_TILTAK = frozenset({"ENKELAMO", "ENKFAGYRKE", "HOYEREUTD"})

# Mulighetsrommet's tiltakskode back to the Arena code (the original's `toArenaKodeLocal`). The newer
# opplæring codes have no Arena code of their own and fold into the group codes.
MR_TILTAKSKODE_TO_ARENA: dict[str, str] = {
    "ARBEIDSFORBEREDENDE_TRENING": "ARBFORB",
    "ARBEIDSRETTET_REHABILITERING": "ARBRRHDAG",
    "AVKLARING": "AVKLARAG",
    "DIGITALT_OPPFOLGINGSTILTAK": "DIGIOPPARB",
    "GRUPPE_ARBEIDSMARKEDSOPPLAERING": "GRUPPEAMO",
    "GRUPPE_FAG_OG_YRKESOPPLAERING": "GRUFAGYRKE",
    "JOBBKLUBB": "JOBBK",
    "OPPFOLGING": "INDOPPFAG",
    "VARIG_TILRETTELAGT_ARBEID_SKJERMET": "VASV",
    "ENKELTPLASS_ARBEIDSMARKEDSOPPLAERING": "ENKELAMO",
    "ENKELTPLASS_FAG_OG_YRKESOPPLAERING": "ENKFAGYRKE",
    "HOYERE_UTDANNING": "HOYEREUTD",
    "ARBEIDSMARKEDSOPPLAERING": "GRUPPEAMO",
    "NORSKOPPLAERING_GRUNNLEGGENDE_FERDIGHETER_FOV": "GRUPPEAMO",
    "STUDIESPESIALISERING": "GRUPPEAMO",
    "FAG_OG_YRKESOPPLAERING": "GRUFAGYRKE",
    "HOYERE_YRKESFAGLIG_UTDANNING": "GRUFAGYRKE",
}

# Tilpasset jobbstøtte exists only in Mulighetsrommet (older name TILRETTELAGT_ARBEID_ORDINAER); a
# deltaker on it cannot come from Arena, and the original throws, which ends RETRY (spec §11.5).
NOT_FROM_ARENA_TILTAKSKODER = frozenset({"TILPASSET_JOBBSTOTTE", "TILRETTELAGT_ARBEID_ORDINAER"})

OPPSTART_FELLES = "FELLES"
OPPSTARTSTYPER = frozenset({"LOPENDE", OPPSTART_FELLES})
AVSLUTTET_STATUSER = frozenset({"AVSLUTTET", "AVBRUTT", "AVLYST"})
GJENNOMFORING_STATUSER = frozenset({"GJENNOMFORES"}) | AVSLUTTET_STATUSER


class MulighetsrommetAnswerError(ValueError):
    """An MR answer the ACL cannot use. The original fails with a generic exception here, so the
    deltaker message ends RETRY (spec §2.3, §11.5), not INVALID."""


def is_supported(arena_tiltakskode: str) -> bool:
    return arena_tiltakskode in SUPPORTED_TILTAK


def is_enkeltplass(arena_tiltakskode: str) -> bool:
    return arena_tiltakskode in ENKELTPLASS_TILTAK


def to_arena_kode(mr_tiltakskode: str) -> str:
    """The Arena code for a Mulighetsrommet tiltakskode."""
    if mr_tiltakskode in NOT_FROM_ARENA_TILTAKSKODER:
        raise MulighetsrommetAnswerError(f"tiltakskode {mr_tiltakskode} cannot come from Arena")
    try:
        return MR_TILTAKSKODE_TO_ARENA[mr_tiltakskode]
    except KeyError:
        raise MulighetsrommetAnswerError(f"unknown Mulighetsrommet tiltakskode {mr_tiltakskode!r}") from None


def _uuid(name: str, value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        raise MulighetsrommetAnswerError(f"{name} {value!r} is not a UUID") from None


def mr_gjennomforing_id(answer: Mapping[str, Any]) -> uuid.UUID:
    """The id in the answer to `GET /api/v1/tiltaksgjennomforinger/id/{arenaId}`."""
    return _uuid("id", answer.get("id"))


@dataclass(frozen=True)
class GjennomforingFlags:
    """What the deltaker converters need to know about a gjennomføring (spec §4, `Gjennomforing.kt`)."""

    id: uuid.UUID
    arena_kode: str
    virksomhetsnummer: str
    oppstart: str | None
    status: str | None  # the v2 answer carries none, so `avsluttet` is False in practice (spec §9.1)

    @property
    def enkeltplass(self) -> bool:
        return is_enkeltplass(self.arena_kode)

    @property
    def kurs(self) -> bool:
        return self.oppstart == OPPSTART_FELLES

    @property
    def avsluttet(self) -> bool:
        return self.status in AVSLUTTET_STATUSER

    @property
    def krever_godkjenning(self) -> bool:
        """Kurs and enkeltplass deltakere get the kurs statuses (spec §5, status mapping)."""
        return self.kurs or self.enkeltplass

    @classmethod
    def from_mr_v2(cls, answer: Mapping[str, Any]) -> GjennomforingFlags:
        """Read `GET /api/v2/tiltaksgjennomforinger/{id}`: id, tiltakskode, arrangor.organisasjonsnummer
        and oppstart, all required as in the original's response class. A `status`, if a later answer
        carries one, is read too so that `avsluttet` can fire."""
        if not isinstance(answer, Mapping):
            raise MulighetsrommetAnswerError(f"answer is a {type(answer).__name__}, not an object")
        tiltakskode = answer.get("tiltakskode")
        if not isinstance(tiltakskode, str):
            raise MulighetsrommetAnswerError(f"tiltakskode {tiltakskode!r} is missing")
        arrangor = answer.get("arrangor")
        orgnr = arrangor.get("organisasjonsnummer") if isinstance(arrangor, Mapping) else None
        if not isinstance(orgnr, str):
            raise MulighetsrommetAnswerError("arrangor.organisasjonsnummer is missing")
        oppstart = answer.get("oppstart")
        if oppstart not in OPPSTARTSTYPER:
            raise MulighetsrommetAnswerError(f"unknown oppstart {oppstart!r}")
        status = answer.get("status")
        if status is not None and status not in GJENNOMFORING_STATUSER:
            raise MulighetsrommetAnswerError(f"unknown gjennomføring status {status!r}")
        return cls(
            id=_uuid("id", answer.get("id")),
            arena_kode=to_arena_kode(tiltakskode),
            virksomhetsnummer=orgnr,
            oppstart=oppstart,
            status=status,
        )
