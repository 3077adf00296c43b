"""Code lists shared by the Arena rules: Arena deltaker status and aarsak codes, AMT statuses and
aarsaker, gjennomføring statuses.

Pure: no Dagster, no I/O. Parsing an unknown code raises `UnknownArenaCode`; under spec §10 the
processors record such a message as INVALID with this error as the reason (the original retried it
forever), so the message always names the field and the value.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar


class UnknownArenaCode(ValueError):
    """A code that none of our enums knows. Permanent: the message is INVALID, never RETRY."""

    def __init__(self, field: str, value: object, known: list[str]) -> None:
        self.field = field
        self.value = value
        super().__init__(f"Unknown {field} {value!r}; known: {', '.join(known)}")


_E = TypeVar("_E", bound="_Code")


class _Code(str, Enum):
    """A str-valued enum whose members are their own names (as Arena and AMT spell them)."""

    @classmethod
    def parse(cls: type[_E], value: object, field: str) -> _E:
        # Exact match only: Arena and AMT codes are upper case, and guessing would hide bad data.
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        raise UnknownArenaCode(field, value, [member.value for member in cls])

    def __str__(self) -> str:
        return self.value


class ArenaDeltakerStatus(_Code):
    """DELTAKERSTATUSKODE on SIAMO.TILTAKDELTAKER / HIST_TILTAKDELTAKER."""

    # sokt_inn
    VENTELISTE = "VENTELISTE"
    AKTUELL = "AKTUELL"
    INFOMOETE = "INFOMOETE"
    # gjennomforende
    GJENN = "GJENN"  # gjennomføres
    TILBUD = "TILBUD"  # godkjent tiltaksplass
    JATAKK = "JATAKK"  # takket ja til tilbud
    # avsluttende
    DELAVB = "DELAVB"  # deltakelse avbrutt
    FULLF = "FULLF"  # fullført
    GJENN_AVB = "GJENN_AVB"  # gjennomføring avbrutt
    GJENN_AVL = "GJENN_AVL"  # gjennomføring avlyst
    IKKEM = "IKKEM"  # ikke møtt
    # ikke_aktuell
    IKKAKTUELL = "IKKAKTUELL"
    AVSLAG = "AVSLAG"  # fått avslag
    NEITAKK = "NEITAKK"  # takket nei til tilbud
    # on its own
    FEILREG = "FEILREG"

    @property
    def group(self) -> str:
        """One of "sokt_inn", "gjennomforende", "avsluttende", "ikke_aktuell", "feilreg"."""
        return _ARENA_GROUPS[self]


SOKT_INN = frozenset(
    {ArenaDeltakerStatus.VENTELISTE, ArenaDeltakerStatus.AKTUELL, ArenaDeltakerStatus.INFOMOETE}
)
GJENNOMFORENDE = frozenset(
    {ArenaDeltakerStatus.GJENN, ArenaDeltakerStatus.TILBUD, ArenaDeltakerStatus.JATAKK}
)
AVSLUTTENDE = frozenset(
    {
        ArenaDeltakerStatus.DELAVB,
        ArenaDeltakerStatus.FULLF,
        ArenaDeltakerStatus.GJENN_AVB,
        ArenaDeltakerStatus.GJENN_AVL,
        ArenaDeltakerStatus.IKKEM,
    }
)
IKKE_AKTUELL = frozenset(
    {ArenaDeltakerStatus.IKKAKTUELL, ArenaDeltakerStatus.AVSLAG, ArenaDeltakerStatus.NEITAKK}
)

_ARENA_GROUPS: dict[ArenaDeltakerStatus, str] = {
    **dict.fromkeys(SOKT_INN, "sokt_inn"),
    **dict.fromkeys(GJENNOMFORENDE, "gjennomforende"),
    **dict.fromkeys(AVSLUTTENDE, "avsluttende"),
    **dict.fromkeys(IKKE_AKTUELL, "ikke_aktuell"),
    ArenaDeltakerStatus.FEILREG: "feilreg",
}


class ArenaStatusAarsak(_Code):
    """AARSAKVERDIKODE_STATUS: why Arena changed the status."""

    HENLU = "HENLU"  # henlagt etter utredning
    SYK = "SYK"
    FRISM = "FRISM"  # friskmeldt
    ANN = "ANN"  # annet
    BEGA = "BEGA"  # begynt i arbeid
    UTV = "UTV"  # utvist
    FTOAT = "FTOAT"  # fått tilbud om annet tiltak


class AmtDeltakerStatus(_Code):
    """The status published to AMT. PABEGYNT_REGISTRERING exists downstream but is never produced here."""

    VENTER_PA_OPPSTART = "VENTER_PA_OPPSTART"
    DELTAR = "DELTAR"
    HAR_SLUTTET = "HAR_SLUTTET"
    IKKE_AKTUELL = "IKKE_AKTUELL"
    FEILREGISTRERT = "FEILREGISTRERT"
    PABEGYNT_REGISTRERING = "PABEGYNT_REGISTRERING"
    SOKT_INN = "SOKT_INN"
    VURDERES = "VURDERES"
    VENTELISTE = "VENTELISTE"
    AVBRUTT = "AVBRUTT"  # kurs
    FULLFORT = "FULLFORT"  # kurs

    @property
    def is_final(self) -> bool:
        """Final ("avsluttende"): only final statuses carry an aarsak or survive an ended gjennomføring."""
        return self in FINAL_AMT_STATUSES


FINAL_AMT_STATUSES = frozenset(
    {
        AmtDeltakerStatus.IKKE_AKTUELL,
        AmtDeltakerStatus.HAR_SLUTTET,
        AmtDeltakerStatus.FEILREGISTRERT,
        AmtDeltakerStatus.AVBRUTT,
        AmtDeltakerStatus.FULLFORT,
    }
)


class AmtStatusAarsak(_Code):
    """statusAarsak on the published AmtDeltaker."""

    SYK = "SYK"
    FATT_JOBB = "FATT_JOBB"
    TRENGER_ANNEN_STOTTE = "TRENGER_ANNEN_STOTTE"
    FIKK_IKKE_PLASS = "FIKK_IKKE_PLASS"
    AVLYST_KONTRAKT = "AVLYST_KONTRAKT"
    IKKE_MOTT = "IKKE_MOTT"
    ANNET = "ANNET"


class GjennomforingStatus(_Code):
    """Mulighetsrommet's gjennomføring status (the v2 API omits it, so in practice it is often None)."""

    GJENNOMFORES = "GJENNOMFORES"
    AVBRUTT = "AVBRUTT"
    AVLYST = "AVLYST"
    AVSLUTTET = "AVSLUTTET"

    @property
    def er_avsluttet(self) -> bool:
        return self in AVSLUTTET_GJENNOMFORING


AVSLUTTET_GJENNOMFORING = frozenset(
    {GjennomforingStatus.AVSLUTTET, GjennomforingStatus.AVBRUTT, GjennomforingStatus.AVLYST}
)
