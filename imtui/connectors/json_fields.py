"""Case-insensitive access to JSON fields.

The 3PL WMS mixes key cases between endpoints and versions (``ErrorCode`` and ``errorCode``,
``readOnly`` and ``ReadOnly``), so every connector reads remote JSON through :func:`lookup`
instead of indexing dicts directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def lookup(data: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted ``path`` (``"readOnly.orderId"``), matching keys case-insensitively.

    An exact-case key wins over a differently-cased one, so a body with both ``Hint`` and
    ``hint`` reads predictably. Returns ``default`` when any step is missing or not a mapping.
    Keys that themselves contain dots (HAL relation URLs) are looked up with
    :func:`lookup_key`.
    """
    current = data
    for key in path.split("."):
        current = lookup_key(current, key, _MISSING)
        if current is _MISSING:
            return default
    return current


def lookup_key(data: Any, key: str, default: Any = None) -> Any:
    """One key of a mapping, case-insensitively; ``default`` when absent or not a mapping."""
    if not isinstance(data, Mapping):
        return default
    if key in data:
        return data[key]
    folded = key.casefold()
    for candidate, value in data.items():
        if isinstance(candidate, str) and candidate.casefold() == folded:
            return value
    return default


def text(data: Any, path: str) -> str:
    """The field as a string: ``""`` for missing or null, numbers rendered as written.

    Never raises: a list or object where text belongs is rendered as Python writes it, and one
    nested too deeply to render (a hostile body) reads as ``""``, like a missing field.
    """
    value = lookup(data, path)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except (RecursionError, ValueError):  # ValueError: an int past Python's digit limit
        return ""


_MISSING = object()


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time from a JSON field ("…Z" too), in UTC; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # OverflowError: a year past 9999 (or before 1) in UTC
        return None


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC (our watermarks are stored that way)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
