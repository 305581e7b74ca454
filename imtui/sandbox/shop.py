"""A fake Shopify Admin REST shop: orders with cursor paging, fulfilments, variants, inventory.

:class:`FakeShop` holds the state and the Python API tests use ("add this order", "was it
fulfilled once?"); :func:`build_shop_app` is the HTTP face, shaped as docs/sandbox-contract.md
describes. Like the WMS, state sits behind one lock and stored records are replaced, never
mutated, so dicts handed out are stable snapshots.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imtui.sandbox.clock import Clock, system_clock
from imtui.sandbox.network import ConnectionDropper, Dialect, Network
from imtui.sandbox.wms import DEFAULT_SKUS

API_VERSION = "2024-10"
LOCATION_ID = 7001
MAX_LIMIT = 250
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"

RATE_LIMITED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted "
    "service."
)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"

SHOP_DIALECT = Dialect(
    messages={
        500: "Internal Server Error",
        503: "Service Unavailable",
        429: RATE_LIMITED,
        504: "Gateway Timeout",
    },
    json_errors=True,
    retry_after=lambda seconds: str(float(seconds)),  # Shopify sends "2.0"
)


class ShopRejection(Exception):
    """An error the shop answers with ``{"errors": ...}`` (a string, a list or a dict)."""

    def __init__(self, status: int, errors: str | list[str] | dict[str, list[str]]) -> None:
        super().__init__(str(errors))
        self.status = status
        self.errors = errors


def shop_timestamp(moment: datetime) -> str:
    """``2026-11-26T10:00:00+00:00``, as Shopify writes ``updated_at``."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse_moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- cursor paging ----------------------------------------------------------------------------


def encode_page_info(cursor: Mapping[str, Any]) -> str:
    raw = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_info(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = json.loads(raw)
    except (binascii.Error, ValueError):
        cursor = None
    if not isinstance(cursor, dict):
        raise ShopRejection(400, {"page_info": ["Invalid value."]})
    return cursor


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    previous: dict[str, Any] | None
    next: dict[str, Any] | None


def page_of(
    items: list[dict[str, Any]], cursor: Mapping[str, Any], limit: int, carry: Mapping[str, Any]
) -> Page:
    """Keyset paging on ``id`` (items sorted by id), so records leaving the filtered set between
    pages (a fulfilled order) never make the next page skip one. ``carry`` rides along in the
    cursors: the first page's filters, which later pages cannot repeat."""
    ids = [item["id"] for item in items]
    if cursor.get("before") is not None:
        end = bisect.bisect_left(ids, int(cursor["before"]))
        start = max(0, end - limit)
    else:
        after = cursor.get("after")
        start = 0 if after is None else bisect.bisect_right(ids, int(after))
        end = min(len(items), start + limit)
    chosen = items[start:end]
    if not chosen:
        return Page([], None, None)
    previous = {**carry, "before": chosen[0]["id"]} if start > 0 else None
    following = {**carry, "after": chosen[-1]["id"]} if end < len(items) else None
    return Page(chosen, previous, following)


# --- state ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderFilter:
    status: str = "open"
    fulfillment_status: str | None = None
    updated_at_min: datetime | None = None
    updated_at_max: datetime | None = None

    def admits(self, order: dict[str, Any], updated: datetime) -> bool:
        if self.status not in ("open", "any"):
            return False  # orders here are never closed or cancelled
        state = order.get("fulfillment_status")
        wanted = self.fulfillment_status
        if wanted in ("unfulfilled", "unshipped") and state not in (None, "partial"):
            return False
        if wanted in ("shipped", "fulfilled") and state != "fulfilled":
            return False
        if wanted == "partial" and state != "partial":
            return False
        if self.updated_at_min is not None and updated < self.updated_at_min:
            return False
        return self.updated_at_max is None or updated <= self.updated_at_max

    def carry(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "fulfillment_status": self.fulfillment_status,
            "updated_at_min": self.updated_at_min and self.updated_at_min.isoformat(),
            "updated_at_max": self.updated_at_max and self.updated_at_max.isoformat(),
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> OrderFilter:
        bounds: dict[str, datetime | None] = {}
        for key in ("updated_at_min", "updated_at_max"):
            raw = params.get(key)
            try:
                bounds[key] = _parse_moment(raw) if raw else None
            except ValueError:
                raise ShopRejection(400, {key: ["is not a valid date"]}) from None
        return cls(
            status=params.get("status") or "open",
            fulfillment_status=params.get("fulfillment_status") or None,
            updated_at_min=bounds["updated_at_min"],
            updated_at_max=bounds["updated_at_max"],
        )


class FakeShop:
    """The shop's memory and the knobs tests turn. Safe to use from any thread."""

    def __init__(self, *, seed: int | None = 0, clock: Clock = system_clock) -> None:
        rng = random.Random(f"shop-{seed}")
        self.clock = clock
        self.token = f"shpat_{rng.getrandbits(128):032x}"
        self.rate_limit = False
        """Turn on Shopify's leaky bucket: ``rate_limit_bucket`` calls, drained at 2/s."""
        self.rate_limit_bucket = 40
        self.rate_limit_per_second = 2.0
        self.rate_limited_calls = 0
        """Calls answered 429 because the bucket was full."""
        self._lock = threading.Lock()
        self._revoked = False
        self._orders: dict[int, dict[str, Any]] = {}
        self._updated: dict[int, datetime] = {}
        self._fulfillment_orders: dict[int, dict[str, Any]] = {}
        self._fulfillment_orders_of: dict[int, list[int]] = {}
        self._fulfillments: dict[int, list[dict[str, Any]]] = {}
        self._variants: dict[str, dict[str, Any]] = {}
        self._sku_by_item: dict[int, str] = {}
        self._levels: dict[str, int] = {}
        self._serial = {"order": 0, "line": 0, "fo": 0, "fo_line": 0, "fulfillment": 0}
        self._bucket_level = 0.0
        self._bucket_at = time.monotonic()
        for sku in DEFAULT_SKUS:
            self._add_variant(sku)

    # -- what tests read and steer ------------------------------------------------------------

    def add_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Store an order (see :func:`imtui.sandbox.seed.make_order`); returns it with its
        ``id``, timestamps, line-item ids and variant ids filled in."""
        return self.add_orders([order])[0]

    def add_orders(self, orders: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        with self._lock:
            return [self._store_order(order) for order in orders]

    def order(self, order_id: int | str) -> dict[str, Any] | None:
        with self._lock:
            return self._orders.get(int(order_id))

    @property
    def orders(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return dict(self._orders)

    def fulfillments(self, order_id: int | str) -> list[dict[str, Any]]:
        """Fulfilments created for the order, oldest first."""
        with self._lock:
            return list(self._fulfillments.get(int(order_id), []))

    def inventory(self, sku: str) -> int | None:
        """The available quantity last set for the SKU (None: never set)."""
        with self._lock:
            return self._levels.get(sku)

    def add_variant(self, sku: str) -> dict[str, Any]:
        with self._lock:
            return self._add_variant(sku)

    def variant(self, sku: str) -> dict[str, Any] | None:
        with self._lock:
            return self._variants.get(sku)

    def revoke_token(self) -> None:
        """The access token is rejected (401) from now on, as when the app is uninstalled."""
        self._revoked = True

    def restore_token(self) -> None:
        self._revoked = False

    # -- what the HTTP layer calls ------------------------------------------------------------

    def token_valid(self, token: str | None) -> bool:
        return not self._revoked and token == self.token

    def call_limit(self) -> str:
        """What ``X-Shopify-Shop-Api-Call-Limit`` says: the bucket's level and size."""
        with self._lock:
            drained = (time.monotonic() - self._bucket_at) * self.rate_limit_per_second
            level = max(0.0, self._bucket_level - drained) if self.rate_limit else 0.0
            return f"{math.ceil(level)}/{self.rate_limit_bucket}"

    def take_call(self) -> bool:
        """One call out of the leaky bucket; False when it is full (answer 429)."""
        if not self.rate_limit:
            return True
        with self._lock:
            now = time.monotonic()
            drained = (now - self._bucket_at) * self.rate_limit_per_second
            self._bucket_level = max(0.0, self._bucket_level - drained)
            self._bucket_at = now
            if self._bucket_level + 1 > self.rate_limit_bucket:
                self.rate_limited_calls += 1
                return False
            self._bucket_level += 1
            return True

    def list_orders(self, where: OrderFilter, cursor: Mapping[str, Any], limit: int) -> Page:
        with self._lock:
            matching = [o for i, o in self._orders.items() if where.admits(o, self._updated[i])]
        return page_of(matching, cursor, limit, where.carry())

    def list_variants(self, cursor: Mapping[str, Any], limit: int) -> Page:
        with self._lock:
            variants = sorted(self._variants.values(), key=lambda v: v["id"])
        return page_of(variants, cursor, limit, {})

    def fulfillment_orders_for(self, order_id: int) -> list[dict[str, Any]]:
        with self._lock:
            if order_id not in self._orders:
                raise ShopRejection(404, "Not Found")
            return [self._fulfillment_orders[i] for i in self._fulfillment_orders_of[order_id]]

    def order_of_fulfillment_order(self, fulfillment_order_id: Any) -> int | None:
        with self._lock:
            found = self._fulfillment_orders.get(_as_int(fulfillment_order_id) or -1)
        return None if found is None else found["order_id"]

    def sku_of_item(self, inventory_item_id: Any) -> str | None:
        with self._lock:
            return self._sku_by_item.get(_as_int(inventory_item_id) or -1)

    def fulfill(self, body: Any) -> dict[str, Any]:
        """Create a fulfilment and close its fulfilment orders; raises ShopRejection."""
        request = body.get("fulfillment") if isinstance(body, dict) else None
        if not isinstance(request, dict):
            raise ShopRejection(400, {"fulfillment": ["Required parameter missing or invalid"]})
        groups = request.get("line_items_by_fulfillment_order")
        if not isinstance(groups, list) or not groups:
            field = "line_items_by_fulfillment_order"
            raise ShopRejection(400, {field: ["Required parameter missing or invalid"]})
        tracking = request.get("tracking_info")
        if not isinstance(tracking, dict):
            tracking = {}
        with self._lock:
            chosen: list[dict[str, Any]] = []
            for group in groups:
                fo_id = (
                    _as_int(group.get("fulfillment_order_id")) if isinstance(group, dict) else None
                )
                fulfillment_order = self._fulfillment_orders.get(fo_id or -1)
                if fulfillment_order is None:
                    raise ShopRejection(404, "Not Found")
                if fulfillment_order["status"] != "open":
                    raise ShopRejection(
                        422,
                        [
                            f"Fulfillment order {fo_id} has an unfulfillable status= "
                            f"{fulfillment_order['status']}."
                        ],
                    )
                chosen.append(fulfillment_order)
            order_ids = {fo["order_id"] for fo in chosen}
            if len(order_ids) > 1:
                raise ShopRejection(422, ["All fulfillment orders must belong to the same order."])
            order_id = order_ids.pop()
            return self._record_fulfillment(order_id, chosen, tracking)

    def set_inventory(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ShopRejection(400, "Required parameter missing or invalid")
        values: dict[str, int] = {}
        for key in ("location_id", "inventory_item_id", "available"):
            value = _as_int(body.get(key))
            if value is None:
                raise ShopRejection(400, {key: ["Required parameter missing or invalid"]})
            values[key] = value
        with self._lock:
            sku = self._sku_by_item.get(values["inventory_item_id"])
            if sku is None or values["location_id"] != LOCATION_ID:
                raise ShopRejection(404, "Not Found")
            self._levels[sku] = values["available"]
        return {
            "inventory_level": {
                "inventory_item_id": values["inventory_item_id"],
                "location_id": LOCATION_ID,
                "available": values["available"],
                "updated_at": shop_timestamp(self.clock()),
            }
        }

    # -- internals (caller holds the lock) ----------------------------------------------------

    def _next(self, series: str) -> int:
        self._serial[series] += 1
        return self._serial[series]

    def _add_variant(self, sku: str) -> dict[str, Any]:
        existing = self._variants.get(sku)
        if existing is not None:
            return existing
        serial = len(self._variants) + 1
        variant: dict[str, Any] = {
            "id": 4400000 + serial,
            "product_id": 6600000 + serial,
            "sku": sku,
            "title": "Default Title",
            "inventory_item_id": 8800000 + serial,
            "inventory_management": "shopify",
        }
        self._variants[sku] = variant
        self._sku_by_item[variant["inventory_item_id"]] = sku
        return variant

    def _store_order(self, source: Mapping[str, Any]) -> dict[str, Any]:
        serial = self._next("order")
        order_id = 4500000 + serial
        order = {"id": order_id, **copy.deepcopy(dict(source))}
        now = self.clock()
        raw_updated = order.get("updated_at")
        updated = _parse_moment(raw_updated) if isinstance(raw_updated, str) else now
        if isinstance(raw_updated, datetime):
            updated = raw_updated if raw_updated.tzinfo else raw_updated.replace(tzinfo=UTC)
        order.setdefault("name", f"#{1000 + serial}")
        digits = "".join(ch for ch in str(order["name"]) if ch.isdigit())
        order.setdefault("order_number", int(digits) if digits else 1000 + serial)
        order.update(
            created_at=shop_timestamp(min(now, updated)),
            updated_at=shop_timestamp(updated),
            financial_status=order.get("financial_status", "paid"),
            fulfillment_status=None,
            closed_at=None,
            cancelled_at=None,
        )
        order.setdefault("shipping_address", None)
        for line in order.setdefault("shipping_lines", []):
            line.setdefault("id", 3300000 + self._next("line"))
        fo_id = 9100000 + self._next("fo")
        fo_lines = []
        for line in order.setdefault("line_items", []):
            line["id"] = 1300000 + self._next("line")
            variant = self._add_variant(str(line.get("sku") or ""))
            line["variant_id"] = variant["id"]
            fo_lines.append(
                {
                    "id": 9200000 + self._next("fo_line"),
                    "fulfillment_order_id": fo_id,
                    "line_item_id": line["id"],
                    "inventory_item_id": variant["inventory_item_id"],
                    "variant_id": variant["id"],
                    "quantity": line.get("quantity", 1),
                    "fulfillable_quantity": line.get("quantity", 1),
                }
            )
        self._orders[order_id] = order
        self._updated[order_id] = updated
        self._fulfillment_orders[fo_id] = {
            "id": fo_id,
            "order_id": order_id,
            "status": "open",
            "assigned_location_id": LOCATION_ID,
            "line_items": fo_lines,
        }
        self._fulfillment_orders_of[order_id] = [fo_id]
        return order

    def _record_fulfillment(
        self, order_id: int, chosen: list[dict[str, Any]], tracking: Mapping[str, Any]
    ) -> dict[str, Any]:
        now = self.clock()
        order = copy.deepcopy(self._orders[order_id])
        done = self._fulfillments.setdefault(order_id, [])
        number = tracking.get("number")
        url = tracking.get("url")
        fulfillment = {
            "id": 5600000 + self._next("fulfillment"),
            "order_id": order_id,
            "name": f"{order['name']}.{len(done) + 1}",
            "status": "success",
            "location_id": LOCATION_ID,
            "created_at": shop_timestamp(now),
            "updated_at": shop_timestamp(now),
            "tracking_company": tracking.get("company"),
            "tracking_number": number,
            "tracking_numbers": [number] if number else [],
            "tracking_url": url,
            "tracking_urls": [url] if url else [],
            "line_items": order["line_items"],
        }
        done.append(fulfillment)
        for fulfillment_order in chosen:
            closed = {**fulfillment_order, "status": "closed"}
            self._fulfillment_orders[fulfillment_order["id"]] = closed
        if all(
            self._fulfillment_orders[i]["status"] == "closed"
            for i in self._fulfillment_orders_of[order_id]
        ):
            order["fulfillment_status"] = "fulfilled"
        else:
            order["fulfillment_status"] = "partial"
        order["updated_at"] = shop_timestamp(now)
        self._orders[order_id] = order
        self._updated[order_id] = now
        return fulfillment


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


# --- HTTP -------------------------------------------------------------------------------------

_PAGE_INFO_COMPANIONS = frozenset({"limit", "page_info", "fields"})


def _errors(status: int, errors: Any, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"errors": errors}, status, dict(headers or {}))


def _limit(request: Request, default: int) -> int:
    try:
        value = int(request.query_params.get("limit", default))
    except ValueError:
        raise ShopRejection(400, {"limit": ["is not a number"]}) from None
    return min(max(value, 1), MAX_LIMIT)


def _link_header(request: Request, limit: int, page: Page) -> dict[str, str]:
    base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
    links = []
    if page.previous is not None:
        token = encode_page_info(page.previous)
        links.append(f'<{base}?limit={limit}&page_info={token}>; rel="previous"')
    if page.next is not None:
        links.append(f'<{base}?limit={limit}&page_info={encode_page_info(page.next)}>; rel="next"')
    return {"Link": ", ".join(links)} if links else {}


def _cursor(request: Request) -> dict[str, Any]:
    """The page_info cursor, refusing first-page filters next to it as Shopify does."""
    token = request.query_params.get("page_info")
    if token is None:
        return {}
    extra = sorted(set(request.query_params) - _PAGE_INFO_COMPANIONS)
    if extra:
        raise ShopRejection(
            400, {"page_info": [f"cannot be combined with other parameters: {', '.join(extra)}"]}
        )
    return decode_page_info(token)


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def build_shop_app(shop: FakeShop, network: Network) -> ConnectionDropper:
    """The shop's HTTP face. Every endpoint goes through ``network`` (latency, faults, counts);
    any API version in the path is accepted."""

    def guarded(request: Request, answer: Callable[[], Response]) -> Callable[[], Response]:
        def handle() -> Response:
            if not shop.token_valid(request.headers.get("x-shopify-access-token")):
                return _errors(401, INVALID_TOKEN)
            if not shop.take_call():
                refused = _errors(429, RATE_LIMITED, {"Retry-After": "2.0"})
                refused.headers[CALL_LIMIT_HEADER] = shop.call_limit()
                return refused
            try:
                response = answer()
            except ShopRejection as rejection:
                response = _errors(rejection.status, rejection.errors)
            response.headers[CALL_LIMIT_HEADER] = shop.call_limit()
            return response

        return handle

    async def exchange(
        request: Request, target: str, reference: Any, answer: Callable[[], Response]
    ) -> Response:
        ref = None if reference is None else str(reference)
        return await network.exchange(target, ref, SHOP_DIALECT, guarded(request, answer))

    async def orders(request: Request) -> Response:
        def answer() -> Response:
            limit = _limit(request, 50)
            cursor = _cursor(request)
            where = OrderFilter.from_params(cursor or request.query_params)
            page = shop.list_orders(where, cursor, limit)
            headers = _link_header(request, limit, page)
            return JSONResponse({"orders": page.items}, headers=headers)

        return await exchange(request, "shop.orders", None, answer)

    async def fulfillment_orders(request: Request) -> Response:
        order_id = request.path_params["order_id"]

        def answer() -> Response:
            return JSONResponse({"fulfillment_orders": shop.fulfillment_orders_for(order_id)})

        return await exchange(request, "shop.fulfillment_orders", order_id, answer)

    async def fulfill(request: Request) -> Response:
        body = await _json_body(request)
        groups: Any = []
        if isinstance(body, dict) and isinstance(body.get("fulfillment"), dict):
            groups = body["fulfillment"].get("line_items_by_fulfillment_order") or []
        first = groups[0] if isinstance(groups, list) and groups else None
        order_id = shop.order_of_fulfillment_order(
            first.get("fulfillment_order_id") if isinstance(first, dict) else None
        )

        def answer() -> Response:
            return JSONResponse({"fulfillment": shop.fulfill(body)}, 201)

        return await exchange(request, "shop.fulfill", order_id, answer)

    async def locations(request: Request) -> Response:
        def answer() -> Response:
            location = {"id": LOCATION_ID, "name": "Warehouse", "active": True}
            return JSONResponse({"locations": [location]})

        return await exchange(request, "shop.locations", None, answer)

    async def variants(request: Request) -> Response:
        def answer() -> Response:
            limit = _limit(request, 50)
            page = shop.list_variants(_cursor(request), limit)
            headers = _link_header(request, limit, page)
            return JSONResponse({"variants": page.items}, headers=headers)

        return await exchange(request, "shop.variants", None, answer)

    async def set_inventory(request: Request) -> Response:
        body = await _json_body(request)
        item = body.get("inventory_item_id") if isinstance(body, dict) else None

        def answer() -> Response:
            return JSONResponse(shop.set_inventory(body))

        return await exchange(request, "shop.inventory", shop.sku_of_item(item), answer)

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return _errors(exc.status_code, exc.detail)
        return _errors(500, "Internal Server Error")

    prefix = "/admin/api/{version}"
    app = Starlette(
        exception_handlers={HTTPException: http_error},
        routes=[
            Route(f"{prefix}/orders.json", orders, methods=["GET"]),
            Route(
                f"{prefix}/orders/{{order_id:int}}/fulfillment_orders.json",
                fulfillment_orders,
                methods=["GET"],
            ),
            Route(f"{prefix}/fulfillments.json", fulfill, methods=["POST"]),
            Route(f"{prefix}/locations.json", locations, methods=["GET"]),
            Route(f"{prefix}/variants.json", variants, methods=["GET"]),
            Route(f"{prefix}/inventory_levels/set.json", set_inventory, methods=["POST"]),
        ],
    )
    return ConnectionDropper(app)
