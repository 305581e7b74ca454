"""The 3PL Warehouse Manager connector against the sandbox WMS: orders, look-ups, paging,
stock, and the shared OAuth token (one fetch for many callers, one refresh when it dies)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from imtui.connectors.base import Address, OrderLine, Warehouse, WmsOrderRequest
from imtui.connectors.json_fields import lookup, text
from imtui.connectors.registry import (
    PLATFORMS,
    ConnectionConfigError,
    build_warehouse,
    connection_problems,
)
from imtui.connectors.wms_3pl import ThreePLWarehouse, rql_value
from imtui.domain.failures import ConnectorError, FailureClass
from imtui.sandbox import Sandbox

SHORT = httpx.Timeout(2.0, connect=1.0)


def order_request(reference: str, sku: str = "SKU-1", quantity: int = 2) -> WmsOrderRequest:
    return WmsOrderRequest(
        reference=reference,
        customer_id="1",
        facility_id="1",
        carrier="UPS",
        mode="92",
        billing_code="Prepaid",
        ship_to=Address(
            name="Ada Lovelace",
            company="Analytical Engines",
            address1="1 Analytical Way",
            address2="Suite 2",
            city="Springfield",
            state="IL",
            zip="62701",
            country="US",
            phone="+1 555 0100",
        ),
        lines=(OrderLine(sku, quantity),),
    )


class FakeClock:
    """The connector's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def wms(sb: Sandbox, clock: FakeClock) -> AsyncIterator[ThreePLWarehouse]:
    creds = sb.wms_credentials
    async with ThreePLWarehouse(
        sb.wms_url,
        creds["client_id"],
        creds["client_secret"],
        creds["user_login_id"],
        customer_id="1",
        facility_id="1",
        clock=clock,
    ) as warehouse:
        yield warehouse


# --- orders --------------------------------------------------------------------------------------


async def test_create_order_sends_the_contract_body_and_returns_the_wms_order(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    created = await wms.create_order(order_request("SHOP1-1001", "SKU-7", 3))

    assert created.reference == "SHOP1-1001"
    assert created.wms_id == str(sb.wms.orders["SHOP1-1001"]["readOnly"]["orderId"])
    assert not created.is_closed and not created.shipped
    assert created.last_modified is not None and created.last_modified.tzinfo is UTC
    stored = sb.wms.orders["SHOP1-1001"]
    assert stored["customerIdentifier"] == {"id": 1}
    assert stored["facilityIdentifier"] == {"id": 1}
    assert stored["routingInfo"] == {"carrier": "UPS", "mode": "92", "billingCode": "Prepaid"}
    assert stored["shipTo"]["companyName"] == "Analytical Engines"
    assert stored["shipTo"]["phoneNumber"] == "+1 555 0100"
    assert stored["orderItems"] == [{"itemIdentifier": {"sku": "SKU-7"}, "qty": 3}]
    assert sb.wms.posts("SHOP1-1001") == 1
    assert sb.wms.created("SHOP1-1001") == 1


async def test_find_order_returns_the_order_or_none(sb: Sandbox, wms: ThreePLWarehouse) -> None:
    await wms.create_order(order_request("SHOP1-1002"))
    sb.wms.ship("SHOP1-1002", tracking="1ZTRACK", carrier="UPS")

    found = await wms.find_order("SHOP1-1002")
    assert found is not None
    assert found.shipped and found.tracking_number == "1ZTRACK" and found.carrier == "UPS"
    assert await wms.find_order("SHOP1-9999") is None


async def test_find_order_quotes_references_that_rql_would_misread(
    wms: ThreePLWarehouse,
) -> None:
    reference = "SHOP 1 #1003, gift"
    await wms.create_order(order_request(reference))
    found = await wms.find_order(reference)
    assert found is not None and found.reference == reference


def test_rql_values_are_bare_when_safe_and_quoted_otherwise() -> None:
    assert rql_value("SHOP1-1001") == "SHOP1-1001"
    assert rql_value("A B") == '"A B"'
    assert rql_value("x;readOnly.isClosed==true") == '"x;readOnly.isClosed==true"'
    assert rql_value('say "hi"') == '"say \\"hi\\""'
    assert rql_value("wild*") == '"wild*"'


async def test_list_closed_orders_pages_through_everything_shipped_since_the_watermark(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    references = [f"SHOP1-{2000 + n}" for n in range(130)]
    await asyncio.gather(*(wms.create_order(order_request(ref)) for ref in references))
    for ref in references[:120]:  # more than one page of 100
        sb.wms.ship(ref)

    closed = await wms.list_closed_orders(datetime.now(UTC) - timedelta(minutes=5))

    assert sorted(order.reference for order in closed) == sorted(references[:120])
    assert all(order.shipped for order in closed)
    assert sb.requests["wms.find_orders"] == 2
    assert await wms.list_closed_orders(datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(await wms.list_closed_orders(None)) == 120


async def test_stock_summaries_page_through_every_sku(sb: Sandbox, wms: ThreePLWarehouse) -> None:
    for n in range(600):  # 650 SKUs with the 50 defaults: two pages of 500
        sb.wms.set_stock(f"EXTRA-{n}", n, n + 1)

    levels = {level.sku: level for level in await wms.stock_summaries()}

    assert len(levels) == 650
    assert levels["EXTRA-599"].available == 599 and levels["EXTRA-599"].on_hand == 600
    assert sb.requests["wms.stock"] == 2


# --- the shared token ----------------------------------------------------------------------------


async def test_concurrent_create_orders_share_one_token_fetch(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    await asyncio.gather(*(wms.create_order(order_request(f"C-{n}")) for n in range(50)))
    assert sb.requests["wms.token"] == 1
    assert sb.requests["wms.create_order"] == 50


async def test_a_token_that_dies_mid_run_is_refreshed_once_for_all_callers(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    await wms.create_order(order_request("T-0"))
    sb.wms.expire_tokens()

    await asyncio.gather(*(wms.create_order(order_request(f"T-{n}")) for n in range(1, 30)))

    assert sb.requests["wms.token"] == 2
    assert all(sb.wms.created(f"T-{n}") == 1 for n in range(30))


async def test_a_token_is_renewed_before_it_expires_without_a_401(
    sb: Sandbox, wms: ThreePLWarehouse, clock: FakeClock
) -> None:
    await wms.find_order("X")
    clock.now += 3600 - 61  # 61 s before expiry: outside the 60 s margin, still used
    await wms.find_order("X")
    assert sb.requests["wms.token"] == 1
    clock.now += 2  # 59 s before expiry: inside the margin, renewed before anyone gets a 401
    await wms.find_order("X")
    assert sb.requests["wms.token"] == 2
    clock.now += 100
    await wms.find_order("X")
    assert sb.requests["wms.token"] == 2
    assert sb.requests["wms.find_orders"] == 4  # no call was refused and repeated


async def test_token_failures_are_shared_by_callers_waiting_for_the_same_fetch(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    sb.wms.revoke_client()
    results = await asyncio.gather(
        *(wms.find_order(f"W-{n}") for n in range(20)), return_exceptions=True
    )
    assert all(isinstance(result, ConnectorError) for result in results)
    failures = [result.failure for result in results if isinstance(result, ConnectorError)]
    assert {failure.failure_class for failure in failures} == {FailureClass.CONNECTION}
    assert sb.requests["wms.token"] == 1


async def test_many_concurrent_orders_go_through_the_pool_quickly(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    """500 orders at 50 ms latency take 25 s one at a time and ~0.8 s through the sharded
    pool; one 100-connection httpcore pool needed 5-7 s (quadratic CPU), which this catches."""
    sb.latency = 0.05
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(wms.create_order(order_request(f"B-{n}")) for n in range(500)))
    elapsed = loop.time() - started
    assert len(sb.wms.orders) == 500
    assert elapsed < 4.0, f"500 orders took {elapsed:.2f} s"


# --- case-insensitive JSON -----------------------------------------------------------------------


def test_lookup_reads_nested_keys_in_any_case() -> None:
    body = {"ReadOnly": {"orderID": 17, "isClosed": True}, "errorcode": "X", "Hint": "h"}
    assert lookup(body, "readOnly.orderId") == 17
    assert lookup(body, "READONLY.ISCLOSED") is True
    assert lookup(body, "readOnly.missing", "default") == "default"
    assert lookup({"Hint": "exact", "hint": "other"}, "Hint") == "exact"
    assert text(body, "ErrorCode") == "X"
    assert text(body, "readOnly.orderId.deeper") == ""


# --- registry ------------------------------------------------------------------------------------


async def test_the_registry_builds_a_warehouse_from_stored_settings(sb: Sandbox) -> None:
    settings = {"customer_id": "1", "facility_id": "1", "read_timeout": "15"}
    warehouse: Warehouse = build_warehouse("wms_3pl", sb.wms_url, sb.wms_credentials, settings)
    try:
        assert isinstance(warehouse, ThreePLWarehouse)
        await warehouse.create_order(order_request("REG-1"))
        assert sb.wms.created("REG-1") == 1
    finally:
        await warehouse.aclose()


def test_the_registry_says_what_a_wms_connection_needs() -> None:
    info = PLATFORMS["wms_3pl"]
    assert info.role == "wms"
    assert info.credential_keys == ("client_id", "client_secret", "user_login_id")
    assert info.setting_keys == ("customer_id", "facility_id")
    problems = connection_problems(
        "wms_3pl", "ftp://wms", {"client_id": "a"}, {"max_connections": "0"}
    )
    assert problems == [
        "base URL 'ftp://wms' must be http(s)://host[:port]",
        "missing credentials: client_secret, user_login_id",
        "missing settings: customer_id, facility_id",
        "setting max_connections must be a positive number",
    ]
    with pytest.raises(ConnectionConfigError, match="shopify is a source platform, not a wms"):
        build_warehouse("shopify", "https://shop.example", {"access_token": "t"}, {})
    with pytest.raises(ConnectionConfigError, match="unknown platform 'sap'"):
        build_warehouse("sap", "https://wms.example", {}, {})
