"""One test per row of docs/design.md's failure-class table, against real loopback servers.

Each test provokes the failure for real (a closed port, a full accept queue, the sandbox's
fault injection) and pins what the engine will see: the class, the alert kind, the remote
system's words verbatim, and Retry-After where there is one.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from imtui.connectors.base import Address, FulfillmentRequest, OrderLine, WmsOrderRequest
from imtui.connectors.errors import parse_retry_after
from imtui.connectors.shopify_rest import ShopifyRestSource
from imtui.connectors.wms_3pl import ThreePLWarehouse
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from imtui.sandbox import FaultRule, Sandbox, make_order

SHORT = httpx.Timeout(0.5, connect=0.5)


def order_request(reference: str, **changes: object) -> WmsOrderRequest:
    fields: dict[str, object] = {
        "reference": reference,
        "customer_id": "1",
        "facility_id": "1",
        "carrier": "UPS",
        "mode": "92",
        "billing_code": "Prepaid",
        "ship_to": Address(
            name="Ada Lovelace",
            address1="1 Analytical Way",
            city="Springfield",
            state="IL",
            zip="62701",
            country="US",
        ),
        "lines": (OrderLine("SKU-1", 2),),
    }
    fields.update(changes)
    return WmsOrderRequest(**fields)  # type: ignore[arg-type]


def warehouse_at(
    base_url: str,
    timeout: httpx.Timeout = SHORT,
    credentials: dict[str, str] | None = None,
    max_connections: int = 100,
) -> ThreePLWarehouse:
    creds = credentials or {
        "client_id": "imtui",
        "client_secret": "not-a-real-secret",
        "user_login_id": "1",
    }
    return ThreePLWarehouse(
        base_url,
        creds["client_id"],
        creds["client_secret"],
        creds["user_login_id"],
        customer_id="1",
        facility_id="1",
        timeout=timeout,
        max_connections=max_connections,
    )


async def until(condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
    """Wait for ``condition`` (set by a server on its own thread), at most ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {within} s for {what}")
        await asyncio.sleep(0.01)


async def failure_of(awaitable: object) -> Failure:
    with pytest.raises(ConnectorError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value.failure


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=1) as sandbox:
        sandbox.hang_seconds = 2.0  # longer than SHORT's read timeout, short enough to stop fast
        yield sandbox


@pytest.fixture
async def wms(sb: Sandbox) -> AsyncIterator[ThreePLWarehouse]:
    async with warehouse_at(sb.wms_url, credentials=sb.wms_credentials) as warehouse:
        yield warehouse


@pytest.fixture
async def shop(sb: Sandbox) -> AsyncIterator[ShopifyRestSource]:
    async with ShopifyRestSource(sb.shop_url, sb.shop_token, timeout=SHORT) as source:
        yield source


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (bound, never listened, so nobody takes it)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port: int = holder.getsockname()[1]
    holder.close()
    return port


@pytest.fixture
def full_backlog_port() -> Iterator[int]:
    """A loopback port that listens but never accepts, its accept queue already full, so the
    kernel drops further SYNs and a connect can only time out. Nothing leaves the machine."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


# --- connect refused / connect timeout / DNS: transient ----------------------------------------


async def test_connect_refused_is_transient_and_names_the_address(closed_port: int) -> None:
    async with warehouse_at(f"http://127.0.0.1:{closed_port}") as wms:
        failure = await failure_of(wms.create_order(order_request("R-1")))
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.UNREACHABLE
    assert failure.message == f"connection refused by 127.0.0.1:{closed_port}"


async def test_connect_timeout_is_transient_and_says_how_long(full_backlog_port: int) -> None:
    timeout = httpx.Timeout(5.0, connect=0.3)
    async with warehouse_at(f"http://127.0.0.1:{full_backlog_port}", timeout) as wms:
        failure = await failure_of(wms.create_order(order_request("R-1")))
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.UNREACHABLE
    assert failure.message == f"no connection to 127.0.0.1:{full_backlog_port} within 0.3 s"


async def test_dns_failure_is_transient_and_names_the_host() -> None:
    async with warehouse_at("http://wms.imtui-test.invalid") as wms:
        failure = await failure_of(wms.find_order("R-1"))
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.UNREACHABLE
    assert failure.message.startswith("cannot resolve host name wms.imtui-test.invalid: ")


async def test_exhausted_pool_is_transient_because_nothing_was_sent(sb: Sandbox) -> None:
    hang = sb.faults.add(FaultRule("wms.find_orders", "timeout", times=1))
    timeout = httpx.Timeout(1.5, connect=0.5, pool=0.2)
    async with warehouse_at(
        sb.wms_url, timeout, credentials=sb.wms_credentials, max_connections=1
    ) as wms:
        await wms.stock_summaries()  # fetch the token first, so the pool holds one request
        hanging = asyncio.create_task(wms.find_order("R-1"))
        # the server holds that request now, so it has the pool's only connection
        await until(lambda: hang.fired == 1, "the WMS to hold the first request")
        failure = await failure_of(wms.create_order(order_request("R-2")))
        with pytest.raises(ConnectorError):
            await hanging
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.UNREACHABLE
    assert failure.message == (
        f"no free connection to {sb.wms_url.removeprefix('http://')} within 0.2 s "
        "(every pooled connection busy)"
    )
    assert sb.wms.posts("R-2") == 0


# --- 429, 503 with Retry-After: transient, wait at least Retry-After ----------------------------


@pytest.mark.slow
async def test_rate_limit_is_transient_with_retry_after(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    # one 429 pauses the connection and the call is made again; one that persists fails
    sb.faults.add(FaultRule("shop.orders", "rate_limit", times=3, retry_after=0.5))
    failure = await failure_of(shop.list_unfulfilled_orders(None))
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.RATE_LIMITED
    assert failure.status == 429
    assert failure.retry_after == 0.5
    assert failure.message == (
        "Exceeded 2 calls per second for api client. "
        "Reduce request rates to resume uninterrupted service."
    )


async def test_503_with_retry_after_on_a_send_is_transient(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    sb.faults.add(FaultRule("wms.create_order", "http_503", times=1, retry_after=7.0))
    failure = await failure_of(wms.create_order(order_request("R-503")))
    assert failure.failure_class is FailureClass.TRANSIENT
    assert failure.kind is AlertKind.REMOTE_ERROR
    assert failure.status == 503
    assert failure.retry_after == 7.0
    assert sb.wms.created("R-503") == 0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert parse_retry_after("2.0") == 2.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- other 5xx, read timeout, reset, HTML or truncated body on a send: outcome unknown ----------


async def test_plain_text_500_on_a_send_is_outcome_unknown_with_the_text(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    sb.faults.add(FaultRule("wms.create_order", "http_500", times=1))
    failure = await failure_of(wms.create_order(order_request("R-500")))
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert failure.kind is AlertKind.REMOTE_ERROR
    assert failure.status == 500
    assert failure.message == "Object reference not set to an instance of an object."


async def test_500_after_the_wms_committed_is_outcome_unknown_and_the_lookup_finds_it(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    sb.faults.add(FaultRule("wms.create_order", "commit_then_500", times=1))
    failure = await failure_of(wms.create_order(order_request("R-COMMIT")))
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    found = await wms.find_order("R-COMMIT")
    assert found is not None and found.reference == "R-COMMIT"
    assert sb.wms.created("R-COMMIT") == 1


@pytest.mark.parametrize(
    ("fault", "kind", "message_start"),
    [
        ("timeout", AlertKind.REMOTE_ERROR, "no response from {host} within 0.5 s"),
        ("drop", AlertKind.REMOTE_ERROR, "{host} closed the connection without"),
        ("commit_then_drop", AlertKind.REMOTE_ERROR, "{host} closed the connection without"),
        ("html", AlertKind.BAD_RESPONSE, "unreadable response from {host} (HTTP 201, text/html"),
        ("truncated", AlertKind.BAD_RESPONSE, "unreadable response from {host} (HTTP 201"),
    ],
)
async def test_lost_or_unreadable_answer_to_a_send_is_outcome_unknown(
    sb: Sandbox, wms: ThreePLWarehouse, fault: str, kind: AlertKind, message_start: str
) -> None:
    sb.faults.add(FaultRule("wms.create_order", fault, times=1))  # type: ignore[arg-type]
    failure = await failure_of(wms.create_order(order_request("R-LOST")))
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert failure.kind is kind
    assert failure.message.startswith(message_start.format(host=_host(sb.wms_url)))


@pytest.mark.parametrize("fault", ["http_500", "timeout", "drop", "html", "truncated"])
async def test_the_same_failures_on_a_read_are_merely_transient(
    sb: Sandbox, wms: ThreePLWarehouse, fault: str
) -> None:
    sb.faults.add(FaultRule("wms.find_orders", fault, times=1))  # type: ignore[arg-type]
    failure = await failure_of(wms.find_order("R-READ"))
    assert failure.failure_class is FailureClass.TRANSIENT
    assert await wms.find_order("R-READ") is None  # the next read simply works


async def test_500_on_a_shop_fulfilment_is_outcome_unknown(
    sb: Sandbox, shop: ShopifyRestSource
) -> None:
    order = sb.shop.add_order(make_order(1))
    sb.faults.add(FaultRule("shop.fulfill", "http_500", times=1))
    request = FulfillmentRequest(str(order["id"]), tracking_number="1Z999", carrier="UPS")
    failure = await failure_of(shop.create_fulfillment(request))
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert failure.kind is AlertKind.REMOTE_ERROR


# --- duplicate reference: success, link the WMS order ------------------------------------------


async def test_duplicate_reference_is_duplicate_with_the_wms_words(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    await wms.create_order(order_request("R-DUP"))
    failure = await failure_of(wms.create_order(order_request("R-DUP")))
    assert failure.failure_class is FailureClass.DUPLICATE
    assert failure.status == 400
    assert failure.message.startswith("DuplicateReferenceNum: ")
    assert "R-DUP" in failure.message
    assert sb.wms.created("R-DUP") == 1


# --- 400/422 validation: needs a person ---------------------------------------------------------


async def test_missing_address_field_needs_a_person_and_names_the_field(
    wms: ThreePLWarehouse,
) -> None:
    ship_to = Address(name="Ada", city="Springfield", state="IL", zip="62701", country="US")
    failure = await failure_of(wms.create_order(order_request("R-ADDR", ship_to=ship_to)))
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.kind is AlertKind.ADDRESS_REJECTED
    assert failure.field == "ShipTo.Address1"
    assert failure.message == "Required: ShipTo.Address1 is required"


async def test_unknown_sku_needs_a_person_and_names_the_sku(wms: ThreePLWarehouse) -> None:
    lines = (OrderLine("SKU-1", 1), OrderLine("NOPE-9", 3))
    failure = await failure_of(wms.create_order(order_request("R-SKU", lines=lines)))
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.kind is AlertKind.UNKNOWN_SKU
    assert failure.sku == "NOPE-9"
    assert failure.message == "InvalidSku: Sku 'NOPE-9' not found for customer 1"


async def test_unknown_carrier_needs_a_person(wms: ThreePLWarehouse) -> None:
    failure = await failure_of(wms.create_order(order_request("R-CAR", carrier="Pigeon")))
    assert failure.failure_class is FailureClass.NEEDS_PERSON
    assert failure.kind is AlertKind.UNKNOWN_CARRIER
    assert failure.message.startswith("InvalidCarrier: ")
    assert "Pigeon" in failure.message


# --- 401 after one token refresh, 403: connection-level -----------------------------------------


async def test_401_again_after_one_token_refresh_rejects_the_credentials(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    sb.wms.token_lifetime = 0  # the token endpoint works, but every token is dead on arrival
    failure = await failure_of(wms.create_order(order_request("R-401")))
    assert failure.failure_class is FailureClass.CONNECTION
    assert failure.kind is AlertKind.CREDENTIALS_REJECTED
    assert failure.status == 401
    assert failure.message == "Authorization has been denied for this request."
    assert sb.requests["wms.token"] == 2  # the first token, and exactly one refresh
    assert sb.requests["wms.create_order"] == 2  # the call, and exactly one retry


async def test_401_from_the_token_endpoint_rejects_the_credentials(
    sb: Sandbox, wms: ThreePLWarehouse
) -> None:
    await wms.stock_summaries()
    sb.wms.expire_tokens()
    sb.wms.revoke_client()
    failure = await failure_of(wms.create_order(order_request("R-401")))
    assert failure.failure_class is FailureClass.CONNECTION
    assert failure.kind is AlertKind.CREDENTIALS_REJECTED
    assert failure.status == 401
    assert failure.message.startswith("invalid_client")
    assert sb.wms_credentials["client_secret"] not in failure.message
    assert sb.requests["wms.token"] == 2


async def test_wrong_secret_is_rejected_without_retrying_forever(sb: Sandbox) -> None:
    creds = {**sb.wms_credentials, "client_secret": "wrong-secret-value"}
    async with warehouse_at(sb.wms_url, credentials=creds) as wms:
        failure = await failure_of(wms.find_order("R-1"))
    assert failure.failure_class is FailureClass.CONNECTION
    assert failure.kind is AlertKind.CREDENTIALS_REJECTED
    assert "wrong-secret-value" not in failure.message
    assert sb.requests["wms.token"] == 1


async def test_403_is_a_connection_failure(sb: Sandbox, wms: ThreePLWarehouse) -> None:
    sb.wms.forbid()
    failure = await failure_of(wms.create_order(order_request("R-403")))
    assert failure.failure_class is FailureClass.CONNECTION
    assert failure.kind is AlertKind.CREDENTIALS_REJECTED
    assert failure.status == 403
    assert failure.message == "Forbidden: The user has no access to customer 1."
    assert sb.requests["wms.token"] == 1  # a 403 is not a token problem: no refresh


async def test_wrong_shop_token_is_a_connection_failure_with_shopify_words(
    sb: Sandbox,
) -> None:
    async with ShopifyRestSource(sb.shop_url, "shpat_wrong_token_value", timeout=SHORT) as shop:
        failure = await failure_of(shop.list_unfulfilled_orders(None))
    assert failure.failure_class is FailureClass.CONNECTION
    assert failure.kind is AlertKind.CREDENTIALS_REJECTED
    assert failure.message == (
        "[API] Invalid API key or access token (unrecognized login or wrong password)"
    )


def _host(url: str) -> str:
    return httpx.URL(url).netloc.decode()
