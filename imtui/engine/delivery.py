"""Deliver orders to the WMS (B3, B4): checks before any send, look-up before a resend whose
outcome is unknown, a duplicate reference counted as success."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from imtui.domain.orders import Carrier, OrderStatus, missing_address_fields
from imtui.domain.records import OrderLine, WmsOrderRequest
from imtui.domain.retry import Operation
from imtui.engine.connections import ConnectorPool
from imtui.engine.outcomes import Outcome, Routed, apply_outcome
from imtui.engine.pipeline import Claimed, Work
from imtui.store.models import Connection, ShipMethodMapping
from imtui.store.orders import OrderToSend, lines_by_order, orders_to_send
from imtui.store.queue import (
    ClaimedItem,
    ClaimRequest,
    cancel_claimed,
    claim_due,
    items_by_id,
    mark_in_flight,
)


@dataclass(frozen=True, slots=True)
class Delivery(Work):
    connection: Connection
    request: WmsOrderRequest
    look_up_first: bool
    """The last send's outcome is unknown: ask the WMS before sending again."""
    mapping_id: int
    """The ship-method mapping that gave the request its carrier and mode."""


def claim_deliveries(
    session: Session,
    *,
    request: ClaimRequest,
) -> Claimed[Delivery]:
    """Lease due deliveries; hold locally those that must not be sent (B3)."""
    items = claim_due(session, [Operation.DELIVER_ORDER], request)
    if not items:
        return Claimed(work=[], claimed=0)
    orders = orders_to_send(session, [item.subject_id for item in items])
    # The shop cancelled these since they were queued: never sent (B11). A send in flight
    # before that is the cancellation's to find in the WMS.
    cancelled = {item.id for item in items if orders[item.subject_id].status in GONE}
    cancel_claimed(session, sorted(cancelled), request.now)
    sendable = [item for item in items if item.id not in cancelled]
    work, holds = _deliveries(session, sendable, orders)
    _hold(session, holds, request)
    mark_in_flight(session, [delivery.item_id for delivery in work], request.now)
    return Claimed(work=work, claimed=len(items))


GONE = (OrderStatus.CANCELLING, OrderStatus.CANCELLED)
"""Order states in which a queued delivery is never sent: the shop cancelled the order."""


def _deliveries(
    session: Session, items: list[ClaimedItem], orders: dict[int, OrderToSend]
) -> tuple[list[Delivery], list[tuple[ClaimedItem, Failure]]]:
    """What to send, and what to hold locally instead (with why)."""
    lines = lines_by_order(session, [item.subject_id for item in items])
    connections: dict[int, Connection] = {}
    mappings: dict[tuple[int, str], ShipMethodMapping | None] = {}
    work: list[Delivery] = []
    holds: list[tuple[ClaimedItem, Failure]] = []
    for item in items:
        order = orders[item.subject_id]
        key = (order.account_id, order.ship_method_code)
        if key not in mappings:
            mappings[key] = _mapping(session, *key)
        mapping = mappings[key]
        hold = local_hold(order, mapping)
        if hold is not None:
            holds.append((item, hold))
            continue
        assert mapping is not None
        if item.connection_id not in connections:
            connection = session.get(Connection, item.connection_id)
            assert connection is not None
            connections[item.connection_id] = connection
        connection = connections[item.connection_id]
        carrier = Carrier(mapping.carrier, mapping.mode, mapping.billing_code)
        work.append(
            Delivery(
                item_id=item.id,
                connection=connection,
                request=build_request(order, lines[item.subject_id], carrier, connection),
                look_up_first=item.in_flight_since is not None,
                mapping_id=mapping.id or 0,
            )
        )
    return work, holds


def _mapping(session: Session, account_id: int, code: str) -> ShipMethodMapping | None:
    return session.exec(
        select(ShipMethodMapping).where(
            ShipMethodMapping.account_id == account_id,
            ShipMethodMapping.source_code == code,
        )
    ).first()


def _hold(
    session: Session, holds: list[tuple[ClaimedItem, Failure]], request: ClaimRequest
) -> None:
    """Record the local holds as failed attempts (an alert each, the order held): the rare
    path, so through the ORM rows the failure rules work on."""
    if not holds:
        return
    rows = items_by_id(session, [item.id for item, _ in holds])
    for item, failure in holds:
        outcome = Outcome(item.id, failure=failure)
        apply_outcome(session, rows[item.id], outcome, now=request.now, worker=request.owner)


def local_hold(order: OrderToSend, mapping: ShipMethodMapping | None) -> Failure | None:
    """Why the order must wait for a person before it may be sent, if it must (B3)."""
    if mapping is None:
        title = f" ({order.ship_method_title})" if order.ship_method_title else ""
        return Failure(
            FailureClass.LOCAL_HOLD,
            AlertKind.UNMAPPED_SHIP_METHOD,
            f"Ship method '{order.ship_method_code}'{title} has no mapping to a WMS carrier",
        )
    missing = missing_address_fields(order.address)
    if missing:
        return Failure(
            FailureClass.LOCAL_HOLD,
            AlertKind.INCOMPLETE_ADDRESS,
            "Ship-to address is missing: " + ", ".join(missing),
            field=missing[0],
        )
    return None


def build_request(
    order: OrderToSend, lines: tuple[OrderLine, ...], carrier: Carrier, connection: Connection
) -> WmsOrderRequest:
    return WmsOrderRequest(
        reference=order.reference,
        customer_id=str(connection.settings.get("customer_id", "1")),
        facility_id=str(connection.settings.get("facility_id", "1")),
        carrier=carrier.carrier,
        mode=carrier.mode,
        billing_code=carrier.billing_code,
        ship_to=order.address,
        lines=lines,
    )


async def send_delivery(pool: ConnectorPool, delivery: Delivery) -> Outcome:
    reference = delivery.request.reference
    try:
        wms = pool.warehouse(delivery.connection)
    except ConnectorError as exc:
        return Outcome(
            delivery.item_id, failure=exc.failure, still_in_flight=delivery.look_up_first
        )
    if delivery.look_up_first:
        try:
            found = await wms.find_order(reference)
        except ConnectorError as exc:
            # Whatever stopped the look-up, the last send's outcome is still unknown: the
            # record stays marked, so the next try looks again instead of posting blind.
            return Outcome(delivery.item_id, failure=exc.failure, still_in_flight=True)
        if found is not None:
            return Outcome(delivery.item_id, label="linked", wms_order=found)
    try:
        created = await wms.create_order(delivery.request)
        routed = Routed(delivery.mapping_id, delivery.request.carrier, delivery.request.mode)
        return Outcome(delivery.item_id, label="sent", wms_order=created, routed=routed)
    except ConnectorError as exc:
        if exc.failure.failure_class is not FailureClass.DUPLICATE:
            return Outcome(delivery.item_id, failure=exc.failure)
    # The WMS already has this reference: that is a success; fetch it to link the id.
    try:
        found = await wms.find_order(reference)
    except ConnectorError as exc:
        # Still unknown which WMS order it is: keep it in flight so the next try looks again.
        return Outcome(
            delivery.item_id,
            failure=Failure(
                FailureClass.OUTCOME_UNKNOWN,
                exc.failure.kind,
                exc.failure.message,
                status=exc.failure.status,
                retry_after=exc.failure.retry_after,
            ),
        )
    return Outcome(delivery.item_id, label="linked", wms_order=found)
