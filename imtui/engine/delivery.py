"""Deliver orders to the WMS (B3, B4): checks before any send, look-up before a resend whose
outcome is unknown, a duplicate reference counted as success."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from imtui.domain.orders import Carrier, OrderStatus, missing_address_fields
from imtui.domain.records import OrderLine, WmsOrderRequest
from imtui.domain.retry import Operation, RetryState
from imtui.engine.connections import ConnectorPool
from imtui.engine.outcomes import Outcome, apply_outcome
from imtui.engine.pipeline import Claimed, Work
from imtui.store.models import Connection, Order, ShipMethodMapping
from imtui.store.orders import address_of, lines_by_order
from imtui.store.queue import ClaimRequest, claim_due, mark_in_flight, release_lease


@dataclass(frozen=True, slots=True)
class Delivery(Work):
    connection: Connection
    request: WmsOrderRequest
    look_up_first: bool
    """The last send's outcome is unknown: ask the WMS before sending again."""


def claim_deliveries(
    session: Session,
    *,
    request: ClaimRequest,
) -> Claimed[Delivery]:
    """Lease due deliveries; hold locally those that must not be sent (B3)."""
    items = claim_due(session, [Operation.DELIVER_ORDER], request)
    now, owner = request.now, request.owner
    if not items:
        return Claimed(work=[], claimed=0)
    orders: dict[int, Order] = {}
    for order in session.exec(
        select(Order).where(col(Order.id).in_([item.subject_id for item in items]))
    ):
        assert order.id is not None
        orders[order.id] = order
    lines = lines_by_order(session, list(orders))
    connections: dict[int, Connection] = {}
    mappings: dict[tuple[int, str], ShipMethodMapping | None] = {}
    work: list[Delivery] = []
    for item in items:
        order = orders[item.subject_id]
        if order.status in (OrderStatus.CANCELLING, OrderStatus.CANCELLED):
            # The shop cancelled it since it was queued: never sent (B11). A send in flight
            # before that is the cancellation's to find in the WMS.
            item.state, item.next_attempt_at = RetryState.CANCELLED, None
            release_lease(item)
            session.add(item)
            continue
        connection = connections.get(item.connection_id) or session.get(
            Connection, item.connection_id
        )
        assert connection is not None and connection.id is not None
        connections[connection.id] = connection
        key = (order.account_id, order.ship_method_code)
        if key not in mappings:
            mappings[key] = session.exec(
                select(ShipMethodMapping).where(
                    ShipMethodMapping.account_id == order.account_id,
                    ShipMethodMapping.source_code == order.ship_method_code,
                )
            ).first()
        hold = local_hold(order, mappings[key])
        if hold is not None:
            apply_outcome(session, item, Outcome(item.id or 0, failure=hold), now=now, worker=owner)
            continue
        mapping = mappings[key]
        assert mapping is not None
        carrier = Carrier(mapping.carrier, mapping.mode, mapping.billing_code)
        work.append(
            Delivery(
                item_id=item.id or 0,
                connection=connection,
                request=build_request(order, lines[order.id or 0], carrier, connection),
                look_up_first=item.in_flight_since is not None,
            )
        )
    mark_in_flight(session, [delivery.item_id for delivery in work], now)
    return Claimed(work=work, claimed=len(items))


def local_hold(order: Order, mapping: ShipMethodMapping | None) -> Failure | None:
    """Why the order must wait for a person before it may be sent, if it must (B3)."""
    if mapping is None:
        title = f" ({order.ship_method_title})" if order.ship_method_title else ""
        return Failure(
            FailureClass.LOCAL_HOLD,
            AlertKind.UNMAPPED_SHIP_METHOD,
            f"Ship method '{order.ship_method_code}'{title} has no mapping to a WMS carrier",
        )
    missing = missing_address_fields(address_of(order))
    if missing:
        return Failure(
            FailureClass.LOCAL_HOLD,
            AlertKind.INCOMPLETE_ADDRESS,
            "Ship-to address is missing: " + ", ".join(missing),
            field=missing[0],
        )
    return None


def build_request(
    order: Order, lines: tuple[OrderLine, ...], carrier: Carrier, connection: Connection
) -> WmsOrderRequest:
    return WmsOrderRequest(
        reference=order.reference,
        customer_id=str(connection.settings.get("customer_id", "1")),
        facility_id=str(connection.settings.get("facility_id", "1")),
        carrier=carrier.carrier,
        mode=carrier.mode,
        billing_code=carrier.billing_code,
        ship_to=address_of(order),
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
        return Outcome(delivery.item_id, label="sent", wms_order=created)
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
