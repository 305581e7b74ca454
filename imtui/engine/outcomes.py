"""What the result of one attempt does to the store: the one function that turns a remote
failure into retry state and an alert, and its counterpart for success.

Everything here runs inside the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, SQLModel, col, select

from imtui.domain.alerts import CHANNEL_OPERATIONS, AlertScope, AlertState, alert_kind_for
from imtui.domain.failures import AlertKind, Failure, FailureClass
from imtui.domain.orders import NOT_IN_WMS, OrderStatus
from imtui.domain.records import WmsOrder
from imtui.domain.retry import Operation, RetryState, after_failure, policy_for
from imtui.store.alerts import (
    AlertSubject,
    close_alerts,
    open_alerts_touching,
    raise_alert,
    resolve_alerts_for,
)
from imtui.store.models import (
    Alert,
    Attempt,
    Connection,
    InventoryLevel,
    Order,
    RetryItem,
    ShipMethodMapping,
)
from imtui.store.queue import CANCELLED, among, items_by_id, release_lease, retry_keys

SUBJECT_PREFIX = {operation: channel for channel, operation in CHANNEL_OPERATIONS.items()}


def subject_of(item: RetryKey) -> str:
    return f"{SUBJECT_PREFIX[Operation(item.operation)]}:{item.subject_id}"


class Routed(NamedTuple):
    """The mapping a delivery went out through, and the carrier and mode it carried."""

    mapping_id: int
    carrier: str
    mode: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt of one claimed row came to."""

    item_id: int
    failure: Failure | None = None
    label: str = "sent"
    """"sent", "linked" (the remote already had it), "unsold" (shop has no such SKU) …"""
    wms_order: WmsOrder | None = None
    pushed_available: int | None = None
    duration_ms: int | None = None
    still_in_flight: bool = False
    """The failure came before any send (the look-up that should settle an unknown outcome
    failed): the record stays marked in flight, whatever the failure's class."""
    routed: Routed | None = None
    """A delivery the WMS created from this very request: the mapping it went out through and
    the carrier and mode it carried (proven by it). None for one it already had ("linked":
    sent before, perhaps with another mapping)."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def taking(self, duration_ms: int) -> Outcome:
        """This outcome, timed (``dataclasses.replace`` cost 1 % of a send's CPU)."""
        return Outcome(
            self.item_id,
            self.failure,
            self.label,
            self.wms_order,
            self.pushed_available,
            duration_ms,
            self.still_in_flight,
            self.routed,
        )


def apply_outcomes(
    session: Session,
    outcomes: list[Outcome],
    *,
    clock: Callable[[], datetime],
    worker: str,
    keys: Mapping[int, RetryKey] | None = None,
) -> None:
    """Record a batch of outcomes in one transaction.

    Successes of deliveries, tracking and stock pushes — nearly every outcome — go as a few
    statements for the whole batch, with no ORM object loaded. Failures and cancellations go
    one by one through the ORM rows the failure rules work on; everything they touch is loaded
    up front (rows land in the session's identity map, so the per-outcome lookups cost no
    query) and autoflush is off, so their changes go out as one flush of batched statements.

    The time is read once the transaction holds the database (after its first statement), not
    before it waited its turn: another worker's alert raised meanwhile must not look resolved
    before it was first seen.
    """
    with session.no_autoflush:
        if keys is None:  # what their rows are about, unless the caller has just read it
            keys = retry_keys(session, [outcome.item_id for outcome in outcomes])
        now = clock()
        connection_ids = {key.connection_id for key in keys.values()}
        candidates = open_alerts_touching(
            session, {subject_of(key) for key in keys.values()}, connection_ids
        )
        done = Done(session, now=now, worker=worker, candidates=candidates)
        bulk = [(keys[o.item_id], o) for o in outcomes if o.ok and _bulk(keys[o.item_id])]
        for operation, record in BULK_SUCCESS.items():
            record(done, [(key, o) for key, o in bulk if key.operation == operation])
        rest = [o for o in outcomes if not (o.ok and _bulk(keys[o.item_id]))]
        if rest:
            _apply_each(session, rest, now=now, worker=worker, candidates=candidates)
        for connection_id, operation in sorted(
            {(keys[o.item_id].connection_id, keys[o.item_id].operation) for o in outcomes if o.ok}
        ):
            settle_outage(session, connection_id, Operation(operation), now, candidates)


def _bulk(key: RetryKey) -> bool:
    return key.operation in BULK_SUCCESS


def settle_outage(
    session: Session,
    connection_id: int,
    operation: Operation,
    now: datetime,
    candidates: list[Alert],
) -> None:
    """A record got through on this connection and channel, so the remote works again.

    Its outage alert (unreachable, server errors, …) closes only when the records the outage
    held up have gone through too: those still waiting on a failure are made due now — the
    success was the probe — and the alert stays open, one alert for the one outage, until the
    last of them succeeds (B2).
    """
    channel = SUBJECT_PREFIX[operation]
    outage = [
        alert
        for alert in candidates
        if alert.state == AlertState.OPEN
        and alert.connection_id == connection_id
        and alert.scope == AlertScope.CONNECTION
        and alert.subject == channel
    ]
    if not outage:
        return
    session.flush()
    failing = (
        col(RetryItem.connection_id) == connection_id,
        col(RetryItem.operation) == operation,
        col(RetryItem.state) == RetryState.DUE,
        col(RetryItem.consecutive_failures) > 0,
    )
    # Only rows that failed before this batch: this batch's own failures keep their wait
    # (a Retry-After among them), and a remote that fails every other request is not hammered.
    session.execute(
        update(RetryItem)
        .where(*failing, col(RetryItem.updated_at) < now, col(RetryItem.next_attempt_at) > now)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    if session.exec(select(RetryItem.id).where(*failing).limit(1)).first() is None:
        close_alerts(session, outage, now=now, detail="the records it held up have gone through")


def _apply_each(
    session: Session,
    outcomes: list[Outcome],
    *,
    now: datetime,
    worker: str,
    candidates: list[Alert],
) -> None:
    items = items_by_id(session, [outcome.item_id for outcome in outcomes])
    by_operation: dict[str, list[int]] = {}
    for item in items.values():
        by_operation.setdefault(item.operation, []).append(item.subject_id)
    order_ids = [
        subject_id
        for operation in (Operation.DELIVER_ORDER, Operation.PUSH_TRACKING, Operation.CANCEL_ORDER)
        for subject_id in by_operation.get(operation, [])
    ]
    # Held in a local: the identity map only keeps rows that something references.
    loaded: list[SQLModel] = []
    if order_ids:
        orders = session.exec(select(Order).where(col(Order.id).in_(order_ids)))
        loaded += orders
    level_ids = by_operation.get(Operation.PUSH_INVENTORY, [])
    if level_ids:
        levels = session.exec(select(InventoryLevel).where(col(InventoryLevel.id).in_(level_ids)))
        loaded += levels
    connection_ids = {item.connection_id for item in items.values()}
    connections = session.exec(select(Connection).where(col(Connection.id).in_(connection_ids)))
    loaded += connections
    for outcome in outcomes:
        apply_outcome(
            session, items[outcome.item_id], outcome, now=now, worker=worker, candidates=candidates
        )


class RetryKey(Protocol):
    """The columns of a retry row that name what it is about."""

    id: int | None
    operation: str
    subject_id: int
    connection_id: int


DONE = {
    "state": RetryState.DONE,
    "consecutive_failures": 0,
    "first_failure_at": None,
    "deadline_at": None,
    "next_attempt_at": None,
    "last_error": None,
    "last_failure_class": None,
    "in_flight_since": None,
    "lease_owner": None,
    "lease_expires_at": None,
}
"""A retry row after its success: nothing pending, nothing failing, nobody holding it."""

Succeeded = Sequence[tuple[RetryKey, Outcome]]


@dataclass(frozen=True, slots=True)
class Done:
    """What every success writes, for a whole batch at once: its rows done, one attempt each,
    and the alerts about its records resolved. The per-row ORM path cost ~2 ms a row, which
    alone capped a worker near 500 orders/s."""

    session: Session
    now: datetime
    worker: str
    candidates: list[Alert]

    def record(self, succeeded: Succeeded) -> None:
        """The rows done, in one UPDATE (every row gets the same values), and their attempts
        in one executemany."""
        rows = _table(RetryItem)
        ids = [key.id for key, _ in succeeded if key.id is not None]
        self.session.execute(
            update(rows)
            .where(among(self.session, rows.c.id, ids))
            .values(**DONE, updated_at=self.now)
        )
        self.session.execute(
            insert(_table(Attempt)),
            [_attempt_row(key, o, now=self.now, worker=self.worker) for key, o in succeeded],
        )
        if self.candidates:
            for key, _ in succeeded:
                resolve_alerts_for(
                    self.session,
                    connection_id=key.connection_id,
                    subject=subject_of(key),
                    now=self.now,
                    candidates=self.candidates,
                    include_connection_alerts=False,  # outages: settle_outage
                )


def _record_delivered(done: Done, delivered: Succeeded) -> None:
    """The WMS has these orders: delivered (unless already further on), no longer held, and
    linked to the WMS's id where it told us one — one statement for the batch."""
    if not delivered:
        return
    done.record(delivered)
    orders = _table(Order)
    moved = {
        "status": case(
            (
                orders.c.status.in_([_written(status) for status in NOT_IN_WMS]),
                _written(OrderStatus.DELIVERED),
            ),
            else_=orders.c.status,
        ),
        "hold_reason": None,
        "updated_at": done.now,
    }
    order_ids = [key.subject_id for key, _ in delivered]
    wms_ids = [o.wms_order.wms_id if o.wms_order else None for _, o in delivered]
    if done.session.get_bind().dialect.name == "postgresql":
        # The batch as two arrays joined to the table, one statement: psycopg's executemany
        # adapts and sends each row on its own (outcome records 0.068 -> 0.063 ms an order).
        given = select(
            func.unnest(bindparam("order_ids", order_ids, type_=ARRAY(Integer))).label("id"),
            func.unnest(bindparam("wms_ids", wms_ids, type_=ARRAY(String))).label("wms_id"),
        ).subquery("given")
        done.session.execute(
            update(orders)
            .where(orders.c.id == given.c.id)
            .values(**moved, wms_order_id=func.coalesce(given.c.wms_id, orders.c.wms_order_id))
        )
    else:  # SQLite: one executemany
        done.session.execute(
            update(orders)
            .where(orders.c.id == bindparam("order_id"))
            .values(
                **moved,
                wms_order_id=func.coalesce(bindparam("wms_order_id"), orders.c.wms_order_id),
            ),
            [
                {"order_id": order_id, "wms_order_id": wms_id}
                for order_id, wms_id in zip(order_ids, wms_ids, strict=True)
            ],
        )
    _note_mappings_delivered(done, {o.routed for _, o in delivered if o.routed is not None})


MAPPING_NOTE_EVERY = timedelta(hours=1)
"""How stale a mapping's "last delivered" may grow before a delivery writes it again: a busy
mapping is written once an hour, not once per batch (and two workers rarely wait on its row)."""


def _note_mappings_delivered(done: Done, routes: set[Routed]) -> None:
    """The ship-method mappings these orders went out through, still on the carrier and mode
    they carried, have now delivered: that pair is proven (what the mapping form counts as
    "in use"). One statement of the same text per mapping (a batch rarely uses more than a
    few). Best effort: a mapping row another worker is noting is skipped, not waited for (two
    workers noting two mappings in opposite order would otherwise deadlock)."""
    if not routes:
        return
    mappings = _table(ShipMethodMapping)
    candidate = mappings.alias("candidate")
    due = (
        select(candidate.c.id)
        .where(
            candidate.c.id == bindparam("route_mapping"),
            candidate.c.carrier == bindparam("route_carrier"),
            candidate.c.mode == bindparam("route_mode"),
            candidate.c.delivered_at.is_(None)
            | (candidate.c.delivered_at < bindparam("noted_before")),
        )
        .with_for_update(skip_locked=True)
    )
    stale = done.now - MAPPING_NOTE_EVERY
    for route in sorted(routes):
        done.session.execute(
            update(mappings).where(mappings.c.id.in_(due)).values(delivered_at=done.now),
            {
                "route_mapping": route.mapping_id,
                "route_carrier": route.carrier,
                "route_mode": route.mode,
                "noted_before": stale,
            },
        )


def _record_tracked(done: Done, tracked: Succeeded) -> None:
    """The shop has the tracking of these orders: fulfilled."""
    if not tracked:
        return
    done.record(tracked)
    orders = _table(Order)
    done.session.execute(
        update(orders)
        .where(among(done.session, orders.c.id, [key.subject_id for key, _ in tracked]))
        .values(status=OrderStatus.FULFILLED, fulfilled_at=done.now, updated_at=done.now)
    )


def _record_stock_pushed(done: Done, pushed: Succeeded) -> None:
    """The shop has these stock figures. A level the WMS moved while the push was on its way
    is due again at once, to push the newer figure."""
    if not pushed:
        return
    done.record(pushed)
    levels = _table(InventoryLevel)
    done.session.execute(
        update(levels)
        .where(levels.c.id == bindparam("level_id"))
        .values(pushed_available=bindparam("pushed"), pushed_at=done.now),
        [
            {"level_id": key.subject_id, "pushed": outcome.pushed_available}
            for key, outcome in pushed
        ],
    )
    figure = {key.subject_id: outcome.pushed_available for key, outcome in pushed}
    current = done.session.execute(
        select(levels.c.id, levels.c.wms_available).where(
            among(done.session, levels.c.id, list(figure))
        )
    )
    moved = {level_id for level_id, available in current if available != figure[level_id]}
    if moved:
        rows = _table(RetryItem)
        done.session.execute(
            update(rows)
            .where(rows.c.id.in_([key.id for key, _ in pushed if key.subject_id in moved]))
            .values(state=RetryState.DUE, next_attempt_at=done.now)
        )


BULK_SUCCESS: dict[str, Callable[[Done, Succeeded], None]] = {
    Operation.DELIVER_ORDER: _record_delivered,
    Operation.PUSH_TRACKING: _record_tracked,
    Operation.PUSH_INVENTORY: _record_stock_pushed,
}
"""The successes recorded a batch at a time; a cancellation's (rare, and with more to do)
goes through :func:`apply_outcome`."""


def _written(value: StrEnum) -> ColumnElement[str]:
    """A fixed value written into a statement run as an executemany, which takes no lists."""
    return literal_column(f"'{value}'")


def _table(model: type[SQLModel]) -> Table:
    """The model's table, for statements that go straight to it: no ORM bookkeeping for rows
    nothing in the session holds."""
    # SQLModel gives a table class its __table__ when the class is made; its types omit it
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _attempt_row(item: RetryKey, outcome: Outcome, *, now: datetime, worker: str) -> dict[str, Any]:
    failure = outcome.failure
    return {
        "retry_item_id": item.id,
        "operation": item.operation,
        "subject_id": item.subject_id,
        "connection_id": item.connection_id,
        "at": now,
        "ok": failure is None,
        "outcome": outcome.label if failure is None else str(failure.failure_class),
        "alert_kind": None if failure is None else str(alert_kind_for(failure)),
        "http_status": failure.status if failure else None,
        "message": failure.message if failure else "",
        "duration_ms": outcome.duration_ms,
        "worker": worker,
    }


def apply_outcome(
    session: Session,
    item: RetryItem,
    outcome: Outcome,
    *,
    now: datetime,
    worker: str,
    candidates: list[Alert] | None = None,
) -> None:
    connection = session.get(Connection, item.connection_id)
    assert connection is not None
    if outcome.failure is None:
        _apply_success(session, item, outcome, connection, now, candidates)
    else:
        apply_failure(
            session,
            item,
            outcome.failure,
            connection=connection,
            now=now,
            keep_in_flight=outcome.still_in_flight,
        )
    session.add(Attempt(**_attempt_row(item, outcome, now=now, worker=worker)))


def _apply_success(
    session: Session,
    item: RetryItem,
    outcome: Outcome,
    connection: Connection,
    now: datetime,
    candidates: list[Alert] | None,
) -> None:
    operation = Operation(item.operation)
    for name, value in DONE.items():
        setattr(item, name, value)
    item.updated_at = now
    session.add(item)
    if operation is Operation.DELIVER_ORDER:
        order = session.get(Order, item.subject_id)
        assert order is not None
        if order.status in NOT_IN_WMS:
            order.status = OrderStatus.DELIVERED
        order.hold_reason = None
        if outcome.wms_order is not None:
            order.wms_order_id = outcome.wms_order.wms_id
        order.updated_at = now
        session.add(order)
    elif operation is Operation.PUSH_TRACKING:
        order = session.get(Order, item.subject_id)
        assert order is not None
        order.status = OrderStatus.FULFILLED
        order.fulfilled_at = now
        order.updated_at = now
        session.add(order)
    elif operation is Operation.CANCEL_ORDER:
        order = session.get(Order, item.subject_id)
        assert order is not None
        cancelled_in_wms(session, order, outcome.wms_order, now)
    else:
        level = session.get(InventoryLevel, item.subject_id)
        assert level is not None
        level.pushed_available = outcome.pushed_available
        level.pushed_at = now
        session.add(level)
        if level.wms_available != outcome.pushed_available:
            # The WMS moved on while we were sending: push the newer figure next.
            item.state = RetryState.DUE
            item.next_attempt_at = now
    resolve_alerts_for(
        session,
        connection_id=connection.id,
        subject=subject_of(item),
        now=now,
        candidates=candidates,
        include_connection_alerts=False,  # outages: settle_outage, once per batch
    )


def cancelled_in_wms(
    session: Session, order: Order, wms_order: WmsOrder | None, now: datetime
) -> None:
    """The WMS cancelled the order (or never had it): nothing more goes out for it (B11)."""
    order.status = OrderStatus.CANCELLED
    order.hold_reason = None
    if wms_order is not None:
        order.wms_order_id = wms_order.wms_id
    order.updated_at = now
    session.add(order)
    stop_sending(session, order.id or 0, now)


def stop_sending(session: Session, order_id: int, now: datetime) -> None:
    """The order's delivery (and any tracking push) will never be sent: the shop cancelled
    it. A row a worker holds right now is left to it; its claim finds the order cancelled."""
    session.execute(
        update(RetryItem)
        .where(
            col(RetryItem.subject_id) == order_id,
            col(RetryItem.operation).in_([Operation.DELIVER_ORDER, Operation.PUSH_TRACKING]),
            col(RetryItem.state) != RetryState.DONE,
            col(RetryItem.in_flight_since).is_(None),
        )
        .values(**CANCELLED, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )


def apply_failure(
    session: Session,
    item: RetryItem,
    failure: Failure,
    *,
    connection: Connection,
    now: datetime,
    keep_in_flight: bool = False,
) -> None:
    """The one place a failed attempt becomes retry state, an order status and an alert.

    The in-flight mark (look the record up before sending again) is cleared only by a failure
    that proves the send was not taken — never by one that came before any send."""
    operation = Operation(item.operation)
    policy = policy_for(operation, timedelta(seconds=connection.poll_interval_s))
    was_first = item.consecutive_failures == 0
    decision = after_failure(
        policy,
        failure.failure_class,
        now,
        None if was_first else item.deadline_at,
        failure.retry_after,
    )
    item.consecutive_failures += 1
    item.first_failure_at = item.first_failure_at if not was_first else now
    item.state = decision.state
    item.next_attempt_at = decision.next_attempt_at
    item.deadline_at = decision.deadline_at
    item.last_error = failure.message
    item.last_failure_class = failure.failure_class
    if failure.failure_class is not FailureClass.OUTCOME_UNKNOWN and not keep_in_flight:
        item.in_flight_since = None
    item.updated_at = now
    release_lease(item)
    session.add(item)

    order = (
        session.get(Order, item.subject_id) if operation is not Operation.PUSH_INVENTORY else None
    )
    level = session.get(InventoryLevel, item.subject_id) if order is None else None
    about = AlertSubject(
        order_id=order.id if order else None,
        order_number=order.number if order else None,
        sku=failure.sku or (level.sku if level else None),
        subject=subject_of(item),
    )
    kind = alert_kind_for(failure)
    if kind is AlertKind.UNMAPPED_SHIP_METHOD and order is not None:
        # One alert per method, counting the orders it holds (B8 emails it once).
        about = AlertSubject(
            order_id=order.id,
            order_number=order.number,
            subject=f"method:{connection.account_id}:{order.ship_method_code}",
        )
    raise_alert(
        session,
        account_id=item.account_id,
        connection_id=connection.id,
        kind=kind,
        message=failure.message,
        now=now,
        about=about,
        http_status=failure.status,
    )
    if failure.failure_class is FailureClass.CONNECTION:
        pause_connection(session, connection, failure.message, now)

    if order is not None and operation is Operation.DELIVER_ORDER:
        if decision.state is RetryState.HELD:
            order.status = OrderStatus.HELD
            order.hold_reason = str(kind)
        elif decision.state is RetryState.SKIPPED:
            order.status = OrderStatus.SKIPPED
        order.updated_at = now
        session.add(order)
    if decision.state is RetryState.SKIPPED:
        days = (now - (item.first_failure_at or now)).total_seconds() / 86400
        raise_alert(
            session,
            account_id=item.account_id,
            connection_id=connection.id,
            kind=AlertKind.SKIPPED,
            message=(
                f"Gave up on {operation.value.replace('_', ' ')} after "
                f"{item.consecutive_failures} failed attempts over {days:.1f} days. "
                f"Last error: {failure.message}"
            ),
            now=now,
            about=AlertSubject(
                order_id=about.order_id,
                order_number=about.order_number,
                sku=about.sku,
                subject=subject_of(item),
            ),
            http_status=failure.status,
        )


def pause_connection(session: Session, connection: Connection, reason: str, now: datetime) -> None:
    connection.paused = True
    connection.paused_reason = reason
    connection.updated_at = now
    session.add(connection)


def apply_poll_failure(
    session: Session, connection: Connection, failure: Failure, now: datetime
) -> None:
    """A poll (listing orders, closed orders, stock) failed: an alert on the connection."""
    kind = alert_kind_for(failure)
    raise_alert(
        session,
        account_id=connection.account_id,
        connection_id=connection.id,
        kind=kind,
        message=failure.message,
        now=now,
        about=AlertSubject(subject=f"poll:{connection.id}", sku=failure.sku),
        http_status=failure.status,
    )
    if failure.failure_class is FailureClass.CONNECTION:
        pause_connection(session, connection, failure.message, now)


def apply_poll_success(session: Session, connection: Connection, now: datetime) -> None:
    resolve_alerts_for(
        session, connection_id=connection.id, subject=f"poll:{connection.id}", now=now
    )
