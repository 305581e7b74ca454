"""One test per row of docs/design.md's failure-class table, through the engine: what each failure
does to the record, the alert and the next send."""

from __future__ import annotations

import socket
from datetime import timedelta

import httpx
from sqlmodel import select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind, FailureClass
from imtui.domain.orders import OrderStatus
from imtui.domain.retry import Operation, RetryState
from imtui.sandbox import FaultRule
from imtui.store.models import Alert, Connection, RetryItem
from tests.conftest import add_shop_order
from tests.test_engine_rules import alerts, delivery_item, order_by_number

HOUR = timedelta(hours=1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connect_refused_is_transient_and_retried(db, sandbox, world, engine, clock):
    add_shop_order(sandbox, 2001)
    with db.write() as session:
        wms = session.get(Connection, world.wms_id)
        wms.base_url = f"http://127.0.0.1:{closed_port()}"
        wms.updated_at = clock.now()
        session.add(wms)
    await engine.run_once()
    order = order_by_number(db, "#2001")
    item = delivery_item(db, order.id)
    assert item.state == RetryState.DUE
    assert item.last_failure_class == FailureClass.TRANSIENT
    assert item.next_attempt_at == clock.now() + HOUR
    (alert,) = [a for a in alerts(db, subject="deliver") if a.connection_id == world.wms_id]
    assert alert.kind == AlertKind.UNREACHABLE and not alert.needs_person
    with db.write() as session:
        wms = session.get(Connection, world.wms_id)
        wms.base_url = sandbox.wms_url
        wms.updated_at = clock.now()
        session.add(wms)
    clock.advance(HOUR)
    await engine.run_once()
    assert order_by_number(db, "#2001").status == OrderStatus.DELIVERED
    assert sandbox.wms.posts(order.reference) == 1
    assert all(a.state == AlertState.RESOLVED for a in alerts(db))


async def test_rate_limit_waits_at_least_retry_after(db, sandbox, world, engine, clock):
    sandbox.faults.add(
        FaultRule(
            target="shop.inventory", fault="rate_limit", times=1, retry_after=900, reference="SKU-2"
        )
    )
    sandbox.wms.set_stock("SKU-2", 4)
    await engine.run_once()
    with db.read() as session:
        item = session.exec(
            select(RetryItem).where(
                RetryItem.operation == Operation.PUSH_INVENTORY, RetryItem.subject_label == "SKU-2"
            )
        ).one()
    # the polling interval is 5 minutes, but the shop asked for 15
    assert item.next_attempt_at == clock.now() + timedelta(seconds=900)
    (alert,) = alerts(db, kind=AlertKind.RATE_LIMITED)
    assert "Exceeded 2 calls per second" in alert.message


async def test_outcome_unknown_is_looked_up_before_sending_again(db, sandbox, world, engine, clock):
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="commit_then_drop", times=1))
    add_shop_order(sandbox, 2002)
    await engine.run_once()
    order = order_by_number(db, "#2002")
    item = delivery_item(db, order.id)
    assert item.last_failure_class == FailureClass.OUTCOME_UNKNOWN
    assert item.in_flight_since is not None
    clock.advance(HOUR)
    await engine.run_once()
    order = order_by_number(db, "#2002")
    assert order.status == OrderStatus.DELIVERED
    assert order.wms_order_id
    assert sandbox.wms.posts(order.reference) == 1  # linked, not sent twice
    assert sandbox.wms.created(order.reference) == 1


async def test_server_error_body_is_kept_verbatim(db, sandbox, world, engine, clock):
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="commit_then_500", times=1))
    add_shop_order(sandbox, 2003)
    await engine.run_once()
    (alert,) = alerts(db, kind=AlertKind.REMOTE_ERROR)
    assert "Object reference not set" in alert.message
    assert alert.http_status == 500
    clock.advance(HOUR)
    await engine.run_once()
    order = order_by_number(db, "#2003")
    assert order.status == OrderStatus.DELIVERED
    assert sandbox.wms.posts(order.reference) == 1


async def test_html_body_on_a_send_is_outcome_unknown(db, sandbox, world, engine, clock):
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="html", times=1))
    add_shop_order(sandbox, 2004)
    await engine.run_once()
    order = order_by_number(db, "#2004")
    assert delivery_item(db, order.id).last_failure_class == FailureClass.OUTCOME_UNKNOWN
    clock.advance(HOUR)
    await engine.run_once()
    assert order_by_number(db, "#2004").status == OrderStatus.DELIVERED
    assert sandbox.wms.created(order.reference) == 1


async def test_read_timeout_on_a_send_is_outcome_unknown(db, sandbox, world, engine, clock):
    sandbox.hang_seconds = 4.0
    sandbox.faults.add(FaultRule(target="wms.create_order", fault="timeout", times=1))
    add_shop_order(sandbox, 2005)
    await engine.run_once()
    order = order_by_number(db, "#2005")
    assert delivery_item(db, order.id).last_failure_class == FailureClass.OUTCOME_UNKNOWN
    clock.advance(HOUR)
    await engine.run_once()
    assert order_by_number(db, "#2005").status == OrderStatus.DELIVERED
    assert sandbox.wms.created(order.reference) == 1


async def test_duplicate_reference_is_a_success_and_links_the_wms_order(db, sandbox, world, engine):
    add_shop_order(sandbox, 2006)
    token = httpx.post(
        f"{sandbox.wms_url}/AuthServer/api/Token",
        auth=(sandbox.wms_credentials["client_id"], sandbox.wms_credentials["client_secret"]),
        json={
            "grant_type": "client_credentials",
            "user_login_id": sandbox.wms_credentials["user_login_id"],
        },
    ).json()["access_token"]
    made = httpx.post(
        f"{sandbox.wms_url}/orders",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "customerIdentifier": {"id": 1},
            "facilityIdentifier": {"id": 1},
            "referenceNum": "ACME-2006",
            "routingInfo": {"carrier": "UPS", "mode": "03", "billingCode": "Prepaid"},
            "shipTo": {
                "name": "Someone",
                "address1": "1 Rd",
                "city": "Austin",
                "state": "TX",
                "zip": "73301",
                "country": "US",
            },
            "orderItems": [{"itemIdentifier": {"sku": "SKU-1"}, "qty": 1}],
        },
    )
    assert made.status_code == 201
    await engine.run_once()
    order = order_by_number(db, "#2006")
    assert order.reference == "ACME-2006"
    assert order.status == OrderStatus.DELIVERED
    assert order.wms_order_id == str(made.json()["readOnly"]["orderId"])
    assert sandbox.wms.created("ACME-2006") == 1
    assert alerts(db) == []


async def test_validation_error_needs_a_person(db, sandbox, world, engine, clock):
    add_shop_order(sandbox, 2007, sku="GHOST-1")
    await engine.run_once()
    order = order_by_number(db, "#2007")
    item = delivery_item(db, order.id)
    assert item.state == RetryState.HELD
    assert item.last_failure_class == FailureClass.NEEDS_PERSON
    assert item.next_attempt_at is None


async def test_forbidden_pauses_the_connection(db, sandbox, world, engine, clock):
    sandbox.wms.forbid(True)
    add_shop_order(sandbox, 2008)
    await engine.run_once()
    with db.read() as session:
        wms = session.get(Connection, world.wms_id)
        assert wms.paused and wms.paused_reason
        alert = session.exec(
            select(Alert).where(Alert.kind == AlertKind.CREDENTIALS_REJECTED)
        ).one()
    assert alert.http_status == 403
    assert delivery_item(db, order_by_number(db, "#2008").id).state == RetryState.DUE


async def test_unmapped_method_is_checked_locally_and_never_sent(db, sandbox, world, engine, clock):
    add_shop_order(sandbox, 2009, method="CARRIER_PIGEON")
    await engine.run_once()
    order = order_by_number(db, "#2009")
    item = delivery_item(db, order.id)
    assert item.state == RetryState.HELD
    assert item.last_failure_class == FailureClass.LOCAL_HOLD
    assert sandbox.wms.posts(order.reference) == 0
