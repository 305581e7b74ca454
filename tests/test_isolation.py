"""One merchant's slow system or bad data never reaches another merchant (B10).

Each account's cycle runs in a lane of its own: a shop that trickles its answer, a poll whose
answer cannot be read, a page with orders that cannot be stored — each costs only its own
account, and each shows as an alert.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from sqlmodel import select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.engine import account_actions, action_rules, mapping_actions
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine, EngineSettings
from imtui.engine.scheduler import EngineScheduler
from imtui.sandbox.seed import make_order
from imtui.store.database import Database
from imtui.store.models import Alert, Connection, Order
from tests.conftest import ACTOR, add_shop_order, wire_world
from tests.hostile_remote import HostileRemote, Reply, json_reply, nested_json, trickle

SHOP_ORDERS = "/admin/api/2024-10/orders.json"
TOKEN = {("POST", "/AuthServer/api/Token"): json_reply(200, {"access_token": "tok-123456"})}


def add_hostile_account(
    db: Database, clock: FakeClock, name: str, shop_url: str, **shop_settings: object
) -> int:
    """An account whose shop is ``shop_url`` (a hostile remote) and whose WMS is the same."""
    with db.write() as session:
        account = account_actions.add_account(
            session, name=name, kind="merchant", actor=ACTOR, now=clock.now()
        )
        account_actions.add_connection(
            session,
            account=account,
            name=f"{name} WMS",
            platform="wms_3pl",
            base_url=shop_url,
            credentials={"client_id": "c", "client_secret": "s", "user_login_id": "u"},
            settings={"customer_id": "1", "facility_id": "1"},
            poll_interval_s=300,
            actor=ACTOR,
            now=clock.now(),
        )
        account_actions.add_connection(
            session,
            account=account,
            name=f"{name} shop",
            platform="shopify_rest",  # the hostile routes below answer the REST shapes
            base_url=shop_url,
            credentials={"access_token": "shpat-hostile"},
            settings=dict(shop_settings),
            poll_interval_s=300,
            actor=ACTOR,
            now=clock.now(),
        )
        assert account.id is not None
        return account.id


def open_alerts(db: Database, account_id: int) -> list[Alert]:
    with db.read() as session:
        return list(
            session.exec(
                select(Alert).where(Alert.account_id == account_id, Alert.state == AlertState.OPEN)
            )
        )


def delivered(db: Database, account_id: int) -> int:
    with db.read() as session:
        orders = session.exec(select(Order).where(Order.account_id == account_id))
        return sum(1 for order in orders if order.status == OrderStatus.DELIVERED)


@pytest.mark.slow
async def test_a_trickling_shop_holds_up_only_its_own_account(
    db: Database, sandbox: object, clock: FakeClock, engine: Engine
) -> None:
    world = wire_world(db, sandbox, clock)
    for number in range(1001, 1006):
        add_shop_order(sandbox, number)
    routes = {(("GET", SHOP_ORDERS)): trickle(b'{"orders": []}', every=0.5)}  # 7 s in all
    with HostileRemote(routes) as remote:
        # (the healthy account's first cycle pushes the sandbox's stock, ~2 s: the slow
        # shop's deadline is well beyond that, so "done first" is the isolation, not luck)
        slow = add_hostile_account(db, clock, "Slow", remote.url, poll_deadline=5)
        started = time.monotonic()
        lanes = engine.start_cycles([slow, world.account_id])
        await lanes[1]
        acme_done = time.monotonic() - started
        slow_still_running = not lanes[0].done()
        await lanes[0]
        slow_done = time.monotonic() - started

    assert delivered(db, world.account_id) == 5
    assert slow_still_running, "the healthy account waited for the trickling shop"
    assert acme_done < 4.0
    assert slow_done > 4.9, "the poll deadline (5 s) did not hold it"
    assert slow_done < 7.0
    (alert,) = [a for a in open_alerts(db, slow) if a.subject == "poll"]
    assert alert.kind == AlertKind.REMOTE_ERROR
    assert f"127.0.0.1:{remote.port}" in alert.message
    assert "did not finish within 5 s" in alert.message


async def test_a_poll_whose_answer_cannot_be_read_raises_an_alert(
    db: Database, clock: FakeClock, engine: Engine
) -> None:
    with HostileRemote({("GET", SHOP_ORDERS): nested_json(100_000)}) as remote:
        account = add_hostile_account(db, clock, "Nested", remote.url)
        report = await engine.run_once()
    assert report.poll_failures >= 1
    kinds = {alert.kind for alert in open_alerts(db, account) if alert.subject == "poll"}
    assert AlertKind.BAD_RESPONSE in kinds


async def test_stopping_never_waits_on_a_trickling_remote_past_its_grace(
    db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(db, clock=clock, settings=EngineSettings(concurrency=4))
    routes = {("GET", SHOP_ORDERS): trickle(b'{"orders": []}', every=0.5)}
    with HostileRemote(routes) as remote:
        add_hostile_account(db, clock, "Slow", remote.url)
        scheduler = EngineScheduler(engine, tick_seconds=0.1)
        scheduler.start()
        for _ in range(100):
            if engine.running_accounts:
                break
            await asyncio.sleep(0.05)
        assert engine.running_accounts, "no cycle started"
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            await scheduler.stop(grace=0.5)
        stopped_in = time.monotonic() - started
        await engine.aclose()
    assert stopped_in < 1.5
    assert engine.running_accounts == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_orders_that_cannot_be_stored_get_their_own_alert_and_never_block_the_page(
    db_url: str, sandbox: object, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(db_url)
    engine = Engine(db, clock=clock, settings=EngineSettings(concurrency=8))
    try:
        world = wire_world(db, sandbox, clock)
        with db.write() as session:  # GraphQL's Int cannot carry the 2**40 quantity below
            shop_connection = session.get(Connection, world.shop_id)
            assert shop_connection is not None
            shop_connection.platform = "shopify_rest"
            session.add(shop_connection)
        shop = sandbox.shop  # type: ignore[attr-defined]
        for number in (1001, 1002, 1003):
            add_shop_order(sandbox, number)
        long_name = make_order(4)
        long_name["name"] = "#" + "4" * 300
        long_name["shipping_address"]["name"] = "Zelda Poisonpill"
        first_of_pair = make_order(5)  # "#1005" …
        second_of_pair = make_order(6)
        second_of_pair["name"] = "1005"  # … and "1005": one WMS reference for two orders
        huge_quantity = make_order(7)
        huge_quantity["line_items"][0]["quantity"] = 2**40
        shop.add_orders([long_name, first_of_pair, second_of_pair, huge_quantity])

        with caplog.at_level(logging.DEBUG):
            await engine.run_once()
            await engine.run_once()

        with db.read() as session:
            numbers = sorted(order.number for order in session.exec(select(Order)))
        assert numbers == ["#1001", "#1002", "#1003", "#1005"]
        assert delivered(db, world.account_id) == 4
        refused = [
            a for a in open_alerts(db, world.account_id) if a.kind == AlertKind.ORDER_NOT_TAKEN
        ]
        reasons = sorted(alert.message.split(": ", 1)[1] for alert in refused)
        assert len(refused) == 3
        assert any("name is 301 characters long; at most 100 are kept" in r for r in reasons)
        assert any("is already order #1005's" in r for r in reasons)
        assert any("quantity (1099511627776) is beyond" in r for r in reasons)
        assert all(alert.needs_person for alert in refused)
        assert "Zelda" not in caplog.text
    finally:
        await engine.aclose()
        db.dispose()


async def test_a_remote_that_answers_slowly_costs_no_cpu_while_the_sends_wait(
    db: Database, clock: FakeClock, engine: Engine
) -> None:
    orders = [make_order(n) for n in range(1, 6)]
    for n, order in enumerate(orders, start=1):
        order["id"] = 7000 + n
    routes = {
        **TOKEN,
        ("GET", SHOP_ORDERS): json_reply(200, {"orders": orders}),
        ("POST", "/orders"): Reply(201, {"content-type": "application/json"}, b"{}", delay=2.0),
    }
    with HostileRemote(routes) as remote:
        account_id = add_hostile_account(db, clock, "Slow WMS", remote.url)
        with db.write() as session:
            account = action_rules.account_for(session, str(account_id))
            mapping_actions.set_mapping(
                session,
                account=account,
                source_code="UPS_GROUND",
                carrier="UPS",
                mode="03",
                actor=ACTOR,
                now=clock.now(),
            )
        started, cpu = time.monotonic(), time.process_time()
        await engine.run_once()
        waited, spent = time.monotonic() - started, time.process_time() - cpu
    assert waited >= 2.0
    assert spent < 0.6, f"{spent:.2f} s of CPU while the sends waited {waited:.1f} s"


@pytest.mark.slow
async def test_a_stop_in_a_storm_finishes_what_was_sent_and_claims_nothing_more(
    db: Database, sandbox: object, clock: FakeClock
) -> None:
    world = wire_world(db, sandbox, clock)
    sandbox.latency = 0.05  # type: ignore[attr-defined]
    sandbox.shop.add_orders([make_order(n) for n in range(1, 601)])  # type: ignore[attr-defined]
    engine = Engine(db, clock=clock, settings=EngineSettings(concurrency=16, claim_batch=20))
    scheduler = EngineScheduler(engine, tick_seconds=0.1)
    scheduler.start()
    for _ in range(200):
        if delivered(db, world.account_id) >= 20:
            break
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await scheduler.stop(grace=30)
    stopped_in = time.monotonic() - started
    await engine.aclose()
    with db.read() as session:
        rows = session.exec(select(Order)).all()
    done = sum(1 for order in rows if order.status == OrderStatus.DELIVERED)
    assert stopped_in < 3.0, f"the stop waited {stopped_in:.1f} s for the rest of the storm"
    assert 20 <= done < 600
    assert sandbox.requests["wms.create_order"] == done  # type: ignore[attr-defined]
