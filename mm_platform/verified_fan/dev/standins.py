"""Local stand-ins for two other teams' services, for the embedded stack only (`mm-platform dev`):
the Entry Service (POST /scoring upserts scoring by campaign and member, like its MongoDB store) and
the Campaign Service (GET /campaigns/{id}, GET /campaigns?eventId=; PUT /campaigns/{id} registers
one). Production points MM_PLATFORM_VF_ENTRY_SERVICE_URL / _CAMPAIGN_SERVICE_URL at the real ones.

    python -m mm_platform.verified_fan.dev.standins --port 4580 --db .mm_platform/standins.db
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from mm_platform.core.standin_http import JsonHandler

SCHEMA = """
create table if not exists campaign (id text primary key, body text not null);
create table if not exists scoring (
    campaign_id text not null, member_id text not null, body text not null,
    primary key (campaign_id, member_id)
);
"""


class Store:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        row = self.db.execute("select body from campaign where id = ?", (campaign_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def campaigns_for_event(self, event_id: str) -> list[dict[str, Any]]:
        bodies = [json.loads(b) for (b,) in self.db.execute("select body from campaign order by id")]
        return [c for c in bodies if event_id in c.get("eventIds", [])]

    def put_campaign(self, campaign_id: str, body: dict[str, Any]) -> None:
        with self.lock, self.db:
            self.db.execute(
                "insert into campaign (id, body) values (?, ?) "
                "on conflict (id) do update set body = excluded.body",
                (campaign_id, json.dumps({**body, "id": campaign_id})),
            )

    def score(self, campaign_id: str, records: list[dict[str, Any]]) -> dict[str, int]:
        """Upsert the records; answers like the Entry Service: how many were new, changed, found."""
        inserted = updated = found = 0
        with self.lock, self.db:
            for record in records:
                member = str(record.get("memberId") or "")
                body = json.dumps(record, sort_keys=True)
                old = self.db.execute(
                    "select body from scoring where campaign_id = ? and member_id = ?", (campaign_id, member)
                ).fetchone()
                if old is None:
                    inserted += 1
                else:
                    found += 1
                    updated += old[0] != body
                self.db.execute(
                    "insert into scoring (campaign_id, member_id, body) values (?, ?, ?) "
                    "on conflict (campaign_id, member_id) do update set body = excluded.body",
                    (campaign_id, member, body),
                )
        # entries: those this call wrote (GET /scoring/{campaign} counts the campaign's)
        return {
            "scoring": len(records),
            "inserted": inserted,
            "updated": updated,
            "found": found,
            "entries": len(records),
        }

    def entries(self, campaign_id: str) -> int:
        return self.db.execute(
            "select count(*) from scoring where campaign_id = ?", (campaign_id,)
        ).fetchone()[0]


def make_handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return None

        def do_GET(self) -> None:
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if parts == ["campaigns"]:
                event = parse_qs(url.query).get("eventId", [""])[0]
                self._answer(200, {"campaigns": store.campaigns_for_event(event)})
            elif len(parts) == 2 and parts[0] == "campaigns":
                campaign = store.campaign(parts[1])
                self._answer(200, campaign) if campaign else self._answer(
                    404, {"message": "no such campaign"}
                )
            elif len(parts) == 2 and parts[0] == "scoring":
                self._answer(200, {"campaignId": parts[1], "entries": store.entries(parts[1])})
            else:
                self._answer(404, {"message": f"no route {url.path}"})

        def do_PUT(self) -> None:
            parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/")]
            body = self._body()
            if len(parts) == 2 and parts[0] == "campaigns" and isinstance(body, dict):
                store.put_campaign(parts[1], body)
                self._answer(200, store.campaign(parts[1]))
            else:
                self._answer(400, {"message": "PUT /campaigns/{id} with a JSON object"})

        def do_POST(self) -> None:
            body = self._body()
            if urlparse(self.path).path != "/scoring":
                self._answer(404, {"message": f"no route {self.path}"})
            elif (
                not isinstance(body, dict)
                or not isinstance(body.get("records"), list)
                or not body.get("campaignId")
            ):
                self._answer(400, {"message": "expected {campaignId, records: [...]}"})
            else:
                self._answer(200, store.score(str(body["campaignId"]), body["records"]))

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


def serve(host: str, port: int, db: str) -> ThreadingHTTPServer:
    return ThreadingHTTPServer((host, port), make_handler(Store(db)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4580)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    serve(args.host, args.port, args.db).serve_forever()


if __name__ == "__main__":
    main()
