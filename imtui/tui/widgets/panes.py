"""The three live panes — alerts, orders, the retry queue — each a window onto its list.

A pane knows its query (filter, sort, account), where its window starts, and which rows are
marked. It fetches in a thread worker (one at a time per pane: a newer fetch replaces an older
one), and hands the rows to its :class:`RecordTable`, which repaints only the lines that changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import get_current_worker

from imtui.domain.states import OPERATION_WORDS, AlertKind, AlertState, OrderStatus, RetryState
from imtui.store.rows import (
    ALERT_SORTS,
    CONTACT_SORTS,
    ORDER_SORTS,
    OUTBOX_SORTS,
    QUEUE_SORTS,
    TOP,
    AlertRow,
    Anchor,
    OrderRow,
    Position,
    RetryRow,
    Sort,
    Window,
)
from imtui.tui.filters import (
    AlertQuery,
    AuditQuery,
    ContactQuery,
    MappingQuery,
    OrderQuery,
    OutboxQuery,
    QueueQuery,
    SetupQuery,
)
from imtui.tui.text import age, countdown, safe
from imtui.tui.widgets.record_table import Column, RecordTable, ScrollKind, TableRow

if TYPE_CHECKING:
    from imtui.store.contacts import ContactRow
    from imtui.store.outbox import OutboxRow
    from imtui.tui.backend import Backend

R = TypeVar("R")
Q = TypeVar(
    "Q",
    AlertQuery,
    OrderQuery,
    QueueQuery,
    ContactQuery,
    OutboxQuery,
    SetupQuery,
    AuditQuery,
    MappingQuery,
)

KIND_LABELS: dict[str, str] = {
    # at most 12 cells: the KIND column's width at 80 columns
    AlertKind.UNREACHABLE: "unreachable",
    AlertKind.RATE_LIMITED: "rate limited",
    AlertKind.REMOTE_ERROR: "server error",
    AlertKind.BAD_RESPONSE: "bad response",
    AlertKind.ADDRESS_REJECTED: "bad address",
    AlertKind.UNKNOWN_SKU: "unknown SKU",
    AlertKind.UNKNOWN_CARRIER: "bad carrier",
    AlertKind.VALIDATION: "rejected",
    AlertKind.CREDENTIALS_REJECTED: "credentials",
    AlertKind.BAD_CONFIGURATION: "bad settings",
    AlertKind.UNMAPPED_SHIP_METHOD: "no ship map",
    AlertKind.INCOMPLETE_ADDRESS: "addr missing",
    AlertKind.SKIPPED: "skipped",
    AlertKind.ORDER_NOT_TAKEN: "not taken in",
    AlertKind.SHOP_CHANGE: "shop changed",
    AlertKind.EMAIL_REFUSED: "mail refused",
}
OPERATION_LABELS: dict[str, str] = {
    str(operation): word for operation, word in OPERATION_WORDS.items()
}
SLOW_READ_S = 0.3
"""A window that takes longer than this to read is announced in the pane's title."""
ALERT_STATE_LABELS = {"open": "open", "resolved": "fixed", "dismissed": "closed"}
"""Resolved: a retry got through or a fix was saved; dismissed: closed by a person as it was."""


def alert_glyph(record: AlertRow) -> str:
    """The state in one cell, for a narrow terminal (the help screen explains them)."""
    if record.state == AlertState.OPEN:
        return "!" if record.needs_person else "↻"
    return "✓" if record.state == AlertState.RESOLVED else "–"


def repeat_count(count: int) -> str:
    return str(count) if count < 1000 else f"{min(count // 1000, 99)}k"


class RecordPane(Vertical, Generic[R, Q]):
    """One list on the dashboard; subclasses say what to fetch and how a row reads."""

    pane_name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    number: ClassVar[int] = 0
    sorts: ClassVar[dict[str, Sort[Any]]] = {}
    columns: ClassVar[list[Column]] = []
    empty_text: ClassVar[str] = "nothing here"

    class Loaded(Message):
        def __init__(
            self, pane: RecordPane[Any, Any], window: Window[Any], generation: int, hint: Any
        ) -> None:
            super().__init__()
            self.pane = pane
            self.window = window
            self.generation = generation
            self.hint = hint

    class Changed(Message):
        """The pane's rows, filter or marks changed (the tab strip shows its counts)."""

        def __init__(self, pane: RecordPane[Any, Any]) -> None:
            super().__init__()
            self.pane = pane

    def __init__(
        self, query: Q, *, id: str | None = None, active: bool = False, lazy: bool = False
    ) -> None:
        """``active``: the pane on show from the start (the class set now, not once mounted,
        which would style the pane, its title and its table again before the first paint).
        ``lazy``: not on show at first; its title and table wait for :meth:`build`."""
        super().__init__(id=id or self.pane_name, classes="pane -active" if active else "pane")
        self.spec: Q = query
        self.position: Position = TOP
        self.records: list[R] = []
        self.window: Window[R] | None = None
        self.marked: set[int] = set()
        self._generation = 0
        self._window_size = 20
        self.loaded_once = False
        self.note = ""
        """Said in the title after the pane's name (a list screen puts the account there)."""
        self._shown_generation = 0
        self._moving = False
        """The read on its way moves the window (g, G, a page key): a refresh waits for it."""
        self._refresh_after = False
        self._slow = False
        self._title_shown: str | None = None
        self.built = False
        """Its title and table are mounted: at once if it shows, else just after the first
        paint or when it is switched to (:meth:`build`)."""
        self.lazy = lazy

    # -- pieces subclasses fill in -------------------------------------------------------------

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[R]:
        raise NotImplementedError

    def table_row(self, record: R, now: datetime) -> TableRow:
        raise NotImplementedError

    def describe_filter(self) -> str:
        return ""

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        if not self.lazy:  # a hidden pane's table would be styled (nine component styles)
            yield from self._parts()  # before the first paint for nothing: see build()

    def _parts(self) -> list[Widget]:
        self.built = True
        return [
            Static(Content(""), classes="pane-title", id=f"{self.pane_name}-title"),
            RecordTable(self.columns, empty_text="loading…", id=f"{self.pane_name}-table"),
        ]

    def build(self) -> None:
        """Mount the title and table of a pane that was hidden when composed (they are in the
        DOM when this returns), and read its rows."""
        if self.built or not self.is_attached:
            return  # an app leaving soon after its start: nothing to mount into
        self.mount(*self._parts())
        self.on_mount()

    @property
    def table(self) -> RecordTable:
        return self.query_one(RecordTable)

    @property
    def backend(self) -> Backend:
        return cast(Any, self.app).backend

    @property
    def sort(self) -> Sort[R]:
        return self.sorts[self.spec.sort]

    def on_mount(self) -> None:
        """Its title, and its rows once the database is open (the app reloads every pane when
        it opens); again when a lazy pane is built (a title or read before then did nothing)."""
        self._update_title()
        if cast(Any, self.app).backend_ready:
            self.reload()  # hidden panes (on a small terminal) are ready when switched to

    # -- fetching ------------------------------------------------------------------------------

    @property
    def reading(self) -> bool:
        """Rows asked for are not on screen yet."""
        return self._generation != self._shown_generation

    def reload(self, position: Position | None = None, *, hint: Any = None) -> None:
        """Fetch the window at ``position`` (default: where the pane is) in a worker."""
        if not self.built:
            return  # build() reads it
        if not cast(Any, self.app).backend_ready:
            if self.window is not None and len(self.records) > self._window_size:
                self.show_prefetched(self.window)  # the table got smaller meanwhile
            return  # the app reloads every pane once the database is open
        if position is None and hint is None and self.reading and self._moving:
            # Something was committed while a key's window is on its way: a refresh now
            # would overtake it (and G would be lost). Refresh once it is shown instead.
            self._refresh_after = True
            return
        self._moving = position is not None or hint is not None
        self._generation += 1
        generation = self._generation
        self._fetch(position or self.position, self._window_size, generation, hint)
        # A text filter on a million orders can take seconds: say so if it is not quick.
        self.set_timer(SLOW_READ_S, lambda: self._reading(generation))

    def _reading(self, generation: int) -> None:
        if not self.is_attached:
            return
        if generation == self._generation and self.reading:
            self._slow = True
            self._update_title()

    def show_prefetched(self, window: Window[R]) -> None:
        """Rows read elsewhere before this process could read them (at start): shown as if
        fetched, cut to the rows that fit."""
        if len(window.rows) > self._window_size:
            window = Window(window.rows[: self._window_size], window.at_start, False)
        self._generation += 1
        self.post_message(self.Loaded(self, window, self._generation, None))

    @work(thread=True, exclusive=True, group="fetch", exit_on_error=False)
    def _fetch(self, position: Position, size: int, generation: int, hint: Any) -> None:
        window = self.fetch(self.backend, position, size)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(self, window, generation, hint))

    @on(Loaded)
    def _on_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return  # a newer fetch is on its way
        self._shown_generation = message.generation
        self._slow = False
        window = message.window
        self.window = window
        self.records = list(window.rows)
        if window.at_start or not window.rows:
            self.position = TOP
        else:
            self.position = Position(Anchor.AT, self.sort.key_of(window.rows[0]))
        table = self.table
        table.empty_text = self.nothing_shown()  # "loading…" gives way to the pane's words
        keep = table.cursor_key
        if message.hint == "bottom":
            table.show(self._rows(), cursor_index=len(self.records) - 1, marked=self._marks())
        elif message.hint == "top":
            table.show(self._rows(), cursor_index=0, marked=self._marks())
        elif isinstance(message.hint, int):
            table.show(self._rows(), cursor_index=message.hint, marked=self._marks())
        else:
            table.show(self._rows(), cursor_key=keep, marked=self._marks())
        self.loaded_once = True
        self._update_title()
        self.post_message(self.Changed(self))
        if not self.reading:
            self._moving = False
            table.settled()  # keys typed after g, G or a page key act on the new rows now
            if self._refresh_after:
                self._refresh_after = False
                self.reload()  # what was committed meanwhile

    def nothing_shown(self) -> str:
        """What an empty pane says: with a filter, that it is the filter."""
        text = getattr(self.spec, "text", "")
        if text:
            return f"nothing matches “{safe(text, limit=40)}” — esc clears the filter"
        return self.empty_text

    def _rows(self) -> list[TableRow]:
        now = cast(Any, self.app).now()
        return [self.table_row(record, now) for record in self.records]

    def _marks(self) -> frozenset[int]:
        return frozenset(self.marked)

    def tick(self, *, showing: bool = False) -> None:
        """Time moved on: countdowns and ages are redrawn — only cells whose text changed, and
        only on a pane that is showing (a pane coming into view ticks then: ``showing``)."""
        if self.records and (showing or self.display):
            self.table.show(self._rows(), cursor_key=self.table.cursor_key)

    @on(RecordTable.Resized)
    def _on_resized(self, message: RecordTable.Resized) -> None:
        message.stop()
        if message.rows != self._window_size or not self.loaded_once:
            self._window_size = message.rows
            self.reload()

    @on(RecordTable.Scroll)
    def _on_scroll(self, message: RecordTable.Scroll) -> None:
        message.stop()
        window, records, key_of = self.window, self.records, self.sort.key_of
        kind = message.kind
        if kind is ScrollKind.FIRST:
            self.reload(TOP, hint="top")
        elif kind is ScrollKind.LAST:
            self.reload(Position(Anchor.LAST), hint="bottom")
        elif window is None or not records:
            pass
        elif kind is ScrollKind.DOWN and not window.at_end:
            self.reload(
                Position(Anchor.AT, key_of(records[1])) if len(records) > 1 else None, hint="bottom"
            )
        elif kind is ScrollKind.UP and not window.at_start:
            self.reload(Position(Anchor.BEFORE, key_of(records[-1])), hint="top")
        elif kind is ScrollKind.PAGE_DOWN:
            if window.at_end:
                self.table.move_cursor(len(records) - 1)
            else:
                self.reload(Position(Anchor.AFTER, key_of(records[-1])), hint=self.table.cursor)
        elif kind is ScrollKind.PAGE_UP:
            if window.at_start:
                self.table.move_cursor(0)
            else:
                self.reload(Position(Anchor.BEFORE, key_of(records[0])), hint=self.table.cursor)
        if not self.reading:
            self.table.settled()  # no window to read (the first or last one already)

    # -- what the screen asks of the focused pane ------------------------------------------

    @property
    def current(self) -> R | None:
        index = self.table.cursor
        return self.records[index] if 0 <= index < len(self.records) else None

    def targets(self) -> list[int]:
        """The marked rows, or the row under the cursor."""
        if self.marked:
            return sorted(self.marked)
        key = self.table.cursor_key
        return [key] if key is not None else []

    def toggle_mark(self) -> None:
        key = self.table.cursor_key
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self.table.set_marked(self._marks())
        self._update_title()
        self.post_message(self.Changed(self))

    def clear_marks(self) -> bool:
        if not self.marked:
            return False
        self.marked.clear()
        self.table.set_marked(self._marks())
        self._update_title()
        return True

    def set_query(self, query: Q) -> None:
        self.spec = query
        self.marked.clear()
        self.reload(TOP, hint="top")
        self._update_title()

    def next_sort(self) -> str:
        names = list(self.sorts)
        following = names[(names.index(self.spec.sort) + 1) % len(names)]
        spec = self.spec
        if isinstance(spec, ContactQuery | OutboxQuery | SetupQuery | AuditQuery | MappingQuery):
            self.set_query(spec._replace(sort=following))  # no filter text to read again
        else:
            self.set_query(
                type(spec).parse(spec.text, account_id=spec.filter.account_id, sort=following)
            )
        return self.sorts[following].label

    def update_title(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        parts = [f"{self.number} {self.title}" if self.number else self.title]
        if self.note:
            parts.append(self.note)
        described = self.describe_filter()
        if described:
            parts.append(described)
        parts.append(f"sorted by {self.sort.label}")
        if self.marked:
            parts.append(f"{len(self.marked)} marked")
        if self.window is not None:  # rows beyond the window: above, below
            arrows = ("" if self.window.at_start else "↑") + ("" if self.window.at_end else "↓")
            if arrows:
                parts.append(f"more {arrows}")
        if self._slow:
            parts.append("reading…")
        text = " · ".join(parts)
        # The same words again send nothing to the terminal.
        if text != self._title_shown and self.built:
            self._title_shown = text
            self.query_one(f"#{self.pane_name}-title", Static).update(Content(text))


class AlertsPane(RecordPane[AlertRow, AlertQuery]):
    pane_name = "alerts"
    title = "Alerts"
    number = 1
    sorts = ALERT_SORTS
    empty_text = "no alerts match — all quiet"
    quiet_note: str | None = None
    """Said instead of "all quiet" when it is not: nothing can come in or go out yet, or
    records wait held with no alert open (see :func:`imtui.tui.text.quiet_note`)."""

    def nothing_shown(self) -> str:
        if getattr(self.spec, "text", "") or self.quiet_note is None:
            return super().nothing_shown()
        return self.quiet_note

    def show_note(self, note: str | None) -> None:
        if note != self.quiet_note:
            self.quiet_note = note
            if self.loaded_once:  # else "loading…" shows, and the rows' arrival says the note
                self.table.empty_text = self.nothing_shown()
                self.table.refresh()

    columns = [
        Column("id", "ID", 6, right=True),
        Column("glyph", "S", 1, instead_of="state"),
        Column("state", "STATE", 8, drop=1),
        Column("age", "AGE", 4, right=True),
        Column("count", "N", 3, right=True),
        Column("kind", "KIND", 12),
        Column("about", "ORDER/SKU", 10, max_width=16),
        Column("connection", "CONN", 8, max_width=16),
        Column("message", "MESSAGE", 0),
    ]

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[AlertRow]:
        return backend.alerts(self.spec, position, size)

    def table_row(self, record: AlertRow, now: datetime) -> TableRow:
        if record.state != AlertState.OPEN:
            tone = "ok" if record.state == AlertState.RESOLVED else "muted"
        else:
            tone = "bad" if record.needs_person else "warn"
        return TableRow(
            record.id,
            (
                str(record.id),
                alert_glyph(record),
                f"{alert_glyph(record)} {ALERT_STATE_LABELS.get(record.state, safe(record.state))}",
                age(record.first_seen, now),
                repeat_count(record.count),
                KIND_LABELS.get(record.kind, safe(record.kind)),
                safe(record.order_number or record.sku, limit=60),
                safe(record.connection, limit=60),
                safe(record.message),
            ),
            tone,
        )

    def describe_filter(self) -> str:
        states = self.spec.filter.states
        text = ", ".join(states) if states else "all states"
        return text + (f" · filter {safe(self.spec.text, limit=40)}" if self.spec.text else "")


class OrdersPane(RecordPane[OrderRow, OrderQuery]):
    pane_name = "orders"
    title = "Orders"
    number = 2
    sorts = ORDER_SORTS
    empty_text = "no orders match"
    columns = [
        Column("id", "ID", 7, right=True),
        Column("number", "NUMBER", 9),
        Column("status", "STATUS", 9),
        Column("method", "SHIP METHOD", 16, max_width=26),
        Column("updated", "CHANGED", 7, right=True, drop=1),
        Column("wms", "WMS", 10, drop=2),
        Column("tracking", "TRACKING", 14, drop=3, max_width=22),
        Column("hold", "HELD FOR", 12, max_width=16),  # why it waits: shown at any width
        Column("ship_to", "SHIP TO", 0),
    ]

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[OrderRow]:
        return backend.orders(self.spec, position, size)

    def table_row(self, record: OrderRow, now: datetime) -> TableRow:
        tones: dict[str, str] = {
            OrderStatus.HELD: "bad",
            OrderStatus.SKIPPED: "bad",
            OrderStatus.QUEUED: "warn",
            OrderStatus.FULFILLED: "muted",
            OrderStatus.CANCELLING: "warn",
            OrderStatus.CANCELLED: "muted",
        }
        tone = tones.get(record.status, "")
        place = ", ".join(p for p in (record.ship_city, record.ship_country) if p)
        return TableRow(
            record.id,
            (
                str(record.id),
                safe(record.number, limit=60),
                safe(record.status),
                safe(record.ship_method_code, limit=60),
                age(record.updated_at, now),
                safe(record.wms_order_id, limit=60),
                safe(record.tracking_number, limit=60),
                KIND_LABELS.get(record.hold_reason or "", safe(record.hold_reason)),
                safe(f"{record.ship_name} — {place}" if place else record.ship_name),
            ),
            tone,
        )

    def describe_filter(self) -> str:
        return f"filter {safe(self.spec.text, limit=40)}" if self.spec.text else "all"


class QueuePane(RecordPane[RetryRow, QueueQuery]):
    pane_name = "queue"
    title = "Retry queue"
    number = 3
    sorts = QUEUE_SORTS
    empty_text = "the queue is empty"
    columns = [
        Column("id", "ID", 6, right=True),
        Column("operation", "OP", 8),
        Column("subject", "SUBJECT", 10, max_width=16),
        Column("state", "STATE", 7),
        Column("attempts", "TRIES", 5, right=True),
        Column("next", "NEXT", 9, right=True),
        Column("deadline", "DEADLINE", 8, right=True),
        Column("class", "CLASS", 13, drop=2, max_width=16),
        Column("error", "LAST ERROR", 0),
    ]

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[RetryRow]:
        return backend.queue(self.spec, position, size)

    def table_row(self, record: RetryRow, now: datetime) -> TableRow:
        tones: dict[str, str] = {
            RetryState.HELD: "bad",
            RetryState.SKIPPED: "bad",
            RetryState.DONE: "muted",
        }
        tone = tones.get(record.state, "")
        leased = record.lease_expires_at is not None and record.lease_expires_at > now
        if record.lease_owner and leased:
            next_text = "sending"  # a live worker holds it now
        elif record.state == RetryState.DUE:
            next_text = countdown(record.next_attempt_at, now)
            if record.in_flight_since is not None:
                # The last try's outcome is unknown (no answer came): the next one asks first.
                next_text = f"?{next_text}"
        else:
            next_text = "—"
        return TableRow(
            record.id,
            (
                str(record.id),
                OPERATION_LABELS.get(record.operation, safe(record.operation)),
                safe(record.subject_label, limit=60),
                safe(record.state),
                str(record.attempts),
                next_text,
                # A held row waits for a person, never for its deadline: it is not skipped.
                countdown(record.deadline_at, now)
                if record.deadline_at and record.state != RetryState.HELD
                else "—",
                safe(record.last_failure_class),
                safe(record.last_error),
            ),
            tone,
        )

    def describe_filter(self) -> str:
        states = self.spec.filter.states
        text = ", ".join(states) if states else "all states"
        return text + (f" · filter {safe(self.spec.text, limit=40)}" if self.spec.text else "")


EMAIL_OFF = "email off"
"""What a contact's next digest, or a waiting email, shows when this process sends no email."""


class ContactsPane(RecordPane["ContactRow", ContactQuery]):
    """An account's alert contacts (B7): who is emailed, how often, what waits for them."""

    pane_name = "contacts"
    title = "Alert contacts"
    number = 0
    sorts = CONTACT_SORTS
    empty_text = "no alert contacts: n adds one"
    columns = [
        Column("id", "ID", 4, right=True),
        Column("name", "NAME", 16, max_width=28),
        Column("email", "EMAIL", 0),
        Column("frequency", "FREQUENCY", 11),
        Column("waiting", "WAIT", 4, right=True, drop=2),
        Column("digest", "DIGEST", 9, right=True, drop=1),
        Column("account", "ACCOUNT", 14, drop=3),
    ]

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[ContactRow]:
        return backend.contacts(self.spec, position, size)

    def table_row(self, record: ContactRow, now: datetime) -> TableRow:
        tone = "muted" if record.frequency == "off" else ""
        return TableRow(
            record.id,
            (
                str(record.id),
                safe(record.name, limit=60),
                safe(record.email, limit=254),
                safe(record.frequency),
                str(record.waiting) if record.waiting else "",
                self._digest_when(record, now),
                safe(record.account, limit=60),
            ),
            tone,
        )

    def _digest_when(self, record: ContactRow, now: datetime) -> str:
        if record.next_digest_at is None:
            return ""
        return EMAIL_OFF if self.backend.email_off() else countdown(record.next_digest_at, now)

    def describe_filter(self) -> str:
        return ""

    def next_sort(self) -> str:
        return self.sort.label


OUTBOX_TONES = {
    "failing": "bad",
    "failed": "bad",
    "queued": "warn",
    "sending": "warn",
    "cancelled": "muted",
}


class OutboxPane(RecordPane["OutboxRow", OutboxQuery]):
    """Alert emails: waiting, failing with the mail server's own reply, refused for good
    (failed), sent, cancelled (or folded into a summary)."""

    pane_name = "outbox"
    title = "Outbox"
    number = 0
    sorts = OUTBOX_SORTS
    empty_text = "no emails here"
    columns = [
        Column("id", "ID", 5, right=True),
        Column("state", "STATE", 9),
        Column("attempts", "N", 3, right=True),
        Column("when", "WHEN", 9, right=True),
        Column("to", "TO", 22, max_width=36),
        Column("kind", "KIND", 6, drop=1),
        Column("reply", "SERVER REPLY / SUBJECT", 0),
    ]

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[OutboxRow]:
        return backend.outbox(self.spec, position, size)

    def table_row(self, record: OutboxRow, now: datetime) -> TableRow:
        state = record.state
        if state in ("queued", "failing"):
            # With email off nothing is late: it waits for email to be set up.
            off = self.backend.email_off()
            when = EMAIL_OFF if off else countdown(record.next_attempt_at, now)
        elif state == "sending":
            when = "sending"
        else:
            when = f"{age(record.sent_at or record.updated_at, now)} ago"
        if state in ("failing", "failed", "cancelled"):
            reply = record.last_error or record.subject
        elif state == "sent":
            reply = record.smtp_reply or record.subject
        else:
            reply = record.subject
        return TableRow(
            record.id,
            (
                str(record.id),
                safe(state),
                str(record.attempts),
                when,
                safe(record.recipient, limit=254),
                safe(record.kind),
                safe(reply),
            ),
            OUTBOX_TONES.get(state, "muted" if state == "sent" else ""),
        )

    def describe_filter(self) -> str:
        return "all emails" if self.spec.view == "all" else self.spec.view

    def next_view(self) -> str:
        self.set_query(self.spec.next_view())
        return self.spec.view
