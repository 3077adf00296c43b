"""Sample lookup data for the embedded stack: gjennomføringer known to Mulighetsrommet (one per kind
the deltaker processor treats differently), persons with and without an fnr in Arena, and one
person's deltakelser in amt-tiltak. `load(url)` registers them in a running lookups stand-in.

    python -m mm_platform.arena.dev.sample_lookups --url http://127.0.0.1:4582
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

import requests

# Arena TILTAKGJENNOMFORING_ID -> what Mulighetsrommet answers; "id": None means MR answers 404
GJENNOMFORINGER: dict[str, dict[str, Any]] = {
    # løpende oppfølging, what the original's MR mock always answers
    "1001": {
        "id": "0b9d2f4a-7c1e-4d55-9f0a-3e6b8c2d1a01",
        "tiltakskode": "OPPFOLGING",
        "arrangor": {"organisasjonsnummer": "974567890"},
        "oppstart": "LOPENDE",
    },
    # kurs (felles oppstart): kreverGodkjenning in the status rules
    "1002": {
        "id": "0b9d2f4a-7c1e-4d55-9f0a-3e6b8c2d1a02",
        "tiltakskode": "GRUPPE_ARBEIDSMARKEDSOPPLAERING",
        "arrangor": {"organisasjonsnummer": "974567891"},
        "oppstart": "FELLES",
    },
    # enkeltplass: published to the enkeltplass topic
    "1003": {
        "id": "0b9d2f4a-7c1e-4d55-9f0a-3e6b8c2d1a03",
        "tiltakskode": "ENKELTPLASS_ARBEIDSMARKEDSOPPLAERING",
        "arrangor": {"organisasjonsnummer": "974567892"},
        "oppstart": "LOPENDE",
    },
    # not in Mulighetsrommet yet: its deltakere wait (RETRY)
    "1004": {"id": None},
}

# Arena PERSON_ID -> fnr; None: Arena has no ident for the person (ORDS 404, the deltaker is INVALID)
PERSONS: dict[str, str | None] = {
    "2001": "12345678901",
    "2002": "12345678902",
    "2003": "12345678903",
    "2009": None,
}

# fnr -> amt-tiltak's deltakelser for the person (the hist processor's match check)
DELTAKELSER: dict[str, list[dict[str, Any]]] = {
    "12345678901": [
        {
            "id": "5c3e8a1f-2b4d-4e6a-8c9f-1d2e3f4a5b01",
            "gjennomforing": {"id": GJENNOMFORINGER["1001"]["id"]},
            "startDato": "2026-08-03",
            "sluttDato": "2026-09-30",
            "status": "HAR_SLUTTET",
        }
    ],
}


def load(url: str, timeout: float = 10) -> int:
    """PUT every sample into the stand-in at `url`; how many were registered. Idempotent."""
    base = url.rstrip("/")
    puts: list[tuple[str, Any]] = [
        *((f"/_data/gjennomforing/{quote(k)}", v) for k, v in GJENNOMFORINGER.items()),
        *((f"/_data/person/{quote(k)}", {"fnr": v}) for k, v in PERSONS.items()),
        *((f"/_data/deltakelser/{quote(k)}", v) for k, v in DELTAKELSER.items()),
    ]
    with requests.Session() as session:
        for path, body in puts:
            session.put(base + path, json=body, timeout=timeout).raise_for_status()
    return len(puts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:4582")
    print(f"registered {load(parser.parse_args().url)} samples")


if __name__ == "__main__":
    main()
