"""Checks of single JSON-decoded values shared by the scoring rules. Pure: no Dagster, no I/O.

Each check either returns the typed value or raises FieldError naming the field and the problem, for any
value `json.loads` can produce (NaN and huge integers included), never another exception.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 256
MAX_URL_LENGTH = 2048
INT64_MAX = 2**63 - 1
# ids end up in SSM parameter paths, partition keys and API paths: no slashes, spaces or controls
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


class FieldError(ValueError):
    """One field is unusable; `field` names it and `problem` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def type_name(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages a person reads."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _refuse_non_finite(value: Any, field: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError(field, f"must be a finite number, got {value}")


def text(value: Any, field: str, max_length: int = MAX_TEXT_LENGTH) -> str:
    """A non-empty string (surrounding blanks removed) of at most `max_length` characters."""
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type_name(value)}")
    stripped = value.strip()
    if not stripped:
        raise FieldError(field, "is empty")
    if len(stripped) > max_length:
        raise FieldError(field, f"is longer than {max_length} characters")
    # NUL, control characters and lone surrogates cannot be stored (PostgreSQL text, UTF-8 JSON)
    if not stripped.isprintable():
        raise FieldError(field, "holds control characters or invalid code points")
    return stripped


def storable(message: str) -> str:
    """Free text from a program (a scorer's error) made safe to store: NUL removed, lone surrogates
    replaced, so one odd byte never fails the write of a whole result."""
    return message.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def integer(value: Any, field: str, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """An integer in [minimum, maximum]; integral floats and ASCII digit strings are accepted because
    hand-written JSON and other producers send them."""
    _refuse_non_finite(value, field)
    if isinstance(value, bool):
        raise FieldError(field, "must be an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # length bound first: int() of a 5,000-digit string raises ValueError (Python's digit limit)
    elif (
        isinstance(value, str)
        and 0 < len(value.strip()) <= 19
        and value.strip().isascii()
        and value.strip().isdigit()
    ):
        value = int(value.strip())
    if not isinstance(value, int):
        raise FieldError(field, f"must be an integer, got {type_name(value)}")
    if not minimum <= value <= maximum:
        raise FieldError(field, f"must be between {minimum} and {maximum}")
    return value


def identifier(value: Any, field: str) -> str:
    """An id as text: a string of safe characters or a non-negative integer (member ids are numbers)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(integer(value, field))
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string or an integer, got {type_name(value)}")
    ident = text(value, field, MAX_ID_LENGTH)
    if not _ID_PATTERN.fullmatch(ident):
        raise FieldError(field, "may only hold letters, digits and . _ : -")
    return ident


def http_url(value: Any, field: str) -> str:
    """An absolute http(s) URL with a host; percent-encoded ASCII as producers publish it."""
    url = text(value, field, MAX_URL_LENGTH)
    if not url.isascii() or not url.isprintable() or " " in url:
        raise FieldError(field, "must be a percent-encoded URL without spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as error:
        raise FieldError(field, f"is not a valid URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FieldError(field, f"must be an http(s) URL, got scheme {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise FieldError(field, "has no host")
    return url


def timestamp(value: Any, field: str) -> datetime:
    """An ISO-8601 date-time as an aware UTC datetime; one without offset is taken as UTC, the
    convention of Topcoder's APIs."""
    raw = text(value, field, 64)
    try:
        parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1] in "zZ" else raw)
    except ValueError:
        raise FieldError(field, f"is not an ISO-8601 date-time: {raw!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # year 1 at +01:00 is before datetime.min in UTC
        raise FieldError(field, f"is out of range: {raw!r}") from None


def boolean(value: Any, field: str) -> bool:
    """A JSON boolean; "true"/1 are refused because a misspelt flag should not silently flip."""
    if not isinstance(value, bool):
        raise FieldError(field, f"must be true or false, got {type_name(value)}")
    return value


def finite_number(value: Any, field: str, bound: float) -> float:
    """A finite number with |value| <= bound."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(field, f"must be a number, got {type_name(value)}")
    _refuse_non_finite(value, field)
    # compare ints exactly: float() of a 400-digit integer raises OverflowError
    if abs(value) > bound:
        raise FieldError(field, f"is beyond ±{bound:g}")
    return float(value)
