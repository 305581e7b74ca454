"""The sandbox speaks the shapes in docs/sandbox-contract.md, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from imtui.sandbox import FaultRule, Sandbox, make_order, order_stream, realistic_orders
from imtui.sandbox.seed import BAD_ADDRESSES, UNKNOWN_SKU, UNUSUAL_SHIP_METHOD
from imtui.sandbox.testing import wms_order_body, wms_token

ORDER_REL = "http://api.3plCentral.com/rels/orders/order"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7) as running:
        yield running


@pytest.fixture
def wms(sb: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {wms_token(sb)}"}
    with httpx.Client(base_url=sb.wms_url, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
def shop(sb: Sandbox) -> Iterator[httpx.Client]:
    headers = {"X-Shopify-Access-Token": sb.shop_token}
    with httpx.Client(base_url=sb.shop_api_url, headers=headers, timeout=5) as client:
        yield client


def find(wms: httpx.Client, rql: str, **params: Any) -> dict[str, Any]:
    response = wms.get("/orders", params={"pgsiz": 100, "pgnum": 1, "rql": rql, **params})
    assert response.status_code == 200, response.text
    return response.json()


def token_request(sb: Sandbox, secret: str) -> httpx.Response:
    return httpx.post(
        f"{sb.wms_url}/AuthServer/api/Token",
        auth=(sb.wms_credentials["client_id"], secret),
        json={"grant_type": "client_credentials", "user_login_id": "1"},
    )


# --- WMS: tokens ------------------------------------------------------------------------------


def test_token_is_issued_for_client_credentials_and_lasts_an_hour(sb: Sandbox) -> None:
    response = token_request(sb, sb.wms_credentials["client_secret"])
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"
    assert response.json()["expires_in"] == 3600


def test_wrong_secret_is_401_invalid_client(sb: Sandbox) -> None:
    response = token_request(sb, "not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_expired_token_gets_plain_text_401_and_a_new_token_works(
    sb: Sandbox, wms: httpx.Client
) -> None:
    assert wms.get("/inventory/stocksummaries").status_code == 200
    sb.wms.expire_tokens()
    denied = wms.get("/inventory/stocksummaries")
    assert denied.status_code == 401
    assert denied.headers["content-type"].startswith("text/plain")
    assert denied.text == "Authorization has been denied for this request."
    fresh = {"Authorization": f"Bearer {wms_token(sb)}"}
    assert wms.get("/inventory/stocksummaries", headers=fresh).status_code == 200


def test_token_dies_after_an_hour_of_the_sandbox_clock() -> None:
    now = [datetime(2026, 11, 26, 10, 0, tzinfo=UTC)]
    with Sandbox(seed=1, clock=lambda: now[0]) as sb:
        headers = {"Authorization": f"Bearer {wms_token(sb)}"}
        url = f"{sb.wms_url}/inventory/stocksummaries"
        now[0] += timedelta(seconds=3599)
        assert httpx.get(url, headers=headers).status_code == 200
        now[0] += timedelta(seconds=1)
        assert httpx.get(url, headers=headers).status_code == 401


def test_revoked_client_gets_no_token_and_forbid_answers_403(
    sb: Sandbox, wms: httpx.Client
) -> None:
    sb.wms.forbid()
    assert wms.get("/inventory/stocksummaries").status_code == 403
    sb.wms.forbid(False)
    sb.wms.revoke_client()
    assert wms.get("/inventory/stocksummaries").status_code == 401
    assert token_request(sb, sb.wms_credentials["client_secret"]).status_code == 401
    sb.wms.restore_client()
    assert token_request(sb, sb.wms_credentials["client_secret"]).status_code == 200


# --- WMS: orders ------------------------------------------------------------------------------


def test_order_is_created_once_and_a_duplicate_reference_is_rejected(
    sb: Sandbox, wms: httpx.Client
) -> None:
    created = wms.post("/orders", json=wms_order_body("SHOP1-1001", qty=2))
    assert created.status_code == 201
    assert created.json()["readOnly"]["orderId"] == 1
    assert created.json()["readOnly"]["isClosed"] is False

    duplicate = wms.post("/orders", json=wms_order_body("SHOP1-1001", qty=2))
    assert duplicate.status_code == 400
    error = duplicate.json()
    assert error["ErrorCode"] == "DuplicateReferenceNum"
    assert "SHOP1-1001" in error["Hint"]
    assert error["Properties"] == [{"Name": "ReferenceNum", "Value": "SHOP1-1001"}]
    assert sb.wms.posts("SHOP1-1001") == 2
    assert sb.wms.created("SHOP1-1001") == 1
    assert wms.post("/orders", json=wms_order_body("SHOP1-1002")).json()["readOnly"]["orderId"] == 2


@pytest.mark.parametrize(
    ("body", "code", "hint", "properties"),
    [
        (
            wms_order_body("R-A", address1=""),
            "Required",
            "ShipTo.Address1 is required",
            [{"Name": "Field", "Value": "ShipTo.Address1"}],
        ),
        (
            wms_order_body("R-S", state=""),
            "Required",
            "ShipTo.State is required",
            [{"Name": "Field", "Value": "ShipTo.State"}],
        ),
        (
            wms_order_body("R-K", sku="SKU-999"),
            "InvalidSku",
            "Sku 'SKU-999' not found for customer 1",
            [{"Name": "Sku", "Value": "SKU-999"}],
        ),
    ],
    ids=["missing-address1", "missing-us-state", "unknown-sku"],
)
def test_validation_errors_are_400_error_responses(
    sb: Sandbox,
    wms: httpx.Client,
    body: dict[str, Any],
    code: str,
    hint: str,
    properties: list[dict[str, str]],
) -> None:
    response = wms.post("/orders", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["$type"].endswith("ErrorResponse")
    assert (error["ErrorCode"], error["Hint"], error["Properties"]) == (code, hint, properties)
    assert sb.wms.created(body["referenceNum"]) == 0


def test_unknown_carrier_error_uses_lower_case_keys(sb: Sandbox, wms: httpx.Client) -> None:
    response = wms.post("/orders", json=wms_order_body("R-C", carrier="DHL", mode="EXPRESS"))
    assert response.status_code == 400
    error = response.json()
    assert "ErrorCode" not in error
    assert error["errorCode"] == "InvalidCarrier"
    assert "DHL" in error["hint"]
    assert {"name": "Carrier", "value": "DHL"} in error["properties"]


def test_find_orders_by_reference_and_closed_since_after_ship(
    sb: Sandbox, wms: httpx.Client
) -> None:
    for n in range(3):
        assert wms.post("/orders", json=wms_order_body(f"R-{n}")).status_code == 201
    found = find(wms, "referenceNum==R-1")
    assert found["totalResults"] == 1
    (order,) = found["_embedded"][ORDER_REL]
    assert order["referenceNum"] == "R-1"
    assert order["readOnly"]["isClosed"] is False
    assert find(wms, "referenceNum==NOPE")["totalResults"] == 0

    before = order["readOnly"]["lastModifiedDate"]
    assert "+" not in before and not before.endswith("Z")
    sb.wms.ship("R-1", tracking="1ZTRACK", carrier="UPS")
    closed = find(wms, f"readOnly.isClosed==true;readOnly.lastModifiedDate=ge={before}")
    assert closed["totalResults"] == 1
    (shipped,) = closed["_embedded"][ORDER_REL]
    assert shipped["referenceNum"] == "R-1"
    assert shipped["routingInfo"]["trackingNumber"] == "1ZTRACK"
    assert shipped["readOnly"]["lastModifiedDate"] >= before

    page2 = find(wms, "readOnly.isClosed==false", pgsiz=1, pgnum=2)
    assert page2["totalResults"] == 2
    assert [o["referenceNum"] for o in page2["_embedded"][ORDER_REL]] == ["R-2"]


def test_stock_summaries_reflect_set_stock(sb: Sandbox, wms: httpx.Client) -> None:
    sb.wms.set_stock("SKU-1", 5, on_hand=7)
    summary = wms.get("/inventory/stocksummaries", params={"pgsiz": 500, "pgnum": 1}).json()
    assert summary["totalResults"] == 50
    by_sku = {s["itemIdentifier"]["sku"]: s for s in summary["summaries"]}
    assert (by_sku["SKU-1"]["available"], by_sku["SKU-1"]["onHand"]) == (5, 7)


# --- shop -------------------------------------------------------------------------------------


def test_shop_rejects_a_wrong_access_token(sb: Sandbox) -> None:
    response = httpx.get(
        f"{sb.shop_api_url}/orders.json", headers={"X-Shopify-Access-Token": "wrong"}
    )
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]


def test_orders_page_through_600_with_link_header_and_updated_at_min(
    sb: Sandbox, shop: httpx.Client
) -> None:
    early = datetime(2026, 11, 1, tzinfo=UTC)
    late = datetime(2026, 11, 20, tzinfo=UTC)
    sb.shop.add_orders(make_order(n, updated_at=early) for n in range(1, 301))
    sb.shop.add_orders(make_order(n, updated_at=late) for n in range(301, 601))
    params: dict[str, str | int] = {
        "status": "open",
        "fulfillment_status": "unfulfilled",
        "limit": 250,
    }

    seen: list[int] = []
    response = shop.get("/orders.json", params=params)
    pages = 1
    while True:
        assert response.status_code == 200, response.text
        seen += [o["id"] for o in response.json()["orders"]]
        link = response.headers.get("link", "")
        nexts = [part for part in link.split(",") if 'rel="next"' in part]
        if not nexts:
            break
        url = nexts[0].split(";")[0].strip().strip("<>")
        assert set(httpx.URL(url).params) == {"limit", "page_info"}
        response = shop.get(url)
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 600
    assert 'rel="previous"' in response.headers["link"]

    recent = shop.get("/orders.json", params={**params, "updated_at_min": late.isoformat()})
    orders = recent.json()["orders"]
    assert len(orders) == 250
    assert orders[0]["name"] == "#1301"
    assert orders[0]["updated_at"] == "2026-11-20T00:00:00+00:00"


def test_page_info_cannot_be_combined_with_filters(sb: Sandbox, shop: httpx.Client) -> None:
    sb.shop.add_orders(make_order(n) for n in range(1, 4))
    first = shop.get("/orders.json", params={"limit": 2})
    page_info = httpx.URL(first.headers["link"].split(";")[0].strip("<>")).params["page_info"]
    response = shop.get("/orders.json", params={"page_info": page_info, "status": "open"})
    assert response.status_code == 400
    assert "page_info" in response.json()["errors"]


def test_fulfillment_takes_order_off_the_unfulfilled_list_once(
    sb: Sandbox, shop: httpx.Client
) -> None:
    order = sb.shop.add_order(make_order(1, sku=["SKU-1", "SKU-2"], quantity=2))
    sb.shop.add_order(make_order(2))
    fulfillment_orders = shop.get(f"/orders/{order['id']}/fulfillment_orders.json").json()
    (fulfillment_order,) = fulfillment_orders["fulfillment_orders"]
    assert fulfillment_order["status"] == "open"
    body = {
        "fulfillment": {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": fulfillment_order["id"]}],
            "tracking_info": {"number": "1Z999", "company": "UPS"},
            "notify_customer": False,
        }
    }
    created = shop.post("/fulfillments.json", json=body)
    assert created.status_code == 201
    assert created.json()["fulfillment"]["status"] == "success"
    unfulfilled = shop.get("/orders.json", params={"fulfillment_status": "unfulfilled"})
    assert [o["name"] for o in unfulfilled.json()["orders"]] == ["#1002"]

    again = shop.post("/fulfillments.json", json=body)
    assert again.status_code == 422
    assert again.json()["errors"] == [
        f"Fulfillment order {fulfillment_order['id']} has an unfulfillable status= closed."
    ]
    (recorded,) = sb.shop.fulfillments(order["id"])
    assert (recorded["tracking_number"], recorded["tracking_company"]) == ("1Z999", "UPS")


def test_variants_locations_and_inventory_set(sb: Sandbox, shop: httpx.Client) -> None:
    (location,) = shop.get("/locations.json").json()["locations"]
    assert location["id"] == 7001
    first = shop.get("/variants.json", params={"limit": 250})
    variants = {v["sku"]: v for v in first.json()["variants"]}
    assert len(variants) == 50
    assert "link" not in first.headers
    item = variants["SKU-3"]["inventory_item_id"]
    body = {"location_id": 7001, "inventory_item_id": item, "available": 5}
    response = shop.post("/inventory_levels/set.json", json=body)
    assert response.status_code == 200
    assert response.json()["inventory_level"]["available"] == 5
    assert sb.shop.inventory("SKU-3") == 5
    assert sb.shop.inventory("SKU-4") is None
    missing = shop.post("/inventory_levels/set.json", json={**body, "available": None})
    assert missing.status_code == 400
    assert "available" in missing.json()["errors"]


def test_shop_rate_limiter_answers_429_with_retry_after(sb: Sandbox, shop: httpx.Client) -> None:
    sb.shop.rate_limit = True
    sb.shop.rate_limit_bucket = 3
    statuses = [shop.get("/locations.json").status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    limited = shop.get("/locations.json")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2.0"
    assert limited.json()["errors"].startswith("Exceeded 2 calls per second")


# --- faults, as the client sees them ----------------------------------------------------------


def test_http_500_is_plain_text_and_creates_nothing(sb: Sandbox, wms: httpx.Client) -> None:
    sb.faults.add(FaultRule("wms.create_order", "http_500", times=1))
    failed = wms.post("/orders", json=wms_order_body("R-500"))
    assert failed.status_code == 500
    assert failed.headers["content-type"].startswith("text/plain")
    assert failed.text == "Object reference not set to an instance of an object."
    assert (sb.wms.posts("R-500"), sb.wms.created("R-500")) == (1, 0)
    assert wms.post("/orders", json=wms_order_body("R-500")).status_code == 201


def test_shop_failures_are_json_with_errors(sb: Sandbox, shop: httpx.Client) -> None:
    sb.faults.add(FaultRule("shop.orders", "http_500", times=1))
    failed = shop.get("/orders.json")
    assert failed.status_code == 500
    assert failed.json() == {"errors": "Internal Server Error"}


@pytest.mark.parametrize(("fault", "status"), [("http_503", 503), ("rate_limit", 429)])
def test_503_and_429_carry_retry_after(
    sb: Sandbox, wms: httpx.Client, shop: httpx.Client, fault: Any, status: int
) -> None:
    sb.faults.add(FaultRule("*", fault, times=2, retry_after=3.0))
    wms_answer = wms.get("/inventory/stocksummaries")
    shop_answer = shop.get("/locations.json")
    assert (wms_answer.status_code, wms_answer.headers["retry-after"]) == (status, "3")
    assert (shop_answer.status_code, shop_answer.headers["retry-after"]) == (status, "3.0")
    assert "errors" in shop_answer.json()
    assert wms.get("/inventory/stocksummaries").status_code == 200


def test_drop_closes_the_connection_without_a_response(sb: Sandbox, wms: httpx.Client) -> None:
    sb.faults.add(FaultRule("wms.create_order", "drop", times=1))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        wms.post("/orders", json=wms_order_body("R-DROP"))
    assert sb.wms.created("R-DROP") == 0
    assert wms.post("/orders", json=wms_order_body("R-DROP")).status_code == 201


def test_timeout_outlasts_the_client_read_timeout(sb: Sandbox, wms: httpx.Client) -> None:
    sb.hang_seconds = 1.0
    sb.faults.add(FaultRule("wms.find_orders", "timeout", times=1))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        wms.get("/orders", params={"rql": "referenceNum==X"}, timeout=0.2)
    assert time.monotonic() - started < 0.9
    assert wms.get("/orders", params={"rql": "referenceNum==X"}).status_code == 200


def test_other_requests_flow_while_one_hangs(sb: Sandbox) -> None:
    sb.hang_seconds = 0.6
    sb.faults.add(FaultRule("shop.orders", "timeout", times=1))

    async def scenario() -> float:
        headers = {"X-Shopify-Access-Token": sb.shop_token}
        async with httpx.AsyncClient(base_url=sb.shop_api_url, headers=headers) as client:
            hung = asyncio.create_task(client.get("/orders.json", timeout=5))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            assert (await client.get("/locations.json")).status_code == 200
            elapsed = time.monotonic() - started
            assert (await hung).status_code == 504
            return elapsed

    assert asyncio.run(scenario()) < 0.3


def test_html_and_truncated_bodies_follow_a_real_commit(sb: Sandbox, wms: httpx.Client) -> None:
    sb.faults.add(FaultRule("wms.create_order", "html", times=1))
    html = wms.post("/orders", json=wms_order_body("R-HTML"))
    assert html.status_code == 201
    assert html.headers["content-type"].startswith("text/html")
    assert html.text.lstrip().startswith("<!DOCTYPE html>")

    sb.faults.add(FaultRule("wms.create_order", "truncated", times=1))
    cut = wms.post("/orders", json=wms_order_body("R-CUT"))
    assert cut.status_code == 201
    with pytest.raises(ValueError):
        cut.json()
    assert sb.wms.created("R-HTML") == sb.wms.created("R-CUT") == 1


def test_commit_then_500_and_commit_then_drop_leave_the_order_created(
    sb: Sandbox, wms: httpx.Client
) -> None:
    sb.faults.add(FaultRule("wms.create_order", "commit_then_500", reference="R-C500"))
    sb.faults.add(FaultRule("wms.create_order", "commit_then_drop", reference="R-CDROP"))
    assert wms.post("/orders", json=wms_order_body("R-C500")).status_code == 500
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        wms.post("/orders", json=wms_order_body("R-CDROP"))
    for reference in ("R-C500", "R-CDROP"):
        assert sb.wms.created(reference) == 1
        assert find(wms, f"referenceNum=={reference}")["totalResults"] == 1


def test_rules_fire_times_then_retire_and_respect_reference(sb: Sandbox, wms: httpx.Client) -> None:
    rule = sb.faults.add(FaultRule("wms.create_order", "http_503", times=2, reference="R-ONLY"))
    assert wms.post("/orders", json=wms_order_body("R-OTHER")).status_code == 201
    statuses = [wms.post("/orders", json=wms_order_body("R-ONLY")).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert rule.fired == 2 and rule.retired


def test_seeded_probability_rules_are_reproducible() -> None:
    def outcomes(seed: int) -> list[int]:
        with Sandbox(seed=seed) as sb, httpx.Client(base_url=sb.shop_api_url) as client:
            sb.faults.add(FaultRule("shop.locations", "http_500", probability=0.4))
            headers = {"X-Shopify-Access-Token": sb.shop_token}
            return [client.get("/locations.json", headers=headers).status_code for _ in range(30)]

    first = outcomes(3)
    assert first == outcomes(3)
    assert 200 in first and 500 in first
    assert first != outcomes(4)


def test_requests_are_counted_by_target(sb: Sandbox, wms: httpx.Client, shop: httpx.Client) -> None:
    wms.post("/orders", json=wms_order_body("R-COUNT"))
    wms.get("/orders", params={"rql": "referenceNum==R-COUNT"})
    shop.get("/orders.json")
    shop.get("/orders.json")
    counts = sb.requests
    assert counts["wms.token"] == 1
    assert counts["wms.create_order"] == counts["wms.find_orders"] == 1
    assert counts["shop.orders"] == 2


def test_flaky_profile_sometimes_fails() -> None:
    with Sandbox(seed=5, faults_profile="flaky", hang_seconds=0.01) as sb:
        assert len(sb.faults.rules) > 3
        headers = {"X-Shopify-Access-Token": sb.shop_token}
        statuses = []
        with httpx.Client(base_url=sb.shop_api_url, headers=headers) as client:
            for _ in range(200):
                try:
                    statuses.append(client.get("/locations.json").status_code)
                except httpx.TransportError:
                    statuses.append(0)
    assert 0.8 < statuses.count(200) / len(statuses) < 1.0


# --- running ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_throughput_smoke_300_concurrent_posts_with_latency() -> None:
    # Several clients with small pools: one httpx pool with hundreds of connections spends
    # its time scanning itself, and this test is about the sandbox, not httpx.
    with Sandbox(seed=1, latency=0.05) as sb:
        headers = {"Authorization": f"Bearer {wms_token(sb)}"}

        async def burst() -> tuple[list[int], float]:
            clients = [
                httpx.AsyncClient(base_url=sb.wms_url, headers=headers, verify=False, timeout=10)
                for _ in range(10)
            ]
            started = time.monotonic()
            responses = await asyncio.gather(
                *(
                    clients[n % 10].post("/orders", json=wms_order_body(f"T-{n}"))
                    for n in range(300)
                )
            )
            elapsed = time.monotonic() - started
            await asyncio.gather(*(client.aclose() for client in clients))
            return [r.status_code for r in responses], elapsed

        statuses, elapsed = asyncio.run(burst())
        assert sb.requests["wms.create_order"] == 300
    assert statuses == [201] * 300
    assert elapsed < 3.0


async def test_start_async_serves_inside_the_running_loop() -> None:
    async with Sandbox(seed=2) as sb:
        headers = {"X-Shopify-Access-Token": sb.shop_token}
        async with httpx.AsyncClient(base_url=sb.shop_api_url, headers=headers) as client:
            assert (await client.get("/locations.json")).status_code == 200
    with pytest.raises(RuntimeError):
        _ = sb.wms_url


def test_stop_is_quick_even_with_a_request_hanging(sb: Sandbox) -> None:
    sb.faults.add(FaultRule("wms.token", "timeout"))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sb.wms_url}/AuthServer/api/Token", timeout=0.1)
    started = time.monotonic()
    sb.stop()
    assert time.monotonic() - started < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_forever_prints_urls_and_stops_cleanly_on_signal(signum: int, tmp_path: Path) -> None:
    code = "from imtui.sandbox import serve_forever; serve_forever(0, 0, seed=3, orders=5)"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)},
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    banner: dict[str, list[str]] = {}
    while "Ctrl-C" not in banner:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        words = line.split()
        if words:
            banner[words[0]] = words[1:]
    assert "client_secret" in banner
    # the last command printed: open the dashboard on the sandbox's own fresh database
    assert banner["imtui"][0] == "--db" and banner["imtui"][1].startswith(str(tmp_path))
    assert " ".join(banner["5"]) == "go to the WMS on the first poll"  # all five are fine
    shop_url, token = banner["Shop"][0], banner["access"][-1]
    orders = httpx.get(
        f"{shop_url}/admin/api/2024-10/orders.json", headers={"X-Shopify-Access-Token": token}
    )
    assert len(orders.json()["orders"]) == 5
    assert httpx.get(f"{banner['WMS'][0]}/orders").status_code == 401

    process.send_signal(signum)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in stderr


# --- seed data --------------------------------------------------------------------------------


def test_seeded_orders_are_reproducible_and_include_bad_ones() -> None:
    assert make_order(7) == make_order(7)
    assert make_order(7)["shipping_address"] != make_order(8)["shipping_address"]
    assert make_order(1, address=None)["shipping_address"] is None
    assert realistic_orders(50, seed=1) == realistic_orders(50, seed=1)
    orders = realistic_orders(400, seed=1, bad_rate=0.2)
    addresses = [o["shipping_address"] for o in orders]
    assert any(a in BAD_ADDRESSES.values() for a in addresses)
    assert any(o["shipping_lines"][0]["code"] == UNUSUAL_SHIP_METHOD for o in orders)
    assert any(line["sku"] == UNKNOWN_SKU for o in orders for line in o["line_items"])
    stream = order_stream(2, start=100)
    assert next(stream)["name"] == "#1100"
