"""Yes or no, before anything that cannot be undone (k9s asks too)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from imtui.tui.widgets.keybar import KeyBar


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: Content, *, confirm: str = "Yes", refuse: str = "Cancel") -> None:
        """``confirm`` and ``refuse`` name what each answer does ("Cancel email" / "Keep it"):
        a bare "Cancel" next to a question about cancelling reads both ways."""
        super().__init__()
        self.question = question
        self.confirm = confirm
        self.refuse = refuse

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button(f"{self.confirm} (y)", variant="error", id="yes")
                yield Button(f"{self.refuse} (n)", id="no")
        yield KeyBar()  # the keys of the question, where the footer always is

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
