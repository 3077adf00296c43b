"""A local stand-in for the three services the Arena ACL looks things up in, for the embedded stack
and tests only, on one port under the real paths:

- Mulighetsrommet: GET /api/v1/tiltaksgjennomforinger/id/{arenaId} -> {id};
  GET /api/v2/tiltaksgjennomforinger/{id} -> {id, tiltakskode, arrangor: {organisasjonsnummer}, oppstart}
- Arena ORDS: GET /api/ords/fnr?personId=… -> {fnr}
- amt-tiltak: POST /api/external/deltakelser {personIdent} -> [{id, gjennomforing: {id}, startDato,
  sluttDato, status}]

Unknown ids are answered, like the original's test mocks, unless `--strict`:
- an Arena gjennomføring id gets a fixed MR id derived from it (uuid5), so any gjennomføring has one;
- an MR id gets tiltakskode OPPFOLGING, oppstart LOPENDE and no status (MockMulighetsrommetApiServer);
- a person id gets a fixed 11-digit fnr derived from it, so a replay needs no registrations;
- a person ident has no deltakelser ([]).
With `--strict` the first three answer 404 instead. Either way, registered data wins: PUT
/_data/person/{personId} {"fnr": null} makes ORDS answer 404 for that person ("Arena mangler personlig
ident"), PUT /_data/gjennomforing/{arenaId} {"id": null} makes MR v1 answer 404.

Control endpoints (never checked for the token):
- PUT /_data/gjennomforing/{arenaId} {"id"?: uuid|null, "tiltakskode"?, "arrangor"?, "oppstart"?, …}:
  the MR id (default: the derived one) and the v2 answer (the given fields over the defaults);
- PUT /_data/person/{personId} {"fnr": str|null}; PUT /_data/deltakelser/{personIdent} [deltakelse…];
- POST /_answer (or /_fail) {"path_prefix"?: "/api/…", "id"?: str, "status": 400-599, "times": n}: the
  next n lookups whose path (with query) starts with path_prefix and/or that name the id (a path
  segment, a query value or the personIdent of the body) answer that status; times 0 disarms it;
- GET /_requests: every lookup received (method, path, body, status, time; never the Authorization
  header).

    python -m mm_platform.arena.dev.lookups_standin --port 4582 --db .mm_platform/arena-lookups.db
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from mm_platform.core.standin_http import ForcedAnswers, JsonHandler, RequestLog, parse_forced_answer

TOKEN_ENV = "MM_PLATFORM_ARENA_LOOKUPS_TOKEN"
# the namespace of the derived MR ids: the same Arena id gets the same MR id in every run and process
MR_NAMESPACE = uuid.UUID("6f1c2a4e-5d0b-4c8e-9a57-0b3e2f7d9c11")
DEFAULT_ORGNR = "999999999"

SCHEMA = """
create table if not exists gjennomforing (arena_id text primary key, mr_id text, body text);
create index if not exists gjennomforing_mr_id on gjennomforing (mr_id);
create table if not exists person (person_id text primary key, fnr text);
create table if not exists deltakelser (person_ident text primary key, body text not null);
"""


def derived_mr_id(arena_id: str) -> str:
    return str(uuid.uuid5(MR_NAMESPACE, f"arena-gjennomforing/{arena_id}"))


def derived_fnr(person_id: str) -> str:
    digest = hashlib.sha256(f"arena-person/{person_id}".encode()).hexdigest()
    return f"{int(digest, 16) % 10**11:011d}"


def default_v2(mr_id: str) -> dict[str, Any]:
    """The original's MR mock: OPPFOLGING (INDOPPFAG), løpende oppstart, no status or dates."""
    return {
        "id": mr_id,
        "tiltakskode": "OPPFOLGING",
        "arrangor": {"organisasjonsnummer": DEFAULT_ORGNR},
        "oppstart": "LOPENDE",
    }


class Store:
    """The stand-in's data in SQLite; one connection shared by the server's threads, under a lock."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.log = RequestLog(self.db, self.lock)

    def put_gjennomforing(self, arena_id: str, body: dict[str, Any]) -> dict[str, Any]:
        mr_id = body["id"] if "id" in body else derived_mr_id(arena_id)
        mr_id = None if mr_id is None else str(mr_id)
        v2 = None if mr_id is None else {**default_v2(mr_id), **body, "id": mr_id}
        with self.lock, self.db:
            self.db.execute(
                "insert into gjennomforing (arena_id, mr_id, body) values (?, ?, ?) on conflict (arena_id) "
                "do update set mr_id = excluded.mr_id, body = excluded.body",
                (arena_id, mr_id, None if v2 is None else json.dumps(v2)),
            )
        return {"arenaId": arena_id, "id": mr_id, "v2": v2}

    def gjennomforing_registered(self, arena_id: str) -> tuple[bool, str | None]:
        with self.lock:
            row = self.db.execute(
                "select mr_id from gjennomforing where arena_id = ?", (arena_id,)
            ).fetchone()
        return (False, None) if row is None else (True, row[0])

    def v2(self, mr_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(
                "select body from gjennomforing where mr_id = ? and body is not null order by rowid desc",
                (mr_id,),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def put_person(self, person_id: str, fnr: str | None) -> None:
        with self.lock, self.db:
            self.db.execute(
                "insert into person (person_id, fnr) values (?, ?) "
                "on conflict (person_id) do update set fnr = excluded.fnr",
                (person_id, fnr),
            )

    def person(self, person_id: str) -> tuple[bool, str | None]:
        with self.lock:
            row = self.db.execute("select fnr from person where person_id = ?", (person_id,)).fetchone()
        return (False, None) if row is None else (True, row[0])

    def put_deltakelser(self, person_ident: str, deltakelser: list[Any]) -> None:
        with self.lock, self.db:
            self.db.execute(
                "insert into deltakelser (person_ident, body) values (?, ?) "
                "on conflict (person_ident) do update set body = excluded.body",
                (person_ident, json.dumps(deltakelser)),
            )

    def deltakelser(self, person_ident: str) -> list[Any]:
        with self.lock:
            row = self.db.execute(
                "select body from deltakelser where person_ident = ?", (person_ident,)
            ).fetchone()
        return [] if row is None else json.loads(row[0])


def _ids(parts: list[str], query: dict[str, list[str]], body: Any) -> set[str]:
    """What a lookup names, for `/_answer {"id"}`: its path segments, query values and personIdent."""
    found = set(parts) | {v for values in query.values() for v in values}
    if isinstance(body, dict) and body.get("personIdent") is not None:
        found.add(str(body["personIdent"]))
    return found


class Lookups:
    """The three services' answers; `strict` makes unknown gjennomføringer and persons 404."""

    def __init__(self, store: Store, strict: bool) -> None:
        self.store = store
        self.strict = strict

    def route(self, method: str, parts: list[str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if method == "GET" and parts[:4] == ["api", "v1", "tiltaksgjennomforinger", "id"] and len(parts) == 5:
            return self.mr_id(parts[4])
        if method == "GET" and parts[:3] == ["api", "v2", "tiltaksgjennomforinger"] and len(parts) == 4:
            return self.mr_v2(parts[3])
        if method == "GET" and parts == ["api", "ords", "fnr"]:
            person_id = query.get("personId", [""])[0]
            return self.fnr(person_id) if person_id else (400, {"message": "personId is required"})
        if method == "POST" and parts == ["api", "external", "deltakelser"]:
            if not isinstance(body, dict) or not isinstance(body.get("personIdent"), str):
                return 400, {"message": "expected {personIdent}"}
            return 200, self.store.deltakelser(body["personIdent"])
        return 404, {"message": f"no route {method} /{'/'.join(parts)}"}

    def mr_id(self, arena_id: str) -> tuple[int, Any]:
        registered, mr_id = self.store.gjennomforing_registered(arena_id)
        if not registered and not self.strict:
            mr_id = derived_mr_id(arena_id)
        if not mr_id:
            return 404, {"message": f"no gjennomføring for arena id {arena_id}"}
        return 200, {"id": mr_id}

    def mr_v2(self, mr_id: str) -> tuple[int, Any]:
        found = self.store.v2(mr_id)
        if found is None and not self.strict:
            found = default_v2(mr_id)
        return (200, found) if found else (404, {"message": f"no gjennomføring {mr_id}"})

    def fnr(self, person_id: str) -> tuple[int, Any]:
        registered, fnr = self.store.person(person_id)
        if not registered and not self.strict:
            fnr = derived_fnr(person_id)
        return (200, {"fnr": fnr}) if fnr else (404, {"message": f"no ident for person {person_id}"})


def make_handler(
    store: Store, forced: ForcedAnswers, token: str | None, strict: bool
) -> type[BaseHTTPRequestHandler]:
    lookups = Lookups(store, strict)

    required_token = token  # a class body cannot read the factory's `token` under that name

    class Handler(JsonHandler):
        token = required_token
        # keep-alive: every answer has a Content-Length, so a client's connection serves its next call
        protocol_version = "HTTP/1.1"
        # an answer's headers and body are two writes: without this, Nagle holds the body back until
        # the client's delayed ACK of the headers (some 40 ms per call on a kept-alive connection)
        disable_nagle_algorithm = True

        def _handle(self, method: str) -> None:
            url = urlparse(self.path)
            body = self._body() if method in ("POST", "PUT") else None
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if url.path.startswith("/_"):
                self._answer(*self._control(method, parts, body))
                return
            query = parse_qs(url.query)
            status = forced.status_for(self.path, _ids(parts, query, body))
            if status is not None:
                answer: Any = {"message": f"forced answer ({status})"}
            elif not self._authorized():
                status, answer = 401, {"message": "missing or invalid bearer token"}
            else:
                status, answer = lookups.route(method, parts, query, body)
            store.log.record(method, self.path, body, status)
            self._answer(status, answer)

        def _control(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
            if (method, parts) == ("GET", ["_requests"]):
                return 200, store.log.requests()
            if method == "POST" and parts in (["_answer"], ["_fail"]):
                rule = parse_forced_answer(body, by_id=True)
                if rule is None:
                    return 400, {
                        "message": 'expected {"path_prefix": "/...", and/or "id": "...", '
                        '"status": 400-599, "times": n}'
                    }
                forced.arm(rule)
                return 200, {"armed": rule.__dict__}
            if method == "PUT" and len(parts) == 3 and parts[0] == "_data":
                return self._put_data(parts[1], parts[2], body)
            return 404, {"message": f"no route {method} /{'/'.join(parts)}"}

        def _put_data(self, kind: str, key: str, body: Any) -> tuple[int, Any]:
            if kind == "gjennomforing" and isinstance(body, dict):
                return 200, store.put_gjennomforing(key, body)
            if kind == "person" and isinstance(body, dict) and isinstance(body.get("fnr"), str | None):
                store.put_person(key, body.get("fnr") or None)
                return 200, {"personId": key, "fnr": body.get("fnr") or None}
            if kind == "deltakelser" and isinstance(body, list):
                store.put_deltakelser(key, body)
                return 200, {"personIdent": key, "deltakelser": body}
            return 400, {
                "message": "PUT /_data/gjennomforing/{arenaId} {...}, /_data/person/{personId} {fnr} "
                "or /_data/deltakelser/{personIdent} [...]"
            }

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


def serve(
    host: str, port: int, db: str, token: str | None = None, strict: bool = False
) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(Store(db), ForcedAnswers(), token, strict))
    server.daemon_threads = True  # a hung client must not keep the process from stopping
    return server


@contextmanager
def serving_in_thread(db: str, *, strict: bool = False, token: str | None = None) -> Iterator[str]:
    """The stand-in in a thread of this process on a port the system picks (tests, benchmarks); its
    base URL."""
    server = serve("127.0.0.1", 0, db, token, strict)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4582)
    parser.add_argument("--db", required=True)
    parser.add_argument(
        "--token", default=None, help=f"bearer token to require (default: ${TOKEN_ENV}, else none)"
    )
    parser.add_argument("--strict", action="store_true", help="answer 404 for unknown ids")
    args = parser.parse_args()
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    serve(args.host, args.port, args.db, token, args.strict).serve_forever()


if __name__ == "__main__":
    main()
