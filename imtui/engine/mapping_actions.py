"""What a person can do to ship-method mappings: map a ship method, which releases every order
held for it (B9), and delete a mapping.

Like every action (:mod:`imtui.engine.action_rules`), each runs inside the caller's write
transaction, writes the audit log, and raises :class:`ActionError` with one line for a person.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_
from sqlmodel import Session, col, select

from imtui.domain.failures import METHOD_HOLD_KINDS
from imtui.domain.orders import OrderStatus
from imtui.domain.people import Act
from imtui.domain.retry import Operation, RetryState
from imtui.engine.action_rules import ActionError, clean_text, require
from imtui.store.alerts import resolve_alerts_for
from imtui.store.audit import record_action
from imtui.store.models import Account, Order, RetryItem, ShipMethodMapping
from imtui.store.queue import requeue


def set_mapping(
    session: Session,
    *,
    account: Account,
    source_code: str,
    carrier: str,
    mode: str,
    billing_code: str = "Prepaid",
    actor: str,
    now: datetime,
) -> tuple[ShipMethodMapping, int]:
    """Map a ship method and release every order held for it (B9). Returns (mapping, released)."""
    require(session, Act.MAP_METHODS, account.id)
    source_code = clean_text(source_code, "ship method code", 200, strip=False)
    carrier = clean_text(carrier, "carrier", 100)
    mode = clean_text(mode, "mode", 100)
    billing_code = clean_text(billing_code, "billing code", 100)
    mapping = session.exec(
        select(ShipMethodMapping).where(
            ShipMethodMapping.account_id == account.id,
            ShipMethodMapping.source_code == source_code,
        )
    ).first()
    if mapping is None:
        mapping = ShipMethodMapping(
            account_id=account.id,  # type: ignore[arg-type]
            source_code=source_code,
            carrier=carrier,
            mode=mode,
            created_at=now,
            updated_at=now,
        )
    if (mapping.carrier, mapping.mode) != (carrier, mode):
        mapping.delivered_at = None  # a new pair: unproven until the WMS takes an order
    mapping.carrier, mapping.mode, mapping.billing_code = carrier, mode, billing_code
    mapping.updated_at = now
    session.add(mapping)
    released = release_held_for_method(session, account.id, source_code, now, actor=actor)  # type: ignore[arg-type]
    record_action(
        session,
        actor=actor,
        action="mapping.set",
        target=f"method:{source_code}",
        now=now,
        detail=f"→ {carrier} {mode} ({billing_code}); released {released}",
    )
    return mapping, released


def release_held_for_method(
    session: Session, account_id: int, source_code: str, now: datetime, *, actor: str
) -> int:
    """Every order held for this ship method goes on the next cycle, unedited (B9, B3)."""
    held = session.exec(
        select(Order, RetryItem)
        .join(
            RetryItem,
            and_(
                col(RetryItem.subject_id) == Order.id,
                col(RetryItem.operation) == Operation.DELIVER_ORDER,
            ),
        )
        .where(
            Order.account_id == account_id,
            Order.ship_method_code == source_code,
            RetryItem.state == RetryState.HELD,
            col(Order.hold_reason).in_(METHOD_HOLD_KINDS),
        )
    )
    released = 0
    for order, item in held:
        order.status = OrderStatus.QUEUED
        order.hold_reason = None
        order.updated_at = now
        session.add(order)
        requeue(session, item, now)
        released += 1
    resolve_alerts_for(
        session,
        connection_id=None,
        subject=f"method:{account_id}:{source_code}",
        include_connection_alerts=False,
        now=now,
        detail="mapping added",
        actor=actor,
    )
    return released


def delete_mapping(
    session: Session, *, account: Account, source_code: str, actor: str, now: datetime
) -> None:
    require(session, Act.MAP_METHODS, account.id)
    mapping = session.exec(
        select(ShipMethodMapping).where(
            ShipMethodMapping.account_id == account.id,
            ShipMethodMapping.source_code == source_code,
        )
    ).first()
    if mapping is None:
        raise ActionError(f"no mapping for ship method {source_code!r}")
    session.delete(mapping)
    record_action(
        session, actor=actor, action="mapping.delete", target=f"method:{source_code}", now=now
    )


def delete_mapping_by_id(session: Session, *, mapping_id: int, actor: str, now: datetime) -> str:
    """The same, for the mapping a list row shows; returns its ship method's code."""
    mapping = session.get(ShipMethodMapping, mapping_id)
    if mapping is None:
        raise ActionError(f"no mapping {mapping_id} (deleted meanwhile?)")
    account = session.get(Account, mapping.account_id)
    assert account is not None
    code = mapping.source_code
    delete_mapping(session, account=account, source_code=code, actor=actor, now=now)
    return code
