"""The details behind one alert, for the CLI and the dashboard: its history, the failed attempts
that raised or repeated it and, for a ship-method problem, the orders it holds — and how many
orders stay held if some alerts are dismissed.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from imtui.domain.alerts import CHANNEL_OPERATIONS, CONNECTION_KINDS, AlertState
from imtui.domain.failures import METHOD_HOLD_KINDS, AlertKind, FailureClass
from imtui.domain.orders import OrderStatus
from imtui.domain.retry import Operation
from imtui.store.alert_reads import alert_rows_where
from imtui.store.alerts import alert_history
from imtui.store.models import Account, Alert, Attempt, Connection, Order, RetryItem
from imtui.store.order_reads import as_order_row
from imtui.store.queue_reads import attempt_row
from imtui.store.rows import AlertDetail, AlertEventRow, AlertRow, AttemptRow, OrderRow

ALERT_PAGE = 200
"""How many attempts, and held orders, an alert's detail lists (it says how many more)."""


def alert_detail(
    session: Session,
    alert_id: int,
    *,
    attempts_limit: int = ALERT_PAGE,
    held_limit: int = ALERT_PAGE,
) -> AlertDetail | None:
    """An alert with its history, the failed attempts behind it and, for a ship-method
    problem, the orders it holds (see :func:`_alert_attempts`)."""
    rows = alert_rows_where(session, col(Alert.id) == alert_id, limit=1)
    if not rows:
        return None
    alert = rows[0]
    events = tuple(
        AlertEventRow(
            id=event.id or 0, at=event.at, event=event.event, actor=event.actor, detail=event.detail
        )
        for event in alert_history(session, alert_id)
    )
    platform = None
    if alert.connection_id is not None:
        connection = session.get(Connection, alert.connection_id)
        platform = connection.platform if connection is not None else None
    code = _ship_method_of(session, alert)
    attempts, attempts_total = _alert_attempts(session, alert, code, limit=attempts_limit)
    held, held_total = _held_for(session, alert, code, limit=held_limit)
    return AlertDetail(
        alert=alert,
        events=events,
        ship_method_code=code,
        platform=platform,
        attempts=attempts,
        attempts_total=attempts_total,
        held_orders=held,
        held_total=held_total,
    )


KIND_CLASSES: dict[str, tuple[FailureClass, ...]] = {
    AlertKind.UNREACHABLE: (FailureClass.TRANSIENT, FailureClass.CONNECTION),
    AlertKind.RATE_LIMITED: (FailureClass.TRANSIENT,),
    AlertKind.REMOTE_ERROR: (FailureClass.TRANSIENT, FailureClass.OUTCOME_UNKNOWN),
    AlertKind.BAD_RESPONSE: (FailureClass.TRANSIENT, FailureClass.OUTCOME_UNKNOWN),
    AlertKind.CREDENTIALS_REJECTED: (FailureClass.CONNECTION,),
    AlertKind.BAD_CONFIGURATION: (FailureClass.CONNECTION,),
    AlertKind.ADDRESS_REJECTED: (FailureClass.NEEDS_PERSON,),
    AlertKind.UNKNOWN_SKU: (FailureClass.NEEDS_PERSON,),
    AlertKind.UNKNOWN_CARRIER: (FailureClass.NEEDS_PERSON,),
    AlertKind.VALIDATION: (FailureClass.NEEDS_PERSON,),
    AlertKind.UNMAPPED_SHIP_METHOD: (FailureClass.LOCAL_HOLD,),
    AlertKind.INCOMPLETE_ADDRESS: (FailureClass.LOCAL_HOLD,),
}
"""The failure classes an attempt behind an alert of each kind was recorded with (an
attempt's outcome is its failure class): how attempts recorded before migration 0005, which
carry no alert kind, are told apart. A skipped alert, or a kind not listed, takes any
failure: a skip follows a run of failures of any class."""

RATE_LIMITED_STATUS = 429


def _alert_attempts(
    session: Session, alert: AlertRow, code: str | None, *, limit: int
) -> tuple[tuple[AttemptRow, ...], int]:
    """The failed attempts that raised or repeated the alert, newest first, and how many.

    Every sighting of an alert is one failed attempt recorded at that same instant, so they
    are the failed attempts, of a class the alert's kind comes from, from its first to its
    last sighting, on what the alert is about:

    * a record alert ("deliver:17"): that record's retry row (its unique index, then
      ``ix_attempt_retry_item_id``);
    * a ship-method alert ("method:<account>:<code>"): the delivery rows of the account's
      orders with that method (``ix_order_ship_method_code``, then as above);
    * a connection-wide alert ("deliver"): the alert's connection and that channel's
      operation; another connection's failures, or another channel's, are another alert's.
      The attempt table has no index for this: the scan runs newest first and stops at a
      full page.
    """
    channel, _, key = (alert.subject or "").partition(":")
    conditions: list[ColumnElement[bool]] = [
        col(Attempt.ok).is_(False),
        col(Attempt.at) <= alert.last_seen,
    ]
    query = select(Attempt, RetryItem.subject_label).join(
        RetryItem, col(RetryItem.id) == Attempt.retry_item_id
    )
    item_id = None
    if alert.kind in CONNECTION_KINDS:
        operation = CHANNEL_OPERATIONS.get(channel)
        if operation is None or key or alert.connection_id is None:
            return (), 0  # a poll's failures are not recorded as attempts
        conditions += [
            col(Attempt.connection_id) == alert.connection_id,
            col(Attempt.operation) == operation,
        ]
    elif channel == "method" and code is not None:
        query = query.join(Order, col(Order.id) == RetryItem.subject_id)
        conditions += [
            col(Order.account_id) == alert.account_id,
            col(Order.ship_method_code) == code,
            col(RetryItem.operation) == Operation.DELIVER_ORDER,
        ]
    elif channel in CHANNEL_OPERATIONS and key.isdigit():
        item_id = session.exec(
            select(RetryItem.id).where(
                RetryItem.operation == CHANNEL_OPERATIONS[channel],
                RetryItem.subject_id == int(key),
            )
        ).first()
        if item_id is None:
            return (), 0
        conditions.append(col(Attempt.retry_item_id) == item_id)
    else:
        return (), 0
    if alert.kind == AlertKind.SKIPPED and item_id is not None:
        # A skip closes a run of failures of any class that began long before the skip was
        # first seen: everything since the record last got through.
        success = session.exec(
            select(func.max(col(Attempt.id))).where(
                Attempt.retry_item_id == item_id,
                col(Attempt.ok).is_(True),
                col(Attempt.at) <= alert.first_seen,
            )
        ).one()
        conditions.append(col(Attempt.id) > (success or 0))
    else:
        conditions.append(col(Attempt.at) >= alert.first_seen)
        conditions += _kind_conditions(alert.kind)
    query = query.where(*conditions)
    found = list(session.exec(query.order_by(col(Attempt.id).desc()).limit(limit + 1)))
    rows = tuple(attempt_row(attempt, label) for attempt, label in found[:limit])
    if len(found) <= limit:
        return rows, len(rows)
    count = select(func.count(col(Attempt.id))).join(
        RetryItem, col(RetryItem.id) == Attempt.retry_item_id
    )
    if channel == "method":
        count = count.join(Order, col(Order.id) == RetryItem.subject_id)
    return rows, int(session.exec(count.where(*conditions)).one())


def _kind_conditions(kind: str) -> list[ColumnElement[bool]]:
    """Attempts that raised or repeated an alert of ``kind``: each failed attempt records it.
    Attempts recorded before it did (migration 0005) are told by their failure class (an
    attempt's outcome) and status (only a 429 is a rate limit), which two kinds can share."""
    classes = KIND_CLASSES.get(kind)
    if classes is None:
        return []
    if kind == AlertKind.RATE_LIMITED:
        status = col(Attempt.http_status) == RATE_LIMITED_STATUS
    else:
        status = or_(
            col(Attempt.http_status).is_(None),
            col(Attempt.http_status) != RATE_LIMITED_STATUS,
        )
    recorded_before_0005 = and_(
        col(Attempt.alert_kind).is_(None),
        col(Attempt.outcome).in_([str(c) for c in classes]),
        status,
    )
    return [or_(col(Attempt.alert_kind) == str(kind), recorded_before_0005)]


def _held_for(
    session: Session, alert: AlertRow, code: str | None, *, limit: int
) -> tuple[tuple[OrderRow, ...], int]:
    """The account's orders held now for the alert's ship method and reason, newest first,
    and how many (``ix_order_ship_method_code``)."""
    if alert.kind not in METHOD_HOLD_KINDS or code is None:
        return (), 0
    condition = _held_for_method(alert.account_id, code, alert.kind)
    found = list(
        session.exec(
            select(Order, Account.name)
            .join(Account, col(Account.id) == Order.account_id)
            .where(condition)
            .order_by(col(Order.id).desc())
            .limit(limit + 1)
        )
    )
    rows = tuple(as_order_row(order, name) for order, name in found[:limit])
    if len(found) <= limit:
        return rows, len(rows)
    return rows, int(session.exec(select(func.count(col(Order.id))).where(condition)).one())


def held_behind(session: Session, alert_ids: list[int]) -> int:
    """How many orders stay held if these alerts are dismissed: each open record alert's order
    held for that alert's reason, and every order held for an open ship-method alert's method
    and reason — each order once, however many of the alerts name it. (Dismissing closes the
    alert, not the hold: they go once their fix is saved.)"""
    held: set[int | None] = set()  # ids from the database, never None
    methods: set[tuple[int, str, str]] = set()
    for start in range(0, len(alert_ids), 500):
        chunk = alert_ids[start : start + 500]
        is_open = and_(col(Alert.id).in_(chunk), col(Alert.state) == AlertState.OPEN)
        held.update(
            session.exec(
                select(col(Order.id))
                .join(Alert, col(Alert.order_id) == Order.id)
                .where(
                    is_open,
                    col(Alert.kind).not_in(METHOD_HOLD_KINDS),
                    col(Order.status) == OrderStatus.HELD,
                    col(Order.hold_reason) == Alert.kind,
                )
            )
        )
        for alert in session.exec(
            select(Alert).where(is_open, col(Alert.kind).in_(METHOD_HOLD_KINDS))
        ):
            code = _ship_method_of(session, alert)
            if code is not None:
                methods.add((alert.account_id, code, alert.kind))
    for account_id, code, kind in methods:  # one query per method, not per alert
        held.update(
            session.exec(select(col(Order.id)).where(_held_for_method(account_id, code, kind)))
        )
    return len(held)


def _held_for_method(account_id: int, code: str, kind: str) -> ColumnElement[bool]:
    """The account's orders held now for ship method ``code`` and reason ``kind``
    (``ix_order_ship_method_code``)."""
    return and_(
        col(Order.ship_method_code) == code,
        col(Order.account_id) == account_id,
        col(Order.status) == OrderStatus.HELD,
        col(Order.hold_reason) == kind,
    )


def _ship_method_of(session: Session, alert: AlertRow | Alert) -> str | None:
    if alert.kind not in METHOD_HOLD_KINDS:
        return None
    subject = alert.subject or ""
    if subject.startswith("method:") and subject.count(":") >= 2:
        return subject.split(":", 2)[2]
    if alert.order_id is not None:
        order = session.get(Order, alert.order_id)
        return order.ship_method_code if order is not None else None
    return None
