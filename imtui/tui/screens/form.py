"""What every form shares: keys that move between fields and save, in the order they were typed.

A terminal delivers a quick typist's keys (or a paste, or a key repeat) in one burst. Textual
hands each key to the widget focused *when the app reads it*, and a plain ``tab`` binding only
moves focus once the field has worked through the keys before it — so ``UPS``, tab, ``92``
typed quickly ended as "UPS92" in one field. Here tab, shift+tab and enter are priority
bindings: the app moves focus as it reads the key, and the keys behind it go to the next field.

Saving needs the opposite: every key typed before ctrl+s must have reached its field first.
So ctrl+s sends each field a :class:`~imtui.tui.messages.KeysHandled` marker behind its
pending keys and saves when all of them have come back.

A refused save says so under the form and moves focus to the first field marked; the note goes
as soon as every field is good again.

``esc`` leaves at once when every field still holds what the form was opened with, and asks
before throwing anything typed away. It reads the fields themselves, not a record kept from
their change messages: escape is an ordinary binding, so it runs only once the field has worked
through the keys typed before it — "abc" then esc in one burst still asks.

Stored text (what a shop customer, a remote system or anyone with the database wrote) is shown
made visible, as every read-only screen shows it (:func:`~imtui.domain.text.printable`): an
address line carrying ``ESC ] 52`` would otherwise write the engineer's clipboard the moment
the form is drawn. A field still showing exactly that rendering saves the stored value itself —
the escapes are how it looks, not a new value — and a note under it says so; a field someone
edited saves what they typed, which is what they saw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from textual import events, on
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from imtui.domain.text import printable
from imtui.tui.messages import KeysHandled
from imtui.tui.screens.confirm import ConfirmScreen

ResultType = TypeVar("ResultType")
FIX_FIELDS = "fix the fields marked above"
DISCARD = "Discard your changes?"
KEPT_AS_IS = "left as is unless you retype it"
NARROW = 80
SHOWN_ESCAPES = 3
"""Escapes named in a field's note before "…"."""


def made_visible_note(value: str) -> str:
    """What to say under a field showing stored ``value`` made visible ("" when nothing in it
    had to be): which escapes stand for characters that are not shown, and that they stay."""
    escapes = list(dict.fromkeys(printable(char) for char in value if printable(char) != char))
    if not escapes:
        return ""
    named = ", ".join(escapes[:SHOWN_ESCAPES]) + (", …" if len(escapes) > SHOWN_ESCAPES else "")
    return f"has control characters, shown as {named}: {KEPT_AS_IS}"


class FormScreen(Screen[ResultType]):
    """A screen of ``Input.field`` inputs (``#field-<name>``, each with an optional
    ``#note-<name>`` under it, and a ``#form-error`` line under them all): subclasses fill
    stored values in with :meth:`show_stored` and implement :meth:`save`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_field", "Next field", show=False, priority=True, id="form.next"),
        Binding(
            "shift+tab",
            "previous_field",
            "Previous field",
            show=False,
            priority=True,
            id="form.previous",
        ),
        Binding("enter", "enter", "Next field", show=False, priority=True, id="form.enter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._save_token = 0
        self._pending = 0
        self._then: Callable[[], None] = self.save
        self._fix_shown = False
        self.opened_with: dict[str, str] = {}
        """What the fields held when the form was opened (or filled in once loaded)."""
        self.stored: dict[str, str] = {}
        """The stored value each field was filled in with by :meth:`show_stored`."""

    def on_resize(self, event: events.Resize) -> None:
        """Below 80 columns the labels and the notes beside the fields give the fields room
        (``-narrow`` in screens.tcss): at 60 they had 8 cells."""
        self.set_class(event.size.width < NARROW, "-narrow")

    # -- moving between fields -----------------------------------------------------------------

    def action_next_field(self) -> None:
        self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()

    def action_enter(self) -> None:
        """Enter in a field goes to the next one; on a button it presses the button."""
        if not isinstance(self.focused, Input):
            raise SkipAction()
        self.focus_next()

    # -- saving ----------------------------------------------------------------------------------

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.request_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save_form(self) -> None:
        """Bound to ctrl+s (a priority binding) by each form, with its own description."""
        self.request_save()

    def request_save(self) -> None:
        """Save once every field has handled the keys typed before this."""
        self.once_typed(self.save)

    def once_typed(self, then: Callable[[], None]) -> None:
        """Call ``then`` once every field has handled the keys typed before this (a save, or
        a test of what the form holds: either must see everything typed)."""
        self._save_token += 1
        self._then = then
        fields = list(self.query(Input))
        self._pending = len(fields)
        for field in fields:
            field.post_message(KeysHandled(field, self._save_token))
        if not fields:
            then()

    @on(KeysHandled)
    def _keys_handled(self, message: KeysHandled) -> None:
        message.stop()
        if message.token != self._save_token or self._pending <= 0:
            return  # a later ctrl+s replaced this one
        self._pending -= 1
        if self._pending == 0:
            self._then()

    def save(self) -> None:
        raise NotImplementedError

    # -- stored values ---------------------------------------------------------------------------

    def show_stored(self, name: str, value: str) -> None:
        """Fill field ``name`` with a stored ``value``, made visible; left as shown, the field
        stands for ``value`` itself (see :meth:`value_of`)."""
        self.stored[name] = value
        shown = printable(value)
        self.query_one(f"#field-{name}", Input).value = shown
        self._note_stored(name, shown)

    def value_of(self, name: str, shown: str) -> str:
        """What field ``name`` showing ``shown`` saves: its stored value while it shows exactly
        the rendering of it (the escapes are how the value looks, not a new value), else what
        was typed."""
        stored = self.stored.get(name)
        return stored if stored is not None and shown == printable(stored) else shown

    @on(Input.Changed, ".field")
    def _stored_note_follows(self, event: Input.Changed) -> None:
        """An edited field saves what was typed: its note goes (and comes back if the edit is
        undone to the very rendering)."""
        if event.input.id:
            self._note_stored(event.input.id.removeprefix("field-"), event.value)

    def _note_stored(self, name: str, shown: str) -> None:
        stored = self.stored.get(name)
        kept = stored is not None and shown == printable(stored)
        text = made_visible_note(stored) if kept and stored is not None else ""
        for note in self.query(f"#note-{name}").results(Static):
            note.update(Content(text))
            note.set_class(bool(text), "-shown")

    # -- leaving ---------------------------------------------------------------------------------

    def current(self) -> dict[str, str]:
        """What the fields stand for now, by the names :attr:`opened_with` uses: each
        ``#field-<name>`` input's value, or its stored value while it shows that unchanged (a
        form with other kinds of field adds them)."""
        values: dict[str, str] = {}
        for field in self.query(".field").results(Input):
            if field.id:
                name = field.id.removeprefix("field-")
                values[name] = self.value_of(name, field.value)
        return values

    def remember_opened(self, **values: str) -> None:
        """These values (by default: every field as it is now) are what the form opened with."""
        self.opened_with.update(values or self.current())

    def changed(self) -> bool:
        return any(
            value != self.opened_with.get(name, "") for name, value in self.current().items()
        )

    def action_cancel(self) -> None:
        """Bound to escape by each form: leave, asking first if anything typed would be lost."""
        if not self.changed():
            self.dismiss()
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss()

        self.app.push_screen(
            ConfirmScreen(Content(DISCARD), confirm="Discard", refuse="Keep editing"), answered
        )

    # -- refused ---------------------------------------------------------------------------------

    def refuse_save(self, first_invalid: str) -> None:
        """The fields marked stop the save: say so, and go to the first of them."""
        self._fix_shown = True
        self.query_one("#form-error", Static).update(Content(FIX_FIELDS))
        self.set_focus(self.query_one(f"#field-{first_invalid}"))

    def fields_fixed(self) -> None:
        """Every field is good now: the note of a refused save goes."""
        if self._fix_shown:
            self._fix_shown = False
            self.query_one("#form-error", Static).update(Content(""))


def form_footer(*extra: Button) -> ComposeResult:
    """Under a form's fields: the line a refused save speaks in, then Save, any ``extra``
    buttons, and Cancel."""
    yield Static(Content(""), id="form-error")
    with Horizontal(id="form-buttons"):
        yield Button("Save (ctrl+s)", variant="primary", id="save")
        yield from extra
        yield Button("Cancel (esc)", id="cancel")


def leave_unless_typed(app: App[Any], verb: str) -> None:
    """Exit the app at once — unless a form holds typed changes: then ask first (``verb``:
    "Quit" in the dashboard, "Leave" in a link's page)."""
    if not any(isinstance(s, FormScreen) and s.changed() for s in app.screen_stack):
        app.exit()
        return

    def answered(leave: bool | None) -> None:
        if leave:
            app.exit()

    question = Content(f"{verb}, and lose the changes typed into the form?")
    app.push_screen(ConfirmScreen(question, confirm=verb, refuse="Keep editing"), answered)
