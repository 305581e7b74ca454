"""What a person can do to an order or a queue row: resend it now (B4, B6), and edit its ship-to
address or ship method, which sends it again at once (B3, B4). :func:`address_errors` gives a
form the same address checks per field.

Like every action (:mod:`imtui.engine.action_rules`), each runs inside the caller's write
transaction, writes the audit log, and raises :class:`ActionError` with one line for a person.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlmodel import Session, select

from imtui.domain.failures import AlertKind
from imtui.domain.orders import NOT_IN_WMS, OrderStatus, missing_address_fields
from imtui.domain.people import Act
from imtui.domain.records import ADDRESS_FIELDS, Address
from imtui.domain.retry import Operation, RetryState
from imtui.engine.action_rules import ActionError, FieldError, clean_text, require
from imtui.engine.outcomes import subject_of
from imtui.store.alerts import resolve_alerts_for
from imtui.store.audit import record_action
from imtui.store.connections import wms_of_account
from imtui.store.models import Order, RetryItem
from imtui.store.orders import address_of, edited_fields, find_order, set_address
from imtui.store.queue import enqueue_delivery, requeue


def order_for(session: Session, key: str, account_id: int | None = None) -> Order:
    order = find_order(session, key.strip(), account_id)
    if order is None:
        where = f" in account {account_id}" if account_id is not None else ""
        raise ActionError(f"no order {key!r}{where}")
    return order


def resend_order(
    session: Session,
    *,
    order_key: str,
    actor: str,
    now: datetime,
    account_id: int | None = None,
) -> RetryItem:
    """ "Resend to WMS" (B4): due now, with a fresh retry window — also for a skipped one (B6).
    A shipped order whose tracking did not reach the shop gets its tracking resent instead."""
    order = order_for(session, order_key, account_id)
    require(session, Act.RESEND, order.account_id)
    _refuse_cancelled(order)
    if order.status in (OrderStatus.SHIPPED,):
        item = _item_for(session, Operation.PUSH_TRACKING, order.id)  # type: ignore[arg-type]
        if item is None:
            raise ActionError(f"order {order.number} has no tracking push to resend")
    elif order.status == OrderStatus.FULFILLED or (
        order.status == OrderStatus.DELIVERED and order.wms_order_id
    ):
        raise ActionError(f"order {order.number} is already {order.status}: nothing to resend")
    else:
        item = _delivery_item(session, order, now)
        order.status = OrderStatus.QUEUED
        order.updated_at = now
        session.add(order)
    requeue(session, item, now)
    record_action(
        session,
        actor=actor,
        action=f"{item.operation}.resend",
        target=f"order:{order.id}",
        now=now,
        detail=order.number,
    )
    return item


def resend_item(session: Session, *, item_id: int, actor: str, now: datetime) -> RetryItem:
    item = session.get(RetryItem, item_id)
    if item is None:
        raise ActionError(f"no retry item {item_id}")
    require(session, Act.RESEND, item.account_id)
    if item.state == RetryState.DONE:
        raise ActionError(f"retry item {item_id} already succeeded")
    if item.state == RetryState.CANCELLED:
        raise ActionError(f"retry item {item_id} is for an order cancelled in the shop")
    if item.operation == Operation.DELIVER_ORDER:
        order = session.get(Order, item.subject_id)
        if order is not None and order.status in (OrderStatus.HELD, OrderStatus.SKIPPED):
            order.status = OrderStatus.QUEUED
            order.updated_at = now
            session.add(order)
    requeue(session, item, now)
    record_action(
        session,
        actor=actor,
        action=f"{item.operation}.resend",
        target=f"retry:{item.id}",
        now=now,
        detail=item.subject_label,
    )
    return item


EDITABLE_ORDER_FIELDS = (*ADDRESS_FIELDS, "ship_method_code")


def address_errors(address: Address) -> list[FieldError]:
    """Every problem with a ship-to address, per field, for a form or one CLI line."""
    errors = [FieldError(name, "required") for name in missing_address_fields(address)]
    country = address.country.strip()
    if country and not re.fullmatch(r"[A-Za-z]{2}", country):
        errors.append(FieldError("country", "two-letter country code, e.g. US"))
    if (
        country.upper() == "US"
        and address.zip.strip()
        and not re.fullmatch(r"\d{5}(-\d{4})?", address.zip.strip())
    ):
        errors.append(FieldError("zip", "US ZIP code: 12345 or 12345-6789"))
    for name in ADDRESS_FIELDS:
        value = getattr(address, name)
        if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
            errors.append(FieldError(name, "contains control characters"))
        if len(value) > 200:
            errors.append(FieldError(name, "longer than 200 characters"))
    return errors


def edit_order(
    session: Session,
    *,
    order_key: str,
    changes: dict[str, str],
    actor: str,
    now: datetime,
    account_id: int | None = None,
) -> RetryItem:
    """Change the ship-to address or ship method; the order is sent again at once (B3, B4)."""
    order = order_for(session, order_key, account_id)
    require(session, Act.EDIT_ORDER, order.account_id)
    _refuse_cancelled(order)
    unknown = sorted(set(changes) - set(EDITABLE_ORDER_FIELDS))
    if unknown:
        raise ActionError(
            f"cannot edit {', '.join(unknown)}: editable are " + ", ".join(EDITABLE_ORDER_FIELDS)
        )
    if order.status not in NOT_IN_WMS:
        raise ActionError(f"order {order.number} is already {order.status} in the WMS")
    current = address_of(order)
    fields = {name: getattr(current, name) for name in ADDRESS_FIELDS}
    fields.update({k: v.strip() for k, v in changes.items() if k in ADDRESS_FIELDS})
    if "country" in changes:
        fields["country"] = fields["country"].upper()
    address = Address(**fields)
    errors = address_errors(address)
    if errors:
        raise ActionError("invalid address: " + "; ".join(f"{e.field} {e.message}" for e in errors))
    before = {name: getattr(current, name) for name in ADDRESS_FIELDS if name in changes}
    edited = {name for name in ADDRESS_FIELDS if getattr(current, name) != getattr(address, name)}
    set_address(order, address)
    if "ship_method_code" in changes:
        before["ship_method_code"] = order.ship_method_code
        code = clean_text(changes["ship_method_code"], "ship method", 200)
        if code != order.ship_method_code:
            order.ship_method_title = ""  # the shop's title named the old method
            edited.add("ship_method_code")
        order.ship_method_code = code
    # A shop's later change to these is not followed silently (B11, domain/shop_updates.py).
    order.edited_fields = ",".join(sorted(edited | edited_fields(order)))
    order.status = OrderStatus.QUEUED
    order.hold_reason = None
    order.updated_at = now
    session.add(order)
    item = _delivery_item(session, order, now)
    requeue(session, item, now)
    # The address now passes the local check: the alert that said it did not is fixed by this
    # edit, whatever holds the order next. (A WMS rejection waits for the WMS to accept it.)
    resolve_alerts_for(
        session,
        connection_id=None,
        subject=subject_of(item),
        kinds=(AlertKind.INCOMPLETE_ADDRESS,),
        include_connection_alerts=False,
        now=now,
        detail="address edited",
        actor=actor,
    )
    changed = ", ".join(f"{k}: {before.get(k, '')!r} → {v!r}" for k, v in changes.items())
    record_action(
        session,
        actor=actor,
        action="order.edit",
        target=f"order:{order.id}",
        now=now,
        detail=f"{order.number}: {changed}",
    )
    return item


def _refuse_cancelled(order: Order) -> None:
    if order.status in (OrderStatus.CANCELLED, OrderStatus.CANCELLING):
        raise ActionError(f"order {order.number} was cancelled in the shop: nothing to send")


def _delivery_item(session: Session, order: Order, now: datetime) -> RetryItem:
    item = _item_for(session, Operation.DELIVER_ORDER, order.id)  # type: ignore[arg-type]
    if item is not None:
        return item
    wms = wms_of_account(session, order.account_id)
    if wms is None or wms.id is None:
        raise ActionError("the account has no WMS connection to send to")
    return enqueue_delivery(session, order, wms.id, now)


def _item_for(session: Session, operation: Operation, subject_id: int) -> RetryItem | None:
    return session.exec(
        select(RetryItem).where(
            RetryItem.operation == operation, RetryItem.subject_id == subject_id
        )
    ).first()
