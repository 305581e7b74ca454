"""Add or change an alert contact: name, email address, how often (B7) — and, for a new one
while all accounts are in view, whose. Each problem shows under its field as soon as the field
has been typed in (the address check is the email layer's own: the one the CLI applies), and
every field's on save."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Input, Label, Select, Static

from imtui.tui.messages import Refused
from imtui.tui.screens.form import FormScreen, form_footer
from imtui.tui.text import safe
from imtui.tui.widgets.field import FieldInput
from imtui.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from imtui.store.contacts import ContactRow
    from imtui.store.rows import AccountRow
    from imtui.tui.app import DashboardApp


def frequencies(digest_hour: int) -> list[tuple[str, str]]:
    """The choices of how often a contact is emailed, the daily digest's hour (UTC) in it."""
    return [
        ("immediately — every alert that needs a person, as it opens", "immediately"),
        ("hourly digest", "hourly"),
        (f"daily digest at {digest_hour:02d}:00 UTC", "daily"),
        ("off — no email at all", "off"),
    ]


FIELDS = ("name", "email", "frequency")


class ContactFormScreen(FormScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_form", "Save", id="contact.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="contact.cancel"),
    ]

    def __init__(self, contact_id: int | None, account_id: int | None) -> None:
        super().__init__()
        self.contact_id = contact_id
        self.account_id = account_id
        self.contact: ContactRow | None = None
        self.accounts: list[AccountRow] = []
        self.touched: set[str] = set()
        self.loaded = False

    @property
    def dashboard(self) -> DashboardApp:
        return cast("DashboardApp", self.app)

    def compose(self) -> ComposeResult:
        title = "New alert contact" if self.contact_id is None else f"Contact {self.contact_id}"
        yield Static(Content(f" {title}"), id="form-title")
        with VerticalScroll(id="form"):
            yield Static(Content("loading…"), id="form-about")
            with Grid(id="contact-grid"):
                yield Label(Content("Account"), classes="field-label", id="label-account")
                yield Select[int]([], id="field-account", compact=True, prompt="which account?")
                yield Label(Content("Name"), classes="field-label")
                with Vertical(classes="field-cell"):  # the field, its note under it
                    yield FieldInput(
                        id="field-name",
                        classes="field",
                        placeholder="who: a name, e.g. the warehouse lead",
                        select_on_focus=False,
                    )
                    yield Static(Content(""), id="note-name", classes="field-note")
                yield Static(Content(""), classes="field-label")
                yield Static(Content(""), id="error-name", classes="field-error")
                yield Label(Content("Email address"), classes="field-label")
                with Vertical(classes="field-cell"):  # the field, its note under it
                    yield FieldInput(
                        id="field-email",
                        classes="field",
                        placeholder="their address: name@company.com",
                        select_on_focus=False,
                    )
                    yield Static(Content(""), id="note-email", classes="field-note")
                yield Static(Content(""), classes="field-label")
                yield Static(Content(""), id="error-email", classes="field-error")
                yield Label(Content("Email them"), classes="field-label")
                yield Select(
                    frequencies(self.dashboard.backend.digest_hour()),
                    id="field-frequency",
                    compact=True,
                    allow_blank=False,
                    value="immediately",
                )
                yield Static(Content(""), classes="field-label")
                yield Static(Content(""), id="error-frequency", classes="field-error")
            yield from form_footer()
        yield KeyBar()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#field-name", Input))
        self.remember_opened()
        self._load()

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _load(self) -> None:
        backend = self.dashboard.backend
        contact = backend.contact(self.contact_id) if self.contact_id is not None else None
        accounts = backend.accounts()
        self.app.call_from_thread(self._fill, contact, accounts)

    def _fill(self, contact: ContactRow | None, accounts: list[AccountRow]) -> None:
        about = self.query_one("#form-about", Static)
        self.accounts = accounts
        if self.contact_id is not None and contact is None:
            about.update(Content(f"no contact {self.contact_id} (deleted meanwhile?)"))
            return
        self.contact = contact
        chooser = self.query_one("#field-account", Select)
        if contact is not None:
            self.account_id = contact.account_id
            waiting = f"{contact.waiting} email(s) to them not sent yet." if contact.waiting else ""
            about.update(Content(f"Account {safe(contact.account, limit=60)}. {waiting}"))
            # Typed-in values win over the stored ones if someone was quick.
            for name, value in (("name", contact.name), ("email", contact.email)):
                if not self.query_one(f"#field-{name}", Input).value:
                    self.show_stored(name, value)  # made visible; unchanged, saves ``value``
            self.query_one("#field-frequency", Select).value = contact.frequency
            self.remember_opened(
                name=contact.name, email=contact.email, frequency=contact.frequency
            )
        else:
            about.update(Content("Emailed the account's alerts that need a person (B7)."))
        if contact is None and self.account_id is None and len(accounts) > 1:
            chooser.set_options([(safe(a.name, limit=60), a.id) for a in accounts])
            chooser.value = accounts[0].id
        else:
            if self.account_id is None and accounts:
                self.account_id = accounts[0].id
            chooser.display = False
            self.query_one("#label-account").display = False
            if contact is None:
                name = next((a.name for a in accounts if a.id == self.account_id), "")
                about.update(
                    Content(
                        f"Account {safe(name, limit=60)}: emailed its alerts that need a person."
                    )
                )
        self.loaded = True
        self.remember_opened(account=self.current()["account"])

    # -- checks -----------------------------------------------------------------------------------

    def _values(self) -> dict[str, str]:
        frequency = self.query_one("#field-frequency", Select).value
        return {
            "name": self.value_of("name", self.query_one("#field-name", Input).value),
            "email": self.value_of("email", self.query_one("#field-email", Input).value),
            "frequency": frequency if isinstance(frequency, str) else "",
        }

    def current(self) -> dict[str, str]:
        values = self._values()
        chooser = self.query_one("#field-account", Select)
        account = chooser.value
        values["account"] = str(account) if chooser.display and isinstance(account, int) else ""
        return values

    def _validate(self, fields: set[str] | tuple[str, ...]) -> dict[str, list[str]]:
        problems = self.dashboard.backend.contact_problems(**self._values())
        for name in FIELDS:
            if name not in fields:
                continue
            messages = problems.get(name, [])
            self.query_one(f"#error-{name}", Static).update(
                Content(safe("; ".join(messages), limit=300))
            )
            field = self.query_one(f"#field-{name}")
            field.set_class(bool(messages), "-invalid")
        return problems

    @on(Input.Changed, ".field")
    def _changed(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("field-")
        self.touched.add(name)
        if self.loaded and not self._validate(self.touched):
            self.fields_fixed()

    def save(self) -> None:
        if not self.loaded:
            return
        problems = self._validate(FIELDS)
        if problems:
            self.touched.update(FIELDS)  # from now on each mark follows its field's value
            self.refuse_save(next(name for name in FIELDS if name in problems))
            return
        account = self.query_one("#field-account", Select).value
        if (
            self.contact_id is None
            and isinstance(account, int)
            and self.query_one("#field-account").display
        ):
            self.account_id = account
        if self.account_id is None:
            self.query_one("#form-error", Static).update(Content("there is no account yet"))
            return
        self._save(self.account_id, self._values())

    @work(thread=True, exclusive=True, group="form-save", exit_on_error=False)
    def _save(self, account_id: int, values: dict[str, Any]) -> None:
        try:
            said = self.dashboard.backend.save_contact(self.contact_id, account_id, **values)
        except Refused as exc:
            self.app.call_from_thread(
                self.query_one("#form-error", Static).update, Content(safe(str(exc), limit=300))
            )
            return
        self.app.call_from_thread(self.app.notify, safe(said, limit=200))
        self.app.call_from_thread(self.dashboard.refresh_now)
        self.app.call_from_thread(self.dismiss, None)
