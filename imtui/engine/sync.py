"""Tracking and inventory: read them from the WMS, push them to the shops (B5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from imtui.domain.failures import ConnectorError, FailureClass
from imtui.domain.orders import OrderStatus
from imtui.domain.records import FulfillmentRequest, StockLevel, WmsOrder
from imtui.domain.retry import Operation
from imtui.engine.connections import ConnectorPool
from imtui.engine.outcomes import Outcome, apply_poll_success
from imtui.engine.pipeline import Claimed, Work
from imtui.store.connections import end_poll, mark_polled, sources_of_account
from imtui.store.models import Connection, InventoryLevel, Order
from imtui.store.queue import (
    ClaimedItem,
    ClaimRequest,
    among,
    claim_due,
    enqueue,
    mark_in_flight,
    name_pushes,
)


def store_warehouse_state(
    session: Session,
    connection_id: int,
    closed: list[WmsOrder],
    stock: list[StockLevel],
    now: datetime,
    *,
    poller: str | None = None,
) -> tuple[int, int]:
    """Record shipments and stock from one WMS poll; queue the pushes they call for.
    ``poller``: the engine whose poll claim this download was; the claim ends here.

    Returns (orders newly shipped, inventory pushes queued).
    """
    connection = session.get(Connection, connection_id)
    assert connection is not None
    shipped = _record_shipments(session, connection, closed, now)
    pushes = _record_stock(session, connection, stock, now)
    mark_polled(connection, now)
    if poller is not None:
        end_poll(connection, poller)
    apply_poll_success(session, connection, now)
    session.add(connection)
    return shipped, pushes


def _record_shipments(
    session: Session, connection: Connection, closed: list[WmsOrder], now: datetime
) -> int:
    by_reference = {wms_order.reference: wms_order for wms_order in closed if wms_order.shipped}
    if not by_reference:
        return 0
    orders = session.exec(
        select(Order).where(
            Order.account_id == connection.account_id,
            col(Order.reference).in_(list(by_reference)),
            col(Order.status).in_([OrderStatus.DELIVERED, OrderStatus.QUEUED, OrderStatus.HELD]),
        )
    )
    shipped = 0
    for order in orders:
        wms_order = by_reference[order.reference]
        order.status = OrderStatus.SHIPPED
        order.tracking_number = wms_order.tracking_number
        order.carrier = wms_order.carrier
        order.wms_order_id = order.wms_order_id or wms_order.wms_id
        order.shipped_at = now
        order.updated_at = now
        session.add(order)
        assert order.id is not None  # read from the table
        enqueue(
            session,
            operation=Operation.PUSH_TRACKING,
            subject_id=order.id,
            account_id=order.account_id,
            connection_id=order.source_connection_id,
            label=order.number,
            now=now,
        )
        shipped += 1
    for wms_order in by_reference.values():
        if wms_order.last_modified and (
            connection.watermark is None or wms_order.last_modified > connection.watermark
        ):
            connection.watermark = wms_order.last_modified
    return shipped


def _record_stock(
    session: Session, connection: Connection, stock: list[StockLevel], now: datetime
) -> int:
    if not stock:
        return 0
    queued = 0
    for source in sources_of_account(session, connection.account_id):
        assert source.id is not None  # read from the table
        known = {
            level.sku: level
            for level in session.exec(
                select(InventoryLevel).where(InventoryLevel.source_connection_id == source.id)
            )
        }
        for summary in stock:
            level = known.get(summary.sku)
            if level is None:
                level = InventoryLevel(
                    account_id=source.account_id,
                    source_connection_id=source.id,
                    sku=summary.sku,
                )
            level.wms_available = summary.available
            level.wms_on_hand = summary.on_hand
            level.seen_at = now
            session.add(level)
            if level.pushed_available == summary.available:
                continue
            session.flush()
            assert level.id is not None  # flushed just above
            enqueue(
                session,
                operation=Operation.PUSH_INVENTORY,
                subject_id=level.id,
                account_id=source.account_id,
                connection_id=source.id,
                label=summary.sku,
                now=now,
            )
            queued += 1
    return queued


@dataclass(frozen=True, slots=True)
class TrackingPush(Work):
    connection: Connection
    request: FulfillmentRequest


@dataclass(frozen=True, slots=True)
class InventoryPush(Work):
    connection: Connection
    sku: str
    available: int
    idempotency_key: str
    """The same for every retry of this push, so a push whose answer was lost is applied once
    (Shopify's ``@idempotent``); a push of another figure, or from another figure, differs."""


def push_key(item_id: int, pushed: int | None, available: int) -> str:
    """One stock push's name: its row, the figure it moves from (what was last pushed) and
    the one it sets. A retry after a lost answer has all three unchanged, so the same key."""
    return f"imtui-stock-{item_id}-{'none' if pushed is None else pushed}-{available}"


def claim_pushes(
    session: Session,
    *,
    operation: Operation,
    request: ClaimRequest,
) -> Claimed[Work]:
    items = claim_due(session, [operation], request)
    if not items:
        return Claimed(work=[], claimed=0)
    connections = _connections_of(session, items)
    work = (
        _tracking_pushes(session, items, connections)
        if operation is Operation.PUSH_TRACKING
        else _inventory_pushes(session, items, connections)
    )
    mark_in_flight(session, [push.item_id for push in work], request.now)
    return Claimed(work=work, claimed=len(items))


def _connections_of(session: Session, items: list[ClaimedItem]) -> dict[int, Connection]:
    ids = sorted({item.connection_id for item in items})
    return {
        connection.id or 0: connection
        for connection in session.exec(select(Connection).where(col(Connection.id).in_(ids)))
    }


def _tracking_pushes(
    session: Session, items: list[ClaimedItem], connections: dict[int, Connection]
) -> list[Work]:
    ids = [item.subject_id for item in items]
    orders = {
        order.id: order
        for order in session.exec(select(Order).where(among(session, col(Order.id), ids)))
    }
    return [
        TrackingPush(
            item_id=item.id,
            connection=connections[item.connection_id],
            request=FulfillmentRequest(
                remote_order_id=orders[item.subject_id].source_order_id,
                tracking_number=orders[item.subject_id].tracking_number or "",
                carrier=orders[item.subject_id].carrier or "",
            ),
        )
        for item in items
    ]


def _inventory_pushes(
    session: Session, items: list[ClaimedItem], connections: dict[int, Connection]
) -> list[Work]:
    """Each push with its idempotency key, kept on its row (the queue shows what was sent)."""
    ids = [item.subject_id for item in items]
    levels = {
        level.id: level
        for level in session.exec(
            select(InventoryLevel).where(among(session, col(InventoryLevel.id), ids))
        )
    }
    work: list[Work] = []
    renamed: dict[int, str] = {}
    for item in items:
        level = levels[item.subject_id]
        key = push_key(item.id, level.pushed_available, level.wms_available)
        if item.idempotency_key != key:
            renamed[item.id] = key
        work.append(
            InventoryPush(
                item_id=item.id,
                connection=connections[item.connection_id],
                sku=level.sku,
                available=level.wms_available,
                idempotency_key=key,
            )
        )
    name_pushes(session, renamed)
    return work


async def send_push(pool: ConnectorPool, push: Work) -> Outcome:
    if isinstance(push, TrackingPush):
        try:
            await pool.source(push.connection).create_fulfillment(push.request)
        except ConnectorError as exc:
            if exc.failure.failure_class is FailureClass.DUPLICATE:
                return Outcome(push.item_id, label="linked")
            return Outcome(push.item_id, failure=exc.failure)
        return Outcome(push.item_id, label="sent")
    assert isinstance(push, InventoryPush)
    try:
        sold = await pool.source(push.connection).set_inventory_level(
            push.sku, push.available, idempotency_key=push.idempotency_key
        )
    except ConnectorError as exc:
        return Outcome(push.item_id, failure=exc.failure)
    return Outcome(
        push.item_id, label="sent" if sold else "unsold", pushed_available=push.available
    )
