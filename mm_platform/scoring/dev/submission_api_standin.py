"""A local stand-in for Topcoder's Submission API, for the embedded stack and tests only: POST and GET
/reviews and /reviewSummations, PATCH and GET /submissions/{id}, each checked for the bearer token
when one is configured (--token or MM_PLATFORM_SCORING_API_TOKEN; the variable keeps it out of `ps`).

For tests and the demo, without auth: GET /_requests lists every API request received (method,
path, body, status, time; never the Authorization header), and POST /_fail {"path_prefix",
"status", "times"} makes the next `times` requests under that path answer `status` (an outage).

    python -m mm_platform.scoring.dev.submission_api_standin --port 4590 --db .mm_platform/submission-api.db
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from mm_platform.core.standin_http import ForcedAnswers, JsonHandler, RequestLog, parse_forced_answer
from mm_platform.scoring.dev.sample_data import EMBEDDED_API_TOKEN

TOKEN_ENV = "MM_PLATFORM_SCORING_API_TOKEN"

SCHEMA = """
create table if not exists review (
    id text primary key, submission_id text not null, type_id text, body text not null
);
create table if not exists review_summation (
    id text primary key, submission_id text not null, body text not null
);
create table if not exists submission (id text primary key, body text not null);
"""


class Store:
    """The stand-in's state in SQLite; one connection shared by the server's threads, under a lock."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.log = RequestLog(self.db, self.lock)

    def add_review(self, body: dict[str, Any]) -> dict[str, Any]:
        stored = {**body, "id": str(uuid.uuid4()), "created": _now()}
        with self.lock, self.db:
            self.db.execute(
                "insert into review (id, submission_id, type_id, body) values (?, ?, ?, ?)",
                (stored["id"], str(body["submissionId"]), _text(body.get("typeId")), json.dumps(stored)),
            )
        return stored

    def reviews(self, submission_id: str | None, type_id: str | None) -> list[dict[str, Any]]:
        query, args = "select body from review where 1 = 1", []
        if submission_id is not None:
            query, args = query + " and submission_id = ?", [*args, submission_id]
        if type_id is not None:
            query, args = query + " and type_id = ?", [*args, type_id]
        with self.lock:
            return [json.loads(b) for (b,) in self.db.execute(query + " order by rowid", args)]

    def add_summation(self, body: dict[str, Any]) -> dict[str, Any]:
        stored = {**body, "id": str(uuid.uuid4()), "created": _now()}
        with self.lock, self.db:
            self.db.execute(
                "insert into review_summation (id, submission_id, body) values (?, ?, ?)",
                (stored["id"], str(body["submissionId"]), json.dumps(stored)),
            )
        return stored

    def summations(self, submission_id: str | None) -> list[dict[str, Any]]:
        query, args = "select body from review_summation", []
        if submission_id is not None:
            query, args = query + " where submission_id = ?", [submission_id]
        with self.lock:
            return [json.loads(b) for (b,) in self.db.execute(query + " order by rowid", args)]

    def update_submission(self, submission_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock, self.db:
            row = self.db.execute("select body from submission where id = ?", (submission_id,)).fetchone()
            stored = {**(json.loads(row[0]) if row else {}), **body, "id": submission_id, "updated": _now()}
            self.db.execute(
                "insert into submission (id, body) values (?, ?) "
                "on conflict (id) do update set body = excluded.body",
                (submission_id, json.dumps(stored)),
            )
        return stored

    def submission(self, submission_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("select body from submission where id = ?", (submission_id,)).fetchone()
        return None if row is None else json.loads(row[0])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def make_handler(store: Store, outages: ForcedAnswers, token: str | None) -> type[BaseHTTPRequestHandler]:
    required_token = token  # a class body cannot read the factory's `token` under that name

    class Handler(JsonHandler):
        token = required_token

        def _handle(self, method: str) -> None:
            url = urlparse(self.path)
            body = self._body() if method in ("POST", "PATCH") else None
            if url.path.startswith("/_"):
                self._answer(*self._control(method, url.path, body))
                return
            outage = outages.status_for(url.path)
            if outage is not None:
                status, answer = outage, {"message": f"simulated outage ({outage})"}
            elif not self._authorized():
                status, answer = 401, {"message": "missing or invalid bearer token"}
            else:
                status, answer = self._route(method, url.path, parse_qs(url.query), body)
            store.log.record(method, self.path, body, status)
            self._answer(status, answer)

        def _control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
            if (method, path) == ("GET", "/_requests"):
                return 200, store.log.requests()
            if (method, path) == ("POST", "/_fail"):
                rule = parse_forced_answer(body, by_id=False)
                if rule is None:
                    return 400, {"message": 'expected {"path_prefix": "/...", "status": 400-599, "times": n}'}
                outages.arm(rule)
                return 200, {"armed": rule.__dict__}
            return 404, {"message": f"no route {method} {path}"}

        def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
            parts = [unquote(p) for p in path.strip("/").split("/")]

            def arg(name: str) -> str | None:
                return query.get(name, [None])[0]

            if method == "GET" and parts == ["reviews"]:
                return 200, store.reviews(arg("submissionId"), arg("typeId"))
            if method == "GET" and parts == ["reviewSummations"]:
                return 200, store.summations(arg("submissionId"))
            if method == "POST" and parts in (["reviews"], ["reviewSummations"]):
                if not isinstance(body, dict) or body.get("submissionId") in (None, ""):
                    return 400, {"message": "a JSON object with submissionId is required"}
                add = store.add_review if parts == ["reviews"] else store.add_summation
                return 201, add(body)
            if len(parts) == 2 and parts[0] == "submissions":
                if method == "PATCH":
                    if not isinstance(body, dict) or not body:
                        return 400, {"message": "a non-empty JSON object is required"}
                    return 200, store.update_submission(parts[1], body)
                if method == "GET":
                    found = store.submission(parts[1])
                    return (200, found) if found else (404, {"message": "no such submission"})
            return 404, {"message": f"no route {method} {path}"}

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


def serve(host: str, port: int, db: str, token: str | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(Store(db), ForcedAnswers(), token))
    server.daemon_threads = True  # a hung client must not keep the process from stopping
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4581)
    parser.add_argument("--db", required=True)
    parser.add_argument(
        "--token",
        default=None,
        help=f"bearer token to require (default: ${TOKEN_ENV}, else the embedded stack's, which the stack "
        "also stores in SSM; `--token ''` requires none)",
    )
    args = parser.parse_args()
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV, EMBEDDED_API_TOKEN)
    serve(args.host, args.port, args.db, token).serve_forever()


if __name__ == "__main__":
    main()
