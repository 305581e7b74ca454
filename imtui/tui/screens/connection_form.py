"""Add an account; add or edit a connection; replace a connection's credentials.

The connection form's fields are the platform's own (:data:`imtui.domain.platforms.
PLATFORM_FIELDS`): its credentials, its required settings, then the optional ones. Each
problem shows beside its field as soon as the field has been typed in — the checks ``imtui
connection add`` makes, from the same function — and every field's on save.

Credentials are typed into password fields: shown as dots, never filled in from the database
(an edit form leaves them blank: blank keeps the stored value), never in a message or the
audit. ctrl+t tests what the form holds before it is saved ("OK in 180 ms", or the remote's own
words).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Input, Label, Select, Static

from imtui.domain.platforms import FIELD_HINTS, PLATFORM_FIELDS, PlatformFields
from imtui.tui.messages import Refused
from imtui.tui.screens.form import FormScreen, form_footer
from imtui.tui.text import safe
from imtui.tui.widgets.field import FieldInput
from imtui.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from imtui.engine.connection_check import ConnectionCheck
    from imtui.store.rows import ConnectionRow, SetupLine
    from imtui.tui.app import DashboardApp

DEFAULT_POLL = "300"
ROLE_NAMES = {"source": "shop", "wms": "wms"}
KEEP_STORED = "(stored: left blank, it is kept)"


def field_id(problem_key: str) -> str:
    """A problem's field ("credential.client_id") → its widget's name ("credential-client_id")."""
    return problem_key.replace(".", "-")


class DashboardForm(FormScreen[None]):
    @property
    def dashboard(self) -> DashboardApp:
        return cast("DashboardApp", self.app)

    def field_row(
        self, label: str, name: str, *, placeholder: str = "", password: bool = False
    ) -> ComposeResult:
        """A label, then the field with its error under it (shown only when there is one)."""
        yield Label(Content(label), classes="field-label")
        with Vertical(classes="field-cell"):
            yield FieldInput(
                id=f"field-{name}",
                classes="field",
                placeholder=placeholder,
                password=password,
                select_on_focus=False,
            )
            yield Static(Content(""), id=f"error-{name}", classes="field-error")

    def show_problems(self, problems: dict[str, list[str]], names: set[str]) -> None:
        """Mark the fields ``names`` by ``problems`` (keys as the engine names them)."""
        by_field = {field_id(key): words for key, words in problems.items()}
        for name in names:
            words = by_field.get(name, [])
            for error in self.query(f"#error-{name}").results(Static):
                error.update(Content(safe("; ".join(words), limit=300)))
                error.set_class(bool(words), "-shown")
            for field in self.query(f"#field-{name}"):
                field.set_class(bool(words), "-invalid")

    def typed(self, name: str) -> str:
        found = self.query(f"#field-{name}").results(Input)
        field = next(iter(found), None)
        return "" if field is None else self.value_of(name, field.value).strip()

    def say(self, text: str) -> None:
        self.query_one("#form-error", Static).update(Content(safe(text, limit=400)))


class AccountFormScreen(DashboardForm):
    """``N``: a new account; once saved, the form for its first connection opens."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_form", "Save", id="account.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="account.cancel"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(Content(" New account"), id="form-title")
        with VerticalScroll(id="form"):
            yield Static(
                Content("An account owns connections (a shop, a WMS), contacts and alerts."),
                id="form-about",
            )
            with Grid(id="connection-grid"):
                yield from self.field_row("Name", "name", placeholder="e.g. the merchant's name")
                yield Label(Content("Kind"), classes="field-label")
                yield Select(
                    [("merchant — a shop's orders go to a warehouse", "merchant"),
                     ("warehouse", "warehouse")],
                    id="field-kind", compact=True, allow_blank=False, value="merchant",
                )  # fmt: skip
            yield from form_footer()
        yield KeyBar()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#field-name", Input))
        self.remember_opened()

    def save(self) -> None:
        name = self.typed("name")
        if not name:
            self.show_problems({"name": ["an account needs a name"]}, {"name"})
            self.refuse_save("name")
            return
        kind = self.query_one("#field-kind", Select).value
        self._save(name, kind if isinstance(kind, str) else "merchant")

    @work(thread=True, exclusive=True, group="form-save", exit_on_error=False)
    def _save(self, name: str, kind: str) -> None:
        try:
            account_id, said = self.dashboard.backend.add_account(name, kind)
        except Refused as exc:
            self.app.call_from_thread(self.say, str(exc))
            return
        self.app.call_from_thread(self._saved, account_id, said)

    def _saved(self, account_id: int, said: str) -> None:
        self.app.notify(safe(said + " — now its first connection", limit=200))
        self.dashboard.refresh_now()
        self.dismiss(None)
        self.dashboard.open_connection_form(None, account_id)


class ConnectionFormScreen(DashboardForm):
    """A new connection (``connection_id`` None), a connection's settings, or
    (``credentials_only``) just its credentials."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_form", "Save", id="connection.save", priority=True),
        Binding("ctrl+t", "test_form", "Test", id="connection.test", priority=True),
        Binding("escape", "cancel", "Cancel", id="connection.cancel"),
    ]

    def __init__(
        self, connection_id: int | None, account_id: int | None, *, credentials_only: bool = False
    ) -> None:
        super().__init__()
        self.connection_id = connection_id
        self.account_id = account_id
        self.credentials_only = credentials_only and connection_id is not None
        self.connection: ConnectionRow | None = None
        self.platform = "shopify"
        self.touched: set[str] = set()
        self.loaded = False

    @property
    def fields(self) -> PlatformFields:
        return PLATFORM_FIELDS[self.platform]

    @property
    def editing(self) -> bool:
        return self.connection_id is not None

    def compose(self) -> ComposeResult:
        title = "New connection" if self.connection_id is None else "Connection"
        yield Static(Content(f" {title}"), id="form-title")
        with VerticalScroll(id="form"):
            yield Static(Content("loading…"), id="form-about")
            with Grid(id="connection-grid"):
                yield Label(Content("Platform"), classes="field-label", id="label-platform")
                yield Select(
                    [(f.title, f.name) for f in PLATFORM_FIELDS.values()],
                    id="field-platform",
                    compact=True,
                    allow_blank=False,
                    value=self.platform,
                )
                yield from self.field_row("Name", "name", placeholder="e.g. shop, or wms")
                yield from self.field_row("URL", "url", placeholder="https://host[:port]")
                yield from self.field_row("Poll every (s)", "poll", placeholder="10 … 604800")
            yield Grid(id="platform-grid", classes="connection-fields")
            yield Static(Content(""), id="form-check")
            yield from form_footer(Button("Test (ctrl+t)", id="test"))
        yield KeyBar()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _load(self) -> None:
        backend = self.dashboard.backend
        connection = None if self.connection_id is None else backend.connection(self.connection_id)
        lines = [] if self.connection_id is not None else self._account_lines()
        self.app.call_from_thread(self.call_later, self._fill, connection, lines)

    def _account_lines(self) -> list[SetupLine]:
        """The account's line (what it lacks), for a new connection's defaults."""
        from imtui.store.rows import TOP
        from imtui.tui.filters import SetupQuery

        window = self.dashboard.backend.setup_lines(SetupQuery(self.account_id), TOP, 1)
        return list(window.rows)

    async def _fill(self, connection: ConnectionRow | None, lines: list[SetupLine]) -> None:
        about = self.query_one("#form-about", Static)
        if self.connection_id is not None and connection is None:
            about.update(Content(f"no connection {self.connection_id} (deleted meanwhile?)"))
            return
        if connection is not None and connection.platform not in PLATFORM_FIELDS:
            # Stored by another imtui (newer, or one that knew a platform since dropped): this
            # form has no fields for it, and saving would write what it cannot check.
            about.update(
                Content(
                    f"connection {connection.id} is on platform"
                    f" '{safe(connection.platform, limit=40)}', which this imtui does not know:"
                    " edit it with the imtui that added it (esc goes back)"
                )
            )
            for part in ("#connection-grid", "#platform-grid", "#save", "#test"):
                self.query_one(part).display = False
            return
        self.connection = connection
        if connection is not None:
            self.platform = connection.platform
            self.account_id = connection.account_id
            self.query_one("#form-title", Static).update(
                Content(f" Connection {connection.id}: {safe(connection.name, limit=60)}")
            )
            about.update(Content(self._about_stored(connection)))
            self.query_one("#field-platform", Select).disabled = True
        else:
            missing = lines[0].missing if lines else ()
            wanted = "wms" if missing == ("wms",) else "source"
            self.platform = next(f.name for f in PLATFORM_FIELDS.values() if f.role == wanted)
            account = safe(lines[0].account, limit=60) if lines else "?"
            about.update(Content(f"A new connection for account {account}."))
            self.query_one("#field-name", Input).value = ROLE_NAMES[wanted]
            self.query_one("#field-poll", Input).value = DEFAULT_POLL
        self.query_one("#field-platform", Select).value = self.platform
        await self._platform_fields()
        if connection is not None:
            self.show_stored("name", connection.name)
            self.show_stored("url", connection.base_url)
            self.query_one("#field-poll", Input).value = str(connection.poll_interval_s)
            for key, value in connection.settings.items():
                if self.query(f"#field-setting-{key}"):
                    self.show_stored(f"setting-{key}", str(value))
        if self.credentials_only:
            self.query_one("#connection-grid").display = False
            for widget in self.query(".setting-row"):
                widget.display = False
        first = "credential-" + self.fields.credential_keys[0] if self.credentials_only else "name"
        self.set_focus(self.query_one(f"#field-{first}", Input))
        self.loaded = True
        self.remember_opened()

    def _about_stored(self, connection: ConnectionRow) -> str:
        state = "PAUSED: " + (connection.paused_reason or "?") if connection.paused else "active"
        about = f"{connection.platform} connection of account {connection.account}; {state}."
        if connection.credentials_unreadable:
            about += f" Its credentials cannot be opened ({connection.credentials_unreadable}):"
            about += " give all of them again."
        elif self.credentials_only:
            about += " Saving new credentials resumes it; what waited on it is sent."
        return safe(about, limit=600)

    async def _platform_fields(self) -> None:
        """The platform's own fields, rebuilt when the platform changes (values typed under a
        key both platforms have are kept)."""
        grid = self.query_one("#platform-grid", Grid)
        kept = {name: self.typed(name) for name in self._platform_names()}
        await grid.remove_children()
        fields = self.fields
        stored = self.editing and not (self.connection and self.connection.credentials_unreadable)
        widgets: list[Any] = []
        for key in fields.credential_keys:
            hint = KEEP_STORED if stored else FIELD_HINTS.get(key, "")
            widgets += self._row(key, f"credential-{key}", hint, password=True)
        for key in (*fields.setting_keys, *fields.optional_setting_keys):
            widgets += self._row(key, f"setting-{key}", FIELD_HINTS.get(key, ""), setting=True)
        await grid.mount_all(widgets)
        for name, value in kept.items():
            for field in self.query(f"#field-{name}").results(Input):
                field.value = value

    def _row(
        self, label: str, name: str, hint: str, *, password: bool = False, setting: bool = False
    ) -> list[Any]:
        extra = " setting-row" if setting else ""
        field = FieldInput(
            id=f"field-{name}",
            classes="field",
            placeholder=hint,
            password=password,
            select_on_focus=False,
        )
        error = Static(Content(""), id=f"error-{name}", classes="field-error")
        return [
            Label(Content(label), classes="field-label" + extra),
            Vertical(field, error, classes="field-cell" + extra),
        ]

    def _platform_names(self) -> list[str]:
        return [
            (field.id or "").removeprefix("field-")
            for field in self.query("#platform-grid Input").results(Input)
        ]

    @on(Select.Changed, "#field-platform")
    async def _platform_changed(self, event: Select.Changed) -> None:
        if not self.loaded or not isinstance(event.value, str) or event.value == self.platform:
            return
        self.platform = event.value
        await self._platform_fields()

    # -- checks -----------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        fields = self.fields
        return {
            "name": self.typed("name"),
            "base_url": self.typed("url"),
            "poll_interval_s": self.typed("poll"),
            "credentials": {k: self.typed(f"credential-{k}") for k in fields.credential_keys},
            "settings": {
                k: self.typed(f"setting-{k}")
                for k in (*fields.setting_keys, *fields.optional_setting_keys)
            },
        }

    def _problems(self) -> dict[str, list[str]]:
        values = self.values()
        problems = self.dashboard.backend.connection_problems(
            self.platform,
            name=values["name"],
            base_url=values["base_url"],
            credentials={k: v for k, v in values["credentials"].items() if v},
            settings={k: v for k, v in values["settings"].items() if v},
            poll_interval_s=values["poll_interval_s"],
            credentials_required=not self.editing or self._credentials_unreadable(),
        )
        if self.credentials_only:
            problems = {k: v for k, v in problems.items() if k.startswith("credential.")}
            if not any(values["credentials"].values()) and not problems:
                first = self.fields.credential_keys[0]
                problems[f"credential.{first}"] = ["type the new credentials"]
        return problems

    def _credentials_unreadable(self) -> bool:
        return bool(self.connection and self.connection.credentials_unreadable)

    def _validate(self, names: set[str]) -> dict[str, list[str]]:
        problems = self._problems()
        self.show_problems(problems, names)
        return problems

    def _all_names(self) -> list[str]:
        shown = [] if self.credentials_only else ["name", "url", "poll"]
        return shown + [n for n in self._platform_names() if n in self._shown_names()]

    def _shown_names(self) -> set[str]:
        return {
            (field.id or "").removeprefix("field-")
            for field in self.query(".field").results(Input)
            if field.display and field.parent is not None and field.parent.display
        }

    @on(Input.Changed, ".field")
    def _changed(self, event: Input.Changed) -> None:
        self.touched.add((event.input.id or "").removeprefix("field-"))
        if self.loaded and not self._validate(self.touched):
            self.fields_fixed()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "test":
            event.stop()
            self.action_test_form()

    def save(self) -> None:
        if not self.loaded:
            return
        names = self._all_names()
        problems = self._validate(set(names))
        marked = {field_id(key) for key in problems}
        first = next((name for name in names if name in marked), None)
        if problems:
            self.touched.update(names)
            self.refuse_save(first or names[0])
            return
        self.say("saving…")
        self._save(self.values())

    @work(thread=True, exclusive=True, group="form-save", exit_on_error=False)
    def _save(self, values: dict[str, Any]) -> None:
        backend = self.dashboard.backend
        credentials = {k: v for k, v in values["credentials"].items() if v}
        settings = {k: v for k, v in values["settings"].items() if v or self.editing}
        try:
            if self.credentials_only and self.connection_id is not None:
                said = backend.replace_credentials(self.connection_id, credentials)
            elif self.connection_id is not None:
                said = backend.edit_connection(
                    self.connection_id,
                    name=values["name"],
                    base_url=self._url_if_changed(values["base_url"]),
                    settings=settings,
                    poll_interval_s=int(values["poll_interval_s"]),
                    credentials=credentials,
                )
            else:
                assert self.account_id is not None
                said = backend.add_connection(
                    self.account_id,
                    platform=self.platform,
                    name=values["name"],
                    base_url=values["base_url"],
                    credentials=credentials,
                    settings=settings,
                    poll_interval_s=int(values["poll_interval_s"]),
                )
        except Refused as exc:
            self.app.call_from_thread(self.say, str(exc))
            return
        self.app.call_from_thread(self.app.notify, safe(said, limit=200))
        self.app.call_from_thread(self.dashboard.refresh_now)
        self.app.call_from_thread(self.dismiss, None)

    def _url_if_changed(self, typed: str) -> str | None:
        """None while the field shows the stored URL as listed (a password in it shown as
        ``***``): the stored URL stays, password and all."""
        shown = self.connection.base_url if self.connection is not None else None
        return None if typed == shown else typed

    # -- test what the form holds ----------------------------------------------------------

    def action_test_form(self) -> None:
        """ctrl+t, a priority key: tests once the keys typed before it are in their fields."""
        self.once_typed(self._test_now)

    def _test_now(self) -> None:
        if not self.loaded:
            return
        values = self.values()
        self._check_line(f"testing {values['base_url'] or '?'} …", None)
        self._test(values)

    @work(thread=True, exclusive=True, group="form-test", exit_on_error=False)
    def _test(self, values: dict[str, Any]) -> None:
        settings = {k: v for k, v in values["settings"].items() if v}
        check = self.dashboard.backend.check_values(
            self.platform,
            self._url_if_changed(values["base_url"]),
            values["credentials"],
            settings,
            connection_id=self.connection_id,
        )
        self.app.call_from_thread(self._checked, check)

    def _checked(self, check: ConnectionCheck) -> None:
        self._check_line(check.summary(), check.ok)

    def _check_line(self, text: str, ok: bool | None) -> None:
        line = self.query_one("#form-check", Static)
        line.update(Content("test: " + safe(text, limit=400)))
        line.set_class(ok is True, "-ok")
        line.set_class(ok is False, "-bad")
