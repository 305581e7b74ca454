"""The legacy Shopify REST connector (platform ``shopify_rest``) against the sandbox shop's REST
endpoints: unfulfilled orders across cursor pages, fulfilments that are safe to resend, and
inventory pushes by SKU. The GraphQL connector (platform ``shopify``) is in
tests/test_shop_graphql.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from imtui.connectors.base import Address, FulfillmentRequest, OrderLine, OrderSource
from imtui.connectors.errors import flatten_shopify_errors
from imtui.connectors.registry import PLATFORMS, build_source, connection_problems
from imtui.connectors.shopify_rest import ShopifyRestSource, next_page_params
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from imtui.sandbox import FaultRule, Sandbox, make_order

ADDRESS = {
    "name": "Grace Hopper",
    "company": "Navy",
    "address1": "1 Compiler Rd",
    "address2": "Bldg 2",
    "city": "Arlington",
    "province_code": "VA",
    "zip": "22201",
    "country_code": "US",
    "phone": "+1 555 0199",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=5) as sandbox:
        yield sandbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def shop(sb: Sandbox, clock: FakeClock) -> AsyncIterator[ShopifyRestSource]:
    async with ShopifyRestSource(sb.shop_url, sb.shop_token, clock=clock) as source:
        yield source


async def failure_of(awaitable: object) -> Failure:
    with pytest.raises(ConnectorError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value.failure


def fulfillment_for(
    order: dict[str, object], tracking: str = "1Z999AA10123456784"
) -> FulfillmentRequest:
    return FulfillmentRequest(str(order["id"]), tracking_number=tracking, carrier="UPS")


# --- orders --------------------------------------------------------------------------------------


async def test_unfulfilled_orders_map_to_source_orders(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    added = sb.shop.add_order(
        make_order(1, sku=["SKU-1", "SKU-2"], quantity=2, ship_method="UPS_GROUND", address=ADDRESS)
    )

    (order,) = await shop.list_unfulfilled_orders(None)

    assert order.remote_id == str(added["id"])
    assert order.number == "#1001"
    assert order.ship_to == Address(
        name="Grace Hopper",
        company="Navy",
        address1="1 Compiler Rd",
        address2="Bldg 2",
        city="Arlington",
        state="VA",
        zip="22201",
        country="US",
        phone="+1 555 0199",
    )
    assert order.ship_method_code == "UPS_GROUND"
    assert order.ship_method_title == "UPS Ground"
    assert order.lines == (OrderLine("SKU-1", 2), OrderLine("SKU-2", 2))
    assert order.updated_at is not None and order.updated_at.tzinfo is not None


async def test_ship_method_falls_back_to_the_title_and_pickups_have_no_address(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    raw = make_order(2, address=None)
    raw["shipping_lines"] = [{"title": "Local Delivery", "code": None, "price": "0.00"}]
    sb.shop.add_order(raw)

    (order,) = await shop.list_unfulfilled_orders(None)

    assert order.ship_method_code == "Local Delivery"
    assert order.ship_to is None


async def test_every_page_of_unfulfilled_orders_is_followed(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    sb.shop.add_orders([make_order(n) for n in range(1, 601)])

    orders = await shop.list_unfulfilled_orders(None)

    assert len({order.remote_id for order in orders}) == 600
    assert sb.requests["shop.orders"] == 3  # 250 + 250 + 100


async def test_the_watermark_filters_on_updated_at(sb: Sandbox, shop: ShopifyRestSource) -> None:
    now = datetime.now(UTC)
    sb.shop.add_order(make_order(1, updated_at=now - timedelta(days=2)))
    recent = sb.shop.add_order(make_order(2, updated_at=now - timedelta(minutes=1)))

    orders = await shop.list_unfulfilled_orders(now - timedelta(hours=1))

    assert [order.remote_id for order in orders] == [str(recent["id"])]


def test_only_the_cursor_is_taken_from_a_next_link() -> None:
    link = (
        "<https://elsewhere.example/admin/api/2024-10/orders.json?limit=250&page_info=PREV>; "
        'rel="previous", <https://elsewhere.example/admin/api/2024-10/orders.json'
        '?limit=250&page_info=NEXT>; rel="next"'
    )

    def links(header: str | None) -> dict[str, dict[str, str]]:
        return httpx.Response(200, headers={"link": header} if header else {}).links

    assert next_page_params(links(link)) == {"limit": "250", "page_info": "NEXT"}
    assert next_page_params(links('<https://x.example/o.json?page_info=P>; rel="previous"')) is None
    assert next_page_params(links(None)) is None
    assert next_page_params(links("garbage, <>; rel=next")) is None


# --- fulfilments ---------------------------------------------------------------------------------


async def test_fulfilment_carries_the_tracking_and_closes_the_order(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    order = sb.shop.add_order(make_order(1))

    fulfillment_id = await shop.create_fulfillment(fulfillment_for(order))

    (recorded,) = sb.shop.fulfillments(order["id"])
    assert str(recorded["id"]) == fulfillment_id
    assert recorded["tracking_number"] == "1Z999AA10123456784"
    assert recorded["tracking_company"] == "UPS"
    assert await shop.list_unfulfilled_orders(None) == []


async def test_fulfilling_an_already_fulfilled_order_is_a_duplicate_without_a_second_post(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    order = sb.shop.add_order(make_order(1))
    await shop.create_fulfillment(fulfillment_for(order))

    failure = await failure_of(shop.create_fulfillment(fulfillment_for(order)))

    assert failure.failure_class is FailureClass.DUPLICATE
    assert len(sb.shop.fulfillments(order["id"])) == 1
    assert sb.requests["shop.fulfill"] == 1


async def test_a_lost_fulfilment_answer_is_unknown_and_the_resend_is_a_duplicate(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    order = sb.shop.add_order(make_order(1))
    sb.faults.add(FaultRule("shop.fulfill", "commit_then_500", times=1))

    first = await failure_of(shop.create_fulfillment(fulfillment_for(order)))
    again = await failure_of(shop.create_fulfillment(fulfillment_for(order)))

    assert first.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert again.failure_class is FailureClass.DUPLICATE
    assert len(sb.shop.fulfillments(order["id"])) == 1


async def test_shopify_422_for_a_closed_fulfilment_order_is_a_duplicate(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    """Two senders race: both see the fulfilment order open, one fulfils it, the other gets
    Shopify's 422 — which, since every fulfilment order is now closed, means done."""
    order = sb.shop.add_order(make_order(1))
    sb.latency = 0.2  # both reads answer before either write is handled

    results = await asyncio.gather(
        shop.create_fulfillment(fulfillment_for(order)),
        shop.create_fulfillment(fulfillment_for(order)),
        return_exceptions=True,
    )

    errors = [result for result in results if isinstance(result, ConnectorError)]
    assert len(errors) == 1
    failure = errors[0].failure
    assert failure.failure_class is FailureClass.DUPLICATE
    assert failure.status == 422
    assert failure.message.endswith("has an unfulfillable status= closed.")
    assert sb.requests["shop.fulfill"] == 2
    assert len(sb.shop.fulfillments(order["id"])) == 1


async def test_fulfilling_an_order_the_shop_does_not_have_needs_a_person(
    shop: ShopifyRestSource,
) -> None:
    failure = await failure_of(shop.create_fulfillment(FulfillmentRequest("4599999", "1Z", "UPS")))
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.status == 404
    assert failure.message == "Not Found"


# --- inventory -----------------------------------------------------------------------------------


async def test_inventory_is_set_by_sku_with_ids_looked_up_once(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    assert await shop.set_inventory_level("SKU-3", 7) is True
    assert await shop.set_inventory_level("SKU-4", 0) is True

    assert sb.shop.inventory("SKU-3") == 7
    assert sb.shop.inventory("SKU-4") == 0
    assert sb.requests["shop.variants"] == 1
    assert sb.requests["shop.locations"] == 1
    assert sb.requests["shop.inventory"] == 2


async def test_a_sku_the_shop_does_not_sell_is_false_and_reloads_the_catalogue_sparingly(
    sb: Sandbox, shop: ShopifyRestSource, clock: FakeClock
) -> None:
    assert await shop.set_inventory_level("SKU-1", 1) is True
    assert await shop.set_inventory_level("NEW-1", 5) is False
    assert await shop.set_inventory_level("NEW-2", 5) is False
    assert sb.requests["shop.variants"] == 1  # misses within a minute reuse the catalogue

    sb.shop.add_variant("NEW-1")
    clock.now += 61
    assert await shop.set_inventory_level("NEW-1", 5) is True  # the miss refreshes it
    assert sb.shop.inventory("NEW-1") == 5
    assert sb.requests["shop.variants"] == 2


async def test_a_429_pauses_the_connection_and_the_call_is_made_again(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    sb.faults.add(FaultRule("shop.inventory", "rate_limit", times=1, retry_after=0.5))
    started = time.monotonic()
    assert await shop.set_inventory_level("SKU-3", 7) is True
    assert time.monotonic() - started >= 0.5


@pytest.mark.slow
async def test_a_429_that_persists_is_transient_with_retry_after(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    sb.faults.add(FaultRule("shop.inventory", "rate_limit", times=3, retry_after=0.2))
    failure = await failure_of(shop.set_inventory_level("SKU-3", 7))
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.RATE_LIMITED
    assert failure.retry_after == 0.2
    assert await shop.set_inventory_level("SKU-3", 7) is True


# --- error bodies --------------------------------------------------------------------------------


def test_shopify_errors_flatten_to_one_verbatim_sentence() -> None:
    assert flatten_shopify_errors("Not Found") == "Not Found"
    assert flatten_shopify_errors(["a went wrong.", "b too."]) == "a went wrong.; b too."
    assert (
        flatten_shopify_errors({"title": ["can't be blank"], "base": ["Order is closed"]})
        == "title can't be blank; Order is closed"
    )


# --- registry ------------------------------------------------------------------------------------


async def test_the_registry_builds_a_legacy_rest_shop_source(sb: Sandbox) -> None:
    assert PLATFORMS["shopify_rest"].role == "source"
    assert PLATFORMS["shopify_rest"].credential_keys == ("access_token",)
    assert "legacy" in PLATFORMS["shopify_rest"].title
    assert connection_problems("shopify_rest", sb.shop_url, {}, {}) == [
        "missing credentials: access_token"
    ]
    sb.shop.add_order(make_order(1))
    source: OrderSource = build_source(
        "shopify_rest", sb.shop_url, {"access_token": sb.shop_token}, {"api_version": "2024-10"}
    )
    try:
        assert isinstance(source, ShopifyRestSource)
        assert len(await source.list_unfulfilled_orders(None)) == 1
        assert sb.requests["shop.orders"] == 1
    finally:
        await source.aclose()
