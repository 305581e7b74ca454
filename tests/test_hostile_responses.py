"""Hostile answers from a shop or a WMS cost one bounded, readable failure, never a crash or a
stalled event loop: an HTML error page of unclosed tags, JSON nested past the recursion limit,
bodies of the wrong shape, and error pages that quote our credentials back.

Everything is served for real by :class:`tests.hostile_remote.HostileRemote` on loopback.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from imtui.connectors.errors import (
    MESSAGE_LIMIT,
    redact_credentials,
    remote_message,
    strip_markup,
)
from imtui.connectors.shopify_rest import ShopifyRestSource
from imtui.connectors.wms_3pl import ORDERS_REL, ThreePLWarehouse
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from tests.conftest import order_request
from tests.hostile_remote import (
    HostileRemote,
    Reply,
    Route,
    echo_credentials,
    json_reply,
    nested_json,
    text_reply,
    unclosed_script_page,
)

CLIENT_ID = "client-abc"
CLIENT_SECRET = "s3cret-value-XYZ"
TOKEN_VALUE = "tok123456"
SHOP_TOKEN = "shpat_hostile_token_1"
TOKEN_PATH = ("POST", "/AuthServer/api/Token")
TOKEN = {TOKEN_PATH: json_reply(200, {"access_token": TOKEN_VALUE, "expires_in": 3600})}
SHOP_ORDERS = ("GET", "/admin/api/2024-10/orders.json")


def warehouse(url: str) -> ThreePLWarehouse:
    return ThreePLWarehouse(url, CLIENT_ID, CLIENT_SECRET, "login", "1", "1", timeout=5.0)


async def wms_failure(routes: dict[tuple[str, str], Route], call: str) -> Failure:
    """The failure of one connector call (``create``, ``closed``, ``stock``) against routes."""
    with HostileRemote(routes) as remote:
        wms = warehouse(remote.url)
        try:
            with pytest.raises(ConnectorError) as caught:
                if call == "create":
                    await wms.create_order(order_request())
                elif call == "closed":
                    await wms.list_closed_orders(None)
                else:
                    await wms.stock_summaries()
        finally:
            await wms.aclose()
    return caught.value.failure


async def shop_failure(reply: Route) -> Failure:
    with HostileRemote({SHOP_ORDERS: reply}) as remote:
        shop = ShopifyRestSource(remote.url, SHOP_TOKEN, timeout=5.0)
        try:
            with pytest.raises(ConnectorError) as caught:
                await shop.list_unfulfilled_orders(None)
        finally:
            await shop.aclose()
    return caught.value.failure


def raw_json(status: int, body: str, **headers: str) -> Reply:
    """A JSON reply written by hand: NaN, Infinity and 400-digit numbers that json.dumps
    would not produce."""
    return Reply(status, {"content-type": "application/json", **headers}, body.encode())


# --- 1. error pages that made the trimming quadratic ------------------------------------------


async def test_an_html_page_of_unclosed_script_tags_fails_within_a_small_cpu_budget() -> None:
    routes = {**TOKEN, ("POST", "/orders"): unclosed_script_page(240_000, status=500)}
    started = time.process_time()
    failure = await wms_failure(routes, "create")
    cpu = time.process_time() - started

    assert cpu < 1.0, f"reading a 240 KB error page took {cpu:.1f} s of CPU"
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert failure.kind is AlertKind.REMOTE_ERROR
    assert failure.status == 500
    assert len(failure.message) <= MESSAGE_LIMIT


@pytest.mark.parametrize(
    "body",
    [
        "<" * 5_000_000,
        "<script>" + "<" * 5_000_000,
        "<style x" * 600_000,
        "</script" * 600_000,
        "<a " * 1_700_000,
    ],
    ids=["lt", "script-then-lt", "unclosed-style", "closers", "unclosed-attrs"],
)
def test_trimming_a_pathological_five_megabyte_body_is_linear(body: str) -> None:
    response = httpx.Response(500, headers={"content-type": "text/html"}, content=body.encode())
    started = time.process_time()
    message = remote_message(response)
    cpu = time.process_time() - started
    assert cpu < 1.0, f"trimming took {cpu:.1f} s of CPU"
    assert len(message) <= MESSAGE_LIMIT

    # The tag scan itself is linear too, not only saved by the prefix it is given.
    started = time.process_time()
    strip_markup(body)
    cpu = time.process_time() - started
    assert cpu < 2.0, f"stripping the whole body took {cpu:.1f} s of CPU"


def test_trimming_keeps_the_words_of_an_ordinary_error_page() -> None:
    page = (
        "<html><head><style>body { color: red }</style>"
        "<script>var x = '<b>not words</b>';</script></head>"
        "<body><h1>502 Bad Gateway</h1><p>nginx &amp; friends</p><SCRIPT>y()</SCRIPT >"
        "<p>upstream timed out</p><script>never closed"
    )
    response = httpx.Response(502, headers={"content-type": "text/html"}, content=page.encode())
    assert remote_message(response) == "502 Bad Gateway nginx &amp; friends upstream timed out"


# --- 2. JSON nested too deeply, and bodies of the wrong shape ---------------------------------


async def test_json_nested_too_deeply_on_a_read_is_a_transient_bad_response() -> None:
    routes = {**TOKEN, ("GET", "/orders"): nested_json(100_000)}
    failure = await wms_failure(routes, "closed")
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.BAD_RESPONSE
    assert "nested too deeply" in failure.message


async def test_json_nested_too_deeply_on_a_send_leaves_the_outcome_unknown() -> None:
    routes = {**TOKEN, ("POST", "/orders"): nested_json(100_000)}
    failure = await wms_failure(routes, "create")
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert failure.kind is AlertKind.BAD_RESPONSE
    assert "nested too deeply" in failure.message


async def test_json_nested_too_deeply_in_an_error_answer_is_still_the_remote_refusal() -> None:
    nested = nested_json(100_000)
    routes = {**TOKEN, ("POST", "/orders"): Reply(400, nested.headers, nested.body)}
    failure = await wms_failure(routes, "create")
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.kind is AlertKind.VALIDATION
    assert failure.status == 400


async def test_shopify_errors_nested_hundreds_deep_are_flattened_without_recursing() -> None:
    errors = "[" * 600 + '"too deep"' + "]" * 600
    routes = {**TOKEN, ("POST", "/orders"): raw_json(400, '{"errors": ' + errors + "}")}
    failure = await wms_failure(routes, "create")
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.kind is AlertKind.VALIDATION


def _shop_order(**fields: Any) -> dict[str, Any]:
    return {"id": 1, "name": "#1001", "line_items": [{"sku": "SKU-1", "quantity": 1}], **fields}


def _closed_page(*orders: Any) -> dict[str, Any]:
    return {"totalResults": len(orders), "_embedded": {ORDERS_REL: list(orders)}}


@pytest.mark.parametrize(
    "reply",
    [
        json_reply(200, "just a string"),
        json_reply(200, [1, 2, 3]),
        json_reply(200, {"_embedded": "not an object"}),
        json_reply(200, {"_embedded": {ORDERS_REL: {"not": "a list"}}}),
        json_reply(200, _closed_page(1, 2, 3)),
        json_reply(200, _closed_page("order")),
        json_reply(200, _closed_page({"readOnly": "closed"})),
    ],
    ids=[
        "string",
        "list-of-numbers",
        "embedded-string",
        "orders-object",
        "orders-numbers",
        "orders-strings",
        "readonly-string",
    ],
)
async def test_wms_closed_orders_of_the_wrong_shape_are_a_transient_bad_response(
    reply: Reply,
) -> None:
    failure = await wms_failure({**TOKEN, ("GET", "/orders"): reply}, "closed")
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.BAD_RESPONSE


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-05:00", "yesterday"]
)
async def test_a_date_that_cannot_be_a_utc_date_reads_as_no_date(moment: str) -> None:
    closed = {"readOnly": {"orderId": 7, "isClosed": True, "lastModifiedDate": moment}}
    shop_page = {"orders": [_shop_order(updated_at=moment)]}
    routes = {
        **TOKEN,
        ("GET", "/orders"): json_reply(200, _closed_page(closed)),
        SHOP_ORDERS: json_reply(200, shop_page),
    }
    with HostileRemote(routes) as remote:
        wms = warehouse(remote.url)
        shop = ShopifyRestSource(remote.url, SHOP_TOKEN, timeout=5.0)
        (order,) = await wms.list_closed_orders(None)
        (shop_order,) = await shop.list_unfulfilled_orders(None)
        await wms.aclose()
        await shop.aclose()
    assert order.wms_id == "7" and order.last_modified is None
    assert shop_order.remote_id == "1" and shop_order.updated_at is None


def _stock(*summaries: str) -> Reply:
    return raw_json(200, '{"summaries": [' + ", ".join(summaries) + "]}")


@pytest.mark.parametrize(
    "reply",
    [
        json_reply(200, "summaries"),
        json_reply(200, {"summaries": "many"}),
        json_reply(200, {"summaries": [1, 2, 3]}),
        json_reply(200, {"summaries": [{"itemIdentifier": "SKU-1", "available": 1}]}),
        _stock('{"itemIdentifier": {"sku": "SKU-1"}, "available": NaN}'),
        _stock('{"itemIdentifier": {"sku": "SKU-1"}, "available": Infinity}'),
        _stock('{"itemIdentifier": {"sku": "SKU-1"}, "available": 1e400}'),
        _stock('{"itemIdentifier": {"sku": "SKU-1"}, "available": 1' + "0" * 400 + "}"),
        _stock('{"itemIdentifier": {"sku": "SKU-1"}, "available": "nan"}'),
        _stock('{"itemIdentifier": {"sku": "SKU-1"}, "onHand": "-inf"}'),
        _stock('{"itemIdentifier": {"sku": "SKU-1"}, "available": "lots"}'),
        _stock('{"itemIdentifier": {"sku": "SKU-1"}, "available": [1]}'),
    ],
    ids=[
        "string",
        "summaries-string",
        "summaries-numbers",
        "identifier-string",
        "nan",
        "infinity",
        "1e400",
        "400-digits",
        "nan-string",
        "minus-inf-string",
        "words",
        "list",
    ],
)
async def test_wms_stock_of_the_wrong_shape_is_a_transient_bad_response(reply: Reply) -> None:
    failure = await wms_failure({**TOKEN, ("GET", "/inventory/stocksummaries"): reply}, "stock")
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.BAD_RESPONSE


async def test_wms_stock_as_whole_numbers_in_strings_still_reads() -> None:
    reply = _stock('{"itemIdentifier": {"sku": "SKU-1"}, "available": "7", "onHand": 9.0}')
    with HostileRemote({**TOKEN, ("GET", "/inventory/stocksummaries"): reply}) as remote:
        wms = warehouse(remote.url)
        levels = await wms.stock_summaries()
        await wms.aclose()
    assert [(level.sku, level.available, level.on_hand) for level in levels] == [("SKU-1", 7, 9)]


async def test_a_token_lifetime_that_is_not_a_number_still_lets_the_token_expire() -> None:
    routes = {
        TOKEN_PATH: raw_json(200, '{"access_token": "tok123456", "expires_in": NaN}'),
        ("GET", "/inventory/stocksummaries"): json_reply(200, {"summaries": []}),
    }
    now = [1000.0]
    with HostileRemote(routes) as remote:
        wms = ThreePLWarehouse(
            remote.url, CLIENT_ID, CLIENT_SECRET, "login", "1", "1", clock=lambda: now[0]
        )
        await wms.stock_summaries()
        now[0] += 2 * 3600  # NaN seconds never come due; the default hour does
        await wms.stock_summaries()
        await wms.aclose()
    assert [request.path for request in remote.requests].count(TOKEN_PATH[1]) == 2


async def test_a_token_answer_of_the_wrong_shape_is_a_bad_response() -> None:
    failure = await wms_failure({TOKEN_PATH: json_reply(200, ["access_token"])}, "stock")
    assert failure.kind is AlertKind.BAD_RESPONSE


@pytest.mark.parametrize(
    "reply",
    [
        json_reply(200, "orders"),
        json_reply(200, [1, 2, 3]),
        json_reply(200, {"orders": "many"}),
        json_reply(200, {"orders": [1, 2, 3]}),
        json_reply(200, {"orders": ["#1001"]}),
        json_reply(200, {"orders": [_shop_order(line_items="SKU-1")]}),
        json_reply(200, {"orders": [_shop_order(line_items=[1, 2])]}),
        json_reply(200, {"orders": [_shop_order(id={"nested": 1})]}),
        json_reply(200, {"orders": []}, link='<http://[::1>; rel="next"'),
        raw_json(200, '{"orders": [' + "[" * 100_000 + "]" * 100_000 + "]}"),
    ],
    ids=[
        "string",
        "list-of-numbers",
        "orders-string",
        "orders-numbers",
        "orders-strings",
        "line-items-string",
        "line-items-numbers",
        "id-object",
        "unparseable-next-link",
        "nested-too-deeply",
    ],
)
async def test_shop_orders_of_the_wrong_shape_are_a_transient_bad_response(reply: Reply) -> None:
    failure = await shop_failure(reply)
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.BAD_RESPONSE


# --- 3. credentials quoted back by an error page ----------------------------------------------


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def assert_no_credentials(message: str) -> None:
    assert TOKEN_VALUE not in message
    assert _basic(CLIENT_ID, CLIENT_SECRET) not in message
    assert CLIENT_SECRET not in message
    assert "[redacted]" in message


async def test_an_order_error_page_quoting_the_bearer_token_does_not_leak_it() -> None:
    routes = {**TOKEN, ("POST", "/orders"): echo_credentials(500)}
    with HostileRemote(routes) as remote:
        wms = warehouse(remote.url)
        with pytest.raises(ConnectorError) as caught:
            await wms.create_order(order_request())
        await wms.aclose()
    assert remote.requests[-1].headers["authorization"] == f"Bearer {TOKEN_VALUE}"
    failure = caught.value.failure
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert "Internal error. Request headers: Authorization: Bearer [redacted]" in failure.message
    assert_no_credentials(failure.message)


@pytest.mark.parametrize("status", [500, 400, 401])
async def test_a_token_error_page_quoting_basic_auth_does_not_leak_the_secret(status: int) -> None:
    failure = await wms_failure({TOKEN_PATH: echo_credentials(status)}, "stock")
    assert "Authorization: Basic [redacted]" in failure.message
    assert_no_credentials(failure.message)


async def test_an_unreadable_token_answer_quoting_basic_auth_does_not_leak_the_secret() -> None:
    def reply(request: Any) -> Reply:
        echoed = request.headers.get("authorization", "")
        return text_reply(200, f"<html>login page; you sent Authorization: {echoed}", "text/html")

    failure = await wms_failure({TOKEN_PATH: reply}, "stock")
    assert failure.kind is AlertKind.BAD_RESPONSE
    assert_no_credentials(failure.message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic Y2xpZW50OnNlY3JldA==", "Authorization: Basic [redacted]"),
        ("authorization: basic Y2xpZW50OnNlY3JldA==", "authorization: basic [redacted]"),
        ("header was BEARER abc.def-ghi_jkl~mn+/= ok", "header was BEARER [redacted] ok"),
        ("Authorization: Token 0123456789abcdef", "Authorization: Token [redacted]"),
        ("https://x/cb?access_token=abc123&x=1", "https://x/cb?access_token=[redacted]&x=1"),
        ('{"access_token": "abc123", "n": 1}', '{"access_token": "[redacted]", "n": 1}'),
        ("{'Access_Token': 'abc123'}", "{'Access_Token': '[redacted]'}"),
        ("client_secret=s3cret&grant_type=x", "client_secret=[redacted]&grant_type=x"),
        ('"client_secret":"s3 cret"', '"client_secret":"[redacted]"'),
        ("refresh_token: r-123", "refresh_token: [redacted]"),
        ("X-Shopify-Access-Token: shpat_123", "X-Shopify-Access-Token: [redacted]"),
        ("Basic plan customers only", "Basic plan customers only"),
        ("Sku 'SKU-1' not found for customer 1", "Sku 'SKU-1' not found for customer 1"),
    ],
)
def test_redact_credentials(text: str, expected: str) -> None:
    assert redact_credentials(text) == expected


def test_redacting_a_huge_text_is_linear() -> None:
    # Messages only ever redact a bounded prefix; a megabyte shows any rescanning at once.
    text = ("access_token" + " " * 50) * 10_000 + "Bearer " * 50_000 + "Basic x" * 50_000
    started = time.process_time()
    redact_credentials(text)
    assert time.process_time() - started < 1.0


async def test_remote_headers_quoted_in_a_message_are_bounded_and_redacted() -> None:
    location = "https://elsewhere.example/cb?access_token=abc123&pad=" + "x" * 10_000
    redirect = Reply(302, {"location": location})
    failure = await wms_failure({**TOKEN, ("GET", "/inventory/stocksummaries"): redirect}, "stock")
    assert failure.kind is AlertKind.UNREACHABLE
    assert "abc123" not in failure.message and "access_token=[redacted]" in failure.message
    assert len(failure.message) < 500

    wordy = Reply(200, {"content-type": "text/plain; x=" + "y" * 10_000}, b"not json")
    failure = await wms_failure({**TOKEN, ("GET", "/inventory/stocksummaries"): wordy}, "stock")
    assert failure.kind is AlertKind.BAD_RESPONSE
    assert len(failure.message) < 800
