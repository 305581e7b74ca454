"""``A``: accounts and their connections — add an account, add or edit a connection, replace
its credentials, pause or resume it, and test it in place ("OK in 180 ms", or the remote's own
words and the failure class), all through the engine actions ``imtui account`` and ``imtui
connection`` use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Static

from imtui.tui.filters import SetupQuery
from imtui.tui.messages import Refused
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.lists import LIST_KEYS, ListScreen
from imtui.tui.text import safe
from imtui.tui.widgets.setup_pane import SetupPane

if TYPE_CHECKING:
    from imtui.engine.connection_check import ConnectionCheck
    from imtui.store.rows import ConnectionRow, SetupLine
    from imtui.tui.widgets.panes import RecordPane

PAUSED_HERE = "paused from the dashboard"


def check_line(name: str, check: ConnectionCheck) -> str:
    """The whole of what a test found, made safe: "shop: OK in 180 ms — shop Acme"."""
    return safe(f"{name}: {check.summary()}", limit=400)


class SetupScreen(ListScreen):
    heading = "Accounts & connections"
    BINDINGS: ClassVar[list[BindingType]] = [
        *LIST_KEYS,
        Binding("n", "add_connection", "Add", id="setup.add_connection"),
        Binding("N", "add_account", "Account", id="setup.add_account"),
        Binding("e,enter", "edit_connection", "Edit", id="setup.edit", key_display="e"),
        Binding("c", "replace_credentials", "Credentials", id="setup.credentials"),
        Binding("p", "pause_resume", "Pause", id="setup.pause"),
        Binding("t", "test_connection", "Test", id="setup.test"),
    ]

    def make_pane(self) -> RecordPane[Any, Any]:
        return SetupPane(SetupQuery(account_id=self.account_id))

    def under_pane(self) -> ComposeResult:
        yield Static(Content(""), id="setup-check")  # what the last t found, in full

    @property
    def setup(self) -> SetupPane:
        return cast(SetupPane, self.pane)

    def _line(self) -> SetupLine | None:
        return cast("SetupLine | None", self.pane.current)

    def _connection(self) -> ConnectionRow | None:
        """The connection under the cursor; on an account's line, a note saying what to do."""
        line = self._line()
        if line is None:
            return None
        if line.connection is None:
            self.notify("that is an account: n adds a connection to it", timeout=3)
        return line.connection

    def _account_id(self) -> int | None:
        line = self._line()
        return line.account_id if line is not None else self.account_id

    # -- accounts and connections ---------------------------------------------------------------

    def action_add_account(self) -> None:
        self.dashboard.open_account_form()

    def action_add_connection(self) -> None:
        if self._line() is None and self.account_id is None:
            self.dashboard.open_account_form()  # a connection belongs to an account: one first
            return
        self.dashboard.open_connection_form(None, self._account_id())

    def action_edit_connection(self) -> None:
        line = self._line()
        if line is not None and line.connection is None:
            self.dashboard.open_connection_form(None, line.account_id)
        elif line is not None and line.connection is not None:
            self.dashboard.open_connection_form(line.connection.id, line.account_id)

    def action_open(self) -> None:  # enter, or a double click (ListScreen)
        self.action_edit_connection()

    def action_replace_credentials(self) -> None:
        connection = self._connection()
        if connection is not None:
            self.dashboard.open_connection_form(
                connection.id, connection.account_id, credentials_only=True
            )

    def action_pause_resume(self) -> None:
        connection = self._connection()
        if connection is None:
            return
        if connection.paused:
            self._change(lambda backend: backend.resume_connection(connection.id))
            return
        question = Content.assemble(
            "Pause connection ",
            (safe(connection.name, limit=60), "bold"),
            "?\n\nNothing is read from it or sent to it until it is resumed; what waits for it "
            "stays queued.",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._change(lambda backend: backend.pause_connection(connection.id, PAUSED_HERE))

        self.app.push_screen(ConfirmScreen(question, confirm="Pause", refuse="Keep it"), answered)

    @work(thread=True, group="setup-change", exit_on_error=False)
    def _change(self, work: Any) -> None:
        try:
            said = work(self.dashboard.backend)
        except Refused as exc:
            self.app.call_from_thread(self.notify, safe(str(exc), limit=300), severity="error")
            return
        self.app.call_from_thread(self.notify, safe(said, limit=300))
        self.app.call_from_thread(self.dashboard.refresh_now)

    # -- test connection --------------------------------------------------------------------

    def action_test_connection(self) -> None:
        connection = self._connection()
        if connection is None:
            return
        self._say(f"{safe(connection.name, limit=60)}: testing {safe(connection.base_url)} …")
        self._test(connection.id, connection.name)

    @work(thread=True, group="setup-test", exit_on_error=False)
    def _test(self, connection_id: int, name: str) -> None:
        try:
            check = self.dashboard.backend.check_connection(connection_id)
        except Refused as exc:
            self.app.call_from_thread(self._say, safe(str(exc), limit=300))
            return
        self.app.call_from_thread(self._show_check, connection_id, name, check)

    def _show_check(self, connection_id: int, name: str, check: ConnectionCheck) -> None:
        self.setup.show_check(connection_id, check)
        self._say(check_line(name, check), ok=check.ok)

    def _say(self, text: str, *, ok: bool | None = None) -> None:
        line = self.query_one("#setup-check", Static)
        line.update(Content(text))
        line.set_class(ok is True, "-ok")
        line.set_class(ok is False, "-bad")
