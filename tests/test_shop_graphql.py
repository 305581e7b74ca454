"""The Shopify Admin GraphQL connector (platform ``shopify``) against the sandbox shop's GraphQL
endpoint, over real loopback HTTP: orders across cursor pages, fulfilments safe to resend,
compare-and-set inventory under an idempotency key, cost-based pacing, and every failure row —
each mapped to the failure class the engine acts on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from imtui.connectors.base import Address, FulfillmentRequest, OrderLine, OrderSource
from imtui.connectors.errors import failure_from_user_errors
from imtui.connectors.pacing import CallPacer, ThrottleStatus
from imtui.connectors.registry import PLATFORMS, build_source, connection_problems
from imtui.connectors.shopify import ORDERS_PAGE, SET_STOCK_MUTATION, ShopifySource
from imtui.domain.alerts import AlertScope, fingerprint, needs_person, scope_of
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


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=11) as sandbox:
        yield sandbox


@pytest.fixture
async def shop(sb: Sandbox) -> AsyncIterator[ShopifySource]:
    async with ShopifySource(sb.shop_url, sb.shop_token, timeout=2.0) as source:
        yield source


async def failure_of(awaitable: object) -> Failure:
    with pytest.raises(ConnectorError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value.failure


def post(sb: Sandbox, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """One GraphQL request as any client would send it."""
    response = httpx.post(
        f"{sb.shop_url}/admin/api/2026-10/graphql.json",
        headers={"X-Shopify-Access-Token": sb.shop_token},
        json={"query": query, "variables": variables or {}},
    )
    assert response.status_code == 200
    return dict(response.json())


def fulfillment_for(
    order: dict[str, Any], tracking: str = "1Z999AA10123456784"
) -> FulfillmentRequest:
    return FulfillmentRequest(str(order["id"]), tracking_number=tracking, carrier="UPS")


# --- orders in -----------------------------------------------------------------------------------


async def test_orders_map_to_source_orders_with_the_shops_own_ids(
    sb: Sandbox, shop: ShopifySource
) -> None:
    added = sb.shop.add_order(
        make_order(1, sku=["SKU-1", "SKU-2"], quantity=2, ship_method="UPS_GROUND", address=ADDRESS)
    )

    (order,) = await shop.list_unfulfilled_orders(None)

    assert order.remote_id == str(added["id"])  # the number, as REST stored it
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
    assert (order.ship_method_code, order.ship_method_title) == ("UPS_GROUND", "UPS Ground")
    assert order.lines == (OrderLine("SKU-1", 2), OrderLine("SKU-2", 2))
    assert order.updated_at is not None and order.updated_at.tzinfo is not None
    assert order.cancelled_at is None
    assert order.fulfillment_status == "UNFULFILLED"
    assert sb.requests["shop.orders"] == 1


async def test_every_page_of_orders_is_followed_by_its_cursor(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.shop.add_orders([make_order(n) for n in range(1, 2 * ORDERS_PAGE + 11)])

    orders = await shop.list_unfulfilled_orders(None)

    assert len({order.remote_id for order in orders}) == 2 * ORDERS_PAGE + 10
    assert sb.requests["shop.orders"] == 3


async def test_an_order_with_more_line_items_than_a_page_comes_whole(
    sb: Sandbox, shop: ShopifySource
) -> None:
    skus = [f"SKU-{n}" for n in range(1, 46)]
    sb.shop.add_order(make_order(1, sku=skus))

    (order,) = await shop.list_unfulfilled_orders(None)

    assert [line.sku for line in order.lines] == skus
    assert sb.requests["shop.orders"] == 2  # the page, then the rest of that order's lines


async def test_the_watermark_filters_on_updated_at(sb: Sandbox, shop: ShopifySource) -> None:
    now = datetime.now(UTC)
    sb.shop.add_order(make_order(1, updated_at=now - timedelta(days=2)))
    recent = sb.shop.add_order(make_order(2, updated_at=now - timedelta(minutes=1)))

    orders = await shop.list_unfulfilled_orders(now - timedelta(hours=1))

    assert [order.remote_id for order in orders] == [str(recent["id"])]


async def test_cancelled_orders_are_listed_with_when_they_were_cancelled(
    sb: Sandbox, shop: ShopifySource
) -> None:
    kept = sb.shop.add_order(make_order(1))
    cancelled = sb.shop.add_order(make_order(2))
    when = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    sb.shop.cancel_order(cancelled["id"], when)

    orders = {order.remote_id: order for order in await shop.list_unfulfilled_orders(None)}

    assert orders[str(cancelled["id"])].cancelled_at == when
    assert orders[str(kept["id"])].cancelled_at is None


async def test_fulfilled_orders_leave_the_listing(sb: Sandbox, shop: ShopifySource) -> None:
    order = sb.shop.add_order(make_order(1))
    await shop.create_fulfillment(fulfillment_for(order))
    assert await shop.list_unfulfilled_orders(None) == []


# --- tracking out --------------------------------------------------------------------------------


async def test_fulfilment_carries_the_tracking(sb: Sandbox, shop: ShopifySource) -> None:
    order = sb.shop.add_order(make_order(1))
    request = FulfillmentRequest(
        str(order["id"]), "1Z999AA10123456784", "UPS", {"tracking_url": "https://t.example/1Z"}
    )

    fulfillment_id = await shop.create_fulfillment(request)

    (recorded,) = sb.shop.fulfillments(order["id"])
    assert str(recorded["id"]) == fulfillment_id
    assert recorded["tracking_number"] == "1Z999AA10123456784"
    assert recorded["tracking_company"] == "UPS"
    assert recorded["tracking_url"] == "https://t.example/1Z"
    assert sb.requests["shop.fulfillment_orders"] == 1
    assert sb.requests["shop.fulfill"] == 1


async def test_an_already_fulfilled_order_is_a_duplicate_without_a_second_mutation(
    sb: Sandbox, shop: ShopifySource
) -> None:
    order = sb.shop.add_order(make_order(1))
    await shop.create_fulfillment(fulfillment_for(order))

    failure = await failure_of(shop.create_fulfillment(fulfillment_for(order)))

    assert failure.failure_class is FailureClass.DUPLICATE
    assert sb.requests["shop.fulfill"] == 1
    assert len(sb.shop.fulfillments(order["id"])) == 1


async def test_a_lost_fulfilment_answer_is_unknown_and_the_resend_is_a_duplicate(
    sb: Sandbox, shop: ShopifySource
) -> None:
    order = sb.shop.add_order(make_order(1))
    sb.faults.add(FaultRule("shop.fulfill", "commit_then_500", times=1))

    first = await failure_of(shop.create_fulfillment(fulfillment_for(order)))
    again = await failure_of(shop.create_fulfillment(fulfillment_for(order)))

    assert first.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert again.failure_class is FailureClass.DUPLICATE
    assert len(sb.shop.fulfillments(order["id"])) == 1


async def test_a_fulfilment_order_closed_by_a_racing_sender_is_a_duplicate(
    sb: Sandbox, shop: ShopifySource
) -> None:
    """Both senders see the fulfilment order open; one fulfils it, the other gets the shop's
    userError — which, every fulfilment order being closed now, means done."""
    order = sb.shop.add_order(make_order(1))
    sb.latency = 0.2

    results = await asyncio.gather(
        shop.create_fulfillment(fulfillment_for(order)),
        shop.create_fulfillment(fulfillment_for(order)),
        return_exceptions=True,
    )

    errors = [result for result in results if isinstance(result, ConnectorError)]
    assert len(errors) == 1
    failure = errors[0].failure
    assert failure.failure_class is FailureClass.DUPLICATE
    assert "unfulfillable status= closed" in failure.message
    assert sb.requests["shop.fulfill"] == 2
    assert len(sb.shop.fulfillments(order["id"])) == 1


async def test_fulfilling_an_order_the_shop_does_not_have_needs_a_person(
    shop: ShopifySource,
) -> None:
    failure = await failure_of(shop.create_fulfillment(FulfillmentRequest("4599999", "1Z", "UPS")))
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert "no order 4599999" in failure.message


# --- stock out -----------------------------------------------------------------------------------


async def test_inventory_is_set_by_sku_with_the_compare_value_it_read(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.shop.set_available("SKU-3", 4)

    assert await shop.set_inventory_level("SKU-3", 7) is True

    assert sb.shop.inventory("SKU-3") == 7
    assert sb.shop.inventory_sets["SKU-3"] == 1
    assert sb.requests["shop.locations"] == 1
    assert await shop.set_inventory_level("SKU-3", 7) is True  # already so: nothing sent
    assert sb.requests["shop.inventory"] == 1
    assert sb.requests["shop.locations"] == 1  # the location is looked up once


async def test_a_sku_the_shop_does_not_sell_is_false(sb: Sandbox, shop: ShopifySource) -> None:
    assert await shop.set_inventory_level("NOT-SOLD", 5) is False
    assert sb.requests["shop.inventory"] == 0


async def test_a_stale_compare_value_is_read_again_and_set_once_more(
    sb: Sandbox, shop: ShopifySource
) -> None:
    changes = iter([12])

    def a_person_edits_it(sku: str) -> None:
        for level in changes:  # only the first time
            sb.shop.set_available(sku, level)

    sb.shop.before_inventory_set = a_person_edits_it

    assert await shop.set_inventory_level("SKU-5", 3) is True

    assert sb.shop.inventory("SKU-5") == 3
    assert sb.requests["shop.inventory"] == 2
    assert sb.shop.inventory_sets["SKU-5"] == 1


async def test_a_compare_value_stale_twice_is_retried_later(
    sb: Sandbox, shop: ShopifySource
) -> None:
    levels = iter(range(100, 200))
    sb.shop.before_inventory_set = lambda sku: sb.shop.set_available(sku, next(levels))

    failure = await failure_of(shop.set_inventory_level("SKU-5", 3))

    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.failure_class.retried_automatically
    assert failure.sku == "SKU-5"
    assert "changeFromQuantity value does not match" in failure.message
    assert sb.shop.inventory_sets["SKU-5"] == 0


async def test_the_idempotency_key_makes_a_resend_after_a_lost_answer_apply_once(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.faults.add(FaultRule("shop.inventory", "commit_then_drop", times=1, reference="SKU-6"))

    lost = await failure_of(shop.set_inventory_level("SKU-6", 9, idempotency_key="push-41"))
    assert lost.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert await shop.set_inventory_level("SKU-6", 9, idempotency_key="push-41") is True

    assert sb.shop.inventory("SKU-6") == 9
    assert sb.shop.inventory_sets["SKU-6"] == 1
    (key,) = sb.shop.idempotency_keys()
    assert key.startswith("push-41-")


def test_the_sandbox_applies_a_mutation_with_a_key_it_has_seen_once(sb: Sandbox) -> None:
    variables = {
        "key": "0f5c2d1e-retry",
        "input": {
            "name": "available",
            "reason": "correction",
            "quantities": [
                {
                    "inventoryItemId": "gid://shopify/InventoryItem/8800007",
                    "locationId": "gid://shopify/Location/7001",
                    "quantity": 5,
                    "changeFromQuantity": 0,
                }
            ],
        },
    }

    first = post(sb, SET_STOCK_MUTATION, variables)
    sb.shop.set_available("SKU-7", 1)  # changed since: a second application would be stale
    second = post(sb, SET_STOCK_MUTATION, variables)

    assert first["data"] == second["data"]
    assert first["data"]["inventorySetQuantities"]["userErrors"] == []
    assert sb.shop.inventory_sets["SKU-7"] == 1
    variables["input"]["quantities"][0]["quantity"] = 6
    other = post(sb, SET_STOCK_MUTATION, variables)
    (error,) = other["data"]["inventorySetQuantities"]["userErrors"]
    assert error["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"


# --- what the sandbox refuses --------------------------------------------------------------------


def test_a_query_the_schema_rejects_fails_in_the_sandbox(sb: Sandbox) -> None:
    answer = post(sb, "{ orders(first: 5) { nodes { id fulfillmentStatus } } }")
    assert "data" not in answer
    assert (
        "Cannot query field 'fulfillmentStatus' on type 'Order'" in answer["errors"][0]["message"]
    )
    syntax = post(sb, "{ orders(first: 5) { nodes { id }")
    assert "Syntax Error" in syntax["errors"][0]["message"]
    unpaged = post(sb, "{ orders { nodes { id } } }")
    assert unpaged["errors"][0]["message"] == "you must provide one of first or last"


async def test_a_query_this_api_version_does_not_know_is_one_connection_wide_failure(
    shop: ShopifySource,
) -> None:
    failure = await failure_of(
        shop._query("ImtuiOld", "{ orders(first: 1) { nodes { fulfillmentStatus } } }", {})
    )
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.BAD_CONFIGURATION
    assert scope_of(failure.kind) is AlertScope.CONNECTION and needs_person(failure.kind)
    assert "Admin API 2026-10" in failure.message
    assert "fulfillmentStatus" in failure.message


def test_query_cost_follows_shopifys_rules_and_a_query_over_the_limit_is_refused(
    sb: Sandbox,
) -> None:
    sb.shop.add_orders([make_order(n, sku=["SKU-1", "SKU-2"]) for n in range(1, 4)])
    answer = post(
        sb,
        "{ orders(first: 10) { nodes { id shippingAddress { city } "
        "lineItems(first: 5) { nodes { sku } } } } }",
    )
    cost = answer["extensions"]["cost"]
    # 2 + 10 × (order 1 + address 1 + (2 + 5 line items)); actually 3 orders of 2 lines each
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 1 + 2 + 5)
    assert cost["actualQueryCost"] == 2 + 3 * (1 + 1 + 2 + 2)
    assert cost["throttleStatus"] == {
        "maximumAvailable": 1000.0,
        "currentlyAvailable": 1000,
        "restoreRate": 50.0,
    }
    refused = post(
        sb, "{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { sku } } } } }"
    )
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 250 * (1 + 2 + 10)


# --- failures, one per row -----------------------------------------------------------------------


async def test_a_missing_scope_is_one_connection_wide_alert_not_one_per_sku(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.shop.missing_scopes = {"write_inventory"}

    failures = [
        await failure_of(shop.set_inventory_level(sku, 3)) for sku in ("SKU-1", "SKU-2", "SKU-3")
    ]

    assert {f.failure_class for f in failures} == {FailureClass.CONNECTION}
    assert {f.kind for f in failures} == {AlertKind.CREDENTIALS_REJECTED}
    assert "write_inventory" in failures[0].message
    identities = {fingerprint(f.kind, 7, f"inventory:{n}") for n, f in enumerate(failures)}
    assert len(identities) == 1, "fifty SKUs, one cause: one alert"
    assert sb.shop.inventory_sets.total() == 0


async def test_a_rejected_token_is_a_connection_failure(sb: Sandbox) -> None:
    async with ShopifySource(sb.shop_url, "shpat_wrong_token_value") as shop:
        failure = await failure_of(shop.list_unfulfilled_orders(None))
    assert failure.failure_class is FailureClass.CONNECTION
    assert failure.kind is AlertKind.CREDENTIALS_REJECTED
    assert failure.status == 401
    assert "Invalid API key or access token" in failure.message
    assert "shpat_wrong_token_value" not in failure.message


@pytest.mark.parametrize(
    ("knob", "status", "words"), [("frozen", 402, "frozen"), ("locked", 423, "locked")]
)
async def test_a_frozen_or_locked_shop_pauses_the_connection(
    sb: Sandbox, shop: ShopifySource, knob: str, status: int, words: str
) -> None:
    setattr(sb.shop, knob, True)
    failure = await failure_of(shop.list_unfulfilled_orders(None))
    assert failure.failure_class is FailureClass.CONNECTION
    assert scope_of(failure.kind) is AlertScope.CONNECTION
    assert failure.status == status
    assert words in failure.message


async def test_a_404_on_the_endpoint_is_a_connection_wide_configuration_failure(
    sb: Sandbox,
) -> None:
    async with ShopifySource(f"{sb.shop_url}/wrong-prefix", sb.shop_token) as shop:
        failure = await failure_of(shop.set_inventory_level("SKU-1", 3))
    assert failure.failure_class is FailureClass.CONNECTION
    assert failure.kind is AlertKind.BAD_CONFIGURATION
    assert scope_of(failure.kind) is AlertScope.CONNECTION
    assert failure.status == 404


async def test_an_internal_error_is_transient_on_a_read_and_unknown_on_a_send(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.shop.add_order(make_order(1))
    sb.faults.add(FaultRule("shop.orders", "internal_error", times=1))
    read = await failure_of(shop.list_unfulfilled_orders(None))
    assert (read.failure_class, read.kind) == (FailureClass.TRANSIENT, AlertKind.REMOTE_ERROR)
    assert "Internal error" in read.message

    sb.faults.add(FaultRule("shop.inventory", "internal_error", times=1))
    send = await failure_of(shop.set_inventory_level("SKU-2", 3))
    assert send.failure_class is FailureClass.OUTCOME_UNKNOWN


async def test_5xx_is_outcome_unknown_on_a_send_and_503_with_retry_after_transient(
    sb: Sandbox, shop: ShopifySource
) -> None:
    order = sb.shop.add_order(make_order(1))
    sb.faults.add(FaultRule("shop.fulfill", "http_500", times=1))
    failure = await failure_of(shop.create_fulfillment(fulfillment_for(order)))
    assert (failure.failure_class, failure.status) == (FailureClass.OUTCOME_UNKNOWN, 500)

    sb.faults.add(FaultRule("shop.fulfill", "http_503", times=1, retry_after=3))
    failure = await failure_of(shop.create_fulfillment(fulfillment_for(order)))
    assert (failure.failure_class, failure.retry_after) == (FailureClass.TRANSIENT, 3.0)


async def test_a_429_that_persists_is_rate_limited_with_its_retry_after(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.faults.add(FaultRule("shop.inventory", "rate_limit", times=3, retry_after=0.2))
    failure = await failure_of(shop.set_inventory_level("SKU-3", 7))
    assert (failure.failure_class, failure.kind) == (FailureClass.TRANSIENT, AlertKind.RATE_LIMITED)
    assert failure.retry_after == 0.2
    assert "Exceeded 2 calls per second" in failure.message
    assert await shop.set_inventory_level("SKU-3", 7) is True


def test_user_errors_map_by_code_then_by_field() -> None:
    address = failure_from_user_errors(
        [{"field": ["fulfillment", "originAddress", "zip"], "message": "Zip is invalid"}]
    )
    assert (address.failure_class, address.kind) == (
        FailureClass.NEEDS_PERSON,
        AlertKind.ADDRESS_REJECTED,
    )
    assert address.message == "fulfillment.originAddress.zip: Zip is invalid"
    unknown = failure_from_user_errors(
        [
            {
                "field": ["input", "quantities", "0", "inventoryItemId"],
                "code": "INVALID_INVENTORY_ITEM",
                "message": "The specified inventory item could not be found.",
            }
        ],
        sku="SKU-9",
    )
    assert (unknown.kind, unknown.sku) == (AlertKind.UNKNOWN_SKU, "SKU-9")
    location = failure_from_user_errors([{"code": "INVALID_LOCATION", "message": "gone"}])
    assert scope_of(location.kind) is AlertScope.CONNECTION


# --- throttling ----------------------------------------------------------------------------------


async def test_a_throttled_answer_is_waited_out_and_the_call_made_again(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.faults.add(FaultRule("shop.inventory", "throttled", times=1, retry_after=0.5))
    started = time.monotonic()

    assert await shop.set_inventory_level("SKU-3", 7) is True

    assert time.monotonic() - started >= 0.5
    assert shop.throttled == 1
    assert sb.shop.inventory("SKU-3") == 7
    assert sb.shop.inventory_sets["SKU-3"] == 1


async def test_a_throttle_that_persists_is_a_rate_limit_failure(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.faults.add(FaultRule("shop.orders", "throttled", times=3, retry_after=0.2))
    failure = await failure_of(shop.list_unfulfilled_orders(None))
    assert (failure.failure_class, failure.kind) == (FailureClass.TRANSIENT, AlertKind.RATE_LIMITED)
    assert failure.retry_after is not None and failure.retry_after >= 0.2
    assert failure.message == "Throttled"


async def test_a_bucket_drained_by_another_client_is_waited_for_not_failed(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.shop.rate_limit = True
    sb.shop.cost_bucket.maximum = 100.0
    sb.shop.cost_bucket.restore_rate = 100.0
    sb.shop.cost_bucket.reset()
    assert await shop.set_inventory_level("SKU-1", 1) is True  # learns the bucket's size
    for _ in range(8):  # another worker of the same app spends the bucket
        post(
            sb,
            "mutation { fulfillmentCreate(fulfillment: {lineItemsByFulfillmentOrder: []}) "
            "{ userErrors { message } } }",
        )

    assert await shop.set_inventory_level("SKU-2", 2) is True
    assert sb.shop.inventory("SKU-2") == 2


async def test_a_burst_of_pushes_is_paced_under_the_bucket_and_never_throttled(
    sb: Sandbox, shop: ShopifySource
) -> None:
    sb.shop.rate_limit = True
    sb.shop.cost_bucket.maximum = 100.0
    sb.shop.cost_bucket.restore_rate = 200.0
    sb.shop.cost_bucket.reset()
    skus = [f"SKU-{n}" for n in range(1, 31)]
    started = time.monotonic()

    assert await asyncio.gather(*(shop.set_inventory_level(sku, 5) for sku in skus)) == [True] * 30

    took = time.monotonic() - started
    assert sb.shop.throttled_at == []
    assert shop.throttled == 0
    # a look (actual 5 points) and a set (10) each, after the first 100 points: the bucket's pace
    assert took >= (30 * 15 - 100) / 200 * 0.8
    assert all(sb.shop.inventory(sku) == 5 for sku in skus)


def test_the_pacer_takes_the_shops_throttle_status_as_the_truth() -> None:
    now = [0.0]
    pacer = CallPacer(lambda: now[0], capacity=1000, rate=50, headroom=0)
    status = ThrottleStatus.from_cost(
        {
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 500,
                "restoreRate": 100.0,
            }
        }
    )
    assert status is not None and status.seconds_until(700) == 2.0
    pacer.observe_cost(status, reserved=0)
    assert (pacer.capacity, pacer.rate) == (2000.0, 100.0)
    assert ThrottleStatus.from_cost({"throttleStatus": {"maximumAvailable": "lots"}}) is None


# --- registry ------------------------------------------------------------------------------------


async def test_the_registry_builds_the_graphql_source_with_the_version_a_connection_names(
    sb: Sandbox,
) -> None:
    assert PLATFORMS["shopify"].title == "Shopify (Admin GraphQL)"
    assert "api_version" in PLATFORMS["shopify"].optional_setting_keys
    (problem,) = connection_problems(
        "shopify", sb.shop_url, {"access_token": "t"}, {"api_version": "2026-13"}
    )
    assert "api_version '2026-13'" in problem
    sb.shop.add_order(make_order(1))
    source: OrderSource = build_source(
        "shopify", sb.shop_url, {"access_token": sb.shop_token}, {"api_version": "2026-07"}
    )
    try:
        assert isinstance(source, ShopifySource)
        assert source.api_version == "2026-07"
        assert len(await source.list_unfulfilled_orders(None)) == 1
        assert sb.requests["shop.orders"] == 1
    finally:
        await source.aclose()
