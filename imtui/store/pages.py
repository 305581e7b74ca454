"""Keyset pages for the read queries of the CLI and the dashboard: how many rows a page may hold
and the ``after`` cursors a list hands out (``<id>``, or ``<time>|<id>`` for the due queue).

Every page is a keyset page (``WHERE id < :cursor ORDER BY id DESC LIMIT n``, or a sort key plus
the id), never an OFFSET, so it costs the same on the first page and the ten-thousandth.
"""

from __future__ import annotations

from datetime import datetime

from imtui.store.rows import InvalidCursor

MAX_PAGE = 1000


def clamp(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


def id_cursor(after: str | None) -> int | None:
    if after is None or after == "":
        return None
    if not after.isdigit():
        raise InvalidCursor(f"not a cursor from this list: {after!r}")
    return int(after)


def time_id_cursor(after: str) -> tuple[datetime, int]:
    when, _, item_id = after.rpartition("|")
    try:
        parsed = datetime.fromisoformat(when)
    except ValueError as exc:
        raise InvalidCursor(f"not a cursor from this list: {after!r}") from exc
    if parsed.tzinfo is None or not item_id.isdigit():
        raise InvalidCursor(f"not a cursor from this list: {after!r}")
    return parsed, int(item_id)
