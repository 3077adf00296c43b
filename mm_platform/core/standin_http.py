"""What every local stand-in of another team's JSON service shares (embedded stack and tests only):
JSON answers, a lenient body reader (a bad body is recorded, then refused by the route), the bearer
token check, the request log and armed error answers."""

from __future__ import annotations

import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    # set by the stand-in's handler factory; None: no token is required
    token: str | None = None

    def _answer(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")[:1000]  # recorded as text, refused as not JSON

    def _authorized(self) -> bool:
        if not self.token:
            return True
        given = self.headers.get("Authorization") or ""
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())


# the request log every stand-in keeps in its SQLite file (`GET /_requests`)
REQUEST_LOG_SCHEMA = """
create table if not exists request (
    seq integer primary key autoincrement, method text not null, path text not null,
    body text, status integer not null, at real not null
);
"""


class RequestLog:
    """What a stand-in received, in its SQLite connection (shared by the server's threads, under `lock`)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        db.executescript(REQUEST_LOG_SCHEMA)
        self.db, self.lock = db, lock

    def record(self, method: str, path: str, body: Any, status: int) -> None:
        with self.lock, self.db:
            self.db.execute(
                "insert into request (method, path, body, status, at) values (?, ?, ?, ?, ?)",
                (method, path, json.dumps(body), status, time.time()),
            )

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "select method, path, body, status, at from request order by seq"
            ).fetchall()
        return [
            {"method": m, "path": p, "body": json.loads(b), "status": s, "at": at} for m, p, b, s, at in rows
        ]


@dataclass
class ForcedAnswer:
    """An armed error answer (an outage, a 404 for one id): used up after `times` matching requests."""

    path_prefix: str | None
    id: str | None
    status: int
    times: int

    def matches(self, path: str, ids: Collection[str]) -> bool:
        return (self.path_prefix is None or path.startswith(self.path_prefix)) and (
            self.id is None or self.id in ids
        )


class ForcedAnswers:
    """Armed answers: each matching request uses up one of its rule's `times`, oldest rule first."""

    def __init__(self) -> None:
        self.rules: list[ForcedAnswer] = []
        self.lock = threading.Lock()

    def arm(self, rule: ForcedAnswer) -> None:
        """Add the rule; `times: 0` disarms the rules of the same path_prefix and id (the service is back)."""
        with self.lock:
            if rule.times == 0:
                self.rules = [r for r in self.rules if (r.path_prefix, r.id) != (rule.path_prefix, rule.id)]
            else:
                self.rules.append(rule)

    def status_for(self, path: str, ids: Collection[str] = ()) -> int | None:
        with self.lock:
            for rule in self.rules:
                if rule.times > 0 and rule.matches(path, ids):
                    rule.times -= 1
                    return rule.status
        return None


def parse_forced_answer(body: Any, *, by_id: bool) -> ForcedAnswer | None:
    """`{"path_prefix": "/...", "status": 400-599, "times": n}` (with `by_id`, `"id"` may stand with or
    instead of the prefix); None when the body is not such a rule."""
    if not isinstance(body, dict):
        return None
    prefix, status, times = body.get("path_prefix"), body.get("status"), body.get("times", 1)
    ident = None if not by_id or body.get("id") is None else str(body["id"])
    valid = (
        (prefix is not None or ident is not None)
        and (prefix is None or (isinstance(prefix, str) and prefix.startswith("/")))
        and isinstance(status, int)
        and 400 <= status <= 599
        and isinstance(times, int)
        and times >= 0
    )
    return ForcedAnswer(prefix, ident, status, times) if valid else None
