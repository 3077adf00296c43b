"""statusAarsak for a converted deltaker (spec §5 "statusAarsak"): a port of amt-arena-acl's
ArenaDeltakerAarsakConverter with explicit inputs.

Only a final AMT status carries an aarsak; otherwise the first matching rule wins. Rule names
(stable, shown by `mm-platform arena explain-status`):

  aarsak.not_final                 the AMT status is not final -> None
  aarsak.ikkem                     Arena code IKKEM -> IKKE_MOTT, whatever the Arena aarsak
  aarsak.gjennomforing_avsluttet   gjennomføring avsluttet, code AKTUELL/INFOMOETE/VENTELISTE
                                   -> FIKK_IKKE_PLASS
  aarsak.arena_aarsak              Arena aarsak SYK->SYK, BEGA->FATT_JOBB, FTOAT->TRENGER_ANNEN_STOTTE
  aarsak.fullf                     Arena code FULLF -> None (completing needs no reason)
  aarsak.avlyst_kontrakt           GJENN_AVB or GJENN_AVL -> AVLYST_KONTRAKT
  aarsak.avslag                    AVSLAG -> FIKK_IKKE_PLASS
  aarsak.annet                     anything else -> ANNET
"""

from __future__ import annotations

from dataclasses import dataclass

from mm_platform.arena.rules.codes import (
    SOKT_INN,
    AmtDeltakerStatus,
    AmtStatusAarsak,
    ArenaDeltakerStatus,
    ArenaStatusAarsak,
)

_FROM_ARENA_AARSAK = {
    ArenaStatusAarsak.SYK: AmtStatusAarsak.SYK,
    ArenaStatusAarsak.BEGA: AmtStatusAarsak.FATT_JOBB,
    ArenaStatusAarsak.FTOAT: AmtStatusAarsak.TRENGER_ANNEN_STOTTE,
}


@dataclass(frozen=True)
class AarsakDecision:
    aarsak: AmtStatusAarsak | None
    rule: str


def convert_aarsak(
    status: AmtDeltakerStatus,
    arena_status: ArenaDeltakerStatus,
    arena_aarsak: ArenaStatusAarsak | None,
    er_gjennomforing_avsluttet: bool,
) -> AarsakDecision:
    if not status.is_final:
        return AarsakDecision(None, "aarsak.not_final")
    if arena_status is ArenaDeltakerStatus.IKKEM:
        return AarsakDecision(AmtStatusAarsak.IKKE_MOTT, "aarsak.ikkem")
    if er_gjennomforing_avsluttet and arena_status in SOKT_INN:
        # Still applying when the gjennomføring ended: the post-rule made it IKKE_AKTUELL.
        return AarsakDecision(AmtStatusAarsak.FIKK_IKKE_PLASS, "aarsak.gjennomforing_avsluttet")
    if arena_aarsak in _FROM_ARENA_AARSAK:
        return AarsakDecision(_FROM_ARENA_AARSAK[arena_aarsak], "aarsak.arena_aarsak")
    if arena_status is ArenaDeltakerStatus.FULLF:
        return AarsakDecision(None, "aarsak.fullf")
    if arena_status in (ArenaDeltakerStatus.GJENN_AVB, ArenaDeltakerStatus.GJENN_AVL):
        return AarsakDecision(AmtStatusAarsak.AVLYST_KONTRAKT, "aarsak.avlyst_kontrakt")
    if arena_status is ArenaDeltakerStatus.AVSLAG:
        return AarsakDecision(AmtStatusAarsak.FIKK_IKKE_PLASS, "aarsak.avslag")
    return AarsakDecision(AmtStatusAarsak.ANNET, "aarsak.annet")
