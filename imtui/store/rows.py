"""The rows and filters of the store's read modules (:mod:`imtui.store.order_reads`, …) and
:mod:`imtui.store.windows`: named tuples with no database code, so a screen can name them, build
filters and read rows without importing the database layer (the dashboard paints before
SQLAlchemy has loaded).

Named tuples, not frozen dataclasses: as immutable, and a class costs a tenth as much to make.
On Python 3.11 a frozen, slotted dataclass compiles six methods when its module is imported —
about a millisecond each class on two cores — and this module's two dozen were a tenth of the
dashboard's start over a bare Textual app's (issue 15). Built in their thousands by the reads,
they are quicker to make too. Change one with ``row._replace(…)``.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from imtui.domain.states import AlertKind, AlertState, RetryState

if TYPE_CHECKING:
    from imtui.domain.fixes import FixFacts
    from imtui.domain.records import Address, OrderLine

R = TypeVar("R")


class InvalidCursor(ValueError):
    """An ``after`` cursor that this listing did not hand out."""


class Page(NamedTuple, Generic[R]):
    rows: list[R]
    next_cursor: str | None
    """Pass as ``after`` for the next page; None on the last page."""


# -- rows -------------------------------------------------------------------------------------


class AccountRow(NamedTuple):
    id: int
    name: str
    kind: str
    connections: int
    created_at: datetime


class ConnectionRow(NamedTuple):
    id: int
    account_id: int
    account: str
    name: str
    role: str
    platform: str
    base_url: str
    credential_keys: tuple[str, ...]
    """Which credentials are set; their values never leave the store through this module."""
    settings: dict[str, Any]
    poll_interval_s: int
    paused: bool
    paused_reason: str | None
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    watermark: datetime | None
    updated_at: datetime
    credentials_unreadable: str | None = None
    """Why the stored credentials cannot be opened here (no key, or not theirs); None when
    they can (then :attr:`credential_keys` names them)."""


class SetupLine(NamedTuple):
    """One line of the dashboard's Accounts & connections screen: an account, or one of its
    connections under it."""

    id: int
    """The account's id negated for an account's line, the connection's id for a
    connection's: one key space for the screen's rows."""
    account_id: int
    account: str
    account_kind: str
    connection: ConnectionRow | None
    """None on an account's line."""
    open_alerts: int = 0
    """Open connection-wide alerts (credentials, settings, the remote down) on a connection's
    line; on an account's line, all of its connections' together."""
    missing: tuple[str, ...] = ()
    """On an account's line, the roles it has no connection for yet ("source", "wms")."""


class PausedConnection(NamedTuple):
    id: int
    name: str
    account: str
    reason: str | None
    rejected: bool
    """Paused because the remote refused its credentials or settings (an open alert says so)."""


class SetupState(NamedTuple):
    """How far the accounts in view are set up: what the dashboard says in place of "all
    quiet" while nothing could come in, and the paused connections the header names."""

    accounts: int
    without_source: tuple[str, ...] = ()
    """Accounts (names) with no shop connection: no order can come in for them."""
    without_wms: tuple[str, ...] = ()
    """Accounts (names) with no WMS connection: no order can go out for them."""
    paused: tuple[PausedConnection, ...] = ()

    @property
    def complete(self) -> bool:
        return bool(self.accounts) and not (self.without_source or self.without_wms)


class OrderRow(NamedTuple):
    id: int
    number: str
    reference: str
    account_id: int
    account: str
    status: str
    hold_reason: str | None
    ship_name: str
    ship_city: str
    ship_country: str
    ship_method_code: str
    wms_order_id: str | None
    tracking_number: str | None
    created_at: datetime
    updated_at: datetime


class RetryRow(NamedTuple):
    id: int
    account_id: int
    connection_id: int
    operation: str
    subject_id: int
    subject_label: str
    state: str
    attempts: int
    consecutive_failures: int
    last_error: str | None
    last_failure_class: str | None
    next_attempt_at: datetime | None
    deadline_at: datetime | None
    first_failure_at: datetime | None
    in_flight_since: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    updated_at: datetime


class AttemptRow(NamedTuple):
    id: int
    retry_item_id: int
    operation: str
    at: datetime
    ok: bool
    outcome: str
    """"sent", "linked", … on success; the failure class otherwise."""
    http_status: int | None
    message: str
    """The remote system's words, verbatim."""
    duration_ms: int | None
    worker: str
    subject_label: str = ""
    """The record it was about (order number or SKU), when the query asked for it."""


class AlertRow(NamedTuple):
    id: int
    account_id: int
    account: str
    connection_id: int | None
    connection: str | None
    kind: str
    headline: str
    """The kind in the operator's words: "Ship method has no mapping"."""
    state: str
    needs_person: bool
    message: str
    order_id: int | None
    order_number: str | None
    sku: str | None
    subject: str | None
    http_status: int | None
    count: int  # type: ignore[assignment]  # the field, in place of tuple.count
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class AlertEventRow(NamedTuple):
    id: int
    at: datetime
    event: str
    actor: str
    detail: str


class MappingRow(NamedTuple):
    id: int
    account_id: int
    account: str
    source_code: str
    carrier: str
    mode: str
    billing_code: str
    updated_at: datetime
    delivered_at: datetime | None = None
    """When the WMS last took an order sent through it; None while its carrier and mode are
    unproven."""


class AuditRow(NamedTuple):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


class OrderDetail(NamedTuple):
    order: OrderRow
    address: "Address"
    ship_method_title: str
    carrier: str | None
    shipped_at: datetime | None
    fulfilled_at: datetime | None
    lines: "tuple[OrderLine, ...]"
    retries: tuple[RetryRow, ...]
    """Its delivery and tracking-push rows in the retry queue."""
    attempts: tuple[AttemptRow, ...]
    """The newest attempts first, at most ``attempts_limit`` of them."""
    attempts_total: int
    alerts: tuple[AlertRow, ...]
    history: tuple[AuditRow, ...] = ()
    """What people did to the order (edits, resends), newest first: who changed it."""


class AuditFilter(NamedTuple):
    """Audit entries by who (exact), what (an action or its first word: "mapping" finds
    mapping.set and mapping.delete), to what (exact: "order:12"), and free text in any of
    them or the detail."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    search: str | None = None


class AlertDetail(NamedTuple):
    alert: AlertRow
    events: tuple[AlertEventRow, ...]
    ship_method_code: str | None
    """For an unmapped-ship-method alert: the code that needs a mapping."""
    platform: str | None
    """The platform of the alert's connection, to name the credential keys to fix."""
    attempts: tuple[AttemptRow, ...] = ()
    """The failed attempts behind the alert, newest first (at most a page of them): its
    record's, or for a connection-wide alert those on its connection and channel while it was
    open, or for a ship-method alert those of every order it held."""
    attempts_total: int = 0
    held_orders: tuple[OrderRow, ...] = ()
    """For an unmapped ship method or unknown carrier: the orders held for that method now,
    newest first (at most a page of them)."""
    held_total: int = 0


def fix_facts(detail: AlertDetail) -> "FixFacts":
    """What the fix for the alert depends on (:mod:`imtui.domain.fixes`), with the credential
    keys of its connection's platform: one reading for the CLI, emails and the link's page."""
    from imtui.domain.fixes import FixFacts  # not at import: the dashboard's start needs none
    from imtui.domain.platforms import credential_keys

    alert = detail.alert
    return FixFacts(
        alert_id=alert.id,
        kind=alert.kind,
        state=alert.state,
        account_id=alert.account_id,
        connection_id=alert.connection_id,
        order_number=alert.order_number,
        ship_method_code=detail.ship_method_code,
        credential_keys=credential_keys(detail.platform),
        contact_id=refused_contact(alert.kind, alert.subject),
    )


def refused_contact(kind: str, subject: str | None) -> int | None:
    """The contact a refused-address alert is about: its subject is "contact:<id>"."""
    channel, _, key = (subject or "").partition(":")
    if kind != AlertKind.EMAIL_REFUSED or channel != "contact" or not key.isdecimal():
        return None
    return int(key)


class HeaderCounts(NamedTuple):
    open_alerts: int
    needs_person: int
    """Open alerts that no retry will resolve."""
    due_now: int
    held: int
    skipped: int
    engine_beat: datetime | None = None
    """When any engine last ran a cycle on this database (see :mod:`imtui.store.beats`)."""
    setup: SetupState | None = None
    """Accounts and connections as set up (None until read: the first screen's quick read
    leaves it out)."""


class QueueFilter(NamedTuple):
    states: tuple[str, ...] = (RetryState.DUE, RetryState.HELD, RetryState.SKIPPED)
    operation: str | None = None
    account_id: int | None = None


class OrderFilter(NamedTuple):
    status: str | None = None
    account_id: int | None = None
    search: str | None = None
    hold_reasons: tuple[str, ...] = ()
    """Only orders held for one of these (the alert kind that holds them)."""


class AlertFilter(NamedTuple):
    states: tuple[str, ...] = (AlertState.OPEN,)
    account_id: int | None = None
    kind: str | None = None


# -- windows: where a screen's rows start, and the sort orders a list can be read in -----------

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
"""Stands in for "no time set" so rows without one sort last and keyset comparisons stay total."""


class Anchor(StrEnum):
    FIRST = "first"
    """The first rows in sort order."""
    LAST = "last"
    """The last rows."""
    AT = "at"
    """Starting at a row (inclusive); filled up from before it near the end."""
    AFTER = "after"
    """Starting just after a row: page down."""
    BEFORE = "before"
    """Ending just before a row: page up."""


class Position(NamedTuple):
    anchor: Anchor = Anchor.FIRST
    key: tuple[Any, ...] | None = None
    """The sort key of the row the anchor refers to (see :attr:`Sort.key_of`)."""


TOP = Position()


class Window(NamedTuple, Generic[R]):
    rows: list[R]
    at_start: bool
    """Nothing comes before the first row."""
    at_end: bool
    """Nothing comes after the last row."""


class Sort(NamedTuple, Generic[R]):
    """A sort order as a screen knows it; :mod:`imtui.store.windows` adds the SQL."""

    name: str
    label: str
    descending: bool
    key_of: Callable[[R], tuple[Any, ...]]
    """The row's sort key: where a window that starts at the row starts."""


def _later(value: datetime | None) -> datetime:
    return value if value is not None else FAR_FUTURE


def _by_name(*sorts: Sort[R]) -> dict[str, Sort[R]]:
    return {sort.name: sort for sort in sorts}


ORDER_SORTS: dict[str, Sort[OrderRow]] = _by_name(
    Sort("newest", "newest first", True, lambda r: (r.id,)),
    Sort("oldest", "oldest first", False, lambda r: (r.id,)),
    Sort("updated", "recently changed", True, lambda r: (r.updated_at, r.id)),
)

ALERT_SORTS: dict[str, Sort[AlertRow]] = _by_name(
    Sort("newest", "newest first", True, lambda r: (r.id,)),
    Sort("last_seen", "last seen", True, lambda r: (r.last_seen, r.id)),
    Sort("count", "most repeated", True, lambda r: (r.count, r.id)),
    Sort("oldest", "oldest first", False, lambda r: (r.id,)),
)

QUEUE_SORTS: dict[str, Sort[RetryRow]] = _by_name(
    Sort("next_attempt", "next attempt", False, lambda r: (_later(r.next_attempt_at), r.id)),
    Sort("newest", "newest first", True, lambda r: (r.id,)),
    Sort("deadline", "deadline", False, lambda r: (_later(r.deadline_at), r.id)),
    Sort("attempts", "most attempts", True, lambda r: (r.attempts, r.id)),
)


class FirstScreen(NamedTuple):
    """What a dashboard shows first — the header's counts and the newest open alerts — read
    by :mod:`imtui.store.first_screen` in a helper process while the dashboard starts."""

    counts: HeaderCounts
    alerts: Window[AlertRow]


OUTBOX_SORTS: dict[str, Sort[Any]] = _by_name(
    Sort("newest", "newest first", True, lambda r: (r.id,)),
    Sort("oldest", "oldest first", False, lambda r: (r.id,)),
)
"""The outbox's rows are :class:`imtui.store.outbox.OutboxRow`."""

CONTACT_SORTS: dict[str, Sort[Any]] = _by_name(
    Sort("name", "account, then name", False, lambda r: (r.id,)),
)
"""Contacts come as one short list in the store's order; the key only finds a row again."""

MAPPING_SORTS: dict[str, Sort[Any]] = _by_name(
    Sort("code", "account, then ship method", False, lambda r: (r.id,)),
)
"""Mappings come as one short list in the store's order, as CONTACT_SORTS."""

AUDIT_SORTS: dict[str, Sort[AuditRow]] = _by_name(
    Sort("newest", "newest first", True, lambda r: (r.id,)),
)

SETUP_SORTS: dict[str, Sort[Any]] = _by_name(
    Sort("account", "account", False, lambda r: (r.id,)),
)
"""Accounts and connections come as one short list in the store's order, as CONTACT_SORTS."""


def window_of_list(rows: list[R], position: Position, size: int, sort: Sort[R]) -> Window[R]:
    """A window onto a list held whole (a short one: an account's contacts), the way
    :mod:`imtui.store.windows` cuts one from a table."""
    size = max(1, size)
    keys = [sort.key_of(row) for row in rows]
    index = keys.index(position.key) if position.key in keys else None
    if position.anchor is Anchor.LAST:
        start = max(0, len(rows) - size)
    elif index is None or position.anchor is Anchor.FIRST:
        start = 0
    elif position.anchor is Anchor.AFTER:
        start = index + 1
    elif position.anchor is Anchor.BEFORE:
        start = index - size
    else:
        start = index
    start = max(0, min(start, len(rows) - size))
    shown = rows[start : start + size]
    return Window(shown, start == 0, start + len(shown) >= len(rows))
