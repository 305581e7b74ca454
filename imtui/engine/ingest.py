"""Download new orders from each order source and queue them for the WMS (first try at once)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from imtui.domain.failures import AlertKind, Failure
from imtui.domain.records import SourceOrder
from imtui.engine.connections import in_flight_settle
from imtui.engine.outcomes import apply_poll_failure, apply_poll_success
from imtui.engine.shop_updates import follow_shop
from imtui.store.alerts import AlertSubject, raise_alert, resolve_alerts_for
from imtui.store.connections import end_poll, mark_polled, wms_of_account
from imtui.store.models import Connection, Order
from imtui.store.orders import insert_source_order, known_order, refusal_to_store
from imtui.store.queue import enqueue_delivery

log = logging.getLogger(__name__)

NUMBER_SHOWN = 100
"""Characters of a refused order's name kept on its alert (the alert's column holds 100)."""


def store_source_orders(
    session: Session,
    connection_id: int,
    orders: list[SourceOrder],
    now: datetime,
    *,
    poller: str | None = None,
) -> int:
    """Insert the orders not seen before and queue each for delivery. Returns how many.
    ``poller``: the engine whose poll claim this download was; the claim ends here.

    One order that cannot be stored (a poison pill) never blocks the rest of its page: each
    goes in under its own savepoint, and a refused one gets an alert of its own with the
    reason instead (B10).
    """
    connection = session.get(Connection, connection_id)
    assert connection is not None
    wms = wms_of_account(session, connection.account_id)
    added = 0
    for source in orders:
        if source.updated_at is not None and (
            connection.watermark is None or source.updated_at > connection.watermark
        ):
            connection.watermark = source.updated_at
        refusal = refusal_to_store(session, connection, source)
        order = None
        if refusal is None:
            try:
                with session.begin_nested():
                    order = _take_in(session, connection, wms, source, now)
            except SQLAlchemyError as exc:
                # The database's own words quote the order's data: keep them out of the log.
                refusal = (
                    f"the database refused it ({type(getattr(exc, 'orig', None) or exc).__name__})"
                )
                log.warning(
                    "a shop order of connection %s was not stored: %s", connection.id, refusal
                )
        if refusal is not None:
            _refused(session, connection, source, refusal, now)
        elif order is not None:
            added += 1
            resolve_alerts_for(
                session,
                connection_id=connection.id,
                subject=intake_subject(connection, source),
                include_connection_alerts=False,
                now=now,
                detail="the changed order was taken in",
            )
    mark_polled(connection, now)
    if poller is not None:
        end_poll(connection, poller)
    apply_poll_success(session, connection, now)
    session.add(connection)
    return added


def _take_in(
    session: Session,
    connection: Connection,
    wms: Connection | None,
    source: SourceOrder,
    now: datetime,
) -> Order | None:
    known = known_order(session, connection, source)
    if known is not None:
        # Seen before: the shop changed or cancelled it since (B11), or it is the same again.
        settle = in_flight_settle([wms] if wms is not None else [])
        follow_shop(session, known, source, wms=wms, now=now, settle=settle)
        return None
    if source.cancelled_at is not None:
        return None  # cancelled before imtui ever saw it: nothing to take in
    order = insert_source_order(session, connection, source, now)
    if order is not None and wms is not None and wms.id is not None:
        enqueue_delivery(session, order, wms.id, now)
    return order


def intake_subject(connection: Connection, source: SourceOrder) -> str:
    return f"intake:{connection.id}:{source.remote_id[:200]}"


def _refused(
    session: Session, connection: Connection, source: SourceOrder, reason: str, now: datetime
) -> None:
    number = source.number if len(source.number) <= NUMBER_SHOWN else source.number[:99] + "…"
    raise_alert(
        session,
        account_id=connection.account_id,
        connection_id=connection.id,
        kind=AlertKind.ORDER_NOT_TAKEN,
        message=f"Shop order {number} was not taken in: {reason}",
        now=now,
        about=AlertSubject(order_number=number, subject=intake_subject(connection, source)),
    )


def poll_cut_short(session: Session, connection_id: int, now: datetime, poller: str) -> None:
    """A download the deadline ended after it stored some pages: the claim goes and the poll
    is due again at once, from the watermark those pages moved."""
    connection = session.get(Connection, connection_id)
    assert connection is not None
    end_poll(connection, poller)
    connection.next_poll_at = now
    session.add(connection)


def record_poll_failure(
    session: Session,
    connection_id: int,
    failure: Failure,
    now: datetime,
    *,
    poller: str | None = None,
) -> None:
    connection = session.get(Connection, connection_id)
    assert connection is not None
    mark_polled(connection, now)
    if poller is not None:
        end_poll(connection, poller)
    apply_poll_failure(session, connection, failure, now)
    session.add(connection)
