"""The main screen: the header, the three panes and the keys that act on the focused one.

On a wide, tall terminal all three panes are on screen; on a smaller one the focused pane fills
it and ``1``/``2``/``3`` (or tab) switch. Every key is a Binding (see :mod:`imtui.tui.keymap`),
so the footer, the help screen and the command palette always agree with what the keys do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from imtui.domain.states import METHOD_HOLD_KINDS, NOT_EDITABLE, AlertState, Operation
from imtui.domain.text import agree, plural
from imtui.store.rows import AlertRow, HeaderCounts, OrderDetail, OrderRow, RetryRow, Window
from imtui.tui.clipboard import copy_text
from imtui.tui.filters import AlertQuery, FilterError, OrderQuery, QueueQuery
from imtui.tui.frames import PaintHold, ReadsBeforePaint
from imtui.tui.keymap import DASHBOARD_KEYS, bindings
from imtui.tui.messages import ActionDone, KeysHandled
from imtui.tui.permissions import role_forbids
from imtui.tui.text import quiet_note, safe
from imtui.tui.widgets.field import FieldInput
from imtui.tui.widgets.keybar import KeyBar
from imtui.tui.widgets.panes import AlertsPane, OrdersPane, QueuePane, RecordPane
from imtui.tui.widgets.record_table import RecordTable
from imtui.tui.widgets.status import PaneTabs, StatusHeader

if TYPE_CHECKING:
    from imtui.tui.app import DashboardApp
    from imtui.tui.backend import ActionReport, Backend

PANES = ("alerts", "orders", "queue")
FILTER_ACTIONS = {"filter_apply", "filter_close"}
"""The only keys while the filter is being typed; every other key is a character in it."""
ALERT_ACTIONS = {"dismiss_alerts", "dismiss_matching"}
NEED_DATABASE = {
    "account",
    "mapping",
    "mappings",
    "resend_matching",
    "dismiss_matching",
    "contacts",
    "outbox",
    "audit",
    "setup",
    "detail",
    "edit",
}
"""Keys that open what the database must fill: pressed before it is open, they wait for it
(DashboardApp.run_action keeps them). The rows read before it was (the first screen's) are on
screen from the first frame, a keystroke ahead of it: a list opened then read nothing, and
stayed empty."""
NAMED_ALERTS = 5
"""A dismiss question names the alerts when there are at most this many."""


def once_settled(action: Callable[[DashboardScreen], None]) -> Callable[[DashboardScreen], None]:
    """A key that acts on the row under the cursor acts on the row the keys typed before it
    lead to: after g, G or a page key it waits for the new window (see RecordTable)."""

    @functools.wraps(action)
    def run(screen: DashboardScreen) -> None:
        screen.pane().table.when_settled(lambda: action(screen))

    return run


ROW_NOUNS = {"alerts": "alert", "orders": "order", "queue": "queue row"}
"""What a pane's rows are called in a question about some of them."""


def still_held(held: int) -> str:
    """What a dismissal leaves as it is: the orders held behind the alerts (a new paragraph)."""
    if not held:
        return ""
    return (
        f"\n\n{plural(held, 'order')} {agree(held, 'stays', 'stay')} held: dismissing closes "
        f"the alert, not the hold; {agree(held, 'it goes', 'each goes')} once its fix is saved "
        "(see HELD FOR in Orders)."
    )


ORDER_OPERATIONS = (Operation.DELIVER_ORDER, Operation.PUSH_TRACKING)
"""Queue rows about an order (the others are about a SKU's stock or a cancellation)."""


WIDE, TALL = 120, 40
"""A terminal at least this wide and this tall shows the three panes at once."""


class DashboardScreen(ReadsBeforePaint, Screen[None]):
    BINDINGS = bindings(DASHBOARD_KEYS)
    is_dashboard: ClassVar[bool] = True
    """The command palette offers the dashboard's actions here (see commands.py)."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    """As Textual's, without its repaint of the whole screen at each change of focus: the
    widgets gaining and losing focus repaint themselves (the table only its cursor line), and
    a whole-screen repaint at every pane switch or filter doubled what a key cost."""
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL, "-tall")]

    def __init__(
        self,
        account_id: int | None = None,
        *,
        alerts_filter: str = "",
        first_alerts: Window[AlertRow] | None = None,
    ) -> None:
        """``first_alerts``: the first rows, read before the database was open here (the
        app's helper), shown in the first frame."""
        super().__init__()
        self.account_id = account_id
        self.alerts_filter = alerts_filter
        self._first_alerts = first_alerts
        self.active = "alerts"
        self._hold: PaintHold | None = None
        self._held_for: RecordPane[Any, Any] | None = None
        """The pane whose new rows end the hold, once it has been asked for them."""
        self._resumed = False

    @property
    def dashboard(self) -> DashboardApp:
        return cast("DashboardApp", self.app)

    @property
    def backend(self) -> Backend:
        return self.dashboard.backend

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield PaneTabs(Content(""), id="tabs")
        with Vertical(id="panes"):
            # On a terminal too small for all three, the hidden ones are built after the
            # first paint (the breakpoint classes come after this, with the first resize).
            width, height = self.app.size
            every = width >= WIDE and height >= TALL

            shown = {name: every or self.active == name for name in PANES}
            alerts = AlertsPane(
                AlertQuery.parse(self.alerts_filter, account_id=self.account_id, sort="newest"),
                active=self.active == "alerts",
                lazy=not shown["alerts"],
            )
            alerts.quiet_note = self._quiet_note(self.dashboard.counts)  # came before the panes
            yield alerts
            yield OrdersPane(
                OrderQuery.parse("", account_id=self.account_id, sort="newest"),
                active=self.active == "orders",
                lazy=not shown["orders"],
            )
            yield QueuePane(
                QueueQuery.parse("", account_id=self.account_id, sort="next_attempt"),
                active=self.active == "queue",
                lazy=not shown["queue"],
            )
        yield FieldInput(
            id="filter", placeholder="filter: key:value words, text · ⏎ apply · esc leave"
        )
        yield Static(Content(""), id="filter-error")
        # The palette's own footer entry does not fit 80 columns: ? lists ":" and ctrl+p.
        yield KeyBar(show_command_palette=False)

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        """Runs before Textual's own handler. The app's first screen is resumed just after its
        widgets were mounted and styled: Textual would style every one of them again (with
        each table's nine component styles), about 10 ms before the first paint."""
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False

    def on_mount(self) -> None:
        self.call_after_refresh(self._build_panes)
        self.show_pane(self.active)
        if self._first_alerts is not None:
            self.show_first_alerts(self._first_alerts)
            self._first_alerts = None

    # -- panes -------------------------------------------------------------------------------

    @property
    def panes(self) -> list[RecordPane[Any, Any]]:
        return [self.query_one(f"#{name}", RecordPane) for name in PANES]

    @property
    def reading(self) -> bool:
        """The pane on show has rows on their way (back on top, the dashboard re-reads what
        changed meanwhile; the panes not on show paint nothing)."""
        try:
            return self.pane().reading
        except NoMatches:
            return False

    def pane(self, name: str | None = None) -> RecordPane[Any, Any]:
        return self.query_one(f"#{name or self.active}", RecordPane)

    def _build_panes(self) -> None:
        """The panes hidden at the first paint get their tables now, behind it."""
        for pane in self.panes:
            pane.build()

    def show_pane(self, name: str) -> None:
        self.active = name
        self.pane(name).build()
        for pane in self.panes:
            pane.set_class(pane.pane_name == name, "-active")
        # set_focus, not focus(): focus() waits its turn behind keys already read, which would
        # still go to the pane that was showing.
        self.set_focus(self.pane(name).table)
        self.pane(name).tick(showing=True)  # hidden panes do not tick: bring it up to date
        self._update_tabs()
        self.refresh_bindings()  # d (dismiss) is only for alerts

    def action_show_pane(self, name: str) -> None:
        self.show_pane(name)

    def action_next_pane(self) -> None:
        self.show_pane(PANES[(PANES.index(self.active) + 1) % len(PANES)])

    @on(RecordTable.Selected)
    def _on_selected(self, message: RecordTable.Selected) -> None:
        self.action_detail()

    def on_descendant_focus(self, event: Any) -> None:
        for pane in self.panes:
            if pane.built and pane.table is event.widget and pane.pane_name != self.active:
                self.active = pane.pane_name
                for other in self.panes:
                    other.set_class(other is pane, "-active")
                self._update_tabs()

    @on(RecordPane.Changed)
    def _on_pane_changed(self, message: RecordPane.Changed) -> None:
        self.note_read()
        self._update_tabs()
        if message.pane is self._held_for and not message.pane.reading:
            self._release_hold()  # the new rows and the tabs are painted in one frame
        if message.pane.pane_name == self.active and message.pane.loaded_once:
            self.dashboard.first_rows_painted()

    def _update_tabs(self) -> None:
        labels = []
        for pane in self.panes:
            marked = f" ({len(pane.marked)} marked)" if pane.marked else ""
            labels.append((pane.pane_name, f"{pane.number} {pane.title}{marked}"))
        # The email screens, by their keys: where else would one learn of them at 80 columns
        labels += [("contacts", "c Contacts"), ("outbox", "o Outbox")]
        self.query_one(PaneTabs).show(self.active, labels)

    def show_counts(self, counts: HeaderCounts) -> None:
        """New header counts: an empty alerts pane says "all quiet" only when it is (not
        while an account lacks a connection, nor while records wait held or skipped)."""
        if counts.setup is None:
            return  # counts read without the setup: they say nothing of it
        for pane in self.query(AlertsPane):  # none yet: compose takes the app's counts
            pane.show_note(self._quiet_note(counts))

    @staticmethod
    def _quiet_note(counts: HeaderCounts | None) -> str | None:
        return quiet_note(counts) if counts is not None and counts.setup is not None else None

    def show_first_alerts(self, window: Window[AlertRow]) -> None:
        """The first alerts, read before the database was open here (see app.py); kept for
        on_mount when they come before the panes are built."""
        built = self.query(AlertsPane)
        if built:
            built.first().show_prefetched(window)
        else:
            self._first_alerts = window

    def refresh_data(self) -> None:
        """Something was committed: every pane re-reads its window (only changes repaint)."""
        for pane in self.panes:
            pane.reload()

    def tick(self) -> None:
        for pane in self.panes:
            pane.tick()

    def set_account(self, account_id: int | None) -> None:
        self.account_id = account_id
        for pane in self.panes:
            pane.set_query(pane.spec.with_account(account_id))

    def action_help(self) -> None:
        self.dashboard.action_help()

    def action_contacts(self) -> None:
        self.dashboard.open_contacts()

    def action_outbox(self) -> None:
        self.dashboard.open_outbox()

    def action_setup(self) -> None:
        self.dashboard.open_setup()

    def action_audit(self) -> None:
        self.dashboard.open_audit()

    def action_account(self) -> None:
        self.dashboard.action_account()

    # -- filter ------------------------------------------------------------------------------
    #
    # "/", enter and esc are priority keys (see keymap.py): they move focus as the app reads
    # them, so "/status:held⏎" typed in one burst goes into the filter and is applied whole.

    @property
    def filter_field(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def typing_filter(self) -> bool:
        return self.focused is self.filter_field

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which keys are live (and shown in the footer) now."""
        if not self.is_mounted:
            return True
        if role_forbids(self.app, action):
            return False  # not this person's to do: the help says why
        if self.typing_filter:
            # Every other key is a character in the filter.
            return action in FILTER_ACTIONS
        if action in FILTER_ACTIONS:
            return False  # enter on a row is its detail; esc clears marks, then the filter
        if action in NEED_DATABASE and not self.dashboard.backend_ready:
            return None  # shown, but waits for the database to be open
        if action in ALERT_ACTIONS:
            return self.active == "alerts"
        return True

    def action_filter(self) -> None:
        field = self.filter_field
        field.value = self.pane().spec.text
        field.cursor_position = len(field.value)
        field.add_class("-open")
        field.styles.visibility = "visible"  # now, not at the next style update: focus needs it
        self.query_one(KeyBar).add_class("-covered")
        self.set_focus(field)

    def action_filter_apply(self) -> None:
        if not self.typing_filter:
            raise SkipAction()  # enter on a row: its detail
        # The keys typed before enter may still be on their way into the field: apply what
        # it holds once they have arrived. The keys after enter go to the pane already; the
        # screen shows the pane focused when it shows its new rows (see frames.py).
        self._hold_paint()
        self.set_focus(self.pane().table)
        self.filter_field.post_message(KeysHandled(self.filter_field))

    @on(KeysHandled, "#filter")
    def _apply_filter(self, message: KeysHandled) -> None:
        message.stop()
        pane = self.pane()
        try:
            query = type(pane.spec).parse(
                self.filter_field.value.strip(), account_id=self.account_id, sort=pane.spec.sort
            )
        except FilterError as exc:
            self.query_one("#filter-error", Static).update(Content(str(exc)))
            self.query_one("#filter-error").add_class("-open")
            self.set_focus(self.filter_field)
            self._release_hold()
            return
        self._close_filter()
        if query.text != pane.spec.text:
            pane.set_query(query)
            self._held_for = pane
        else:
            self._release_hold()

    def action_filter_close(self) -> None:
        if not self.typing_filter:
            raise SkipAction()  # esc on a row: clear the marks, then the filter
        self._close_filter()

    def _close_filter(self) -> None:
        self.filter_field.remove_class("-open")
        self.filter_field.styles.visibility = "hidden"
        self.query_one("#filter-error").remove_class("-open")
        self.query_one(KeyBar).remove_class("-covered")
        self.set_focus(self.pane().table)

    @property
    def painting_held(self) -> bool:
        """A filter is being applied: the screen shows it once its rows are read."""
        return self._hold is not None

    def _hold_paint(self) -> None:
        self._release_hold()
        self._hold = PaintHold(self.app)

    def _release_hold(self) -> None:
        if self._hold is not None:
            self._hold.release()
        self._hold = self._held_for = None

    def action_clear(self) -> None:
        if self.filter_field.has_class("-open"):
            self._close_filter()
            return
        pane = self.pane()
        if pane.clear_marks():
            self._update_tabs()
            return
        if pane.spec.text:
            self._hold_paint()
            pane.set_query(
                type(pane.spec).parse("", account_id=self.account_id, sort=pane.spec.sort)
            )
            self._held_for = pane

    def action_sort(self) -> None:
        label = self.pane().next_sort()
        self.notify(f"sorted by {label}", timeout=2)

    @once_settled
    def action_mark(self) -> None:
        self.pane().toggle_mark()
        self._update_tabs()

    # -- acting on rows ----------------------------------------------------------------------

    @once_settled
    def action_detail(self) -> None:
        record = self.pane().current
        if isinstance(record, AlertRow):
            self.dashboard.open_alert_detail(record.id)
        elif isinstance(record, OrderRow):
            self.dashboard.open_order_detail(record.id)
        elif isinstance(record, RetryRow):
            if record.operation in ORDER_OPERATIONS:
                self.dashboard.open_order_detail(record.subject_id)
            else:
                self.dashboard.open_retry_detail(record.id)

    def action_copy_number(self) -> None:
        record = self.pane().current
        number = None
        if isinstance(record, AlertRow):
            number = record.order_number
        elif isinstance(record, OrderRow):
            number = record.number
        elif isinstance(record, RetryRow) and record.operation in ORDER_OPERATIONS:
            number = record.subject_label
        copy_text(self.app, number, "order number")

    @once_settled
    def action_edit(self) -> None:
        record = self.pane().current
        if isinstance(record, AlertRow):
            self.dashboard.open_fix(record.id)
        elif isinstance(record, OrderRow):
            self.dashboard.open_order_fix(record)
        elif isinstance(record, RetryRow):
            if record.operation == Operation.DELIVER_ORDER:
                self._edit_order_of(record.subject_id)
            else:
                self.notify(NOT_EDITABLE, severity="warning")

    @work(thread=True, group="edit", exclusive=True, exit_on_error=False)
    def _edit_order_of(self, order_id: int) -> None:
        """``e`` on a queue row: the order's fix, by the order as it is now."""
        detail = self.backend.order_detail(order_id)
        self.app.call_from_thread(self._edit_read_order, order_id, detail)

    def _edit_read_order(self, order_id: int, detail: OrderDetail | None) -> None:
        if detail is None:
            self.notify(f"no order {order_id}", severity="error")
        else:
            self.dashboard.open_order_fix(detail.order)

    @once_settled
    def action_mapping(self) -> None:
        record = self.pane().current
        if isinstance(record, AlertRow) and record.kind in METHOD_HOLD_KINDS:
            self.dashboard.open_fix(record.id)
            return
        if isinstance(record, OrderRow):
            self.dashboard.open_mapping_form(record.account_id, record.ship_method_code)
        else:  # no ship method here: the list, where one can be picked, added or deleted
            self.dashboard.open_mappings()

    def action_mappings(self) -> None:
        self.dashboard.open_mappings()

    @once_settled
    def action_resend(self) -> None:
        pane = self.pane()
        targets = pane.targets()
        if not targets:
            return
        what = f"{len(targets)} {pane.pane_name}" if len(targets) > 1 else ""
        self._act(pane, "resend", targets, what)

    @once_settled
    def action_dismiss_alerts(self) -> None:
        pane = self.pane()
        if not isinstance(pane, AlertsPane):
            self.notify("only alerts can be dismissed", severity="warning")
            return
        targets = pane.targets()
        if not targets:
            return
        shown = {record.id: record for record in pane.records}
        rows = [shown[target] for target in targets if target in shown]
        unseen = [target for target in targets if target not in shown]
        self._read_alerts_to_dismiss(pane, rows, unseen)

    def ask_dismiss(self, alert_ids: list[int]) -> None:
        """Ask about dismissing these alerts (from a detail): as d on the pane does."""
        self._read_alerts_to_dismiss(cast(AlertsPane, self.pane("alerts")), [], alert_ids)

    @work(thread=True, group="dismiss", exclusive=True, exit_on_error=False)
    def _read_alerts_to_dismiss(
        self, pane: AlertsPane, rows: list[AlertRow], unseen: list[int]
    ) -> None:
        """Read what the question needs: the marked alerts scrolled out of the pane's rows (to
        ask about the open ones) and how many orders stay held behind them."""
        missing: list[int] = []
        if unseen:
            found = self.backend.alert_rows(unseen)  # one read, not a detail per alert
            rows.extend(found)
            present = {row.id for row in found}
            missing = [alert_id for alert_id in unseen if alert_id not in present]
            rows.sort(key=lambda row: row.id)
        held = self.backend.held_behind([row.id for row in rows])
        self.app.call_from_thread(self._ask_dismiss, pane, rows, missing, held)

    def _ask_dismiss(
        self, pane: AlertsPane, rows: list[AlertRow], missing: list[int], held: int = 0
    ) -> None:
        """Ask about the open alerts only; a closed one is said so at once, never asked about."""
        open_rows = [row for row in rows if row.state == AlertState.OPEN]
        closed = [row for row in rows if row.state != AlertState.OPEN]
        gone = [f"no alert {alert_id}" for alert_id in missing]
        if not open_rows:
            if len(closed) == 1:
                said = [f"alert {closed[0].id} is already {safe(closed[0].state)}"]
            elif closed:
                said = [f"the {len(closed)} alerts are already resolved or dismissed"]
            else:
                said = []
            self.notify("; ".join(said + gone), severity="warning")
            return
        if len(open_rows) == 1 and not closed and not gone:
            record = open_rows[0]
            question = Content.assemble(
                f"Dismiss alert {record.id}?\n\n",
                (alert_title(record), "bold"),
                "\n",
                safe(record.message, limit=300),
                still_held(held),
            )
        else:
            ids = [row.id for row in open_rows]
            if len(ids) == 1:
                asked = f"Dismiss alert {ids[0]}?"
            elif len(ids) <= NAMED_ALERTS:
                asked = f"Dismiss alerts {', '.join(str(i) for i in ids)}?"
            else:
                asked = f"Dismiss {len(ids)} marked alerts?"
            skipped = len(closed) + len(gone)
            if skipped:
                left = agree(skipped, "it is", "they are")
                asked += f"\n\n{skipped} more marked: closed already, left as {left}."
            question = Content(asked + still_held(held))
        targets = [row.id for row in open_rows]

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(pane, "dismiss", targets, "")

        from imtui.tui.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(question, confirm="Dismiss"), answered)

    def action_resend_matching(self) -> None:
        self._ask_all_matching("resend")

    def action_dismiss_matching(self) -> None:
        if not isinstance(self.pane(), AlertsPane):
            self.notify("only alerts can be dismissed", severity="warning")
            return
        self._ask_all_matching("dismiss")

    @work(thread=True, group="count", exclusive=True, exit_on_error=False)
    def _ask_all_matching(self, verb: str) -> None:
        pane = self.pane()
        backend = self.backend
        closed = held = 0
        if isinstance(pane, AlertsPane):
            count = backend.count_alerts(pane.spec)
            if verb == "dismiss":
                # Only open alerts can be dismissed: ask about those, say how many are not.
                open_query = pane.spec.open_only()
                matched, count = count, backend.count_alerts(open_query) if open_query else 0
                closed = matched - count
                if open_query is not None and count:
                    held = backend.held_behind(backend.matching_alert_ids(open_query))
        elif isinstance(pane, OrdersPane):
            count = backend.count_orders(pane.spec)
        else:
            count = backend.count_queue(pane.spec)
        self.app.call_from_thread(self._confirm_all, pane, verb, count, closed, held)

    def _confirm_all(
        self, pane: RecordPane[Any, Any], verb: str, count: int, closed: int = 0, held: int = 0
    ) -> None:
        filter_text = safe(pane.spec.text, limit=60)
        where = f"matching “{filter_text}”" if filter_text else "in the pane (no filter)"
        if count == 0:
            if closed:
                the = f"the {plural(closed, 'alert')} {where}"
                said = f"{the} {agree(closed, 'is', 'are')} closed already: nothing to dismiss"
                self.notify(said, severity="warning")
            else:
                self.notify("nothing matches the filter" if filter_text else "nothing here")
            return
        noun = ("open " if closed else "") + ROW_NOUNS[pane.pane_name]  # which are asked about
        what = f"the 1 {noun}" if count == 1 else f"all {plural(count, noun)}"
        asked = f"{verb.capitalize()} {what} {where}?"
        if closed:
            more = f"{closed:,} more {agree(closed, 'matches', 'match')}: closed already"
            asked += f"\n\n{more}, left as {agree(closed, 'it is', 'they are')}."
        question = Content(asked + still_held(held))

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(pane, verb, None, f"{count} {pane.pane_name}")

        from imtui.tui.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(question, confirm=verb.capitalize()), answered)

    def _act(
        self, pane: RecordPane[Any, Any], verb: str, targets: list[int] | None, what: str
    ) -> None:
        self._run_action(pane, verb, targets, what)

    @work(thread=True, group="act", exit_on_error=False)
    def _run_action(
        self, pane: RecordPane[Any, Any], verb: str, targets: list[int] | None, what: str
    ) -> None:
        backend = self.backend
        report: ActionReport
        if isinstance(pane, AlertsPane):
            query = pane.spec.open_only() if verb == "dismiss" else pane.spec
            if targets is not None:
                ids = targets
            else:
                ids = backend.matching_alert_ids(query) if query is not None else []
            if verb == "dismiss":
                report = backend.dismiss_alerts(ids)
            else:
                report = backend.resend_for_alerts(ids)
        elif isinstance(pane, OrdersPane):
            ids = targets if targets is not None else backend.matching_order_ids(pane.spec)
            report = backend.resend_orders(ids)
        else:
            ids = targets if targets is not None else backend.matching_item_ids(pane.spec)
            report = backend.resend_items(ids)
        verb_done = "dismissed" if verb == "dismiss" else "resending"
        self.post_message(ActionDone(report, report.summary(verb_done)))
        self.app.call_from_thread(self._after_action, pane)

    def _after_action(self, pane: RecordPane[Any, Any]) -> None:
        pane.clear_marks()
        self._update_tabs()


def alert_title(record: AlertRow) -> str:
    return safe(record.headline) + (
        f" — {safe(record.order_number)}" if record.order_number else ""
    )
