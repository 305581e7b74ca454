"""A WMS that answers 429: its Retry-After is sat out by every call of the connection and the
call goes again, so a short rate limit costs time, not an alert; one that persists is one alert
on the connection, never one per order."""

from __future__ import annotations

import pytest
from sqlmodel import select

from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.sandbox import FaultRule
from imtui.store.models import Alert, Order
from tests.conftest import add_shop_order

pytestmark = pytest.mark.slow  # each waits out the WMS's Retry-After: whole real seconds


async def test_a_short_rate_limit_is_waited_out_without_an_alert(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001)
    limited = FaultRule(target="wms.create_order", fault="rate_limit", times=2, retry_after=0.2)
    sandbox.faults.add(limited)
    await engine.run_once()
    assert limited.fired == 2
    with db.read() as session:
        order = session.exec(select(Order).where(Order.number == "#1001")).one()
        assert order.status == OrderStatus.DELIVERED
        assert session.exec(select(Alert)).all() == []
    assert sandbox.wms.posts(order.reference) == 3
    assert sandbox.wms.created(order.reference) == 1


async def test_a_rate_limit_that_persists_is_one_alert_on_the_connection(
    db, sandbox, world, engine
):
    for number in range(1001, 1006):
        add_shop_order(sandbox, number)
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="rate_limit", retry_after=0.1))
    await engine.run_once()
    with db.read() as session:
        alerts = session.exec(select(Alert)).all()
        statuses = {o.status for o in session.exec(select(Order))}
    assert [a.kind for a in alerts] == [AlertKind.RATE_LIMITED]
    assert alerts[0].connection_id == world.wms_id and alerts[0].subject == "deliver"
    # the sandbox WMS's 429 body, word for word (imtui/sandbox/wms.py, WMS_DIALECT)
    assert alerts[0].message == "API calls quota exceeded! Maximum admitted 100 per 1m."
    assert statuses == {OrderStatus.QUEUED}
