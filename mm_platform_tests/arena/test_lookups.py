"""The Arena lookup clients against the lookups stand-in: found, not found (404) and failing answers
of Mulighetsrommet, ORDS and amt-tiltak, forced answers, the request log, the bearer token, the
per-run person cache, the sample data, and the stand-in run as `python -m` like the dev stack runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests

from mm_platform.arena.dev import sample_lookups
from mm_platform.arena.dev.lookups_standin import (
    TOKEN_ENV,
    derived_fnr,
    derived_mr_id,
)
from mm_platform.arena.stores.lookups import AmtTiltakApi, CachedOrds, MulighetsrommetApi, OrdsApi
from mm_platform.core.devstack import free_port, stop_process, wait_for_port
from mm_platform.core.services import ServiceError
from mm_platform_tests.arena.flow import lookups_standin


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with lookups_standin(tmp_path) as base_url:
        yield base_url


@pytest.fixture
def strict_url(tmp_path: Path) -> Iterator[str]:
    with lookups_standin(tmp_path, strict=True) as base_url:
        yield base_url


def mr(url: str) -> MulighetsrommetApi:
    return MulighetsrommetApi(base_url=url, timeout_seconds=5, retries=0)


def ords(url: str) -> OrdsApi:
    return OrdsApi(base_url=url, timeout_seconds=5, retries=0)


def amt(url: str) -> AmtTiltakApi:
    return AmtTiltakApi(base_url=url, timeout_seconds=5, retries=0)


def put(url: str, path: str, body: Any) -> dict[str, Any]:
    response = requests.put(f"{url}{path}", json=body, timeout=5)
    response.raise_for_status()
    return response.json()


def force(url: str, **rule: Any) -> None:
    requests.post(f"{url}/_answer", json=rule, timeout=5).raise_for_status()


def recorded(url: str, part: str = "") -> list[dict[str, Any]]:
    return [r for r in requests.get(f"{url}/_requests", timeout=5).json() if part in r["path"]]


def test_mr_id_registered_and_v2_parsed(url: str) -> None:
    mr_id = str(uuid.uuid4())
    put(
        url,
        "/_data/gjennomforing/4711",
        {"id": mr_id, "tiltakskode": "GRUPPE_ARBEIDSMARKEDSOPPLAERING", "oppstart": "FELLES"},
    )
    assert mr(url).gjennomforing_id(4711) == UUID(mr_id)
    assert mr(url).gjennomforing(UUID(mr_id)) == {
        "id": mr_id,
        "tiltakskode": "GRUPPE_ARBEIDSMARKEDSOPPLAERING",
        "arrangor": {"organisasjonsnummer": "999999999"},
        "oppstart": "FELLES",
    }


def test_mr_unknown_ids_answer_like_the_original_mock(url: str) -> None:
    mr_id = mr(url).gjennomforing_id("5001")
    assert mr_id == UUID(derived_mr_id("5001"))  # the same in every run
    v2 = mr(url).gjennomforing(mr_id)
    assert v2["tiltakskode"] == "OPPFOLGING" and v2["oppstart"] == "LOPENDE"
    assert "status" not in v2 and v2["id"] == str(mr_id)


def test_mr_id_404_is_none_and_500_raises(url: str) -> None:
    put(url, "/_data/gjennomforing/4712", {"id": None})
    assert mr(url).gjennomforing_id("4712") is None
    force(url, path_prefix="/api/v1/tiltaksgjennomforinger/id/4713", status=404)
    assert mr(url).gjennomforing_id("4713") is None
    force(url, id="4713", status=500)
    with pytest.raises(ServiceError) as error:
        mr(url).gjennomforing_id("4713")
    assert error.value.status == 500


@pytest.mark.parametrize("status", [404, 500])
def test_mr_v2_any_error_raises_with_status(url: str, status: int) -> None:
    mr_id = uuid.uuid4()
    force(url, id=str(mr_id), status=status)
    with pytest.raises(ServiceError) as error:
        mr(url).gjennomforing(mr_id)
    assert error.value.status == status


def test_strict_standin_answers_404_for_unknown_ids(strict_url: str) -> None:
    assert mr(strict_url).gjennomforing_id("5002") is None
    with pytest.raises(ServiceError) as error:
        mr(strict_url).gjennomforing(uuid.uuid4())
    assert error.value.status == 404
    assert ords(strict_url).fnr("6002") is None
    put(strict_url, "/_data/person/6003", {"fnr": "01020312345"})
    assert ords(strict_url).fnr("6003") == "01020312345"


def test_ords_fnr_404_and_500(url: str) -> None:
    put(url, "/_data/person/6001", {"fnr": "01020312345"})
    put(url, "/_data/person/6009", {"fnr": None})
    assert ords(url).fnr(6001) == "01020312345"
    assert ords(url).fnr("6009") is None  # Arena has no ident: INVALID in the processor
    assert ords(url).fnr("6100") == derived_fnr("6100")  # unknown persons get a fixed fnr
    force(url, path_prefix="/api/ords/fnr", id="6001", status=500)
    with pytest.raises(ServiceError) as error:
        ords(url).fnr("6001")
    assert error.value.status == 500


def test_amt_tiltak_deltakelser(url: str) -> None:
    deltakelse = {
        "id": str(uuid.uuid4()),
        "gjennomforing": {"id": str(uuid.uuid4())},
        "startDato": "2026-08-01",
        "sluttDato": None,
        "status": "FEILREGISTRERT",
    }
    put(url, "/_data/deltakelser/01020312345", [deltakelse])
    assert amt(url).deltakelser("01020312345") == [deltakelse]
    assert amt(url).deltakelser("01020399999") == []
    assert recorded(url, "/api/external/deltakelser")[0]["body"] == {"personIdent": "01020312345"}
    force(url, id="01020312345", status=500)
    with pytest.raises(ServiceError) as error:
        amt(url).deltakelser("01020312345")
    assert error.value.status == 500


def test_forced_answers_are_used_up_after_times(url: str) -> None:
    put(url, "/_data/person/6002", {"fnr": "01020312346"})
    force(url, id="6002", status=500, times=2)
    for _ in range(2):
        with pytest.raises(ServiceError):
            ords(url).fnr("6002")
    assert ords(url).fnr("6002") == "01020312346"
    # times 0 disarms a rule before it is used up
    force(url, id="6002", status=500, times=5)
    force(url, id="6002", status=500, times=0)
    assert ords(url).fnr("6002") == "01020312346"
    assert [r["status"] for r in recorded(url, "personId=6002")] == [500, 500, 200, 200]


def test_bad_control_requests_are_refused(url: str) -> None:
    assert requests.post(f"{url}/_answer", json={"status": 500}, timeout=5).status_code == 400
    assert requests.post(f"{url}/_answer", json={"id": "1", "status": 200}, timeout=5).status_code == 400
    assert requests.put(f"{url}/_data/person/1", json=["x"], timeout=5).status_code == 400
    assert requests.put(f"{url}/_data/deltakelser/1", json={}, timeout=5).status_code == 400
    assert requests.get(f"{url}/api/ords/fnr", timeout=5).status_code == 400
    # only the lookup is logged: control calls are not requests to the three services
    assert [(r["path"], r["status"]) for r in recorded(url)] == [("/api/ords/fnr", 400)]


def test_request_log_and_token_never_logged(tmp_path: Path) -> None:
    token = f"secret-{uuid.uuid4().hex}"
    with lookups_standin(tmp_path, token=token) as url:
        with pytest.raises(ServiceError) as error:
            ords(url).fnr("6001")
        assert error.value.status == 401
        assert ords(url).model_copy(update={"token": token}).fnr("6001") == derived_fnr("6001")
        log = recorded(url)
        assert [(r["method"], r["path"], r["status"]) for r in log] == [
            ("GET", "/api/ords/fnr?personId=6001", 401),
            ("GET", "/api/ords/fnr?personId=6001", 200),
        ]
        assert token not in str(log)


def test_cache_asks_ords_once_per_person(url: str) -> None:
    put(url, "/_data/person/6009", {"fnr": None})
    cache = CachedOrds(ords(url))
    assert [cache.fnr("6001"), cache.fnr(6001), cache.fnr("6009"), cache.fnr("6009")] == [
        derived_fnr("6001"),
        derived_fnr("6001"),
        None,
        None,
    ]
    assert (cache.hits, cache.misses) == (2, 2)
    assert len(recorded(url, "personId=6001")) == 1 and len(recorded(url, "personId=6009")) == 1
    # a failure is not remembered: the retry asks again
    force(url, id="6010", status=500)
    with pytest.raises(ServiceError):
        cache.fnr("6010")
    assert cache.fnr("6010") == derived_fnr("6010")
    assert len(recorded(url, "personId=6010")) == 2


def test_prefetch_asks_ords_once_per_new_person_and_hands_a_failure_to_one_row(url: str) -> None:
    cache = CachedOrds(ords(url))
    cache.fnr("7000")
    force(url, id="7005", status=500, times=1)
    cache.prefetch([str(p) for p in range(7000, 7020)] + [7001, 7002], workers=4)
    # one call per person the run did not know yet, 7000 included once in all
    paths = [r["path"] for r in recorded(url, "personId=70")]
    assert sorted(paths) == sorted(f"/api/ords/fnr?personId={p}" for p in range(7000, 7020))
    assert [cache.fnr(p) for p in ("7001", "7019")] == [derived_fnr("7001"), derived_fnr("7019")]
    # the failed lookup is the first asking row's error, without another call ...
    with pytest.raises(ServiceError) as error:
        cache.fnr("7005")
    assert error.value.status == 500
    assert len(recorded(url, "personId=7005")) == 1
    # ... and only that row's: the next one asks again
    assert cache.fnr("7005") == derived_fnr("7005")
    assert len(recorded(url, "personId=7005")) == 2
    cache.prefetch(["7001", "7005"], workers=4)  # all known: no call
    assert len(recorded(url, "personId=70")) == 21


def test_sample_data_loads(url: str) -> None:
    assert sample_lookups.load(url) == 4 + 4 + 1
    assert sample_lookups.load(url) == 9  # idempotent
    samples = sample_lookups.GJENNOMFORINGER
    assert mr(url).gjennomforing_id("1002") == UUID(samples["1002"]["id"])
    assert mr(url).gjennomforing(samples["1002"]["id"])["oppstart"] == "FELLES"
    assert mr(url).gjennomforing_id("1004") is None
    assert ords(url).fnr("2001") == "12345678901" and ords(url).fnr("2009") is None
    assert amt(url).deltakelser("12345678901")[0]["status"] == "HAR_SLUTTET"


def test_standin_runs_as_a_module(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "mm_platform.arena.dev.lookups_standin"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--db", str(tmp_path / "lookups.db")]
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    with (tmp_path / "standin.log").open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        wait_for_port("127.0.0.1", port, "arena lookups stand-in", process)
        url = f"http://127.0.0.1:{port}"
        sample_lookups.load(url)
        assert ords(url).fnr("2002") == "12345678902"
        force(url, id="2002", status=500)
        with pytest.raises(ServiceError) as error:
            ords(url).fnr("2002")
        assert error.value.status == 500
        assert mr(url).gjennomforing_id("1001") == UUID(sample_lookups.GJENNOMFORINGER["1001"]["id"])
        assert [r["status"] for r in recorded(url)] == [200, 500, 200]
    finally:
        stop_process(process.pid)
