"""Download new orders from each order source and queue them for the WMS (first try at once)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from imtui.domain.failures import Failure
from imtui.domain.records import SourceOrder
from imtui.domain.retry import Operation
from imtui.engine.outcomes import apply_poll_failure, apply_poll_success
from imtui.store.connections import mark_polled, wms_of_account
from imtui.store.models import Connection
from imtui.store.orders import insert_source_order
from imtui.store.queue import enqueue


def store_source_orders(
    session: Session, connection_id: int, orders: list[SourceOrder], now: datetime
) -> int:
    """Insert the orders not seen before and queue each for delivery. Returns how many."""
    connection = session.get(Connection, connection_id)
    assert connection is not None
    wms = wms_of_account(session, connection.account_id)
    added = 0
    for source in orders:
        order = insert_source_order(session, connection, source, now)
        if source.updated_at is not None and (
            connection.watermark is None or source.updated_at > connection.watermark
        ):
            connection.watermark = source.updated_at
        if order is None:
            continue
        added += 1
        if wms is not None:
            enqueue(
                session,
                operation=Operation.DELIVER_ORDER,
                subject_id=order.id,  # type: ignore[arg-type]
                account_id=order.account_id,
                connection_id=wms.id,  # type: ignore[arg-type]
                label=order.number,
                now=now,
            )
    mark_polled(connection, now)
    apply_poll_success(session, connection, now)
    session.add(connection)
    return added


def record_poll_failure(
    session: Session, connection_id: int, failure: Failure, now: datetime
) -> None:
    connection = session.get(Connection, connection_id)
    assert connection is not None
    mark_polled(connection, now)
    apply_poll_failure(session, connection, failure, now)
    session.add(connection)
