"""How values look in a cell: ages, countdowns, and untrusted text made safe and short.

Everything a shop customer or a remote system wrote goes through :func:`safe` before it is
drawn: control and escape characters become visible escapes (``\\x1b``), bidi overrides,
zero-width characters and line separators too (``\\u202e``, ``\\u200b``, ``\\u2028``), and the
text is never parsed as markup (it is drawn as plain segments or ``Content``, never an
f-string into markup).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from typing import TYPE_CHECKING

from rich.text import Text

from imtui.domain.text import printable

if TYPE_CHECKING:
    from imtui.store.rows import HeaderCounts, SetupState

CELL_LIMIT = 400
"""No cell needs more than this many characters; a 100 KB message is cut before any work."""


def safe(value: object, *, limit: int = CELL_LIMIT) -> str:
    """One line of untrusted text, safe to draw, at most ``limit`` characters."""
    if value is None:
        return ""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return printable(text)


def safe_block(value: object, *, limit: int = 20_000) -> Text:
    """Untrusted multi-line text as a plain ``Text`` (no markup, newlines kept)."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        text = text[:limit] + f"… ({len(str(value)) - limit:,} more characters)"
    return Text(printable(text, keep_newlines=True), no_wrap=False)


def span(delta: timedelta) -> str:
    """A compact length of time: 42s, 12m, 3h, 5d."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return ""
    return span(now - when)


def countdown(when: datetime | None, now: datetime) -> str:
    """ "now", "in 12m", or "3m late" for a time that has passed (a busy or stopped worker)."""
    if when is None:
        return "—"
    delta = when - now
    if abs(delta.total_seconds()) < 1:
        return "now"
    if delta.total_seconds() > 0:
        return f"in {span(delta)}"
    return f"{span(delta)} late" if delta.total_seconds() < -60 else "now"


ZONE_VARIABLE = "IMTUI_TZ"


@cache
def display_zone() -> tuple[tzinfo, str | None]:
    """The one zone every time on screen is shown in: ``IMTUI_TZ`` (an IANA name such as
    Europe/Berlin, or UTC) if set, else the machine's own; and why not, when ``IMTUI_TZ``
    names no zone (then UTC, said once in the dashboard)."""
    name = os.environ.get(ZONE_VARIABLE, "").strip()
    if not name:
        local = datetime.now().astimezone().tzinfo
        return (local or UTC), None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only when a zone is named

    try:
        return ZoneInfo(name), None
    except (ZoneInfoNotFoundError, ValueError):
        return UTC, f"{ZONE_VARIABLE}={printable(name)[:60]} is not a time zone: times are in UTC"


def in_zone(when: datetime) -> datetime:
    """``when`` in the display zone (a time without a zone is the store's UTC)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(display_zone()[0])


def stamp(when: datetime | None) -> str:
    """A moment in full, with its zone's name: "2026-12-06 09:00:05 CET"."""
    return in_zone(when).strftime("%Y-%m-%d %H:%M:%S %Z") if when is not None else "—"


def short_stamp(when: datetime | None) -> str:
    return in_zone(when).strftime("%m-%d %H:%M") if when is not None else "—"


def clock_time(when: datetime) -> str:
    """The time of day, in the display zone: "09:00:05"."""
    return in_zone(when).strftime("%H:%M:%S")


def zone_name(when: datetime) -> str:
    """The display zone's name at ``when`` ("CET", "CEST", "UTC")."""
    return in_zone(when).strftime("%Z")


HOLD_REASONS = {
    "incomplete_address": "the ship-to address is incomplete",
    "address_rejected": "the WMS rejected the address",
    "unmapped_ship_method": "its ship method has no mapping",
    "unknown_carrier": "the WMS does not know the carrier",
    "unknown_sku": "the WMS does not know a SKU",
    "validation": "the WMS rejected it",
    "credentials_rejected": "the WMS refused the credentials",
}


def hold_reason(code: str | None) -> str:
    """Why an order is held, in words (the code itself when it is a new one)."""
    if not code:
        return ""
    return HOLD_REASONS.get(code, safe(code).replace("_", " "))


def quiet_note(counts: HeaderCounts) -> str | None:
    """What an empty alerts pane says instead of "all quiet" (None: nothing to say): what is
    not set up yet, or the records that wait for a person though no alert is open (one was
    dismissed: dismissing closes the alert, not the hold)."""
    note = setup_note(counts.setup)
    if note is not None:
        return note
    waiting = [f"{counts.held} held"] if counts.held else []
    waiting += [f"{counts.skipped} skipped"] if counts.skipped else []
    if waiting:
        return f"no open alert, but records wait: {', '.join(waiting)} — 3 shows them"
    return None


def setup_note(setup: SetupState | None) -> str | None:
    """What an empty alerts pane says while the accounts in view are not set up to move an
    order (None when they are, or before it is known): which account lacks what, and the key
    that sets it up."""
    if setup is None or setup.complete:
        return None
    if not setup.accounts:
        return "no account yet — A sets one up: an account, its shop, its WMS"
    lacking: dict[str, list[str]] = {}
    for name in setup.without_source:
        lacking.setdefault(name, []).append("no shop")
    for name in setup.without_wms:
        lacking.setdefault(name, []).append("no WMS")
    name, what = next(iter(lacking.items()))
    more = f" (and {len(lacking) - 1} more accounts)" if len(lacking) > 1 else ""
    return f"{safe(name, limit=40)} has {' and '.join(what)} connection yet{more} — A adds it"
