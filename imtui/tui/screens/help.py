"""``?``: every key, from the same list the bindings are made of, grouped by what it acts on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from imtui.domain.retry import ORDER_SKIP_WINDOW
from imtui.tui.keymap import APP_KEYS, DASHBOARD_KEYS, KeyAction, key_display, own_bindings
from imtui.tui.permissions import refusals
from imtui.tui.widgets.keybar import KeyBar
from imtui.tui.widgets.scroll_text import ScrollText

SECTIONS = ("Rows", "Everything matching the filter", "Panes", "In the filter", "Email", "App")
MOVING = (
    "up/down j/k · pgup/pgdn ctrl+b/ctrl+f · home/end g/G move the cursor; "
    "in forms tab/shift+tab (or enter) go field to field, ctrl+s saves, esc leaves."
)
FILTER_HELP = (
    "alerts  state:open|resolved|dismissed|all  kind:<kind>  text\n"
    "orders  status:queued|held|delivered|…  method:<code>  text\n"
    "queue   state:due|held|skipped|done|all  op:deliver|tracking|inventory  text\n"
    "e.g. on orders, 'status:held method:SAME_DAY_COURIER' then R resends all of them."
)
STATE_HELP = (
    ("!", "open, needs a person"),
    ("↻", "open, retried by itself"),
    ("✓", "fixed: a retry got through, or a fix was saved (in the saver's name)"),
    ("–", "closed by a person (dismissed)"),
    ("N", "times seen: each failed try that repeated it, each order held for it"),
)
COUNTS_HELP = (
    ("alerts", "open alerts"),
    ("act", "of those, the ones only a person can fix"),
    ("due", "queue rows whose next try is now (a row in state due waits for its NEXT time)"),
    ("held", "records waiting for a person's fix: not tried until then, never skipped"),
    ("skip", "records given up on after their retry window: r resends them"),
    ("⟳", "when the engine's next cycle starts"),
    ("elsewhere", "this dashboard runs no engine; another process does (no engine running!: none)"),
)
QUEUE_HELP = (
    ("sending", "NEXT: a worker is sending it now"),
    ("?in 12m", "NEXT: the last try got no answer; the next one asks the WMS first (never twice)"),
)
ORDER_STATUS_HELP = (
    ("queued", "on its way to the WMS (or waiting for its next try)"),
    ("held", "waiting for a person: the HELD FOR column or its detail says why"),
    ("delivered", "the WMS has it"),
    ("shipped", "the WMS shipped it; tracking goes to the shop next"),
    ("fulfilled", "the shop has the tracking: done"),
    ("skipped", f"given up on after {ORDER_SKIP_WINDOW.days} days of tries: r resends it"),
    ("cancelling", "cancelled in the shop after it reached the WMS: being cancelled there"),
    ("cancelled", "cancelled in the shop: never sent, or cancelled in the WMS"),
)


def screen_keys(screen: Screen[Any]) -> tuple[str, list[tuple[str, str]]]:
    """A screen's name and its own keys (not the app's), as the help lists them."""
    keys: dict[str, list[str]] = {}
    for active in own_bindings(screen):
        binding = active.binding
        what = binding.tooltip or binding.description
        keys.setdefault(what, []).append(screen.app.get_key_display(binding))
    heading = getattr(screen, "heading", "")
    name = (heading() if callable(heading) else heading) or type(screen).__name__
    return f"this screen: {name.removesuffix('Screen')}", [
        (", ".join(shown), what) for what, shown in keys.items()
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def __init__(
        self, keymap: dict[str, str], here: tuple[str, list[tuple[str, str]]] | None = None
    ) -> None:
        """``here``: the screen it was asked from (not the dashboard) and its own keys, listed
        first as (keys, what they do)."""
        super().__init__()
        self.keymap = keymap
        self.here = here

    def compose(self) -> ComposeResult:
        with ScrollText(id="help"):
            refused = self._refused((*DASHBOARD_KEYS, *APP_KEYS))
            if refused:  # first: why keys this person may expect are not offered
                yield Static(Content.styled("Not yours to do", "bold"), classes="help-section")
                yield Static(self._words(refused))
            if self.here is not None:
                name, here_keys = self.here
                yield Static(Content.styled(f"On {name}", "bold"), classes="help-section")
                yield Static(self._words(here_keys))
                yield Static(Content.styled("On the dashboard", "bold"), classes="help-section")
            keys = (*DASHBOARD_KEYS, *APP_KEYS)
            sections = dict.fromkeys((*SECTIONS, *(key.section for key in keys)))
            for section in sections:
                yield Static(Content.styled(section, "bold"), classes="help-section")
                yield Static(self._table([k for k in keys if k.section == section]))
            yield Static(Content.styled("Moving", "bold"), classes="help-section")
            yield Static(Content(MOVING), classes="help-text")
            yield Static(Content.styled("Filters (/)", "bold"), classes="help-section")
            yield Static(Content(FILTER_HELP), classes="help-text")
            for heading, rows in (
                ("Alerts: state (S) and count (N)", STATE_HELP),
                ("Order status", ORDER_STATUS_HELP),
                ("Retry queue", QUEUE_HELP),
                ("Header counts", (*COUNTS_HELP, *self._clock_words())),
            ):
                yield Static(Content.styled(heading, "bold"), classes="help-section")
                yield Static(self._words(rows))
        yield KeyBar()  # esc closes: said where the footer always is

    def _table(self, keys: list[KeyAction]) -> Table:
        return self._words([(key_display(self.app, key, self.keymap), key.help) for key in keys])

    def _refused(self, keys: Iterable[KeyAction]) -> list[tuple[str, str]]:
        """The keys hidden from this person, with why (their role; imtui.domain.people)."""
        shown = {key.action: key_display(self.app, key, self.keymap) for key in keys}
        by_reason: dict[str, list[str]] = {}
        for action, why in refusals(self.app):
            if action in shown:
                by_reason.setdefault(why, []).append(shown[action])
        return [(", ".join(keys), why) for why, keys in by_reason.items()]

    def _clock_words(self) -> tuple[tuple[str, str], ...]:
        """The demo's engine runs on a fast clock: every time on screen reads it."""
        app: Any = self.app
        speed = app.backend.clock_speed() if app.backend_ready else None
        if not speed:
            return ()
        return ((f"×{speed:g}", f"time here runs {speed:g} times faster (the demo's clock)"),)

    @staticmethod
    def _words(rows: Iterable[tuple[str, str]]) -> Table:
        """Two columns — a key, a glyph, a word; what it means — the meaning wrapped in its own
        column at any width."""
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", no_wrap=True, min_width=12, style="bold")
        table.add_column(ratio=1)
        for shown, what in rows:
            table.add_row(Text(shown), Text(what))
        return table

    def action_close(self) -> None:
        self.dismiss(None)
