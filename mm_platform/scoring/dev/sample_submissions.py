"""Sample submissions for the sample scorer (`scoring.scorer`), as zip bytes: the embedded stack and the
tests upload them and score them for real. Deterministic: the same call gives the same bytes.

A solution reads a seed on stdin and prints a number; the scorer compares it with
`random.Random(seed).randint(1, 1000)` (`scorer.problems.target`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

MAX_QUALITY = 100
# a fixed timestamp: zip entries otherwise carry the build time and the bytes would differ per call
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)

_TARGET = """import random
import sys

seed = int(sys.stdin.read())
target = random.Random(seed).randint(1, 1000)
"""

_GOOD = (
    _TARGET
    + """# off by a quality-dependent amount that also varies with the seed
miss = {miss} * (1 + seed % 3)
print(target + miss if seed % 2 else target - miss)
"""
)

_BROKEN = (
    _TARGET
    + """if seed % 3 == 0:
    raise ValueError(f"cannot handle seed {seed}")
if seed % 5 == 0:
    print("no idea")
else:
    print(target)
"""
)


def zip_of(files: Mapping[str, str | bytes]) -> bytes:
    """A zip archive holding `files` (name → content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIME), content)
    return buffer.getvalue()


def good_submission(quality: int = MAX_QUALITY) -> bytes:
    """A solution that answers each seed within (100 - quality) * (1 to 3) of the target: quality 100 is
    perfect, lower qualities score lower, so members submitting different qualities rank apart."""
    if not 0 <= quality <= MAX_QUALITY:
        raise ValueError(f"quality must be 0 to {MAX_QUALITY}, got {quality}")
    return zip_of({"solution.py": _GOOD.format(miss=MAX_QUALITY - quality)})


def broken_submission() -> bytes:
    """A solution that raises on seeds divisible by 3 and prints no number on other multiples of 5:
    those tests fail (score -1, with an error), the others are perfect."""
    return zip_of({"solution.py": _BROKEN})


def crashing_submission() -> bytes:
    """Not a zip at all: the scorer cannot unpack it and exits non-zero."""
    return b"this is not a zip archive\n"
