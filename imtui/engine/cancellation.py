"""Cancel in the WMS an order the shop cancelled after it may have reached it (B11).

A cancellation is a retry row like a delivery (hourly, for up to fifteen days): claimed with a
lease, sent, and its outcome recorded in one transaction. When imtui never learnt the WMS's id
for the order (its delivery's answer was lost, or a send was in flight when the shop cancelled)
the WMS is asked by reference first: not there means it never arrived, and there is nothing to
cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from imtui.domain.failures import ConnectorError
from imtui.domain.retry import Operation
from imtui.engine.connections import ConnectorPool
from imtui.engine.outcomes import Outcome
from imtui.engine.pipeline import Claimed, Work
from imtui.store.models import Connection, Order
from imtui.store.queue import ClaimRequest, claim_due, mark_in_flight

REASON = "Cancelled in the shop"


@dataclass(frozen=True, slots=True)
class Cancellation(Work):
    connection: Connection
    reference: str
    wms_order_id: str | None
    """None: imtui does not know whether (or as which id) the WMS has it."""


def claim_cancellations(session: Session, *, request: ClaimRequest) -> Claimed[Cancellation]:
    items = claim_due(session, [Operation.CANCEL_ORDER], request)
    if not items:
        return Claimed(work=[], claimed=0)
    orders = {
        order.id: order
        for order in session.exec(
            select(Order).where(col(Order.id).in_([item.subject_id for item in items]))
        )
    }
    work = []
    for item in items:
        order = orders[item.subject_id]
        connection = session.get(Connection, item.connection_id)
        assert connection is not None
        work.append(
            Cancellation(
                item_id=item.id,
                connection=connection,
                reference=order.reference,
                wms_order_id=order.wms_order_id,
            )
        )
    mark_in_flight(session, [cancellation.item_id for cancellation in work], request.now)
    return Claimed(work=work, claimed=len(items))


async def send_cancellation(pool: ConnectorPool, cancellation: Cancellation) -> Outcome:
    item_id = cancellation.item_id
    try:
        wms = pool.warehouse(cancellation.connection)
        wms_id = cancellation.wms_order_id
        if wms_id is None:
            found = await wms.find_order(cancellation.reference)
            if found is None:
                return Outcome(item_id, label="never reached the WMS")
            wms_id = found.wms_id
        cancelled = await wms.cancel_order(wms_id, REASON)
    except ConnectorError as exc:
        return Outcome(item_id, failure=exc.failure)
    return Outcome(item_id, label="cancelled", wms_order=cancelled)
