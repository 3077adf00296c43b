"""What `mm-platform dev` shows in the terminal: the URLs, each event as it is settled, warnings and
errors. Dagster's full output (hundreds of daemon INFO lines a minute) goes to
`<state>/logs/dagster.log` instead."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from mm_platform.core.inbox import EventInbox, InboxEvent, Status

# "2026-12-01 00:07:30 +0000 - dagster.daemon.SensorDaemon - INFO - ..." (maybe with colour codes)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} - \S+ - (?P<level>[A-Z]+) - ")
SHOWN_LEVELS = {"WARNING", "ERROR", "CRITICAL"}
SETTLED = {Status.HANDLED, Status.FAILED, Status.INVALID, Status.RETRY, Status.WAITING}


def is_shown(line: str, previous_shown: bool) -> bool:
    """Warnings and errors, and the lines that continue them (tracebacks); a line that is no log
    record at all (a crash of a process, a Python warning) is shown too."""
    match = RECORD.match(ANSI.sub("", line))
    if match is None:
        return previous_shown or (bool(line.strip()) and not line.startswith((" ", "\t")))
    return match.group("level") in SHOWN_LEVELS


def relay_output(stream: IO[bytes], log_file: Path, echo: Callable[[str], None]) -> None:
    """Copy a process's output to `log_file`, echoing only what `is_shown` keeps."""
    shown = False
    with log_file.open("ab") as log:
        for raw in iter(stream.readline, b""):
            log.write(raw)
            log.flush()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            shown = is_shown(line, shown)
            if shown:
                echo(line)


def describe(event: InboxEvent) -> str:
    where = event.entity_key or f"{event.topic}[{event.partition}]@{event.offset}"
    text = f"{event.status.value:8} {event.topic} {where}"
    if event.partition_key:
        text += f" -> partition {event.partition_key}"
    if event.status is not Status.HANDLED and event.reason:
        text += f": {event.reason[:300]}"
    return text


class InboxFollower:
    """Reports each inbox event once it is settled (HANDLED, FAILED, INVALID, RETRY, WAITING);
    IGNORED events (other phases, duplicates) are left to `mm-platform inbox`."""

    def __init__(self, inbox: EventInbox, echo: Callable[[str], None]) -> None:
        self.inbox, self.echo = inbox, echo
        self.last_id = inbox.latest_id()  # what happened before this start is not news
        self.pending: dict[int, Status] = {}

    def poll(self) -> None:
        while True:
            batch = self.inbox.select(after_id=self.last_id, limit=500)
            self._report(batch)
            if len(batch) < 500:
                break
            self.last_id = batch[-1].id
        if self.pending:
            self._report(self.inbox.get(list(self.pending)))

    def _report(self, events: Iterable[InboxEvent]) -> None:
        for event in events:
            self.last_id = max(self.last_id, event.id)
            if event.status is Status.NEW:
                self.pending[event.id] = event.status
                continue
            if self.pending.get(event.id) == event.status:
                continue
            if event.status in SETTLED:
                self.echo(f"{time.strftime('%H:%M:%S')} {describe(event)}")
            if event.status is Status.RETRY or event.status is Status.WAITING:
                self.pending[event.id] = event.status  # its next status is news too
            else:
                self.pending.pop(event.id, None)

    def follow(self, stop: threading.Event, every: float = 2.0) -> None:
        while not stop.wait(every):
            try:
                self.poll()
            except Exception as exc:  # the terminal view must never stop the stack
                self.echo(f"(inbox not readable: {exc})")
