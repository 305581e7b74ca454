"""The footer of keys: one widget drawing one line, changed only when the keys it shows change.

Textual's Footer is a container of a widget per key — a dozen widgets to mount, style and lay
out when a screen opens, and to unmount and mount again whenever a screen says its keys may have
changed (at every change of focus). At 80x24 that was a third of the dashboard's first paint
over a bare Textual app's (issue 15), and it made each screen change wait for a rebuild after
its first paint. This footer is one line of text: what it shows is worked out when a screen's
keys change, compared with what it shows, and redrawn only when they differ.

It reads as Textual's does — each key in the footer's key colours, its description after it,
a key that cannot act now dimmed, the command palette's key at the right — and a click on a key
presses it, as there. Below :data:`NARROW` columns it packs tighter, drops the palette's entry
(``:`` still opens it) and puts the keys a person must always find first.

While a line lies over it (the dashboard's filter line, class ``-covered``), it does not change:
what it would show cannot be seen, and when the line closes the keys are usually the ones it
already shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from textual import events
from textual.content import Content
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.binding import Binding
    from textual.screen import Screen

NARROW = 80
"""Below this many columns the footer packs tighter, drops the palette's entry (``:`` still
opens it) and puts the keys a person must always find first."""
ALWAYS = ("help", "quit", "back")
"""Actions (with or without an ``app.`` prefix) shown first on a narrow terminal: at 60
columns they fell off the end."""


class ShownKey(NamedTuple):
    key: str
    """The key pressed (a click presses it)."""
    display: str
    """The key as shown: ``^p``, ``esc``, ``?``."""
    description: str
    action: str
    enabled: bool


class Place(NamedTuple):
    """Where a key is drawn on the line: ``start <= x < end``."""

    start: int
    end: int
    key: ShownKey


def shown_keys(screen: Screen, *, palette: bool) -> tuple[ShownKey, ...]:
    """What a footer on ``screen`` shows, in order; ``palette``: the command palette's key
    too, last (drawn at the right)."""
    app = screen.app
    active = screen.active_bindings
    chosen: list[tuple[Binding, bool]] = []
    actions: set[str] = set()
    for _, binding, enabled, _ in active.values():
        if binding.show and binding.action not in actions:  # one entry per action, as Footer
            actions.add(binding.action)
            chosen.append((binding, enabled))
    if palette and app.ENABLE_COMMAND_PALETTE:
        found = active.get(app.COMMAND_PALETTE_BINDING)
        if found is not None:
            chosen.append((found[1], found[2]))
    return tuple(
        ShownKey(b.key, app.get_key_display(b), b.description, b.action, enabled)
        for b, enabled in chosen
    )


def _always(action: str) -> bool:
    return action.removeprefix("app.").split("(")[0] in ALWAYS


class KeyBar(Widget, can_focus=False):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .keybar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .keybar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .keybar--hover {
            background: $block-hover-background;
        }
        & > .keybar--palette {
            color: $foreground 20%;
        }
    }
    """
    COMPONENT_CLASSES = {"keybar--key", "keybar--description", "keybar--hover", "keybar--palette"}
    ALLOW_SELECT = False

    def __init__(
        self,
        *,
        show_command_palette: bool = True,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.show_command_palette = show_command_palette
        self.compact = False
        self._keys: tuple[ShownKey, ...] | None = None
        self._places: list[Place] = []
        self._hover: ShownKey | None = None
        self.changes = 0
        """How many times the keys shown changed (each a repaint of this line only)."""

    @property
    def keys(self) -> tuple[ShownKey, ...]:
        """The keys shown, in the order they are drawn."""
        if self._keys is None:
            self._keys = self._read_keys(self.screen)
        return self._keys

    def _read_keys(self, screen: Screen) -> tuple[ShownKey, ...]:
        keys = shown_keys(screen, palette=self.show_command_palette and not self.compact)
        if not self.compact:
            return keys
        first = tuple(key for key in keys if _always(key.action))
        return first + tuple(key for key in keys if key not in first)

    # -- when the keys change ----------------------------------------------------------------

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen or self.has_class("-covered"):
            return
        keys = self._read_keys(screen)
        if keys != self._keys:
            self._keys = keys
            self.changes += 1
            self.refresh()

    # -- drawing -----------------------------------------------------------------------------

    def render(self) -> Content:
        narrow = self.size.width < NARROW
        if narrow != self.compact:  # known here, as it is drawn: not a second paint after it
            self.compact = narrow
            self._keys = None  # read again, in the narrow order
        keys = self.keys
        palette = keys[-1] if keys and self._palette_shown(keys) else None
        parts: list[Content] = []
        places: list[Place] = []
        x = 0
        for key in keys:
            if key is palette:
                continue
            part = self._part(key)
            places.append(Place(x, x + part.cell_length, key))
            parts.append(part)
            x += part.cell_length
            if self.compact:
                parts.append(Content(" "))
                x += 1
        line = Content("").join(parts)
        if palette is not None:
            edge = ("▏", self.get_visual_style("keybar--palette"))
            part = Content.assemble(edge, self._part(palette))
            room = self.size.width - line.cell_length - part.cell_length
            if room >= 1:
                places.append(Place(x + room + 1, x + room + part.cell_length, palette))
                line = line + Content(" " * room) + part
        self._places = places
        return line

    def _palette_shown(self, keys: tuple[ShownKey, ...]) -> bool:
        app = self.app
        last = keys[-1]
        return (
            self.show_command_palette
            and not self.compact
            and app.ENABLE_COMMAND_PALETTE
            and last.key == app.COMMAND_PALETTE_BINDING
        )

    def _part(self, key: ShownKey) -> Content:
        key_style = self.get_visual_style("keybar--key")
        description_style = self.get_visual_style("keybar--description")
        if key == self._hover:
            hover = self.get_visual_style("keybar--hover")
            key_style, description_style = key_style + hover, description_style + hover
        if self.compact:
            shown_key, description = key.display, f" {key.description}"
        else:
            shown_key, description = f" {key.display} ", f"{key.description} "
        shown = Content.assemble((shown_key, key_style), (description, description_style))
        return shown if key.enabled else shown.stylize("dim")

    # -- the mouse ---------------------------------------------------------------------------

    def _key_at(self, x: int) -> ShownKey | None:
        for place in self._places:
            if place.start <= x < place.end:
                return place.key
        return None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        key = self._key_at(event.x)
        if key != self._hover:
            self._hover = key
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        key = self._key_at(event.x)
        if key is None:
            return
        event.stop()
        if key.enabled:
            self.app.simulate_key(key.key)
        else:
            self.app.bell()
