"""Everything about one alert, order or queue row — every attempt with its time, HTTP status,
failure class and the remote system's words verbatim — so nobody has to leave the dashboard to
learn why something failed. The view stays live: a retry that lands shows up here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from imtui.domain.alerts import (
    CONNECTION_KINDS,
    LOCAL_KINDS,
    AlertState,
    state_in_words,
)
from imtui.domain.retry import Operation
from imtui.store.rows import AlertDetail, AlertRow, AttemptRow, OrderDetail, RetryRow
from imtui.tui.clipboard import copy_text
from imtui.tui.fixes import fix_form, how_to_fix
from imtui.tui.frames import ReadsBeforePaint
from imtui.tui.permissions import role_forbids
from imtui.tui.text import hold_reason, safe, safe_block, stamp
from imtui.tui.widgets.keybar import KeyBar
from imtui.tui.widgets.scroll_text import ScrollText

if TYPE_CHECKING:
    from imtui.tui.app import DashboardApp

DETAIL_KEYS: list[BindingType] = [
    Binding("escape,q", "back", "Back", id="detail.back"),
    Binding("r", "resend", "Resend", id="detail.resend"),
    Binding("e", "edit", "Edit/fix", id="detail.edit"),
    Binding("question_mark", "app.help", "Help", show=False, id="detail.help"),
    Binding("y", "copy_number", "Copy #", show=False, id="detail.copy"),
]


def plain(value: object, *, limit: int = 400) -> Text:
    """Untrusted text as a table cell: Rich would read a plain ``str`` cell as markup."""
    return Text(safe(value, limit=limit))


def fields(rows: Iterable[tuple[str, object]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, value in rows:
        if value is None or value == "":
            continue
        table.add_row(plain(name, limit=100), plain(value, limit=2000))
    return table


MESSAGE_LIMIT = 4000
"""A remote message longer than this (connectors keep theirs to about 2,000 characters) is cut
with a note of how much more there is."""

MESSAGE_INDENT = 4
"""The message sits under its attempt's line, indented, across the whole width."""


def attempts_table(
    attempts: Iterable[AttemptRow], total: int, *, with_record: bool = False
) -> Group:
    """Every attempt on one line — time, operation, HTTP status, outcome, duration and, when the
    attempts are about several records, which — with the remote system's message in full,
    verbatim, wrapped under it: nothing the remote said is ever cut to fit a column."""
    rows = list(attempts)
    heads = ["TIME", "OP", "HTTP", "OUTCOME", "ms"] + (["RECORD"] if with_record else [])
    cells = [
        [
            stamp(attempt.at),
            safe(attempt.operation.replace("_", " "), limit=40),
            safe(attempt.http_status or "—", limit=10),
            safe(attempt.outcome, limit=40),
            safe(attempt.duration_ms or "", limit=10),
        ]
        + ([safe(attempt.subject_label, limit=100)] if with_record else [])
        for attempt in rows
    ]
    widths = [max([len(head)] + [len(row[i]) for row in cells]) for i, head in enumerate(heads)]
    right = {2, 4}  # HTTP and ms

    def line(values: list[str], styles: list[str]) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (value, width) in enumerate(zip(values, widths, strict=True)):
            if i:
                text.append("  ")
            last = i == len(values) - 1
            padded = value.rjust(width) if i in right else value if last else value.ljust(width)
            text.append(padded, style=styles[i])
        return text

    parts: list[Any] = [
        Text(f"Attempts ({total}, newest first)", style="bold"),
        line(heads, ["bold"] * len(heads)),
        Text(f"{' ' * MESSAGE_INDENT}MESSAGE (verbatim)", style="bold"),
    ]
    for attempt, values in zip(rows, cells, strict=True):
        styles = [""] * len(values)
        styles[3] = "green" if attempt.ok else "red"
        parts.append(line(values, styles))
        if attempt.message:
            parts.append(
                Padding(safe_block(attempt.message, limit=MESSAGE_LIMIT), (0, 0, 0, MESSAGE_INDENT))
            )
    if total > len(rows):
        parts.append(Text(f"… and {total - len(rows):,} more", style="italic"))
    return Group(*parts)


def alert_state(alert: AlertRow) -> str:
    words = state_in_words(
        alert.state, needs_person=alert.needs_person, resolved_by=alert.resolved_by
    )
    return safe(words, limit=120)


def state_style(alert: AlertRow) -> str:
    if alert.state == AlertState.OPEN:
        return "red" if alert.needs_person else "yellow"
    return "green" if alert.state == AlertState.RESOLVED else "dim"


def held_table(detail: AlertDetail) -> Group:
    """The orders an unmapped ship method or unknown carrier holds now."""
    table = Table.grid(padding=(0, 2))
    for order in detail.held_orders:
        table.add_row(
            plain(order.number, limit=100),
            plain(f"{order.ship_name} — {order.ship_city}, {order.ship_country}", limit=200),
            plain(f"created {stamp(order.created_at)}"),
        )
    parts: list[Any] = [
        Text(f"Orders held for this ship method ({detail.held_total})", style="bold"),
        table,
    ]
    if detail.held_total > len(detail.held_orders):
        more = detail.held_total - len(detail.held_orders)
        parts.append(Text(f"… and {more:,} more", style="italic"))
    return Group(*parts)


def stamp_or_none(when: datetime | None) -> str | None:
    return stamp(when) if when is not None else None


class DetailScreen(ReadsBeforePaint, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = DETAIL_KEYS

    def __init__(self, key: int) -> None:
        super().__init__()
        self.key = key
        self.data: Any = None
        self.first_load_done = False

    @property
    def reading(self) -> bool:
        return not self.first_load_done

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not role_forbids(self.app, action)

    @property
    def dashboard(self) -> DashboardApp:
        return cast("DashboardApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(Content(f" {self.heading()}"), id="detail-title")
        with ScrollText(id="detail"):
            yield Static(Content("loading…"), id="detail-body")
        yield KeyBar()

    def heading(self) -> str:
        return ""

    def on_mount(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _load(self) -> None:
        data = self.fetch()
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, data)

    def fetch(self) -> Any:
        raise NotImplementedError

    def _show(self, data: Any) -> None:
        shown_before, self.first_load_done = self.first_load_done, True
        self.note_read()
        if shown_before and data == self.data:
            return  # nothing changed: nothing repaints (a first None says "it is gone")
        self.data = data
        self.refresh_bindings()  # what the keys can do may depend on what was read
        self.query_one("#detail-title", Static).update(Content(f" {self.heading()}"))
        body = self.query_one("#detail-body", Static)
        if data is None:
            body.update(Content("it is gone (deleted, or never existed)"))
            return
        body.update(Group(*self.render_parts(data)))

    def render_parts(self, data: Any) -> list[Any]:
        raise NotImplementedError

    def action_back(self) -> None:
        self.app.pop_screen()

    def order_number(self) -> str | None:
        """The order this detail is about, as the shop numbers it (None: none)."""
        return None

    def action_copy_number(self) -> None:
        copy_text(self.app, self.order_number(), "order number")

    def action_resend(self) -> None:
        pass

    def action_edit(self) -> None:
        pass


class AlertDetailScreen(DetailScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        *DETAIL_KEYS,
        Binding("d", "dismiss_alert", "Dismiss", id="detail.dismiss"),
        Binding("o", "open_order", "Order", id="detail.order"),
    ]

    def order_number(self) -> str | None:
        return self.alert.order_number if self.alert is not None else None

    def action_open_order(self) -> None:
        """The order this alert is about (for a connection-wide one: the latest it hit)."""
        if self.alert is not None and self.alert.order_id is not None:
            self.dashboard.open_order_detail(self.alert.order_id)

    def heading(self) -> str:
        return f"Alert {self.key}"

    def fetch(self) -> tuple[AlertDetail | None, OrderDetail | None]:
        backend = self.dashboard.backend
        alert = backend.alert_detail(self.key)
        order = None
        if alert is not None and alert.alert.order_id is not None:
            order = backend.order_detail(alert.alert.order_id)
        return alert, order

    def _show(self, data: Any) -> None:
        super()._show(None if data[0] is None else data)

    def render_parts(self, data: Any) -> list[Any]:
        detail, order = cast(tuple[AlertDetail, OrderDetail | None], data)
        alert = detail.alert
        title = Text(safe(alert.headline), style="bold")
        title.append(f"  {alert_state(alert)}", style=state_style(alert))
        resolved = (
            f"{stamp(alert.resolved_at)} by {alert.resolved_by}" if alert.resolved_at else None
        )
        order_number = alert.order_number
        if order is not None and order_number:
            order_number = f"{order_number} ({order.order.status})"
        parts: list[Any] = [
            title,
            fields(
                [
                    ("kind", alert.kind),
                    ("account", alert.account),
                    ("connection", alert.connection),
                    # A connection-wide alert keeps the order its latest failure was about.
                    (
                        "latest order hit" if alert.kind in CONNECTION_KINDS else "order",
                        order_number,
                    ),
                    ("SKU", alert.sku),
                    ("ship method", detail.ship_method_code),
                    ("HTTP status", alert.http_status),
                    (
                        "seen",
                        f"{alert.count}×, first {stamp(alert.first_seen)}, "
                        f"last {stamp(alert.last_seen)}",
                    ),
                    ("resolved" if alert.state == AlertState.RESOLVED else "dismissed", resolved),
                    (
                        "to fix",
                        how_to_fix(detail) if alert.state == AlertState.OPEN else None,
                    ),
                ]
            ),
            Text(
                "\nMessage (a check here, before sending)"
                if alert.kind in LOCAL_KINDS
                else "\nRemote message (verbatim)",
                style="bold",
            ),
            safe_block(alert.message),
            Text("\nHistory", style="bold"),
        ]
        history = Table.grid(padding=(0, 2))
        for event in detail.events:
            history.add_row(
                plain(stamp(event.at)),
                plain(event.event),
                plain(event.actor),
                plain(event.detail, limit=500),
            )
        parts.append(history)
        if detail.held_total:
            parts.append(Text(""))
            parts.append(held_table(detail))
        parts.append(Text(""))
        parts.append(attempts_table(detail.attempts, detail.attempts_total, with_record=True))
        return parts

    def action_resend(self) -> None:
        self.dashboard.act_on_alerts("resend", [self.key])

    def action_edit(self) -> None:
        self.dashboard.open_fix(self.key)

    @property
    def alert(self) -> AlertRow | None:
        return self.data[0].alert if self.data is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if role_forbids(self.app, action):
            return False
        alert = self.alert
        if action in ("open_order", "copy_number"):
            return alert is not None and alert.order_id is not None
        if alert is None or action not in ("resend", "edit", "dismiss_alert"):
            return True
        if alert.state != AlertState.OPEN:
            return False  # a closed alert has nothing to resend, fix or dismiss
        # e only where a form fixes it: else its "to fix" line says what does
        return action != "edit" or fix_form(self.data[0]) is not None

    def action_dismiss_alert(self) -> None:
        """Only offered while the alert is open (:meth:`check_action`); the question is the
        dashboard's, which says so should it have closed meanwhile."""
        self.dashboard.confirm_dismiss([self.key])


class OrderDetailScreen(DetailScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        *DETAIL_KEYS,
        Binding("a", "open_alert", "Alert", id="detail.alert"),
        Binding("Y", "copy_reference", "Copy ref", show=False, id="detail.copy_reference"),
    ]

    def order_number(self) -> str | None:
        return cast(OrderDetail, self.data).order.number if self.data is not None else None

    def action_copy_reference(self) -> None:
        order = cast(OrderDetail, self.data).order if self.data is not None else None
        copy_text(self.app, order.reference if order is not None else None, "reference")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_alert":
            return self.data is not None and bool(cast(OrderDetail, self.data).alerts)
        return super().check_action(action, parameters)

    def action_open_alert(self) -> None:
        """The order's open alert (the newest one when none is open)."""
        if self.data is None or not cast(OrderDetail, self.data).alerts:
            return
        alerts = cast(OrderDetail, self.data).alerts
        chosen = next((a for a in alerts if a.state == AlertState.OPEN), None)
        chosen = chosen or max(alerts, key=lambda alert: alert.id)
        self.dashboard.open_alert_detail(chosen.id)

    def heading(self) -> str:
        if self.data is not None:  # as a person knows it: the shop's number
            return f"Order {safe(cast(OrderDetail, self.data).order.number, limit=60)}"
        return f"Order {self.key}"

    def fetch(self) -> OrderDetail | None:
        return self.dashboard.backend.order_detail(self.key)

    def render_parts(self, data: Any) -> list[Any]:
        detail = cast(OrderDetail, data)
        order, address = detail.order, detail.address
        title = Text(safe(order.number), style="bold")
        title.append(f"  {safe(order.status)}", style="yellow")
        if order.hold_reason:
            title.append(f" ({hold_reason(order.hold_reason)})", style="red")
        parts: list[Any] = [
            title,
            fields(
                [
                    ("account", order.account),
                    ("reference", order.reference),
                    ("WMS order", order.wms_order_id),
                    ("tracking", order.tracking_number),
                    ("carrier", detail.carrier),
                    (
                        "ship method",
                        f"{order.ship_method_code} ({detail.ship_method_title})"
                        if detail.ship_method_title
                        else order.ship_method_code,
                    ),
                    ("ship to", address.name),
                    ("company", address.company),
                    ("address", " / ".join(p for p in (address.address1, address.address2) if p)),
                    ("city", " ".join(p for p in (address.city, address.state, address.zip) if p)),
                    ("country", address.country),
                    ("phone", address.phone),
                    ("created", stamp(order.created_at)),
                    ("changed", stamp(order.updated_at)),
                    ("shipped", stamp(detail.shipped_at) if detail.shipped_at else None),
                ]
            ),
            Text("\nLines", style="bold"),
            fields((line.sku, f"× {line.quantity}") for line in detail.lines),
            Text("\nIn the retry queue", style="bold"),
        ]
        queue = Table.grid(padding=(0, 2))
        for row in detail.retries:
            queue.add_row(
                plain(row.operation.replace("_", " ")),
                plain(row.state),
                plain(f"{row.attempts} tries"),
                plain(f"next {stamp(row.next_attempt_at)}"),
                plain(f"deadline {stamp(row.deadline_at)}"),
            )
        parts.append(queue)
        if detail.alerts:
            parts.append(Text("\nAlerts", style="bold"))
            alerts = Table.grid(padding=(0, 2))
            for alert in detail.alerts:
                alerts.add_row(
                    plain(alert.id),
                    plain(alert.state),
                    plain(alert.headline),
                    plain(alert.message, limit=300),
                )
            parts.append(alerts)
        if detail.history:
            parts.append(Text("\nChanged by", style="bold"))
            history = Table.grid(padding=(0, 2))
            for entry in detail.history:
                history.add_row(
                    plain(stamp(entry.at)),
                    plain(entry.actor, limit=100),
                    plain(entry.action),
                    plain(entry.detail, limit=300),
                )
            parts.append(history)
        parts.append(Text(""))
        parts.append(attempts_table(detail.attempts, detail.attempts_total))
        return parts

    def action_resend(self) -> None:
        self.dashboard.act_on_orders("resend", [self.key])

    def action_edit(self) -> None:
        if self.data is None:
            self.dashboard.open_order_form(self.key)
        else:
            self.dashboard.open_order_fix(cast(OrderDetail, self.data).order)


class RetryDetailScreen(DetailScreen):
    def heading(self) -> str:
        return f"Queue row {self.key}"

    def fetch(self) -> tuple[RetryRow | None, AttemptRow | None]:
        backend = self.dashboard.backend
        return backend.retry_row(self.key), backend.last_attempt(self.key)

    def _show(self, data: Any) -> None:
        super()._show(None if data[0] is None else data)

    def render_parts(self, data: Any) -> list[Any]:
        row, attempt = cast(tuple[RetryRow, AttemptRow | None], data)
        parts: list[Any] = [
            Text(f"{row.operation.replace('_', ' ')} {safe(row.subject_label)}", style="bold"),
            fields(
                [
                    ("state", row.state),
                    ("attempts", row.attempts),
                    ("failures in a row", row.consecutive_failures),
                    ("next attempt", stamp(row.next_attempt_at)),
                    ("deadline", stamp(row.deadline_at)),
                    ("failure class", row.last_failure_class),
                ]
            ),
            Text("\nLast error (verbatim)", style="bold"),
            safe_block(row.last_error or "—"),
        ]
        if attempt is not None:
            parts.append(Text(""))
            parts.append(attempts_table([attempt], 1))
        return parts

    @property
    def delivery(self) -> RetryRow | None:
        """The row, if it is an order's delivery (only that has a fix to edit)."""
        row = self.data[0] if self.data is not None else None
        return row if row is not None and row.operation == Operation.DELIVER_ORDER else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if role_forbids(self.app, action):
            return False
        return self.delivery is not None if action == "edit" else True

    def action_resend(self) -> None:
        self.dashboard.act_on_items("resend", [self.key])

    def action_edit(self) -> None:
        row = self.delivery
        if row is not None:
            self.dashboard.open_order_form(row.subject_id)


class OutboxDetailScreen(DetailScreen):
    """One email: to whom, about what, every attempt's outcome in the mail server's own words,
    and the text as it is (or will be) sent."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="email.back"),
        Binding("r", "resend", "Send now", id="email.send"),
        Binding("d", "cancel_email", "Cancel", id="email.cancel"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if role_forbids(self.app, action):
            return False
        return action != "edit"  # an email has nothing to edit

    def heading(self) -> str:
        return f"Email {self.key}"

    def fetch(self) -> Any:
        return self.dashboard.backend.outbox_detail(self.key)

    def render_parts(self, data: Any) -> list[Any]:
        email = data.email
        title = Text(safe(email.subject, limit=300), style="bold")
        title.append(
            f"  {safe(email.state)}", style="red" if email.state in ("failing", "failed") else ""
        )
        parts: list[Any] = [
            title,
            fields(
                [
                    ("to", f"{email.recipient_name} <{email.recipient}>"),
                    ("account", email.account),
                    ("kind", email.kind),
                    ("about alerts", ", ".join(str(a) for a in data.alert_ids)),
                    ("attempts", email.attempts),
                    (
                        "next attempt",
                        stamp(email.next_attempt_at) if email.next_attempt_at else None,
                    ),
                    (
                        "last attempt",
                        stamp(email.last_attempt_at) if email.last_attempt_at else None,
                    ),
                    ("sent", stamp(email.sent_at) if email.sent_at else None),
                    ("Message-ID", email.message_id),
                    ("queued", stamp(email.created_at)),
                ]
            ),
        ]
        if email.last_error:
            parts += [Text("\nLast failure (verbatim)", style="bold"), safe_block(email.last_error)]
        if email.smtp_reply:
            parts += [Text("\nServer reply (verbatim)", style="bold"), safe_block(email.smtp_reply)]
        parts += [
            Text("\nText", style="bold"),
            safe_block(data.body or "(composed just before its first attempt)"),
        ]
        return parts

    def action_resend(self) -> None:
        self.dashboard.act_on_emails("send_now", [self.key])

    def action_cancel_email(self) -> None:
        self.dashboard.act_on_emails("cancel", [self.key])
