"""B1–B6 and B9, driven through the engine against the loopback sandbox with the fake clock."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.domain.retry import Operation, RetryState
from imtui.engine import account_actions, action_rules, mapping_actions, order_actions
from imtui.sandbox import FaultRule
from imtui.store.alerts import alert_history
from imtui.store.models import Alert, Attempt, Connection, Order, RetryItem, ShipMethodMapping
from tests.conftest import ACTOR, add_shop_order, map_ship_method

HOUR = timedelta(hours=1)


def alerts(db, **where):
    with db.read() as session:
        query = select(Alert).order_by(col(Alert.id))
        for key, value in where.items():
            query = query.where(getattr(Alert, key) == value)
        return list(session.exec(query))


def order_by_number(db, number: str) -> Order:
    with db.read() as session:
        return session.exec(select(Order).where(Order.number == number)).one()


def delivery_item(db, order_id: int) -> RetryItem:
    with db.read() as session:
        return session.exec(
            select(RetryItem).where(
                RetryItem.subject_id == order_id,
                RetryItem.operation == Operation.DELIVER_ORDER,
            )
        ).one()


async def test_new_order_is_delivered_on_the_first_cycle(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001)
    report = await engine.run_once()
    assert report.new_orders == 1
    order = order_by_number(db, "#1001")
    assert order.status == OrderStatus.DELIVERED
    assert sandbox.wms.created(order.reference) == 1
    assert sandbox.wms.posts(order.reference) == 1
    assert order.wms_order_id
    assert alerts(db) == []


async def test_b1_failure_raises_one_alert_with_remote_words_and_repeats_count(
    db, sandbox, world, engine, clock
):
    # (a 503: a 429 is sat out within the call for real seconds, tests/test_wms_rate_limit.py)
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="http_503"))
    add_shop_order(sandbox, 1002)
    await engine.run_once()
    for _ in range(3):
        clock.advance(HOUR)
        await engine.run_once()
    found = alerts(db, kind=AlertKind.REMOTE_ERROR)
    assert len(found) == 1, [(a.kind, a.message) for a in alerts(db)]
    alert = found[0]
    assert alert.count == 4
    assert sandbox.wms.posts(order_by_number(db, "#1002").reference) == 4
    assert alert.order_number == "#1002"
    assert alert.connection_id == world.wms_id
    assert alert.account_id == world.account_id
    assert alert.last_seen == clock.now()
    # the sandbox WMS's 503 body, word for word (imtui/sandbox/wms.py, WMS_DIALECT)
    assert alert.message == "The service is unavailable."
    assert alert.state == AlertState.OPEN


async def test_b1_validation_alert_names_order_and_sku_verbatim(db, sandbox, world, engine):
    add_shop_order(sandbox, 1003, sku="NOPE-9")
    await engine.run_once()
    (alert,) = alerts(db, kind=AlertKind.UNKNOWN_SKU)
    assert alert.order_number == "#1003"
    assert alert.sku == "NOPE-9"
    # the sandbox WMS's ErrorResponse code and hint, word for word (imtui/sandbox/wms.py)
    assert alert.message == "InvalidSku: Sku 'NOPE-9' not found for customer 1"
    assert alert.needs_person


async def test_b2_retry_success_auto_resolves_with_history(db, sandbox, world, engine, clock):
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="http_503", times=1))
    add_shop_order(sandbox, 1004)
    await engine.run_once()
    (alert,) = alerts(db)
    assert alert.state == AlertState.OPEN
    clock.advance(HOUR)
    await engine.run_once()
    (alert,) = alerts(db)
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_by == "auto"
    with db.read() as session:
        events = [event.event for event in alert_history(session, alert.id)]
    assert events == ["raised", "auto_resolved"]
    assert order_by_number(db, "#1004").status == OrderStatus.DELIVERED


async def test_b3_wms_rejection_is_not_retried_until_the_mapping_changes(
    db, sandbox, world, engine, clock
):
    map_ship_method(db, clock, "DHL_EXPRESS", "DHL", "EXP")
    add_shop_order(sandbox, 1005, method="DHL_EXPRESS")
    await engine.run_once()
    order = order_by_number(db, "#1005")
    assert order.status == OrderStatus.HELD
    (alert,) = alerts(db, kind=AlertKind.UNKNOWN_CARRIER)
    assert alert.needs_person
    for _ in range(5):
        clock.advance(HOUR)
        await engine.run_once()
    assert sandbox.wms.posts(order.reference) == 1
    assert proven(db, "DHL_EXPRESS") is None  # refused: DHL EXP is not "in use"
    map_ship_method(db, clock, "DHL_EXPRESS", "UPS", "92")
    await engine.run_once()
    assert order_by_number(db, "#1005").status == OrderStatus.DELIVERED
    assert sandbox.wms.created(order.reference) == 1
    (alert,) = alerts(db, kind=AlertKind.UNKNOWN_CARRIER)
    assert alert.state == AlertState.RESOLVED
    assert proven(db, "DHL_EXPRESS") == clock.now()  # UPS 92 delivered: in use
    with db.write() as session:  # a new billing code keeps the pair; a new mode does not
        account = action_rules.account_for(session, None)
        mapping_actions.set_mapping(
            session, account=account, source_code="DHL_EXPRESS", carrier="UPS", mode="92",
            billing_code="Collect", actor=ACTOR, now=clock.now(),
        )  # fmt: skip
    assert proven(db, "DHL_EXPRESS") == clock.now()
    map_ship_method(db, clock, "DHL_EXPRESS", "UPS", "03")
    assert proven(db, "DHL_EXPRESS") is None


def proven(db, code: str):
    """When the WMS last took an order through the mapping of ``code`` (None: unproven)."""
    with db.read() as session:
        found = session.exec(
            select(ShipMethodMapping).where(ShipMethodMapping.source_code == code)
        ).one()
        return found.delivered_at


async def test_b3_incomplete_address_is_held_locally_and_an_edit_sends_it_now(
    db, sandbox, world, engine, clock
):
    add_shop_order(sandbox, 1006, address={"address1": ""})
    await engine.run_once()
    order = order_by_number(db, "#1006")
    assert order.status == OrderStatus.HELD
    assert sandbox.wms.posts(order.reference) == 0  # never sent
    (alert,) = alerts(db, kind=AlertKind.INCOMPLETE_ADDRESS)
    assert "address1" in alert.message
    clock.advance(3 * HOUR)
    await engine.run_once()
    assert sandbox.wms.posts(order.reference) == 0
    with db.write() as session:
        item = order_actions.edit_order(
            session,
            order_key="#1006",
            changes={"address1": "1 Main St"},
            actor=ACTOR,
            now=clock.now(),
        )
    await engine.send_now(Operation.DELIVER_ORDER, [item.id])
    assert order_by_number(db, "#1006").status == OrderStatus.DELIVERED
    assert sandbox.wms.order(order.reference)["shipTo"]["address1"] == "1 Main St"
    (alert,) = alerts(db, kind=AlertKind.INCOMPLETE_ADDRESS)
    assert alert.state == AlertState.RESOLVED


async def test_an_address_fixed_in_an_edit_closes_its_alert_even_if_a_new_method_holds_it(
    db, sandbox, world, engine, clock
):
    add_shop_order(sandbox, 1016, address={"address1": ""})
    await engine.run_once()
    (alert,) = alerts(db, kind=AlertKind.INCOMPLETE_ADDRESS)
    with db.write() as session:
        item = order_actions.edit_order(
            session,
            order_key="#1016",
            changes={"address1": "1 Main St", "ship_method_code": "FOO_BAR"},
            actor=ACTOR,
            now=clock.now(),
        )
    (alert,) = alerts(db, kind=AlertKind.INCOMPLETE_ADDRESS)
    assert alert.state == AlertState.RESOLVED
    with db.read() as session:
        history = alert_history(session, alert.id)
    # the person who fixed it closed it, not a retry
    assert (alert.resolved_by, history[-1].event, history[-1].actor) == (ACTOR, "resolved", ACTOR)
    assert history[-1].detail == "address edited"
    await engine.send_now(Operation.DELIVER_ORDER, [item.id])
    assert order_by_number(db, "#1016").status == OrderStatus.HELD  # now for its method
    (unmapped,) = alerts(db, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    assert unmapped.message == "Ship method 'FOO_BAR' has no mapping to a WMS carrier"


async def test_b3_rejected_credentials_pause_the_connection_until_changed(
    db, sandbox, world, engine, clock
):
    sandbox.wms.revoke_client()
    add_shop_order(sandbox, 1007)
    await engine.run_once()
    (alert,) = alerts(db, kind=AlertKind.CREDENTIALS_REJECTED)
    with db.read() as session:
        assert session.get(Connection, world.wms_id).paused
    tokens_before = sandbox.requests["wms.token"]
    for _ in range(4):
        clock.advance(HOUR)
        await engine.run_once()
    assert sandbox.requests["wms.token"] == tokens_before  # not retried while paused
    sandbox.wms.restore_client()
    with db.write() as session:
        account_actions.update_credentials(
            session,
            connection_key=str(world.wms_id),
            credentials=dict(sandbox.wms_credentials),
            actor=ACTOR,
            now=clock.now(),
        )
    await engine.run_once()
    order = order_by_number(db, "#1007")
    assert order.status == OrderStatus.DELIVERED
    (alert,) = alerts(db, kind=AlertKind.CREDENTIALS_REJECTED)
    assert alert.state == AlertState.RESOLVED


async def test_b4_failed_order_is_retried_once_an_hour_and_resend_sends_now(
    db, sandbox, world, engine, clock
):
    # (a 503: a 429 is sat out within the call now, tests/test_wms_rate_limit.py)
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="http_503"))
    add_shop_order(sandbox, 1008)
    await engine.run_once()
    order = order_by_number(db, "#1008")
    assert sandbox.wms.posts(order.reference) == 1
    clock.advance(timedelta(minutes=59))
    await engine.run_once()
    assert sandbox.wms.posts(order.reference) == 1
    clock.advance(timedelta(minutes=1))
    await engine.run_once()
    assert sandbox.wms.posts(order.reference) == 2
    sandbox.faults.clear()
    clock.advance(timedelta(minutes=5))
    with db.write() as session:
        item = order_actions.resend_order(session, order_key="#1008", actor=ACTOR, now=clock.now())
    await engine.send_now(Operation.DELIVER_ORDER, [item.id])
    assert sandbox.wms.posts(order.reference) == 3
    assert order_by_number(db, "#1008").status == OrderStatus.DELIVERED


async def test_b5_tracking_push_retries_on_every_polling_cycle(db, sandbox, world, engine, clock):
    add_shop_order(sandbox, 1009)
    await engine.run_once()
    order = order_by_number(db, "#1009")
    sandbox.wms.ship(order.reference, tracking="1ZTRACK", carrier="UPS")
    sandbox.faults.add(FaultRule(target="shop.fulfill", fault="http_500", times=2))
    clock.advance(timedelta(minutes=5))
    await engine.run_once()
    assert order_by_number(db, "#1009").status == OrderStatus.SHIPPED
    with db.read() as session:
        item = session.exec(
            select(RetryItem).where(RetryItem.operation == Operation.PUSH_TRACKING)
        ).one()
    assert item.next_attempt_at == clock.now() + timedelta(seconds=300)
    for _ in range(2):
        clock.advance(timedelta(minutes=5))
        await engine.run_once()
    done = order_by_number(db, "#1009")
    assert done.status == OrderStatus.FULFILLED
    assert len(sandbox.shop.fulfillments(int(done.source_order_id))) == 1
    assert all(a.state == AlertState.RESOLVED for a in alerts(db))


async def test_b5_inventory_follows_the_wms_and_retries_per_cycle(
    db, sandbox, world, engine, clock
):
    sandbox.wms.set_stock("SKU-3", 7, on_hand=9)
    sandbox.faults.add(
        FaultRule(target="shop.inventory", fault="http_503", times=1, reference="SKU-3")
    )
    await engine.run_once()
    assert sandbox.shop.inventory("SKU-3") != 7
    clock.advance(timedelta(minutes=5))
    await engine.run_once()
    assert sandbox.shop.inventory("SKU-3") == 7


async def test_b6_order_skipped_after_fifteen_days_of_hourly_tries_and_resend_revives(
    db, sandbox, world, engine, clock
):
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="http_503"))
    add_shop_order(sandbox, 1010)
    await engine.run_once()
    order = order_by_number(db, "#1010")
    item = delivery_item(db, order.id)
    first_failure = clock.now()
    assert item.first_failure_at == first_failure
    assert item.deadline_at == first_failure + timedelta(days=15)
    # the clock jumps to the last hourly try inside the window (the 359th hour) instead of
    # stepping through the hours before it: the record is still tried then, and due again
    # at the window's very end
    clock.set(item.deadline_at - HOUR)
    await engine.run_once()
    item = delivery_item(db, order.id)
    assert item.state == RetryState.DUE
    assert item.next_attempt_at == item.deadline_at
    assert sandbox.wms.posts(order.reference) == 2
    clock.advance(HOUR)  # exactly 15 days after the first failure
    await engine.run_once()
    item = delivery_item(db, order.id)
    assert item.state == RetryState.SKIPPED
    assert sandbox.wms.posts(order.reference) == 3  # tried at the edge, then given up
    assert order_by_number(db, "#1010").status == OrderStatus.SKIPPED
    (skipped,) = alerts(db, kind=AlertKind.SKIPPED)
    assert skipped.order_number == "#1010" and skipped.needs_person
    clock.advance(HOUR * 5)
    await engine.run_once()
    assert sandbox.wms.posts(order.reference) == 3  # no more tries once skipped
    sandbox.faults.clear()
    with db.write() as session:
        item = order_actions.resend_order(session, order_key="#1010", actor=ACTOR, now=clock.now())
    await engine.send_now(Operation.DELIVER_ORDER, [item.id])
    item = delivery_item(db, order.id)
    assert item.state == RetryState.DONE and item.consecutive_failures == 0
    assert sandbox.wms.created(order.reference) == 1  # nothing lost: the order reached the WMS
    assert order_by_number(db, "#1010").status == OrderStatus.DELIVERED
    assert all(a.state == AlertState.RESOLVED for a in alerts(db))


def tracking_push(db) -> RetryItem:
    with db.read() as session:
        return session.exec(
            select(RetryItem).where(RetryItem.operation == Operation.PUSH_TRACKING)
        ).one()


async def test_b6_tracking_push_window_follows_polling_frequency(db, sandbox, world, engine, clock):
    add_shop_order(sandbox, 1011)
    await engine.run_once()
    order = order_by_number(db, "#1011")
    sandbox.wms.ship(order.reference, tracking="1ZSKIP", carrier="UPS")
    fulfil = sandbox.faults.add(FaultRule(target="shop.fulfill", fault="http_500"))
    clock.advance(timedelta(minutes=5))
    await engine.run_once()
    item = tracking_push(db)
    assert (item.state, fulfil.fired) == (RetryState.DUE, 1)
    # polling every 5 minutes: given up 3 days after the first failure
    assert item.first_failure_at == clock.now()
    assert item.deadline_at == item.first_failure_at + timedelta(days=3)
    # the clock jumps to the last polling cycle inside the window instead of stepping
    # through the 862 before it: still tried, and due again at the window's very end
    clock.set(item.deadline_at - timedelta(minutes=5))
    await engine.run_once()
    item = tracking_push(db)
    assert (item.state, fulfil.fired) == (RetryState.DUE, 2)
    assert item.next_attempt_at == item.deadline_at
    clock.advance(timedelta(minutes=5))  # exactly 3 days after the first failure
    await engine.run_once()
    item = tracking_push(db)
    assert (item.state, fulfil.fired) == (RetryState.SKIPPED, 3)
    (skipped,) = alerts(db, kind=AlertKind.SKIPPED)
    assert skipped.order_number == "#1011" and skipped.needs_person
    clock.advance(timedelta(minutes=30))
    await engine.run_once()
    assert fulfil.fired == 3  # no more tries once skipped
    # nothing lost: the shipment is still known, waiting for a person to resend it
    assert order_by_number(db, "#1011").status == OrderStatus.SHIPPED


async def test_b9_mapping_releases_every_order_held_for_the_method(
    db, sandbox, world, engine, clock
):
    for number in (1012, 1013, 1014):
        add_shop_order(sandbox, number, method="EXPRESS_SAVER")
    await engine.run_once()
    (alert,) = alerts(db, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    assert alert.count == 3
    assert "EXPRESS_SAVER" in alert.message
    for number in ("#1012", "#1013", "#1014"):
        order = order_by_number(db, number)
        assert order.status == OrderStatus.HELD
        assert sandbox.wms.posts(order.reference) == 0
    released = map_ship_method(db, clock, "EXPRESS_SAVER", "FedEx", "PRIORITY_OVERNIGHT")
    assert released == 3
    await engine.run_once()
    for number in ("#1012", "#1013", "#1014"):
        order = order_by_number(db, number)
        assert order.status == OrderStatus.DELIVERED
        assert sandbox.wms.order(order.reference)["routingInfo"]["carrier"] == "FedEx"
    (alert,) = alerts(db, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    assert alert.state == AlertState.RESOLVED


async def test_every_attempt_is_in_the_history(db, sandbox, world, engine, clock):
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="http_500", times=1))
    add_shop_order(sandbox, 1015)
    await engine.run_once()
    clock.advance(HOUR)
    await engine.run_once()
    order = order_by_number(db, "#1015")
    with db.read() as session:
        query = select(Attempt).where(
            Attempt.subject_id == order.id, Attempt.operation == Operation.DELIVER_ORDER
        )
        tries = list(session.exec(query))
    assert [(t.ok, t.outcome) for t in tries] == [(False, "outcome_unknown"), (True, "sent")]
    assert tries[0].http_status == 500
    assert tries[0].message
