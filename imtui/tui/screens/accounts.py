"""``a``: look at one account, or at all of them."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from imtui.store.rows import AccountRow
from imtui.tui.text import safe

ALL = "all"


class AccountList(OptionList):
    """j/k, g/G move as they do in the panes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", show=False),
        Binding("k", "cursor_up", show=False),
        Binding("g", "first", show=False),
        Binding("G", "last", show=False),
    ]


class AccountScreen(ModalScreen[int | None | str]):
    """Returns an account id, ``None`` for all accounts, or ``"cancel"``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="accounts.cancel"),
    ]

    def __init__(self, accounts: list[AccountRow], current: int | None) -> None:
        super().__init__()
        self.accounts = accounts
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Content("Show which account?"), id="question")
            options = [Option(Content("All accounts"), id=ALL)]
            options += [
                Option(Content(f"{safe(a.name, limit=60)}  ({a.kind})"), id=str(a.id))
                for a in self.accounts
            ]
            yield AccountList(*options, id="account-list")

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        wanted = ALL if self.current is None else str(self.current)
        for index, option in enumerate(option_list.options):
            if option.id == wanted:
                option_list.highlighted = index
        option_list.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = event.option.id
        self.dismiss(None if chosen == ALL else int(chosen or 0))

    def action_cancel(self) -> None:
        self.dismiss("cancel")
