"""Holding the screen still while a change that comes in two steps completes.

Applying a filter is two steps a frame or more apart: focus moves from the filter line to the
pane as enter is read (so keys typed after enter already go to the pane), and the rows arrive
when a worker has read them. Painted separately, the table is drawn twice — once with the old
rows in its focused colours, once with the new — and the key costs two frames. A hold keeps
what is on the terminal until the second step is done, then paints once; keys are still read
and acted on meanwhile. It never holds longer than its limit: a slow read shows its "reading…"
title rather than a frozen screen.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from textual.app import App

HOLD_S = 0.1
"""Longest a change is held back: past this, the first step is painted on its own."""


class PaintHold:
    def __init__(self, app: App[Any], limit: float = HOLD_S) -> None:
        self._held = ExitStack()
        self._held.enter_context(app.batch_update())
        self._timer = app.set_timer(limit, self.release, name="paint-hold")

    def release(self) -> None:
        """Paint what changed meanwhile; a second release does nothing."""
        self._timer.stop()
        self._held.close()
