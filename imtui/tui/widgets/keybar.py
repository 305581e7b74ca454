"""The footer of keys, rebuilt only when the keys it shows change.

Textual's Footer rebuilds itself — a dozen widgets unmounted, mounted and styled — every time a
screen says its bindings may have changed, which it says at every change of focus. Applying a
filter moves focus from the filter line back to the pane, so each filter paid for two rebuilds
and two repaints of a footer that read the same before and after (about 40 ms on two cores,
more than the query itself). This footer compares what it would show with what it shows, and
leaves itself alone when they are equal.

While a line lies over it (the dashboard's filter line, class ``-covered``), it does not rebuild
at all: what it would show cannot be seen, and when the line closes the keys are usually the ones
it already shows.

A rebuild is the last step of a screen change: the change's one paint waits for it
(:class:`imtui.tui.frames.BuildsLate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from imtui.tui.frames import BuildsLate

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.screen import Screen

NARROW = 80
"""Below this many columns the footer packs tighter, drops the palette's entry (``:`` still
opens it) and puts the keys a person must always find first."""
ALWAYS = ("help", "quit", "back")
"""Actions (with or without an ``app.`` prefix) shown first on a narrow terminal: at 60
columns they fell off the end."""

Shown = tuple[tuple[str, str, str, bool, str], ...]


def shown_keys(screen: Screen) -> Shown:
    """What a footer on ``screen`` would show: key, description, action, enabled, tooltip."""
    return tuple(
        (binding.key, binding.description, binding.action, enabled, tooltip)
        for (_, binding, enabled, tooltip) in screen.active_bindings.values()
        if binding.show
    )


class KeyBar(BuildsLate, Footer):
    _showing: Shown | None = None

    async def recompose(self) -> None:
        try:
            await super().recompose()
        finally:
            self.building_ends()

    def compose(self) -> ComposeResult:
        items = list(super().compose())
        if not self.compact:
            yield from items
            return
        first = [i for i in items if isinstance(i, FooterKey) and _always(i.action)]
        yield from first
        yield from (i for i in items if not any(i is f for f in first))

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW
        if narrow != self.compact:
            self.compact = narrow
            self.show_command_palette = not narrow
            self._showing = None
            self.building_starts()
            self.call_later(self.recompose)

    def bindings_changed(self, screen: Screen) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)  # not rebuilt now: nothing is known to be shown
            return
        if self.has_class("-covered"):
            return
        keys = shown_keys(screen)
        if keys != self._showing:
            self._showing = keys
            self.building_starts()  # Footer rebuilds after the next refresh
            super().bindings_changed(screen)


def _always(action: str) -> bool:
    return action.removeprefix("app.").split("(")[0] in ALWAYS
