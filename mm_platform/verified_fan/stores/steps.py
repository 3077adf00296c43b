"""One step of a campaign's flow over its staged parts: take the parts due for the step, merge their
records, let the caller do the work, and mark the parts done only when that work succeeded — a
failure leaves them due for the next run (see `ledger`), counted as a failed attempt; a part that
fails that often is quarantined so the parts behind it proceed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mm_platform.verified_fan.rules.records import latest_per_member, rejected_rows, slices
from mm_platform.verified_fan.stores.ledger import Ledger, Part
from mm_platform.verified_fan.stores.staging import get_part

DEFAULT_MAX_ATTEMPTS = 5  # as the setting's default (MM_PLATFORM_VF_PART_MAX_ATTEMPTS)


def load_records(s3: Any, parts: list[Part]) -> pd.DataFrame:
    """The parts (in upload order) as one normalized record per member, the latest file winning."""
    frames = []
    for part in parts:
        frame = get_part(s3, part.staged_uri)
        frame["file_ref"] = part.file_ref
        frame["object_key"] = part.object_key
        frame["upload_order"] = part.upload_order
        frames.append(frame)
    return latest_per_member(frames)


@dataclass(frozen=True)
class DueStep:
    """The work of one step: the campaign's parts due for it and their records, merged."""

    ledger: Ledger
    s3: Any
    campaign_id: str
    kind: str
    owner: str  # the run that does the step
    parts: list[Part]
    records: pd.DataFrame

    def slices(self) -> Iterator[list[dict[str, Any]]]:
        """The records a slice at a time (see `records.slices`)."""
        return slices(self.records)

    def slices_per_part(self) -> Iterator[list[dict[str, Any]]]:
        """Each part's own records, part after part in upload order, a slice at a time. For effects a
        later file cannot take back (the Entry Service keeps a record it was sent): what is sent must
        not depend on whether two files were applied by one run or by two."""
        for part in self.parts:
            yield from slices(load_records(self.s3, [part]))

    def refuse(self, records: list[dict[str, Any]], refused: list[tuple[str, str]], stage: str) -> None:
        """Keep the (member key, reason) pairs refused at `stage` in the ledger, with file and line."""
        if refused:
            self.ledger.record_rejects(rejected_rows(records, refused, self.kind, stage))


@contextmanager
def due_step(
    ledger: Ledger,
    s3: Any,
    campaign_id: str,
    kind: str,
    step: str,
    owner: str,
    *,
    after: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Iterator[DueStep]:
    """The campaign's parts of `kind` due for `step` (and done with `after`), marked done by `owner`
    when the block exits without an error; an error leaves them due and counts a failed attempt
    (`max_attempts` of them quarantine a part)."""
    parts = ledger.due(campaign_id, kind, step, after=after)
    if any(p.attempts for p in parts):
        # the step failed with these parts: take them one at a time (upload order) so that only
        # the part at fault keeps failing and reaches the quarantine
        parts = parts[:1]
    try:
        yield DueStep(ledger, s3, campaign_id, kind, owner, parts, load_records(s3, parts))
    except Exception as exc:
        ledger.failed([p.id for p in parts], f"{type(exc).__name__}: {exc}", max_attempts)
        raise
    ledger.mark([p.id for p in parts], step, owner)
