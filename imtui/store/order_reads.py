"""The read queries for orders: pages of order rows, one row, and the details behind one order
(address, lines, queue rows, attempts, alerts) — and the orders' one filter
(:func:`order_conditions`), which :mod:`imtui.store.windows` reads the dashboard's windows with
too.

Built to stay fast on a million orders: pages are keyset pages (:mod:`imtui.store.pages`),
filters use indexed columns, and nothing loads a whole table.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from imtui.domain.retry import Operation
from imtui.store.alert_reads import alert_rows_where
from imtui.store.models import Account, Alert, Attempt, Order, RetryItem
from imtui.store.orders import address_of, lines_of
from imtui.store.overview_reads import history_of
from imtui.store.pages import clamp, id_cursor
from imtui.store.queue_reads import as_retry_row, attempt_row
from imtui.store.rows import OrderDetail, OrderFilter, OrderRow, Page, RetryRow


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
    limit = clamp(limit)
    query = (
        select(Order, Account.name)
        .join(Account, col(Account.id) == Order.account_id)
        .where(*order_conditions(session, where))
    )
    cursor = id_cursor(after)
    if cursor is not None:
        query = query.where(col(Order.id) < cursor)
    found = list(session.exec(query.order_by(col(Order.id).desc()).limit(limit + 1)))
    rows = [as_order_row(order, name) for order, name in found[:limit]]
    return Page(rows, str(rows[-1].id) if len(found) > limit else None)


def order_conditions(
    session: Session, where: OrderFilter, ship_method: str | None = None
) -> list[ColumnElement[bool]]:
    """The one filter of orders, for a CLI page, a dashboard window and a bulk action: status
    and account (``ix_order_account_status``), ship method, hold reasons, and a search.

    A search that is an order number ("1001" or "#1001") or a WMS reference, among the orders
    the rest of the filter keeps, finds exactly those orders: their few ids first (through their
    indexes), so the rows are read by primary key rather than by a scan that meets them on the
    way. Any other text matches part of what :func:`order_contains` names, case-insensitively.
    """
    conditions: list[ColumnElement[bool]] = []
    if where.status:
        conditions.append(col(Order.status) == where.status)
    if where.account_id is not None:
        conditions.append(col(Order.account_id) == where.account_id)
    if ship_method:
        conditions.append(col(Order.ship_method_code) == ship_method)
    if where.hold_reasons:
        conditions.append(col(Order.hold_reason).in_(where.hold_reasons))
    text = (where.search or "").strip()
    if text:
        exact = select(Order.id).where(*conditions, exact_order(text)).limit(1000)
        exact_ids = list(session.exec(exact))
        conditions.append(col(Order.id).in_(exact_ids) if exact_ids else order_contains(text))
    return conditions


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
        attempts=tuple(attempt_row(attempt) for attempt in attempts),
        attempts_total=int(total),
        alerts=tuple(alert_rows_where(session, col(Alert.order_id) == order_id, limit=50)),
        history=history_of(session, f"order:{order_id}"),
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
