"""``y``: a record's number to the clipboard of the terminal the engineer sits at."""

from __future__ import annotations

from typing import Any

from textual.app import App

from imtui.domain.text import printable
from imtui.tui.text import safe


def copy_text(app: App[Any], value: str | None, what: str) -> None:
    """Put ``value`` on the clipboard of the terminal the engineer sits at (OSC 52: over SSH
    too, where selecting text fights the mouse capture) — made visible first, so a shop's
    number carrying a newline or an escape cannot run in the shell it is pasted into."""
    if not value:
        app.notify(f"no {what} here", timeout=2)
        return
    shown = printable(value)
    app.copy_to_clipboard(shown)
    app.notify(f"copied {what} {safe(shown, limit=60)}", timeout=2)
