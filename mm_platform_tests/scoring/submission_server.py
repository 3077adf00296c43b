"""A real local HTTP server for submission zips, as the scorer downloads them (a GET of the URL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SubmissionServer:
    url: str
    files: dict[str, bytes] = field(default_factory=dict)

    def put(self, name: str, data: bytes) -> str:
        """Serve `data` at /name and return its URL."""
        self.files[name] = data
        return f"{self.url}/{name}"


@contextmanager
def serve_submissions() -> Iterator[SubmissionServer]:
    state = SubmissionServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = state.files.get(self.path.lstrip("/"))
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
