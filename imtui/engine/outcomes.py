"""What the result of one attempt does to the store: the one function that turns a remote
failure into retry state and an alert, and its counterpart for success.

Everything here runs inside the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import insert, update
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
from imtui.store.models import Alert, Attempt, Connection, InventoryLevel, Order, RetryItem
from imtui.store.queue import items_by_id, release_lease

SUBJECT_PREFIX = {operation: channel for channel, operation in CHANNEL_OPERATIONS.items()}


def subject_of(item: RetryKey) -> str:
    return f"{SUBJECT_PREFIX[Operation(item.operation)]}:{item.subject_id}"


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

    @property
    def ok(self) -> bool:
        return self.failure is None


def apply_outcomes(
    session: Session, outcomes: list[Outcome], *, clock: Callable[[], datetime], worker: str
) -> None:
    """Record a batch of outcomes in one transaction.

    Everything the batch touches is loaded up front (rows land in the session's identity map,
    so the per-outcome lookups below cost no query) and autoflush is off, so the changes go out
    as one flush of batched statements instead of one round of statements per outcome.

    The time is read once the transaction holds the database (after its first statement), not
    before it waited its turn: another worker's alert raised meanwhile must not look resolved
    before it was first seen.
    """
    with session.no_autoflush:
        keys = {
            row.id: row
            for row in session.execute(
                select(
                    RetryItem.id,
                    RetryItem.operation,
                    RetryItem.subject_id,
                    RetryItem.connection_id,
                ).where(col(RetryItem.id).in_([outcome.item_id for outcome in outcomes]))
            )
        }
        now = clock()
        connection_ids = {key.connection_id for key in keys.values()}
        candidates = open_alerts_touching(
            session, {subject_of(key) for key in keys.values()}, connection_ids
        )
        delivered = [
            (keys[outcome.item_id], outcome)
            for outcome in outcomes
            if outcome.ok and keys[outcome.item_id].operation == Operation.DELIVER_ORDER
        ]
        _record_delivered(session, delivered, now=now, worker=worker, candidates=candidates)
        rest = [
            outcome
            for outcome in outcomes
            if not (outcome.ok and keys[outcome.item_id].operation == Operation.DELIVER_ORDER)
        ]
        if rest:
            _apply_each(session, rest, now=now, worker=worker, candidates=candidates)
        for connection_id, operation in sorted(
            {(keys[o.item_id].connection_id, keys[o.item_id].operation) for o in outcomes if o.ok}
        ):
            settle_outage(session, connection_id, Operation(operation), now, candidates)


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


def _record_delivered(
    session: Session,
    delivered: Sequence[tuple[RetryKey, Outcome]],
    *,
    now: datetime,
    worker: str,
    candidates: list[Alert],
) -> None:
    """Successful deliveries, the bulk of every batch, as a few executemany statements: the
    per-row ORM path costs ~2 ms a row, which alone would cap a worker near 500 orders/s."""
    if not delivered:
        return
    session.execute(
        update(RetryItem),
        [{"id": item.id, **DONE, "updated_at": now} for item, _ in delivered],
    )
    order_ids = [item.subject_id for item, _ in delivered]
    session.execute(
        update(Order)
        .where(
            col(Order.id).in_(order_ids),
            col(Order.status).in_(NOT_IN_WMS),
        )
        .values(status=OrderStatus.DELIVERED)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Order),
        [
            {
                "id": item.subject_id,
                "hold_reason": None,
                "updated_at": now,
                **({"wms_order_id": outcome.wms_order.wms_id} if outcome.wms_order else {}),
            }
            for item, outcome in delivered
        ],
    )
    session.execute(
        insert(Attempt),
        [_attempt_row(item, outcome, now=now, worker=worker) for item, outcome in delivered],
    )
    if candidates:
        for item, _ in delivered:
            resolve_alerts_for(
                session,
                connection_id=item.connection_id,
                subject=subject_of(item),
                now=now,
                candidates=candidates,
                include_connection_alerts=False,  # outages: settle_outage
            )


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
        .values(
            state=RetryState.CANCELLED,
            next_attempt_at=None,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
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
