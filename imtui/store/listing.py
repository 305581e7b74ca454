"""The read queries the CLI and the dashboard share: pages of orders, alerts, retry items and
audit entries, the details behind one row, and the counts for a header.

Built to stay fast on a million orders: every page is a keyset page (``WHERE id < :cursor ORDER
BY id DESC LIMIT n``, or a sort key plus the id), never an OFFSET; filters use indexed columns;
nothing loads a whole table. Rows are plain frozen dataclasses, not ORM objects, so a UI can
build them in a worker thread and render them anywhere.

Nothing here ever returns a credential's value: connections carry their credential keys only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from imtui.domain.alerts import CHANNEL_OPERATIONS, CONNECTION_KINDS, AlertState
from imtui.domain.failures import METHOD_HOLD_KINDS, AlertKind, FailureClass
from imtui.domain.orders import OrderStatus
from imtui.domain.retry import Operation, RetryState
from imtui.domain.text import hide_url_passwords
from imtui.store.alerts import alert_history
from imtui.store.beats import last_beat
from imtui.store.models import (
    Account,
    Alert,
    Attempt,
    AuditEntry,
    Connection,
    Order,
    RetryItem,
    ShipMethodMapping,
)
from imtui.store.orders import address_of, lines_of
from imtui.store.rows import (  # the rows live there, free of database code
    AccountRow,
    AlertDetail,
    AlertEventRow,
    AlertFilter,
    AlertRow,
    AttemptRow,
    AuditRow,
    ConnectionRow,
    HeaderCounts,
    InvalidCursor,
    MappingRow,
    OrderDetail,
    OrderFilter,
    OrderRow,
    Page,
    QueueFilter,
    RetryRow,
)

R = TypeVar("R")

MAX_PAGE = 1000
ALERT_PAGE = 200
"""How many attempts, and held orders, an alert's detail lists (it says how many more)."""


# -- accounts, connections, mappings (small tables) -------------------------------------------


def list_accounts(session: Session) -> list[AccountRow]:
    counts = dict(
        session.exec(
            select(Connection.account_id, func.count(col(Connection.id))).group_by(
                col(Connection.account_id)
            )
        ).all()
    )
    return [
        AccountRow(
            id=account.id or 0,
            name=account.name,
            kind=account.kind,
            connections=int(counts.get(account.id or 0, 0)),
            created_at=account.created_at,
        )
        for account in session.exec(select(Account).order_by(col(Account.id)))
    ]


def list_connections(session: Session, *, account_id: int | None = None) -> list[ConnectionRow]:
    query = (
        select(Connection, Account.name)
        .join(Account, col(Account.id) == Connection.account_id)
        .order_by(col(Connection.id))
    )
    if account_id is not None:
        query = query.where(Connection.account_id == account_id)
    return [_connection_row(connection, name) for connection, name in session.exec(query)]


def connection_row(session: Session, connection_id: int) -> ConnectionRow | None:
    found = session.exec(
        select(Connection, Account.name)
        .join(Account, col(Account.id) == Connection.account_id)
        .where(Connection.id == connection_id)
    ).first()
    return None if found is None else _connection_row(*found)


def _connection_row(connection: Connection, account: str) -> ConnectionRow:
    return ConnectionRow(
        id=connection.id or 0,
        account_id=connection.account_id,
        account=account,
        name=connection.name,
        role=connection.role,
        platform=connection.platform,
        base_url=hide_url_passwords(connection.base_url),
        credential_keys=tuple(
            sorted(key for key, value in connection.credentials.items() if value)
        ),
        settings=dict(connection.settings),
        poll_interval_s=connection.poll_interval_s,
        paused=connection.paused,
        paused_reason=connection.paused_reason,
        last_polled_at=connection.last_polled_at,
        next_poll_at=connection.next_poll_at,
        watermark=connection.watermark,
        updated_at=connection.updated_at,
    )


def list_mappings(session: Session, *, account_id: int | None = None) -> list[MappingRow]:
    query = (
        select(ShipMethodMapping, Account.name)
        .join(Account, col(Account.id) == ShipMethodMapping.account_id)
        .order_by(col(ShipMethodMapping.account_id), col(ShipMethodMapping.source_code))
    )
    if account_id is not None:
        query = query.where(ShipMethodMapping.account_id == account_id)
    return [
        MappingRow(
            id=mapping.id or 0,
            account_id=mapping.account_id,
            account=name,
            source_code=mapping.source_code,
            carrier=mapping.carrier,
            mode=mapping.mode,
            billing_code=mapping.billing_code,
            updated_at=mapping.updated_at,
        )
        for mapping, name in session.exec(query)
    ]


# -- orders -----------------------------------------------------------------------------------


def list_orders(
    session: Session,
    where: OrderFilter = OrderFilter(),
    *,
    after: str | None = None,
    limit: int = 50,
) -> Page[OrderRow]:
    """Newest first. Status and account use ``ix_order_account_status``.

    A search that is an order number ("1001" or "#1001") or a WMS reference finds exactly that
    order through their indexes. Any other text matches part of the number, reference or
    ship-to name, case-insensitively: a scan from the newest order that stops as soon as the
    page is full (a text nobody has typed costs one pass over the table).
    """
    limit = _clamp(limit)
    query = select(Order, Account.name).join(Account, col(Account.id) == Order.account_id)
    if where.status:
        query = query.where(Order.status == where.status)
    if where.account_id is not None:
        query = query.where(Order.account_id == where.account_id)
    text = (where.search or "").strip()
    if text:
        exact = exact_order(text)
        has_exact = session.exec(query.where(exact).limit(1)).first() is not None
        query = query.where(exact if has_exact else order_contains(text))
    cursor = _id_cursor(after)
    if cursor is not None:
        query = query.where(col(Order.id) < cursor)
    found = list(session.exec(query.order_by(col(Order.id).desc()).limit(limit + 1)))
    rows = [as_order_row(order, name) for order, name in found[:limit]]
    return Page(rows, str(rows[-1].id) if len(found) > limit else None)


def order_row(session: Session, order_id: int) -> OrderRow | None:
    found = session.exec(
        select(Order, Account.name)
        .join(Account, col(Account.id) == Order.account_id)
        .where(Order.id == order_id)
    ).first()
    return None if found is None else as_order_row(*found)


def exact_order(text: str) -> ColumnElement[bool]:
    numbers = [text] if text.startswith("#") else [text, f"#{text}"]
    return or_(col(Order.number).in_(numbers), col(Order.reference) == text)


def order_contains(text: str) -> ColumnElement[bool]:
    """Text anywhere a person sees it in the Orders pane: number, reference, name, company,
    city, ship method."""
    needle = text.lower()
    seen = (
        Order.number,
        Order.reference,
        Order.ship_name,
        Order.ship_company,
        Order.ship_city,
        Order.ship_method_code,
    )
    return or_(*(func.lower(column).contains(needle, autoescape=True) for column in seen))


def as_order_row(order: Order, account: str) -> OrderRow:
    return OrderRow(
        id=order.id or 0,
        number=order.number,
        reference=order.reference,
        account_id=order.account_id,
        account=account,
        status=order.status,
        hold_reason=order.hold_reason,
        ship_name=order.ship_name,
        ship_city=order.ship_city,
        ship_country=order.ship_country,
        ship_method_code=order.ship_method_code,
        wms_order_id=order.wms_order_id,
        tracking_number=order.tracking_number,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def order_detail(
    session: Session, order_id: int, *, attempts_limit: int = 20
) -> OrderDetail | None:
    found = session.exec(
        select(Order, Account.name)
        .join(Account, col(Account.id) == Order.account_id)
        .where(Order.id == order_id)
    ).first()
    if found is None:
        return None
    order, account = found
    retries = _order_retries(session, order_id)
    item_ids = [row.id for row in retries]
    attempts = session.exec(
        select(Attempt)
        .where(col(Attempt.retry_item_id).in_(item_ids))
        .order_by(col(Attempt.id).desc())
        .limit(attempts_limit)
    )
    total = session.exec(
        select(func.count(col(Attempt.id))).where(col(Attempt.retry_item_id).in_(item_ids))
    ).one()
    return OrderDetail(
        order=as_order_row(order, account),
        address=address_of(order),
        ship_method_title=order.ship_method_title,
        carrier=order.carrier,
        shipped_at=order.shipped_at,
        fulfilled_at=order.fulfilled_at,
        lines=lines_of(session, order_id),
        retries=retries,
        attempts=tuple(_attempt_row(attempt) for attempt in attempts),
        attempts_total=int(total),
        alerts=tuple(_alert_rows(session, col(Alert.order_id) == order_id, limit=50)),
    )


def _order_retries(session: Session, order_id: int) -> tuple[RetryRow, ...]:
    # One probe per operation so each uses the (operation, subject_id) unique index.
    rows: list[RetryRow] = []
    for operation in (Operation.DELIVER_ORDER, Operation.PUSH_TRACKING):
        item = session.exec(
            select(RetryItem).where(
                RetryItem.operation == operation, RetryItem.subject_id == order_id
            )
        ).first()
        if item is not None:
            rows.append(as_retry_row(item))
    return tuple(rows)


def last_attempt(session: Session, retry_item_id: int) -> AttemptRow | None:
    """A retry item's newest attempt (``ix_attempt_retry_item_id``)."""
    attempt = session.exec(
        select(Attempt)
        .where(Attempt.retry_item_id == retry_item_id)
        .order_by(col(Attempt.id).desc())
        .limit(1)
    ).first()
    return None if attempt is None else _attempt_row(attempt)


def _attempt_row(attempt: Attempt, subject_label: str = "") -> AttemptRow:
    return AttemptRow(
        id=attempt.id or 0,
        retry_item_id=attempt.retry_item_id,
        operation=attempt.operation,
        at=attempt.at,
        ok=attempt.ok,
        outcome=attempt.outcome,
        http_status=attempt.http_status,
        message=attempt.message,
        duration_ms=attempt.duration_ms,
        worker=attempt.worker,
        subject_label=subject_label,
    )


# -- the retry queue --------------------------------------------------------------------------


def list_queue(
    session: Session,
    where: QueueFilter = QueueFilter(),
    *,
    after: str | None = None,
    limit: int = 50,
) -> Page[RetryRow]:
    """Only due rows: soonest next attempt first (``ix_retry_due``), cursor ``<time>|<id>``.
    Any other mix of states: newest first, cursor ``<id>``."""
    limit = _clamp(limit)
    query = select(RetryItem)
    if where.states:
        query = query.where(col(RetryItem.state).in_(list(where.states)))
    if where.operation:
        query = query.where(RetryItem.operation == where.operation)
    if where.account_id is not None:
        query = query.where(RetryItem.account_id == where.account_id)
    if tuple(where.states) == (RetryState.DUE,):
        return _due_page(session, query, after, limit)
    cursor = _id_cursor(after)
    if cursor is not None:
        query = query.where(col(RetryItem.id) < cursor)
    found = list(session.exec(query.order_by(col(RetryItem.id).desc()).limit(limit + 1)))
    rows = [as_retry_row(item) for item in found[:limit]]
    return Page(rows, str(rows[-1].id) if len(found) > limit else None)


def _due_page(session: Session, query: Any, after: str | None, limit: int) -> Page[RetryRow]:
    if after:
        when, item_id = _time_id_cursor(after)
        query = query.where(
            or_(
                col(RetryItem.next_attempt_at) > when,
                and_(col(RetryItem.next_attempt_at) == when, col(RetryItem.id) > item_id),
            )
        )
    query = query.order_by(col(RetryItem.next_attempt_at), col(RetryItem.id)).limit(limit + 1)
    found = list(session.exec(query))
    rows = [as_retry_row(item) for item in found[:limit]]
    last = rows[-1] if rows and len(found) > limit else None
    cursor = None
    if last is not None and last.next_attempt_at is not None:
        cursor = f"{last.next_attempt_at.isoformat()}|{last.id}"
    return Page(rows, cursor)


def retry_row(session: Session, item_id: int) -> RetryRow | None:
    item = session.get(RetryItem, item_id)
    return None if item is None else as_retry_row(item)


def waiting_rows(
    session: Session, item_ids: list[int], limit: int
) -> tuple[list[RetryRow], dict[str, int]]:
    """Of these queue rows, the ones not done: the first ``limit`` (by id), and how many are
    in each state ("held" waits for a person, "due" for its next try)."""
    rows: list[RetryRow] = []
    states: dict[str, int] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        condition = col(RetryItem.id).in_(chunk) & (RetryItem.state != RetryState.DONE)
        counted = session.exec(
            select(RetryItem.state, func.count(col(RetryItem.id)))
            .where(condition)
            .group_by(RetryItem.state)
        )
        for state, count in counted:
            states[str(state)] = states.get(str(state), 0) + int(count)
        if len(rows) < limit:
            found = session.exec(
                select(RetryItem).where(condition).order_by(col(RetryItem.id)).limit(limit)
            )
            rows += [as_retry_row(item) for item in found][: limit - len(rows)]
    return rows, states


def as_retry_row(item: RetryItem) -> RetryRow:
    return RetryRow(
        id=item.id or 0,
        account_id=item.account_id,
        connection_id=item.connection_id,
        operation=item.operation,
        subject_id=item.subject_id,
        subject_label=item.subject_label,
        state=item.state,
        attempts=item.attempts,
        consecutive_failures=item.consecutive_failures,
        last_error=item.last_error,
        last_failure_class=item.last_failure_class,
        next_attempt_at=item.next_attempt_at,
        deadline_at=item.deadline_at,
        first_failure_at=item.first_failure_at,
        in_flight_since=item.in_flight_since,
        lease_owner=item.lease_owner,
        lease_expires_at=item.lease_expires_at,
        updated_at=item.updated_at,
    )


# -- alerts -----------------------------------------------------------------------------------


def list_alerts(
    session: Session,
    where: AlertFilter = AlertFilter(),
    *,
    after: str | None = None,
    limit: int = 50,
) -> Page[AlertRow]:
    """Newest first; state and account use ``ix_alert_account_state``."""
    limit = _clamp(limit)
    conditions: list[ColumnElement[bool]] = []
    if where.states:
        conditions.append(col(Alert.state).in_(list(where.states)))
    if where.account_id is not None:
        conditions.append(col(Alert.account_id) == where.account_id)
    if where.kind:
        conditions.append(col(Alert.kind) == where.kind)
    cursor = _id_cursor(after)
    if cursor is not None:
        conditions.append(col(Alert.id) < cursor)
    rows = _alert_rows(session, and_(*conditions) if conditions else None, limit=limit + 1)
    return Page(rows[:limit], str(rows[limit - 1].id) if len(rows) > limit else None)


def alert_rows(session: Session, alert_ids: list[int]) -> list[AlertRow]:
    """These alerts as rows (the ones that exist), in pages of 500 ids."""
    rows: list[AlertRow] = []
    for start in range(0, len(alert_ids), 500):
        chunk = alert_ids[start : start + 500]
        rows += _alert_rows(session, col(Alert.id).in_(chunk), limit=len(chunk))
    return rows


def _alert_rows(
    session: Session, condition: ColumnElement[bool] | None, *, limit: int
) -> list[AlertRow]:
    query = (
        select(Alert, Account.name, Connection.name)
        .join(Account, col(Account.id) == Alert.account_id)
        .outerjoin(Connection, col(Connection.id) == Alert.connection_id)
    )
    if condition is not None:
        query = query.where(condition)
    found = session.exec(query.order_by(col(Alert.id).desc()).limit(limit))
    return [as_alert_row(alert, account, connection) for alert, account, connection in found]


def as_alert_row(alert: Alert, account: str, connection: str | None) -> AlertRow:
    try:
        headline = AlertKind(alert.kind).headline
    except ValueError:
        headline = alert.kind
    return AlertRow(
        id=alert.id or 0,
        account_id=alert.account_id,
        account=account,
        connection_id=alert.connection_id,
        connection=connection,
        kind=alert.kind,
        headline=headline,
        state=alert.state,
        needs_person=alert.needs_person,
        message=alert.message,
        order_id=alert.order_id,
        order_number=alert.order_number,
        sku=alert.sku,
        subject=alert.subject,
        http_status=alert.http_status,
        count=alert.count,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
    )


def alert_detail(
    session: Session,
    alert_id: int,
    *,
    attempts_limit: int = ALERT_PAGE,
    held_limit: int = ALERT_PAGE,
) -> AlertDetail | None:
    """An alert with its history, the failed attempts behind it and, for a ship-method
    problem, the orders it holds (see :func:`_alert_attempts`)."""
    rows = _alert_rows(session, col(Alert.id) == alert_id, limit=1)
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
    rows = tuple(_attempt_row(attempt, label) for attempt, label in found[:limit])
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
    held: set[int] = set()
    methods: set[tuple[int, str, str]] = set()
    for start in range(0, len(alert_ids), 500):
        chunk = alert_ids[start : start + 500]
        is_open = and_(col(Alert.id).in_(chunk), col(Alert.state) == AlertState.OPEN)
        held.update(
            session.exec(
                select(Order.id)
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
        held.update(session.exec(select(Order.id).where(_held_for_method(account_id, code, kind))))
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


# -- audit log and header counts --------------------------------------------------------------


def list_audit(session: Session, *, after: str | None = None, limit: int = 50) -> Page[AuditRow]:
    limit = _clamp(limit)
    query = select(AuditEntry)
    cursor = _id_cursor(after)
    if cursor is not None:
        query = query.where(col(AuditEntry.id) < cursor)
    found = list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)))
    rows = [
        AuditRow(
            id=entry.id or 0,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            detail=hide_url_passwords(entry.detail),
        )
        for entry in found[:limit]
    ]
    return Page(rows, str(rows[-1].id) if len(found) > limit else None)


def header_counts(
    session: Session, *, now: datetime, account_id: int | None = None
) -> HeaderCounts:
    """Five small indexed counts: open alerts (``ix_alert_account_state``), retry rows by state
    (``ix_retry_due``). Done rows, however many, are never touched."""

    def alerts(*conditions: ColumnElement[bool]) -> int:
        query = select(func.count(col(Alert.id))).where(Alert.state == AlertState.OPEN, *conditions)
        if account_id is not None:
            query = query.where(Alert.account_id == account_id)
        return int(session.exec(query).one())

    def retries(state: RetryState, *conditions: ColumnElement[bool]) -> int:
        query = select(func.count(col(RetryItem.id))).where(RetryItem.state == state, *conditions)
        if account_id is not None:
            query = query.where(RetryItem.account_id == account_id)
        return int(session.exec(query).one())

    return HeaderCounts(
        open_alerts=alerts(),
        needs_person=alerts(col(Alert.needs_person).is_(True)),
        due_now=retries(RetryState.DUE, col(RetryItem.next_attempt_at) <= now),
        held=retries(RetryState.HELD),
        skipped=retries(RetryState.SKIPPED),
        engine_beat=last_beat(session),
    )


# -- cursors ----------------------------------------------------------------------------------


def _clamp(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


def _id_cursor(after: str | None) -> int | None:
    if after is None or after == "":
        return None
    if not after.isdigit():
        raise InvalidCursor(f"not a cursor from this list: {after!r}")
    return int(after)


def _time_id_cursor(after: str) -> tuple[datetime, int]:
    when, _, item_id = after.rpartition("|")
    try:
        parsed = datetime.fromisoformat(when)
    except ValueError as exc:
        raise InvalidCursor(f"not a cursor from this list: {after!r}") from exc
    if parsed.tzinfo is None or not item_id.isdigit():
        raise InvalidCursor(f"not a cursor from this list: {after!r}")
    return parsed, int(item_id)
