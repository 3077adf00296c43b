"""From a typed Arena deltaker (or hist deltaker) and its gjennomføring to the AmtDeltaker the ACL
publishes (spec §5 steps 3 and 6, §6 steps 4 and 6). Pure: no Dagster, no I/O; "today" is passed in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from mm_platform.arena.rules.aarsak_converter import convert_aarsak
from mm_platform.arena.rules.codes import ArenaDeltakerStatus, ArenaStatusAarsak, GjennomforingStatus
from mm_platform.arena.rules.output import AmtDeltaker
from mm_platform.arena.rules.payloads import ArenaDeltaker, ArenaHistDeltaker
from mm_platform.arena.rules.status_converter import StatusInput, convert_status
from mm_platform.arena.rules.tiltak import GjennomforingFlags

EKSTERN_DELTAKERTYPE = "EKSTERN"


class DeltakerInvalid(ValueError):
    """The message can never become a deltaker (INVALID): the reason says why."""


@dataclass(frozen=True)
class Codes:
    status: ArenaDeltakerStatus
    aarsak: ArenaStatusAarsak | None


def validate(record: ArenaDeltaker | ArenaHistDeltaker) -> Codes:
    """The checks of `mapTiltakDeltaker` (§5.3, §11.4) plus §10's unknown codes: raise DeltakerInvalid."""
    id_field = "TILTAKDELTAKER_ID" if isinstance(record, ArenaDeltaker) else "HIST_TILTAKDELTAKER_ID"
    if record.arena_id == "0":
        raise DeltakerInvalid(f"{id_field} er 0")
    if record.person_id is None:
        raise DeltakerInvalid("PERSON_ID mangler")
    try:
        status = ArenaDeltakerStatus.parse(record.deltakerstatuskode, "DELTAKERSTATUSKODE")
        aarsak = (
            ArenaStatusAarsak.parse(record.aarsakverdikode_status, "AARSAKVERDIKODE_STATUS")
            if record.aarsakverdikode_status is not None
            else None
        )
    except ValueError as error:  # UnknownArenaCode
        raise DeltakerInvalid(str(error)) from error
    return Codes(status, aarsak)


def to_amt_deltaker(
    amt_id: uuid.UUID,
    record: ArenaDeltaker | ArenaHistDeltaker,
    codes: Codes,
    gjennomforing: GjennomforingFlags,
    person_ident: str,
    today: date,
) -> AmtDeltaker:
    gjennomforing_status = (
        GjennomforingStatus.parse(gjennomforing.status, "status") if gjennomforing.status else None
    )
    decision = convert_status(
        StatusInput(
            arena_status=codes.status,
            registrert_dato=record.reg_dato,
            start_dato=record.dato_fra,
            slutt_dato=record.dato_til,
            er_enkeltplass=gjennomforing.enkeltplass,
            dato_status_endring=record.dato_statusendring,
            er_gjennomforing_avsluttet=gjennomforing.avsluttet,
            # Mulighetsrommet v2 has no end date (spec §9.1): the "ended before the course" rule waits for it
            gjennomforing_slutt_dato=None,
            gjennomforing_status=gjennomforing_status,
            krever_godkjenning=gjennomforing.krever_godkjenning,
            today=today,
        )
    )
    aarsak = convert_aarsak(decision.status, codes.status, codes.aarsak, gjennomforing.avsluttet)
    return AmtDeltaker(
        id=amt_id,
        gjennomforing_id=gjennomforing.id,
        person_ident=person_ident,
        start_dato=record.dato_fra,
        slutt_dato=record.dato_til,
        status=decision.status,
        status_aarsak=aarsak.aarsak,
        dager_per_uke=record.antall_dager_pr_uke,
        prosent_deltid=record.prosent_deltid,
        registrert_dato=record.reg_dato,
        status_endret_dato=decision.endret_dato,
        innsok_begrunnelse=record.begrunnelse_bestilling,
    )


def is_external(record: ArenaDeltaker | ArenaHistDeltaker) -> bool:
    return record.deltakertypekode == EKSTERN_DELTAKERTYPE


def matching(candidates: list, record: ArenaHistDeltaker) -> list:
    """Local deltakere (same person and gjennomføring) with the hist deltaker's DATO_FRA, DATO_TIL and
    DATO_STATUSENDRING (to the second); status and REG_DATO are not compared (§6.5)."""
    return [
        c
        for c in candidates
        if c.dato_fra == record.dato_fra
        and c.dato_til == record.dato_til
        and c.dato_statusendring == record.dato_statusendring
    ]
