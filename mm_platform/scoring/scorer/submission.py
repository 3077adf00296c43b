"""Fetching and unpacking a submission. Any problem here is the submission's (or its URL's) fault and
ends the scorer with a non-zero exit: a SubmissionError."""

from __future__ import annotations

import io
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

SOLUTION_FILE = "solution.py"
DOWNLOAD_TIMEOUT_SECONDS = 30.0
# bounds that keep a hostile or broken upload from filling the scorer's disk or memory
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024


class SubmissionError(Exception):
    """The submission cannot be scored at all (not downloadable, not a zip, no solution.py)."""


def download(url: str, timeout: float = DOWNLOAD_TIMEOUT_SECONDS) -> bytes:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        # file:// and friends would let a submission URL read the scorer's own files
        raise SubmissionError(f"submission URL must be http(s), got {scheme or 'no'} scheme")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise SubmissionError(f"download failed: HTTP {error.code} for {url}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SubmissionError(f"download failed: {error} for {url}") from None
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise SubmissionError(f"submission is larger than {MAX_DOWNLOAD_BYTES} bytes")
    return data


def unpack(data: bytes, directory: Path) -> Path:
    """Extract the zip into `directory` and return its solution.py."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise SubmissionError(f"submission unpacks to more than {MAX_UNPACKED_BYTES} bytes")
            # extractall drops absolute paths and `..` parts, so nothing lands outside `directory`
            archive.extractall(directory)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise SubmissionError(f"submission is not a valid zip archive: {error}") from None
    solution = directory / SOLUTION_FILE
    if not solution.is_file():
        raise SubmissionError(f"submission has no {SOLUTION_FILE} at the top of the archive")
    return solution
