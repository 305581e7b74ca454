"""``?``: every key, from the same list the bindings are made of."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from imtui.tui.keymap import APP_KEYS, DASHBOARD_KEYS, KeyAction

FILTER_HELP = (
    "Filters (/):  alerts  state:open|resolved|dismissed|all  kind:<kind>  text\n"
    "              orders  status:queued|held|delivered|…  method:<code>  text\n"
    "              queue   state:due|held|skipped|done|all  op:deliver|tracking|stock  text\n"
    "e.g. on orders, 'status:held method:SAME_DAY_COURIER' then R resends all of them."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Content.styled("Keys", "bold"))
            yield Static(self._table((*DASHBOARD_KEYS, *APP_KEYS)))
            yield Static(
                Content(
                    "up/down j/k · pgup/pgdn · home/end g/G move; "
                    "esc goes back or clears marks, then the filter."
                )
            )
            yield Static(Content(FILTER_HELP), id="filter-help")

    def _table(self, keys: tuple[KeyAction, ...]) -> Content:
        lines = []
        for key in keys:
            shown = self.keymap.get(key.id, key.key)
            display = ", ".join(
                self.app.get_key_display(Binding(k.strip(), "")) for k in shown.split(",")
            )
            lines.append(Content.assemble((f"{display:>12}", "bold $accent"), f"  {key.help}"))
        return Content("\n").join(lines)

    def action_close(self) -> None:
        self.dismiss(None)
