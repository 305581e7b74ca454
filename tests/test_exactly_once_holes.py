"""Exactly once where the check itself fails, and outage alerts that close only when the work
got through — against a sandbox WMS set to accept a repeated reference, as some WMS setups do,
so that only imtui's own care keeps an order from being created twice."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
from sqlmodel import col, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.domain.retry import Operation
from imtui.engine import order_actions
from imtui.engine.clock import FakeClock
from imtui.engine.connections import IN_FLIGHT_MARGIN
from imtui.engine.runtime import Engine, EngineSettings
from imtui.sandbox import FaultRule
from imtui.store.database import Database
from imtui.store.models import Alert, AlertEvent, Order, RetryItem
from tests.conftest import add_shop_order, set_wms_deadline, wire_world

HOUR = timedelta(hours=1, minutes=1)


def order_status(db: Database, number: str) -> str:
    with db.read() as session:
        order = session.exec(select(Order).where(Order.number == number)).one()
        return order.status


async def test_a_failed_look_up_keeps_the_order_marked_until_a_look_up_succeeds(
    db: Database, sandbox, clock: FakeClock, engine: Engine
) -> None:
    sandbox.wms.accept_repeated_references = True
    wire_world(db, sandbox, clock)
    add_shop_order(sandbox, 1001)
    # the WMS creates the order but the answer is lost: outcome unknown
    sandbox.faults.add(FaultRule("wms.create_order", "commit_then_500", times=1))
    await engine.run_once()
    assert sandbox.wms.created("ACME-1001") == 1
    # an hour later the look-up itself fails
    sandbox.faults.add(FaultRule("wms.find_orders", "http_500", times=1))
    clock.advance(HOUR)
    await engine.run_once()
    assert order_status(db, "#1001") == OrderStatus.QUEUED
    # an hour after that the look-up works and finds it: linked, never posted again
    clock.advance(HOUR)
    await engine.run_once()
    assert order_status(db, "#1001") == OrderStatus.DELIVERED
    assert sandbox.wms.created("ACME-1001") == 1
    assert sandbox.wms.posts("ACME-1001") == 1


@pytest.mark.slow
async def test_a_worker_killed_while_the_wms_creates_is_not_resent_before_the_request_settles(
    db: Database, sandbox, clock: FakeClock
) -> None:
    sandbox.wms.accept_repeated_references = True
    sandbox.wms.create_seconds = 4.0  # well inside the request's deadline
    world = wire_world(db, sandbox, clock)
    set_wms_deadline(db, world.wms_id, 6.0)
    add_shop_order(sandbox, 1001)
    dead_owner = f"{socket.gethostname()}:999999999:dead"
    first = Engine(db, clock=clock, owner=dead_owner, settings=EngineSettings(concurrency=4))
    cycle = asyncio.create_task(first.run_once())
    for _ in range(200):
        if sandbox.wms.posts("ACME-1001"):
            break
        await asyncio.sleep(0.02)
    assert sandbox.wms.posts("ACME-1001") == 1
    cycle.cancel()  # the worker dies with its POST in the WMS's hands
    await asyncio.gather(cycle, return_exceptions=True)
    await first.aclose()

    second = Engine(db, clock=clock, settings=EngineSettings(concurrency=4))
    try:
        assert await second.recover() == 1  # its lease is taken back at once …
        await second.run_once()  # … but the order is neither looked up nor sent yet
        assert sandbox.wms.posts("ACME-1001") == 1
        await asyncio.sleep(4.5)  # the WMS finishes the dead worker's create
        assert sandbox.wms.created("ACME-1001") == 1
        clock.advance(timedelta(seconds=6.0 + IN_FLIGHT_MARGIN + 1))
        await second.run_once()
    finally:
        await second.aclose()
    assert order_status(db, "#1001") == OrderStatus.DELIVERED
    assert sandbox.wms.created("ACME-1001") == 1
    assert sandbox.wms.posts("ACME-1001") == 1


def deliver_alerts(db: Database, wms_id: int) -> list[Alert]:
    with db.read() as session:
        return list(
            session.exec(
                select(Alert).where(
                    Alert.connection_id == wms_id,
                    Alert.kind == AlertKind.REMOTE_ERROR,
                    Alert.subject == "deliver",
                )
            )
        )


async def test_an_outage_stays_one_open_alert_until_the_last_order_it_held_is_delivered(
    db: Database, sandbox, clock: FakeClock, engine: Engine
) -> None:
    world = wire_world(db, sandbox, clock)
    for number in range(1001, 1031):
        add_shop_order(sandbox, number)
    outage = sandbox.faults.add(FaultRule("wms.create_order", "http_503", retry_after=600))
    await engine.run_once()
    (alert,) = deliver_alerts(db, world.wms_id)
    assert alert.state == AlertState.OPEN
    assert alert.count == 30

    sandbox.faults.remove(outage)
    clock.advance(timedelta(seconds=30))
    with db.read() as session:
        first_id = session.exec(
            select(RetryItem.id).where(RetryItem.operation == Operation.DELIVER_ORDER)
        ).first()
    with db.write() as session:  # "r" on one order: due now, sent now
        order_actions.resend_item(session, item_id=first_id, actor="tester", now=clock.now())
    stats = await engine.send_now(Operation.DELIVER_ORDER, [first_id])
    assert stats.succeeded == 1
    (alert,) = deliver_alerts(db, world.wms_id)
    assert alert.state == AlertState.OPEN, "one order through is not the outage over"
    with db.read() as session:
        waiting = session.exec(
            select(RetryItem).where(
                RetryItem.state == "due", col(RetryItem.consecutive_failures) > 0
            )
        ).all()
    assert len(waiting) == 29
    assert all(item.next_attempt_at <= clock.now() for item in waiting), "not re-queued now"

    await engine.run_once()
    (alert,) = deliver_alerts(db, world.wms_id)
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_at >= alert.first_seen
    with db.read() as session:
        delivered = session.exec(select(Order).where(Order.status == OrderStatus.DELIVERED)).all()
        events = session.exec(
            select(AlertEvent.event)
            .where(AlertEvent.alert_id == alert.id)
            .order_by(col(AlertEvent.id))
        ).all()
    assert len(delivered) == 30
    assert list(events) == ["raised", "auto_resolved"]


async def test_an_intermittent_outage_is_one_alert_not_a_flapping_series(
    db: Database, sandbox, clock: FakeClock, engine: Engine
) -> None:
    world = wire_world(db, sandbox, clock)
    for number in range(1001, 1061):
        add_shop_order(sandbox, number)
    sandbox.faults.reseed(7)
    flaky = sandbox.faults.add(FaultRule("wms.create_order", "http_503", probability=0.4))
    for _ in range(4):  # each hour some retries get through and some fail again
        await engine.run_once()
        clock.advance(HOUR)
    sandbox.faults.remove(flaky)
    for _ in range(3):
        clock.advance(HOUR)
        await engine.run_once()
    alerts = deliver_alerts(db, world.wms_id)
    assert len(alerts) == 1, [(a.state, a.count) for a in alerts]
    assert alerts[0].state == AlertState.RESOLVED
    with db.read() as session:
        assert all(o.status == OrderStatus.DELIVERED for o in session.exec(select(Order)))
