"""A screen that is one live list: the alert contacts and the outbox (the email layer, B7).

Each is a :class:`~imtui.tui.widgets.panes.RecordPane` like the dashboard's — the same keys to
move, the same repaint of only what changed, live with the database — under a one-line title,
with its own keys in the footer; esc goes back, ``1`` ``2`` ``3`` straight to a dashboard pane.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen

from imtui.tui.filters import ContactQuery, MappingQuery, OutboxQuery
from imtui.tui.messages import ActionDone
from imtui.tui.permissions import role_forbids
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.text import safe
from imtui.tui.widgets.keybar import KeyBar
from imtui.tui.widgets.mapping_pane import MappingsPane
from imtui.tui.widgets.panes import ContactsPane, OutboxPane, RecordPane
from imtui.tui.widgets.record_table import RecordTable

if TYPE_CHECKING:
    from imtui.tui.app import DashboardApp

LIST_KEYS: list[BindingType] = [
    Binding("escape", "back", "Back", id="list.back"),
    Binding("question_mark", "app.help", "Help", id="list.help"),
    Binding("space", "mark", "Mark", show=False, id="list.mark", key_display="␣"),
    Binding("1", "app.show_pane('alerts')", "Alerts", show=False, id="list.alerts"),
    Binding("2", "app.show_pane('orders')", "Orders", show=False, id="list.orders"),
    Binding("3", "app.show_pane('queue')", "Queue", show=False, id="list.queue"),
]


class ListScreen(Screen[None]):
    heading: ClassVar[str] = ""

    def __init__(self, account_id: int | None, account_name: str) -> None:
        super().__init__()
        self.account_id = account_id
        self.account_name = account_name

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not role_forbids(self.app, action)

    @property
    def dashboard(self) -> DashboardApp:
        return cast("DashboardApp", self.app)

    @property
    def pane(self) -> RecordPane[Any, Any]:
        return self.query_one(RecordPane)

    def make_pane(self) -> RecordPane[Any, Any]:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        pane = self.make_pane().add_class("-active")
        pane.note = safe(self.account_name, limit=40)
        yield pane
        yield from self.under_pane()
        yield KeyBar()

    def under_pane(self) -> ComposeResult:
        """What a screen shows between its list and the footer (nothing, unless it says)."""
        yield from ()

    def on_mount(self) -> None:
        self.set_focus(self.pane.table)

    def email_off(self) -> str:
        """Why no alert email goes out from here, made safe to show ("" when it does)."""
        return safe(self.dashboard.backend.email_off() or "", limit=80)

    def show_note(self, extra: str = "") -> None:
        """What the pane's title line says besides its name: the account, and ``extra``."""
        self.pane.note = safe(self.account_name, limit=40) + extra
        self.pane.update_title()

    def refresh_data(self) -> None:
        """Something was committed (the app asks every screen)."""
        self.pane.reload()

    def tick(self) -> None:
        self.pane.tick()

    def action_back(self) -> None:
        if not self.pane.clear_marks():
            self.dismiss(None)

    def action_mark(self) -> None:
        self.pane.toggle_mark()

    @on(RecordTable.Selected)
    async def _selected(self, message: RecordTable.Selected) -> None:
        # run_action is a coroutine: called without await, a double-click did nothing
        await self.run_action("open")

    def act(self, verb: str, work: Any, targets: list[int]) -> None:
        self._act(verb, work, targets)

    @work(thread=True, group="list-act", exit_on_error=False)
    def _act(self, verb: str, work: Any, targets: list[int]) -> None:
        report = work(self.dashboard.backend, targets)
        self.post_message(ActionDone(report, report.summary(verb)))
        self.app.call_from_thread(self.pane.clear_marks)


class ContactsScreen(ListScreen):
    """``c``: who is emailed the account's alerts, and how often; add, change, delete."""

    heading = "Alert contacts"
    BINDINGS: ClassVar[list[BindingType]] = [
        *LIST_KEYS,
        Binding("n", "add", "Add", id="contacts.add"),
        Binding("e,enter", "open", "Edit", id="contacts.edit", key_display="e"),
        Binding("d", "delete", "Delete", id="contacts.delete"),
        Binding("o", "outbox", "Outbox", show=False, id="contacts.outbox"),
    ]

    def action_outbox(self) -> None:
        self.app.pop_screen()
        self.dashboard.open_outbox()

    def make_pane(self) -> RecordPane[Any, Any]:
        return ContactsPane(ContactQuery(account_id=self.account_id))

    def on_mount(self) -> None:
        super().on_mount()
        off = self.email_off()
        if off:
            self.show_note(f" · email off: {off}")

    def action_add(self) -> None:
        if self.account_id is not None:
            self.dashboard.open_contact_form(None, self.account_id)
        else:
            self._add_if_there_are_accounts()

    @work(thread=True, exclusive=True, group="contacts-add", exit_on_error=False)
    def _add_if_there_are_accounts(self) -> None:
        """A contact belongs to an account: with none yet, say so now, not at save."""
        if self.dashboard.backend.accounts():
            self.app.call_from_thread(self.dashboard.open_contact_form, None, None)
        else:
            self.app.call_from_thread(
                self.notify,
                "no account yet: a contact belongs to one — imtui account add NAME",
                severity="warning",
            )

    def action_open(self) -> None:
        record = self.pane.current
        if record is not None:
            self.dashboard.open_contact_form(record.id, record.account_id)

    def action_delete(self) -> None:
        targets = self.pane.targets()
        if not targets:
            return
        record = self.pane.current
        if len(targets) == 1 and record is not None and record.id == targets[0]:
            question = Content.assemble(
                f"Delete contact {record.id}?\n\n",
                (f"{safe(record.name, limit=60)} <{safe(record.email, limit=100)}>", "bold"),
                "\n\nEmails to them not yet sent are cancelled.",
            )
        else:
            question = Content(
                f"Delete {len(targets)} marked contacts? Emails to them not yet sent are cancelled."
            )

        def answered(yes: bool | None) -> None:
            if yes:
                self.act("deleted", lambda backend, ids: backend.delete_contacts(ids), targets)

        self.app.push_screen(ConfirmScreen(question, confirm="Delete"), answered)


class OutboxScreen(ListScreen):
    """``o``: alert emails — waiting, failing with the mail server's reply, sent, cancelled."""

    heading = "Outbox"
    BINDINGS: ClassVar[list[BindingType]] = [
        *LIST_KEYS,
        Binding("enter", "open", "Detail", id="outbox.detail", key_display="⏎"),
        Binding("r", "send_now", "Send now", id="outbox.send"),
        Binding("d", "cancel_email", "Cancel", id="outbox.cancel"),
        Binding("f", "next_view", "Filter", id="outbox.view"),
        Binding("c", "contacts", "Contacts", show=False, id="outbox.contacts"),
    ]

    def action_contacts(self) -> None:
        self.app.pop_screen()
        self.dashboard.open_contacts()

    def make_pane(self) -> RecordPane[Any, Any]:
        return OutboxPane(OutboxQuery(account_id=self.account_id))

    def on_mount(self) -> None:
        super().on_mount()
        self._count()

    def refresh_data(self) -> None:
        super().refresh_data()
        self._count()

    @work(thread=True, exclusive=True, group="outbox-count", exit_on_error=False)
    def _count(self) -> None:
        counts = self.dashboard.backend.outbox_counts(self.account_id)
        text = f" · {counts.waiting} waiting"
        if counts.failing:
            text += f", {counts.failing} failing"
        off = self.email_off()
        if off:
            text += f" · email off: {off}"
        self.app.call_from_thread(self.show_note, text)

    def action_open(self) -> None:
        record = self.pane.current
        if record is not None:
            self.dashboard.open_outbox_detail(record.id)

    def action_next_view(self) -> None:
        view = cast(OutboxPane, self.pane).next_view()
        self.notify(f"showing {'all emails' if view == 'all' else view}", timeout=2)

    def action_send_now(self) -> None:
        targets = self.pane.targets()
        if not targets:
            return
        off = self.email_off()
        if off:
            self.notify(f"email is off: {off}", severity="warning")
            return
        self.act("due now", lambda backend, ids: backend.send_emails_now(ids), targets)

    def action_cancel_email(self) -> None:
        targets = self.pane.targets()
        if not targets:
            return
        question = Content(
            f"Cancel email {targets[0]}? It will not be sent."
            if len(targets) == 1
            else f"Cancel {len(targets)} marked emails? They will not be sent."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.act("cancelled", lambda backend, ids: backend.cancel_emails(ids), targets)

        self.app.push_screen(
            ConfirmScreen(question, confirm="Cancel email", refuse="Keep it"), answered
        )


class MappingsScreen(ListScreen):
    """``M`` (or ``m`` where the row has no ship method): every shop ship method and the WMS
    carrier and mode it is sent with; add, change, delete (which asks)."""

    heading = "Ship-method mappings"
    BINDINGS: ClassVar[list[BindingType]] = [
        *LIST_KEYS,
        Binding("n", "add_mapping", "Add", id="mappings.add"),
        Binding("e,enter", "open", "Edit", id="mappings.edit", key_display="e"),
        Binding("d", "delete_mapping", "Delete", id="mappings.delete"),
    ]

    def make_pane(self) -> RecordPane[Any, Any]:
        return MappingsPane(MappingQuery(account_id=self.account_id))

    def action_add_mapping(self) -> None:
        self.dashboard.open_mapping_form(self.account_id)

    def action_open(self) -> None:
        record = self.pane.current
        if record is not None:
            self.dashboard.open_mapping_form(record.account_id, record.source_code)

    def action_delete_mapping(self) -> None:
        targets = self.pane.targets()
        record = self.pane.current
        if not targets:
            return
        if len(targets) == 1 and record is not None and record.id == targets[0]:
            question = Content.assemble(
                "Delete the mapping of ",
                (safe(record.source_code, limit=60), "bold"),
                f" to {safe(record.carrier, limit=30)} {safe(record.mode, limit=30)}?\n\n",
                "Orders with this ship method are held from then on, until it is mapped again.",
            )
        else:
            question = Content(
                f"Delete {len(targets)} marked mappings? Orders with their ship methods are "
                "held from then on."
            )

        def answered(yes: bool | None) -> None:
            if yes:
                self.act("deleted", lambda backend, ids: backend.delete_mappings(ids), targets)

        self.app.push_screen(ConfirmScreen(question, confirm="Delete"), answered)
