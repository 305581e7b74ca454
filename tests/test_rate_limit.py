"""Tracking drains under Shopify's rate limit (40 calls, 2 a second): each shop is paced from
its own call-limit answers, a 429 pauses the whole connection, and a push's two calls (look at
the fulfillment orders, then fulfil) run back to back — so a backlog of shipments is fulfilled
at the bucket's own speed instead of one per polling cycle."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import select

from imtui.domain.orders import OrderStatus
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine, EngineSettings
from imtui.store.database import Database
from imtui.store.models import Order
from tests.conftest import add_shop_order, wire_world

pytestmark = pytest.mark.slow

ORDERS = 30
CYCLE_S = 5.0
"""One tick of the engine's scheduler: the allowance beyond the bucket's own pace."""


async def test_a_backlog_of_shipments_is_fulfilled_at_the_buckets_pace_with_few_429s(
    db: Database, sandbox, clock: FakeClock
) -> None:
    engine = Engine(db, clock=clock, settings=EngineSettings(concurrency=64))
    try:
        wire_world(db, sandbox, clock)
        for number in range(1001, 1001 + ORDERS):
            add_shop_order(sandbox, number)
        await engine.run_once()
        with db.read() as session:
            references = [order.reference for order in session.exec(select(Order))]
        assert len(references) == ORDERS
        for n, reference in enumerate(references):
            sandbox.wms.ship(reference, tracking=f"1Z{n:06d}", carrier="UPS")
        sandbox.shop.rate_limit = True  # Shopify's standard bucket: 40 calls, 2 a second
        limited_before = sandbox.shop.rate_limited_calls
        started = time.monotonic()
        clock.advance(timedelta(minutes=6))  # the next polls are due
        report = await engine.run_once()
        took = time.monotonic() - started
    finally:
        await engine.aclose()
    with db.read() as session:
        fulfilled = [o for o in session.exec(select(Order)) if o.status == OrderStatus.FULFILLED]
    calls = 2 * ORDERS + 1  # a look and a fulfilment each, and the shop's poll
    assert report.tracking.succeeded == ORDERS
    assert len(fulfilled) == ORDERS, "every shipment fulfilled in the one cycle"
    # the first cycle's inventory pushes left the bucket full: the pace is the bucket's own
    assert took <= calls / 2 + CYCLE_S, f"{took:.1f} s for {calls} calls at 2/s"
    assert sandbox.shop.rate_limited_calls - limited_before <= 3
