"""GoldenGate record shapes after the original's test resources (src/test/resources/data/*.json),
with our own values. Builders return fresh dicts, so a test can change one field."""

from __future__ import annotations

import json
from typing import Any


def gjennomforing_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "TILTAKGJENNOMFORING_ID": 3461841,
        "SAK_ID": 11411355,
        "TILTAKSKODE": "GRUPPEAMO",
        "ANTALL_DELTAKERE": 1,
        "ANTALL_VARIGHET": None,
        "DATO_FRA": "2019-01-03 00:00:00",
        "DATO_TIL": "2021-06-30 00:00:00",
        "FAGPLANKODE": None,
        "MAALEENHET_VARIGHET": None,
        "TEKST_FAGBESKRIVELSE": None,
        "TEKST_KURSSTED": None,
        "TEKST_MAALGRUPPE": None,
        "STATUS_TREVERDIKODE_INNSOKNING": None,
        "REG_DATO": "2018-12-21 08:22:07",
        "REG_USER": "USR1234",
        "MOD_DATO": "2018-12-21 08:47:25",
        "MOD_USER": "USR1234",
        "LOKALTNAVN": "Tiltak hos en virksomhet",
        "TILTAKSTATUSKODE": "PLANLAGT",
        "PROSENT_DELTID": 100,
        "KOMMENTAR": None,
        "ARBGIV_ID_ARRANGOR": 272588,
        "PROFILELEMENT_ID_GEOGRAFI": None,
        "KLOKKETID_FREMMOTE": None,
        "DATO_FREMMOTE": None,
        "BEGRUNNELSE_STATUS": None,
        "AVTALE_ID": None,
        "AKTIVITET_ID": 124974642,
        "DATO_INNSOKNINGSTART": None,
        "GML_FRA_DATO": None,
        "GML_TIL_DATO": None,
        "AETAT_FREMMOTEREG": "0136",
        "AETAT_KONTERINGSSTED": "0136",
        "OPPLAERINGNIVAAKODE": None,
        "TILTAKGJENNOMFORING_ID_REL": None,
        "VURDERING_GJENNOMFORING": "Vurdering",
        "PROFILELEMENT_ID_OPPL_TILTAK": 91893,
        "DATO_OPPFOLGING_OK": None,
        "PARTISJON": None,
        "MAALFORM_KRAVBREV": "NO",
    }
    payload.update(changes)
    return payload


def deltaker_payload(id_field: str = "TILTAKDELTAKER_ID", **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        id_field: 123456,
        "PERSON_ID": 556677,
        "TILTAKGJENNOMFORING_ID": 3461841,
        "DELTAKERSTATUSKODE": "GJENN",
        "DELTAKERTYPEKODE": "INNSOKT",
        "AARSAKVERDIKODE_STATUS": None,
        "OPPMOTETYPEKODE": None,
        "PRIORITET": None,
        "BEGRUNNELSE_INNSOKT": "Syntetisert rettighet",
        "BEGRUNNELSE_PRIORITERING": None,
        "REG_DATO": "2022-01-11 11:00:40",
        "REG_USER": "USR1234",
        "MOD_DATO": "2022-01-11 11:00:40",
        "MOD_USER": "USR1234",
        "DATO_SVARFRIST": None,
        "DATO_FRA": "2020-03-02 00:00:00",
        "DATO_TIL": "2020-12-31 00:00:00",
        "BEGRUNNELSE_STATUS": None,
        "PROSENT_DELTID": 40,
        "BRUKERID_STATUSENDRING": "USR1234",
        "DATO_STATUSENDRING": "2022-01-11 11:00:40",
        "AKTIVITET_ID": 9876453,
        "BRUKERID_ENDRING_PRIORITERING": None,
        "DATO_ENDRING_PRIORITERING": None,
        "DOKUMENTKODE_SISTE_BREV": None,
        "STATUS_INNSOK_PAKKE": None,
        "STATUS_OPPTAK_PAKKE": None,
        "OPPLYSNINGER_INNSOK": None,
        "PARTISJON": None,
        "BEGRUNNELSE_BESTILLING": None,
        "ANTALL_DAGER_PR_UKE": None,
    }
    payload.update(changes)
    return payload


def hist_payload(**changes: Any) -> dict[str, Any]:
    return deltaker_payload("HIST_TILTAKDELTAKER_ID", **changes)


def envelope(
    table: str,
    op_type: str = "I",
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    pos: Any = "00000000050058769820",
    op_ts: Any = "2022-01-12 00:00:06.000000",
) -> dict[str, Any]:
    return {
        "table": table,
        "op_type": op_type,
        "op_ts": op_ts,
        "current_ts": "2022-01-12 00:00:08.365000",
        "pos": pos,
        "before": before,
        "after": after,
    }


def raw(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode("utf-8")
