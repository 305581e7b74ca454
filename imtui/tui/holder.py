"""What every app of this package shares: notifications in plain text, one paint per screen
change, and a backend opened in a worker after the first paint, which nothing may use before
then."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Generic, TypeVar

from rich.console import RenderableType
from textual import events, on
from textual.app import App
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer

from imtui.tui.frames import SETTLE_S, ReadsBeforePaint, ScreenChangeHold

if TYPE_CHECKING:
    from imtui.tui.backend import Backend  # the heavy half: loaded after the first paint

B = TypeVar("B", bound="Backend")


class HoldsBackend(Generic[B]):
    _backend: B | None = None

    @property
    def backend(self) -> B:
        if self._backend is None:
            raise RuntimeError("the database is still being opened")
        return self._backend

    @property
    def backend_ready(self) -> bool:
        return self._backend is not None


TERMINAL_CHECK_S = 1.0
"""How often the app looks whether its terminal is still there."""


class PlainApp(App[None]):
    _screen_hold: ScreenChangeHold | None = None
    _hold_timer: Timer | None = None

    @on(events.Mount)
    def _watch_the_terminal(self) -> None:
        """Leave once the terminal is gone. A hang-up signal says so when the terminal is the
        process's controlling one; when it is not (a program that started us without one),
        Textual's input thread reads end-of-file and spins a core, and nothing else notices."""
        stdin = sys.__stdin__
        if self.is_headless or stdin is None or not os.isatty(stdin.fileno()):
            return
        fd = stdin.fileno()
        self.set_interval(TERMINAL_CHECK_S, lambda: None if os.isatty(fd) else self.exit())

    @on(events.Mount)
    def _hold_paints_on_screen_changes(self) -> None:
        """From here on, each screen change is painted once (imtui.tui.frames)."""
        self._screen_hold = ScreenChangeHold()
        self._hold_timer = self.set_interval(SETTLE_S / 3, self._paint_if_due, pause=True)
        self.screen_change_signal.subscribe(self, self._screen_changed, immediate=True)

    def _screen_changed(self, _screen: Screen[object]) -> None:
        if self._screen_hold is not None and self._hold_timer is not None:
            self._screen_hold.begin(time.monotonic())
            self._hold_timer.resume()

    def _paint_if_due(self) -> None:
        """The screen is painted once it is quiet: nothing kept for SETTLE_S, and then every
        part of it has handled what it had queued without a paint being kept meanwhile (on a
        busy machine the steps of a change come further apart than SETTLE_S)."""
        hold = self._screen_hold
        if hold is None:
            return
        if not self.screen_stack:  # leaving: the last screen is gone, nothing to paint
            self._paint_held()
            return
        if hold.overdue(time.monotonic()):
            self._paint_held()  # whatever a round still waits for
            return
        if hold.checking:
            return
        screen = self.screen
        reading = False
        if isinstance(screen, ReadsBeforePaint):
            reading = screen.reading
            hold.last_change = max(hold.last_change, screen.last_read)
        now = time.monotonic()
        if not hold.due(now, reading=reading):
            return
        hold.checking = True
        hold.rounds += 1
        this_round, changes = hold.rounds, hold.changes
        nodes = [self, *screen.walk_children(with_self=True)]
        waiting = len(nodes)

        def handled() -> None:
            nonlocal waiting
            waiting -= 1
            if waiting == 0 and hold.checking and hold.rounds == this_round:
                hold.checking = False
                if hold.changes == changes:
                    self._paint_held()

        for node in nodes:
            if not node.call_later(handled):
                handled()  # not running: nothing queued there

    def _paint_held(self) -> None:
        if self._hold_timer is not None:
            self._hold_timer.pause()
        if self._screen_hold is not None and self._screen_hold.end() and self.screen_stack:
            self.screen.refresh()  # whole: what was kept is not on the terminal

    def _display(self, screen: Screen[object], renderable: RenderableType | None) -> None:
        """Textual's one way to the terminal: kept back while a screen change is held."""
        hold = self._screen_hold
        if renderable is not None and hold is not None and hold.holding:
            hold.keep(time.monotonic())
            return
        super()._display(screen, renderable)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text: its words often come from a shop or a remote
        system (a resend's summary, a ship-method code), and "[/]" there must show as typed,
        not crash the app or become a clickable action. (Screens' notify comes here too.)"""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)
