"""Every request has an overall deadline and every body a size cap (B10): a remote that trickles
its answer a byte at a time, never answers, or sends a gzip bomb costs one bounded failure with
the remote's name, never a stalled cycle or gigabytes of memory."""

from __future__ import annotations

import resource
import time

import pytest

from imtui.connectors.shopify_rest import ShopifyRestSource
from imtui.connectors.wms_3pl import ThreePLWarehouse
from imtui.domain.failures import AlertKind, ConnectorError, FailureClass
from tests.conftest import order_request
from tests.hostile_remote import (
    HostileRemote,
    gzip_bomb,
    gzipped,
    json_reply,
    never_answers,
    trickle,
)

TOKEN = {("POST", "/AuthServer/api/Token"): json_reply(200, {"access_token": "tok-123456"})}


def warehouse(url: str, **limits: float | int) -> ThreePLWarehouse:
    return ThreePLWarehouse(url, "client", "secret-abcdef", "login", "1", "1", **limits)  # type: ignore[arg-type]


async def test_a_trickled_answer_is_cut_at_the_deadline_and_its_outcome_is_unknown() -> None:
    body = b'{"readOnly": {"orderId": 1}, "referenceNum": "ACME-1001"}'
    routes = {**TOKEN, ("POST", "/orders"): trickle(body, every=0.2)}
    with HostileRemote(routes) as remote:
        wms = warehouse(remote.url, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(ConnectorError) as caught:
            await wms.create_order(order_request())
        waited = time.monotonic() - started
        await wms.aclose()
    failure = caught.value.failure
    # each byte came well inside the read timeout; only the whole-request deadline stops it
    assert waited < 2.0
    assert failure.failure_class is FailureClass.OUTCOME_UNKNOWN
    assert failure.kind is AlertKind.REMOTE_ERROR
    assert f"127.0.0.1:{remote.port}" in failure.message
    assert "within 1 s" in failure.message


async def test_a_remote_that_never_answers_a_read_is_a_transient_failure_at_the_deadline() -> None:
    routes = {**TOKEN, ("GET", "/inventory/stocksummaries"): never_answers()}
    with HostileRemote(routes) as remote:
        wms = warehouse(remote.url, deadline=0.5)
        with pytest.raises(ConnectorError) as caught:
            await wms.stock_summaries()
        await wms.aclose()
    assert caught.value.failure.failure_class is FailureClass.TRANSIENT
    assert "within 0.5 s" in caught.value.failure.message


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow
async def test_a_gzip_bomb_is_refused_past_the_cap_without_inflating_it() -> None:
    bomb = gzip_bomb(1024**3)  # ~1 MB on the wire, 1 GB decoded
    assert len(bomb.body) < 2 * 1024**2
    routes = {**TOKEN, ("GET", "/inventory/stocksummaries"): bomb}
    with HostileRemote(routes) as remote:
        wms = warehouse(remote.url)
        before = _peak_rss_mb()
        started = time.process_time()
        with pytest.raises(ConnectorError) as caught:
            await wms.stock_summaries()
        cpu = time.process_time() - started
        grown = _peak_rss_mb() - before
        await wms.aclose()
    failure = caught.value.failure
    assert failure.kind is AlertKind.BAD_RESPONSE
    assert failure.failure_class is FailureClass.TRANSIENT
    assert "larger than 32 MB once decoded" in failure.message
    assert grown < 120, f"the process grew by {grown:.0f} MB reading a 1 MB gzip bomb"
    assert cpu < 2.0


async def test_the_body_cap_is_a_connection_setting_and_ordinary_gzip_still_reads() -> None:
    summaries = {
        "totalResults": 2000,
        "summaries": [{"itemIdentifier": {"sku": f"SKU-{n}"}, "available": n} for n in range(2000)],
    }
    routes = {**TOKEN, ("GET", "/inventory/stocksummaries"): gzipped(json_reply(200, summaries))}
    with HostileRemote(routes) as remote:
        wms = warehouse(remote.url)
        levels = await wms.stock_summaries()
        small = warehouse(remote.url, max_body=10_000)
        with pytest.raises(ConnectorError) as caught:
            await small.stock_summaries()
        await wms.aclose()
        await small.aclose()
    assert [level.available for level in levels[:3]] == [0, 1, 2]
    assert len(levels) == 2000
    assert "larger than" in caught.value.failure.message


async def test_an_encoding_we_did_not_ask_for_is_refused() -> None:
    routes = {
        **TOKEN,
        ("GET", "/inventory/stocksummaries"): json_reply(200, {}, **{"content-encoding": "br"}),
    }
    with HostileRemote(routes) as remote:
        wms = warehouse(remote.url)
        with pytest.raises(ConnectorError) as caught:
            await wms.stock_summaries()
        await wms.aclose()
    assert caught.value.failure.kind is AlertKind.BAD_RESPONSE
    assert "encoding we did not ask for (br)" in caught.value.failure.message
    assert remote.requests[-1].headers["accept-encoding"] == "gzip, deflate"


async def test_a_shop_that_trickles_its_order_page_fails_its_poll_at_the_deadline() -> None:
    routes = {("GET", "/admin/api/2024-10/orders.json"): trickle(b'{"orders": []}', every=0.3)}
    with HostileRemote(routes) as remote:
        shop = ShopifyRestSource(remote.url, "shpat-token", deadline=1.0)
        started = time.monotonic()
        with pytest.raises(ConnectorError) as caught:
            await shop.list_unfulfilled_orders(None)
        await shop.aclose()
    assert time.monotonic() - started < 2.0
    assert "within 1 s" in caught.value.failure.message
