"""Holding the screen still while a change that comes in steps completes: one paint per change.

Applying a filter is two steps a frame or more apart: focus moves from the filter line to the
pane as enter is read (so keys typed after enter already go to the pane), and the rows arrive
when a worker has read them. Painted separately, the table is drawn twice — once with the old
rows in its focused colours, once with the new — and the key costs two frames. A hold keeps
what is on the terminal until the second step is done, then paints once; keys are still read
and acted on meanwhile. It never holds longer than its limit: a slow read shows its "reading…"
title rather than a frozen screen.

A screen change (a detail, help, a form, back) comes in more steps: Textual paints the new
screen as it builds it — its frame, its content once read, again when a scrollbar appears and
text rewraps — three or four full paints for one key (18–26 KB at 80x24, three seconds on a
64 kbit/s link). A batch would stop the layouts those steps
need, so instead the app keeps from the terminal what it would write (:class:`ScreenChangeHold`,
applied by :class:`imtui.tui.holder.PlainApp`) and paints the screen once: when it has read what
it shows and nothing more has changed for :data:`SETTLE_S`, and at the latest :data:`LONGEST_S`
after the change (a screen that never settles is painted as it is then).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
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


# -- screen changes ----------------------------------------------------------------------------

SETTLE_S = 0.03
"""Quiet after the last change before the screen is painted: longer than the gap between a
screen's own steps (its footer, a rewrap), short enough not to be felt."""
LONGEST_S = 0.5
"""The longest a screen change keeps the terminal waiting: a slow read shows "loading…" then."""


class ReadsBeforePaint:
    """A screen that reads what it shows as it opens or comes back on top: its paint waits for
    the read (a frame saying "loading…" for 40 ms, or last minute's rows, is a paint the
    terminal need not get)."""

    last_read: float = 0.0
    """When (monotonic) what was read was last put on the screen: Textual paints it a frame
    later, so the quiet that ends a hold counts from here too."""

    @property
    def reading(self) -> bool:
        """Rows asked for are not shown yet."""
        return False

    def note_read(self) -> None:
        self.last_read = time.monotonic()


@dataclass
class ScreenChangeHold:
    """Whether the terminal is being kept waiting for a screen change, since when, and what
    was kept from it meanwhile."""

    since: float | None = None
    last_change: float = 0.0
    changes: int = 0
    """Paints kept (and changes begun): a check that sees this move knows it was not quiet."""
    kept: bool = False
    checking: bool = False
    """Every part of the screen is being asked whether it has work queued (see holder.py)."""
    rounds: int = 0
    """Rounds of asking begun: a round's answers count only while it is the latest."""

    @property
    def holding(self) -> bool:
        return self.since is not None

    def begin(self, now: float) -> None:
        """A screen change: hold from now (a change during a hold extends it)."""
        if self.since is None:
            self.since = now
        self.last_change = now
        self.changes += 1

    def keep(self, now: float) -> None:
        """A paint was kept from the terminal."""
        self.kept = True
        self.last_change = now
        self.changes += 1

    def due(self, now: float, *, reading: bool) -> bool:
        """Time to paint, if nothing is queued: read and quiet for SETTLE_S, or overdue."""
        if self.since is None:
            return False
        return self.overdue(now) or (not reading and now - self.last_change >= SETTLE_S)

    def overdue(self, now: float) -> bool:
        """Held LONGEST_S already: paint as it is."""
        return self.since is not None and now - self.since >= LONGEST_S

    def end(self) -> bool:
        """Stop holding; whether a paint was kept (and the screen must be painted whole)."""
        kept = self.kept
        self.since, self.kept, self.checking = None, False, False
        self.rounds += 1  # a round still on its way answers nothing now
        return kept
