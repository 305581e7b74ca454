"""Follow an order the shop changed or cancelled after it was downloaded (B11).

The rules are :mod:`imtui.domain.shop_updates`; this module applies the decision in the
caller's write transaction (the poll that saw the shop's new version).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.domain.records import SourceOrder
from imtui.domain.retry import Operation, RetryState
from imtui.domain.shop_updates import (
    Difference,
    Follow,
    ShopVersion,
    decide,
    describe,
    differences,
    from_text,
    to_text,
)
from imtui.engine.outcomes import stop_sending
from imtui.store.alerts import AlertSubject, raise_alert, resolve_alerts_for
from imtui.store.audit import record_action
from imtui.store.models import Connection, Order, RetryItem
from imtui.store.orders import address_of, edited_fields, lines_of, replace_lines, set_address
from imtui.store.queue import enqueue, requeue

SHOP_ACTOR = "shop"
"""Who the audit log says changed an order the shop changed (B11)."""


def shop_subject(order: Order) -> str:
    return f"shop:{order.id}"


def follow_shop(
    session: Session,
    order: Order,
    source: SourceOrder,
    *,
    wms: Connection | None,
    now: datetime,
    settle: timedelta,
) -> Follow:
    """Apply the shop's version ``source`` of an order imtui already has; returns what was
    decided. ``settle``: how long a send in flight may still be running (the WMS's deadline
    and margin) — a cancellation then waits that long before asking the WMS."""
    incoming = ShopVersion.of(source)
    text = to_text(incoming)
    cancelled = source.cancelled_at is not None
    if text == order.source_version and (not cancelled or order.cancelled_at is not None):
        return Follow.NOTHING  # the same version again (the watermark's edge)
    here = _here(session, order)
    previous = from_text(order.source_version) or here
    shop_changed = differences(previous, incoming)
    delivery = _item(session, Operation.DELIVER_ORDER, order)
    in_flight = delivery is not None and _held_by_a_send(delivery, now)
    decision = decide(
        OrderStatus(order.status),
        cancelled=cancelled,
        maybe_in_wms=order.wms_order_id is not None or in_flight,
        shop_changed=shop_changed,
        edited_here=frozenset(edited_fields(order)),
    )
    order.source_version = text
    if cancelled and order.cancelled_at is None:
        order.cancelled_at = source.cancelled_at
    match decision:
        case Follow.CANCEL_HERE:
            _cancel_here(session, order, now)
        case Follow.CANCEL_IN_WMS:
            _cancel_in_wms(session, order, wms, now, settle if in_flight else timedelta(0))
        case Follow.CANCELLED_AFTER_SHIPPING:
            tracking = f" (tracking {order.tracking_number})" if order.tracking_number else ""
            _tell(
                session,
                order,
                f"Order {order.number} was cancelled in the shop after the WMS shipped "
                f"it{tracking}: nothing was undone.",
                now,
            )
        case Follow.FOLLOW:
            _follow(session, order, incoming, shop_changed, delivery, now)
        case Follow.CONFLICT:
            _hold_for_conflict(session, order, differences(here, incoming), delivery, now)
        case Follow.CHANGED_IN_WMS:
            _tell(
                session,
                order,
                f"Order {order.number} changed in the shop after it reached the WMS; the WMS "
                f"order was not changed:\n{describe(_as_here(here, incoming, shop_changed))}",
                now,
            )
    order.updated_at = now if decision is not Follow.NOTHING else order.updated_at
    session.add(order)
    return decision


def _here(session: Session, order: Order) -> ShopVersion:
    return ShopVersion(
        address_of(order),
        order.ship_method_code,
        order.ship_method_title,
        lines_of(session, order.id or 0),
    )


def _as_here(here: ShopVersion, shop: ShopVersion, changed: list[Difference]) -> list[Difference]:
    """The fields the shop changed, each with the value here (not the shop's old one)."""
    return [Difference(d.field, here.value(d.field), shop.value(d.field)) for d in changed]


def _item(session: Session, operation: Operation, order: Order) -> RetryItem | None:
    return session.exec(
        select(RetryItem).where(RetryItem.operation == operation, RetryItem.subject_id == order.id)
    ).first()


def _held_by_a_send(item: RetryItem, now: datetime) -> bool:
    """A worker may be sending it right now, or sent it and died before the outcome."""
    leased = item.lease_expires_at is not None and item.lease_expires_at > now
    return item.in_flight_since is not None or leased


def _cancel_here(session: Session, order: Order, now: datetime) -> None:
    order.status = OrderStatus.CANCELLED
    order.hold_reason = None
    stop_sending(session, order.id or 0, now)
    for subject in (f"deliver:{order.id}", shop_subject(order)):
        resolve_alerts_for(
            session,
            connection_id=None,
            subject=subject,
            include_connection_alerts=False,
            now=now,
            detail="cancelled in the shop: never sent",
        )


def _cancel_in_wms(
    session: Session, order: Order, wms: Connection | None, now: datetime, wait: timedelta
) -> None:
    order.status = OrderStatus.CANCELLING
    order.hold_reason = None
    stop_sending(session, order.id or 0, now)
    if wms is None or wms.id is None:
        return
    enqueue(
        session,
        operation=Operation.CANCEL_ORDER,
        subject_id=order.id or 0,
        account_id=order.account_id,
        connection_id=wms.id,
        label=order.number,
        now=now,
        due_at=now + wait,
    )


def _follow(
    session: Session,
    order: Order,
    incoming: ShopVersion,
    changed: list[Difference],
    delivery: RetryItem | None,
    now: datetime,
) -> None:
    """The local copy takes the shop's version; a record held for a person goes again (B3)."""
    set_address(order, incoming.address)
    order.ship_method_code = incoming.ship_method_code
    order.ship_method_title = incoming.ship_method_title
    replace_lines(session, order.id or 0, incoming.lines)
    if delivery is not None and delivery.state in (RetryState.HELD, RetryState.SKIPPED):
        requeue(session, delivery, now)
        order.status = OrderStatus.QUEUED
        order.hold_reason = None
    record_action(
        session,
        actor=SHOP_ACTOR,
        action="order.follow",
        target=f"order:{order.id}",
        now=now,
        detail=describe(changed),
    )


def _hold_for_conflict(
    session: Session,
    order: Order,
    both: list[Difference],
    delivery: RetryItem | None,
    now: datetime,
) -> None:
    """A person edited a field the shop changed too: nothing is overwritten, and the order
    waits for a person to say which stands (an edit, or a resend of the version here)."""
    if delivery is not None and delivery.state == RetryState.DUE:
        delivery.state, delivery.next_attempt_at = RetryState.HELD, None
        delivery.updated_at = now
        session.add(delivery)
        order.status = OrderStatus.HELD
        order.hold_reason = AlertKind.SHOP_CHANGE
    _tell(
        session,
        order,
        f"Order {order.number} changed in the shop where it was edited here; nothing was "
        f"overwritten:\n{describe(both)}",
        now,
    )


def _tell(session: Session, order: Order, message: str, now: datetime) -> None:
    raise_alert(
        session,
        account_id=order.account_id,
        connection_id=order.source_connection_id,
        kind=AlertKind.SHOP_CHANGE,
        message=message,
        now=now,
        about=AlertSubject(
            order_id=order.id, order_number=order.number, subject=shop_subject(order)
        ),
    )
