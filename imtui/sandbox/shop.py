"""A fake Shopify shop: orders with cursor paging, fulfilments, variants, inventory.

:class:`FakeShop` holds the state and the Python API tests use ("add this order", "was it
fulfilled once?"); :func:`build_shop_app` is the HTTP face, shaped as docs/sandbox-contract.md
describes: the Admin GraphQL API (``graphql.json``, see :mod:`imtui.sandbox.shop_graphql`) and
the legacy REST endpoints beside it, over the same state. Like the WMS, state sits behind one
lock and stored records are replaced, never mutated, so dicts handed out are stable snapshots.
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
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imtui.sandbox import shop_graphql as gql
from imtui.sandbox.clock import Clock, system_clock
from imtui.sandbox.network import ConnectionDropper, Dialect, Network
from imtui.sandbox.wms import DEFAULT_SKUS

API_VERSION = "2026-10"
"""The Admin API version the sandbox names (any version in a path is accepted)."""
LOCATION_ID = 7001
SHOP_DOMAIN = "sandbox.myshopify.com"
MAX_LIMIT = 250
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"

RATE_LIMITED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted "
    "service."
)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
SHOP_FROZEN = "Unavailable Shop"
"""402 Payment Required: the shop's plan is frozen until its bill is paid."""
SHOP_LOCKED = "This shop is unavailable"
"""423 Locked: Shopify locked the shop (fraud, repeated abuse); only Shopify support unlocks it."""

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
            return False  # orders here are never closed
        if self.status == "open" and order.get("cancelled_at"):
            return False
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
        """Calls answered 429 (REST) or THROTTLED (GraphQL) because the bucket was full."""
        self.cost_bucket = gql.CostBucket()
        """The GraphQL cost bucket (1,000 points restoring 50 a second; set ``maximum`` and
        ``restore_rate`` to change it). Metered only while ``rate_limit`` is on: otherwise every
        answer reports it full, as a shop nobody else calls."""
        self.points_spent = 0.0
        """The actual cost of every GraphQL query answered, in all (what the bucket kept)."""
        self.throttled_at: list[float] = []
        """``time.monotonic()`` of each THROTTLED answer."""
        self.missing_scopes: set[str] = set()
        """Access scopes the app was not granted (``"write_inventory"``…): root fields that need
        one answer ACCESS_DENIED."""
        self.name = "Sandbox Shop"
        """The shop's name, as ``shop.json`` and GraphQL ``shop { name }`` give it."""
        self.frozen = False
        """The shop's plan is frozen (unpaid): every call answers 402."""
        self.locked = False
        """The shop is locked: every call answers 423."""
        self.before_inventory_set: Callable[[str], None] | None = None
        """Called with the SKU just before ``inventorySetQuantities`` compares and sets: a test
        changes the level there, as a person in the admin would between our read and write."""
        self.inventory_sets: Counter[str] = Counter()
        """``inventorySetQuantities`` changes applied, by SKU (replays are not counted)."""
        self._idempotent: dict[str, tuple[str, dict[str, Any]]] = {}
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

    def cancel_order(self, order_id: int | str, when: datetime | None = None) -> dict[str, Any]:
        """Cancel the order (``cancelled_at`` set, ``updated_at`` bumped), as the admin does."""
        with self._lock:
            key = int(order_id)
            now = when or self.clock()
            order = {**self._orders[key], "cancelled_at": shop_timestamp(now)}
            order["updated_at"] = shop_timestamp(now)
            self._orders[key] = order
            self._updated[key] = now
            return order

    def update_order(
        self,
        order_id: int | str,
        *,
        shipping_address: Mapping[str, str] | None = None,
        line_quantity: int | None = None,
        ship_method: str | None = None,
        when: datetime | None = None,
    ) -> dict[str, Any]:
        """Change the order as a merchant does in the admin (``updated_at`` bumped): address
        fields merged in, every line's quantity, or the ship method's code and title."""
        with self._lock:
            key = int(order_id)
            now = when or self.clock()
            order = copy.deepcopy(self._orders[key])
            if shipping_address is not None:
                order["shipping_address"] = {
                    **(order.get("shipping_address") or {}),
                    **shipping_address,
                }
            if line_quantity is not None:
                for line in order["line_items"]:
                    line["quantity"] = line_quantity
            if ship_method is not None:
                order["shipping_lines"] = [{"code": ship_method, "title": ship_method}]
            order["updated_at"] = shop_timestamp(now)
            self._orders[key] = order
            self._updated[key] = now
            return order

    def idempotency_keys(self) -> list[str]:
        """Every ``@idempotent`` key an applied or refused mutation arrived with, oldest first."""
        with self._lock:
            return list(self._idempotent)

    def set_available(self, sku: str, available: int) -> None:
        """Set the level directly, as a person in the admin would."""
        with self._lock:
            self._add_variant(sku)
            self._levels[sku] = available

    def revoke_token(self) -> None:
        """The access token is rejected (401) from now on, as when the app is uninstalled."""
        self._revoked = True

    def restore_token(self) -> None:
        self._revoked = False

    # -- what the HTTP layer calls ------------------------------------------------------------

    def note_cost(self, actual: Any) -> None:
        if isinstance(actual, int | float):
            with self._lock:
                self.points_spent += actual

    def note_throttled(self) -> None:
        with self._lock:
            self.rate_limited_calls += 1
            self.throttled_at.append(time.monotonic())

    def graphql_target(self, prepared: gql.Prepared) -> tuple[str, str | None]:
        """The fault target and reference of a GraphQL request, named as for REST: what a
        FaultRule for ``shop.orders``, ``shop.fulfill`` (an order id), ``shop.inventory`` (a
        SKU)… matches."""
        if not prepared.root_fields:
            return "shop.graphql", None
        name = prepared.root_fields[0].name.value
        args = prepared.arguments[0]
        if name == "orders":
            return "shop.orders", None
        if name == "order":
            number = gql.gid_number(args.get("id"), "Order")
            wanted = {f.name.value for f in gql.subfields(prepared, prepared.root_fields[0])}
            target = "shop.fulfillment_orders" if "fulfillmentOrders" in wanted else "shop.orders"
            return target, None if number is None else str(number)
        if name in ("productVariants", "inventoryItems"):
            skus = [t.value for t in gql.parse_search(args.get("query")) if t.name == "sku"]
            return "shop.variants", skus[0] if skus else None
        if name in ("locations", "location"):
            return "shop.locations", None
        if name == "shop":
            return "shop.shop", None
        if name == "fulfillmentCreate":
            groups = (args.get("fulfillment") or {}).get("lineItemsByFulfillmentOrder") or []
            first = (
                gql.gid_number(groups[0].get("fulfillmentOrderId"), "FulfillmentOrder")
                if groups
                else None
            )
            order_id = None if first is None else self.order_of_fulfillment_order(first)
            return "shop.fulfill", None if order_id is None else str(order_id)
        if name == "inventorySetQuantities":
            quantities = (args.get("input") or {}).get("quantities") or []
            item = (
                gql.gid_number(quantities[0].get("inventoryItemId"), "InventoryItem")
                if quantities
                else None
            )
            return "shop.inventory", None if item is None else self.sku_of_item(item)
        return "shop.graphql", None

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

    # -- the GraphQL face's resolvers ------------------------------------------------------------

    def graphql_root(self) -> dict[str, Callable[..., Any]]:
        """Root fields of QueryRoot and Mutation → resolvers (graphql-core calls a callable
        field value with ``(info, **arguments)``)."""
        return {
            "orders": self._gql_orders,
            "order": self._gql_order,
            "productVariants": self._gql_variants,
            "inventoryItems": self._gql_inventory_items,
            "locations": lambda info, **page: gql.connection([(LOCATION_ID, _location())], **page),
            "location": lambda info, id=None: _location(),
            "shop": lambda info: {
                "id": gid_shop(),
                "name": self.name,
                "myshopifyDomain": SHOP_DOMAIN,
            },
            "fulfillmentCreate": self._gql_fulfillment_create,
            "inventorySetQuantities": self._gql_inventory_set,
        }

    def _gql_orders(self, info: Any, *, query: str | None = None, **page: Any) -> dict[str, Any]:
        terms = gql.parse_search(query)
        by_update = page.pop("sortKey", "ID") == "UPDATED_AT"
        with self._lock:
            chosen: list[tuple[Any, dict[str, Any]]] = [
                (
                    [int(self._updated[order_id].timestamp() * 1_000_000), order_id]
                    if by_update
                    else order_id,
                    order,
                )
                for order_id, order in sorted(self._orders.items())
                if _order_matches(order, self._updated[order_id], terms)
            ]
        if by_update:
            chosen.sort(key=lambda pair: pair[0])
        if page.pop("reverse", False):
            chosen.reverse()
        return gql.connection(chosen, node=self._locked_order_node, **page)

    def _locked_order_node(self, order: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._order_node(order)

    def _gql_order(self, info: Any, *, id: str) -> dict[str, Any] | None:
        number = gql.gid_number(id, "Order")
        with self._lock:
            order = self._orders.get(number or -1)
            return None if order is None else self._order_node(order)

    def _order_node(self, order: dict[str, Any]) -> dict[str, Any]:
        """The GraphQL Order for a stored (REST-shaped) order; caller holds the lock."""
        order_id = order["id"]
        address = order.get("shipping_address")
        lines = order.get("shipping_lines") or []
        fo_ids = list(self._fulfillment_orders_of.get(order_id, []))
        fulfillment_orders = [self._fulfillment_orders[i] for i in fo_ids]
        line_items = [
            (
                line["id"],
                {
                    "id": gql.gid("LineItem", line["id"]),
                    "sku": line.get("sku"),
                    "name": str(line.get("title") or line.get("sku") or ""),
                    "title": str(line.get("title") or line.get("sku") or ""),
                    "quantity": line.get("quantity", 1),
                },
            )
            for line in order.get("line_items") or []
        ]
        return {
            "id": gql.gid("Order", order_id),
            "legacyResourceId": str(order_id),
            "name": order["name"],
            "createdAt": _graphql_time_of(order.get("created_at")),
            "updatedAt": _graphql_time_of(order.get("updated_at")),
            "cancelledAt": _graphql_time_of(order.get("cancelled_at")),
            "cancelReason": "CUSTOMER" if order.get("cancelled_at") else None,
            "closed": bool(order.get("closed_at")),
            "closedAt": _graphql_time_of(order.get("closed_at")),
            "email": order.get("email"),
            "displayFulfillmentStatus": _DISPLAY_STATUS.get(
                order.get("fulfillment_status"), "UNFULFILLED"
            ),
            "shippingAddress": None if not isinstance(address, dict) else _mailing(address),
            "shippingLine": None
            if not lines
            else {
                "id": gql.gid("ShippingLine", lines[0].get("id", 0)),
                "code": lines[0].get("code"),
                "title": str(lines[0].get("title") or ""),
                "source": "shopify",
            },
            "lineItems": lambda info, **page: gql.connection(line_items, **page),
            "fulfillmentOrders": lambda info, query=None, **page: gql.connection(
                [(fo["id"], _fulfillment_order_node(fo)) for fo in fulfillment_orders], **page
            ),
        }

    def _gql_variants(self, info: Any, *, query: str | None = None, **page: Any) -> dict[str, Any]:
        return gql.connection(
            [(v["id"], self._variant_node(v)) for v in self._variants_matching(query)], **page
        )

    def _gql_inventory_items(
        self, info: Any, *, query: str | None = None, **page: Any
    ) -> dict[str, Any]:
        return gql.connection(
            [
                (v["inventory_item_id"], self._variant_node(v)["inventoryItem"])
                for v in self._variants_matching(query)
            ],
            **page,
        )

    def _variants_matching(self, query: str | None) -> list[dict[str, Any]]:
        skus = [t.value for t in gql.parse_search(query) if t.name == "sku" and not t.negated]
        with self._lock:
            variants = sorted(self._variants.values(), key=lambda v: v["id"])
        return [v for v in variants if not skus or v["sku"] in skus]

    def _variant_node(self, variant: dict[str, Any]) -> dict[str, Any]:
        sku = variant["sku"]
        item = {
            "id": gql.gid("InventoryItem", variant["inventory_item_id"]),
            "sku": sku,
            "tracked": True,
            "inventoryLevel": lambda info, locationId: self._level_node(sku, locationId),
        }
        return {
            "id": gql.gid("ProductVariant", variant["id"]),
            "sku": sku,
            "title": variant.get("title", "Default Title"),
            "inventoryItem": item,
        }

    def _level_node(self, sku: str, location_id: str) -> dict[str, Any] | None:
        if gql.gid_number(location_id, "Location") != LOCATION_ID:
            return None
        with self._lock:
            available = self._levels.get(sku, 0)
        return {
            "id": f"gid://shopify/InventoryLevel/{LOCATION_ID}?inventory_item_id={sku}",
            "location": _location(),
            "quantities": lambda info, names: [
                {
                    "id": f"gid://shopify/InventoryQuantity/{sku}/{name}",
                    "name": name,
                    "quantity": available if name in ("available", "on_hand") else 0,
                }
                for name in names
            ],
        }

    def _gql_fulfillment_create(
        self, info: Any, *, fulfillment: dict[str, Any], message: str | None = None
    ) -> dict[str, Any]:
        groups = fulfillment.get("lineItemsByFulfillmentOrder") or []
        ids = [gql.gid_number(g.get("fulfillmentOrderId"), "FulfillmentOrder") for g in groups]
        for index, fo_id in enumerate(ids):
            if fo_id is None or self.order_of_fulfillment_order(fo_id) is None:
                field = [
                    "fulfillment",
                    "lineItemsByFulfillmentOrder",
                    str(index),
                    "fulfillmentOrderId",
                ]
                return _user_errors(field, "Fulfillment order does not exist.")
        tracking = fulfillment.get("trackingInfo") or {}
        rest_body = {
            "fulfillment": {
                "line_items_by_fulfillment_order": [{"fulfillment_order_id": i} for i in ids],
                "tracking_info": {
                    "number": tracking.get("number"),
                    "company": tracking.get("company"),
                    "url": tracking.get("url"),
                },
                "notify_customer": bool(fulfillment.get("notifyCustomer")),
            }
        }
        try:
            done = self.fulfill(rest_body)
        except ShopRejection as rejection:
            words = rejection.errors
            text = "; ".join(words) if isinstance(words, list) else str(words)
            return _user_errors(
                ["fulfillment"],
                text.replace(
                    "Fulfillment order ", "Fulfillment order gid://shopify/FulfillmentOrder/"
                ),
            )
        return {
            "fulfillment": {
                "id": gql.gid("Fulfillment", done["id"]),
                "name": done["name"],
                "status": "SUCCESS",
                "createdAt": _graphql_time_of(done["created_at"]),
                "trackingInfo": lambda info, first=None: [
                    {
                        "company": done["tracking_company"],
                        "number": number,
                        "url": done["tracking_url"],
                    }
                    for number in done["tracking_numbers"]
                ],
            },
            "userErrors": [],
        }

    def _gql_inventory_set(self, info: Any, *, input: dict[str, Any]) -> dict[str, Any]:
        key = gql.idempotency_key(info.field_nodes[0], info.variable_values)
        if key is None:
            raise gql.GraphQLError(
                "The @idempotent directive with a key is required for inventorySetQuantities "
                "from API version 2026-04."
            )
        fingerprint = json.dumps(input, sort_keys=True, default=str)
        with self._lock:
            seen = self._idempotent.get(key)
        if seen is not None:
            if seen[0] != fingerprint:
                return _inventory_errors(
                    ["input"],
                    "The same idempotency key cannot be used with different operation parameters.",
                    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                )
            return seen[1]  # a repeat: the first answer, nothing applied again
        answer = self._set_quantities(input)
        with self._lock:
            self._idempotent.setdefault(key, (fingerprint, answer))
        return answer

    def _set_quantities(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("name")
        if name not in ("available", "on_hand"):
            return _inventory_errors(
                ["input", "name"],
                "The quantity name must be either 'available' or 'on_hand'.",
                "INVALID_NAME",
            )
        if not str(request.get("reason") or "").strip():
            return _inventory_errors(
                ["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"
            )
        quantities = request.get("quantities") or []
        ignore_compare = bool(request.get("ignoreCompareQuantity"))
        planned: list[tuple[str, int, int]] = []
        for index, entry in enumerate(quantities):
            at = ["input", "quantities", str(index)]
            item = gql.gid_number(entry.get("inventoryItemId"), "InventoryItem")
            sku = self.sku_of_item(item) if item is not None else None
            if sku is None:
                return _inventory_errors(
                    [*at, "inventoryItemId"],
                    "The specified inventory item could not be found.",
                    "INVALID_INVENTORY_ITEM",
                )
            if gql.gid_number(entry.get("locationId"), "Location") != LOCATION_ID:
                return _inventory_errors(
                    [*at, "locationId"],
                    "The specified location could not be found.",
                    "INVALID_LOCATION",
                )
            quantity = entry["quantity"]
            if quantity > 1_000_000_000:
                return _inventory_errors(
                    [*at, "quantity"],
                    "The total quantity can't be higher than 1,000,000,000.",
                    "INVALID_QUANTITY_TOO_HIGH",
                )
            if quantity < -1_000_000_000:
                return _inventory_errors(
                    [*at, "quantity"],
                    "The total quantity can't be lower than -1,000,000,000.",
                    "INVALID_QUANTITY_TOO_LOW",
                )
            if "changeFromQuantity" not in entry and not ignore_compare:
                return _inventory_errors(
                    [*at, "changeFromQuantity"],
                    "The changeFromQuantity argument must be given to each quantity.",
                    "COMPARE_QUANTITY_REQUIRED",
                )
            if self.before_inventory_set is not None:
                self.before_inventory_set(sku)
            with self._lock:
                current = self._levels.get(sku, 0)
            expected = entry.get("changeFromQuantity")
            if expected is not None and expected != current:
                return _inventory_errors(
                    [*at, "changeFromQuantity"],
                    "The changeFromQuantity value does not match persisted value.",
                    "CHANGE_FROM_QUANTITY_STALE",
                )
            planned.append((sku, quantity, current))
        changes = []
        with self._lock:
            for sku, quantity, current in planned:
                self._levels[sku] = quantity
                self.inventory_sets[sku] += 1
                changes.append(
                    {
                        "name": name,
                        "delta": quantity - current,
                        "quantityAfterChange": quantity,
                        "item": None,
                        "location": _location(),
                    }
                )
            group = self._next("fulfillment")
        return {
            "inventoryAdjustmentGroup": {
                "id": gql.gid("InventoryAdjustmentGroup", 7700000 + group),
                "reason": request.get("reason"),
                "createdAt": gql.graphql_time(self.clock()),
                "changes": changes,
            },
            "userErrors": [],
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


_DISPLAY_STATUS = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED"}
_FO_STATUS = {"open": "OPEN", "in_progress": "IN_PROGRESS", "closed": "CLOSED"}
_COUNTRIES = frozenset(
    {"AU", "CA", "DE", "FR", "GB", "MX", "NL", "US"}
)  # the CountryCode values shopify.graphql declares


def gid_shop() -> str:
    return gql.gid("Shop", 1)


def _location() -> dict[str, Any]:
    return {"id": gql.gid("Location", LOCATION_ID), "name": "Warehouse", "isActive": True}


def _graphql_time_of(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return gql.graphql_time(_parse_moment(value))


def _mailing(address: Mapping[str, Any]) -> dict[str, Any]:
    country = str(address.get("country_code") or "").upper()
    return {
        "id": gql.gid("MailingAddress", abs(hash(json.dumps(address, sort_keys=True))) % 10**9),
        "name": address.get("name"),
        "firstName": None,
        "lastName": None,
        "company": address.get("company"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province": None,
        "provinceCode": address.get("province_code"),
        "zip": address.get("zip"),
        "country": None,
        "countryCodeV2": country if country in _COUNTRIES else None,
        "phone": address.get("phone"),
    }


def _fulfillment_order_node(fulfillment_order: dict[str, Any]) -> dict[str, Any]:
    lines = [
        (
            line["id"],
            {
                "id": gql.gid("FulfillmentOrderLineItem", line["id"]),
                "sku": None,
                "totalQuantity": line["quantity"],
                "remainingQuantity": 0
                if fulfillment_order["status"] == "closed"
                else line["fulfillable_quantity"],
            },
        )
        for line in fulfillment_order["line_items"]
    ]
    return {
        "id": gql.gid("FulfillmentOrder", fulfillment_order["id"]),
        "status": _FO_STATUS.get(fulfillment_order["status"], "OPEN"),
        "orderId": gql.gid("Order", fulfillment_order["order_id"]),
        "lineItems": lambda info, **page: gql.connection(lines, **page),
    }


def _user_errors(field: list[str], message: str) -> dict[str, Any]:
    return {"fulfillment": None, "userErrors": [{"field": field, "message": message}]}


def _inventory_errors(field: list[str], message: str, code: str) -> dict[str, Any]:
    return {
        "inventoryAdjustmentGroup": None,
        "userErrors": [{"field": field, "message": message, "code": code}],
    }


def _order_matches(order: dict[str, Any], updated: datetime, terms: list[gql.SearchTerm]) -> bool:
    """Shopify's order search: ``updated_at``/``created_at`` comparisons, ``status`` (open,
    closed, cancelled, not_closed, any), ``fulfillment_status`` (unfulfilled/unshipped,
    partial, shipped/fulfilled, any), ``id``; other fields are ignored, as Shopify does."""
    for term in terms:
        result: bool | None = None
        if term.name in ("updated_at", "created_at"):
            moment = gql.search_moment(term.value)
            if moment is None:
                continue  # Shopify ignores a date it cannot read (and warns)
            mine = updated if term.name == "updated_at" else _parse_moment(order["created_at"])
            result = gql.compares(mine, term.op, moment)
        elif term.name == "status":
            cancelled = bool(order.get("cancelled_at"))
            closed = bool(order.get("closed_at"))
            result = {
                "open": not cancelled and not closed,
                "cancelled": cancelled,
                "closed": closed,
                "not_closed": not closed,
                "any": True,
            }.get(term.value.lower(), True)
        elif term.name == "fulfillment_status":
            state = order.get("fulfillment_status")
            result = {
                "unfulfilled": state in (None, "partial"),
                "unshipped": state is None,
                "partial": state == "partial",
                "shipped": state == "fulfilled",
                "fulfilled": state == "fulfilled",
                "any": True,
            }.get(term.value.lower(), True)
        elif term.name == "id" and term.value.isdigit():
            result = gql.compares(order["id"], term.op, int(term.value))
        if result is not None and result == term.negated:
            return False
    return True


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
            refused = _refusal(request)
            if refused is not None:
                return refused
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

    def _refusal(request: Request) -> Response | None:
        """What the shop answers before looking at the request: a bad token, a frozen or a
        locked shop."""
        if not shop.token_valid(request.headers.get("x-shopify-access-token")):
            return _errors(401, INVALID_TOKEN)
        if shop.frozen:
            return _errors(402, SHOP_FROZEN)
        if shop.locked:
            return _errors(423, SHOP_LOCKED)
        return None

    async def graphql(request: Request) -> Response:
        body = await _json_body(request)
        prepared: gql.Prepared | None = None
        refused: list[dict[str, Any]] = []
        try:
            prepared = gql.prepare(body)
        except gql.Refused as refusal:
            refused = refusal.errors
        target, reference = (
            ("shop.graphql", None) if prepared is None else shop.graphql_target(prepared)
        )

        def answer() -> Response:
            denied = _refusal(request)
            if denied is not None:
                return denied
            if prepared is None:
                return JSONResponse({"errors": refused})
            answered = gql.run(
                prepared,
                shop.graphql_root(),
                bucket=shop.cost_bucket,
                metered=shop.rate_limit,
                missing_scopes=shop.missing_scopes,
                on_throttled=shop.note_throttled,
            )
            shop.note_cost(answered.get("extensions", {}).get("cost", {}).get("actualQueryCost"))
            return JSONResponse(answered)

        def special(fault: str, retry_after: float) -> Response | None:
            if fault == "internal_error":
                return JSONResponse(gql.internal_error_body())
            if fault != "throttled":
                return None
            requested = 0 if prepared is None else gql.requested_cost(prepared)
            bucket = shop.cost_bucket
            status = {
                "maximumAvailable": float(bucket.maximum),
                "currentlyAvailable": max(0, int(requested - retry_after * bucket.restore_rate)),
                "restoreRate": float(bucket.restore_rate),
            }
            shop.note_throttled()
            return JSONResponse(gql.throttled_body(requested, status))

        dialect = replace(SHOP_DIALECT, special=special)
        return await network.exchange(target, reference, dialect, answer)

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

    async def shop_json(request: Request) -> Response:
        def answer() -> Response:
            about = {"id": 1, "name": shop.name, "myshopify_domain": SHOP_DOMAIN}
            return JSONResponse({"shop": about})

        return await exchange(request, "shop.shop", None, answer)

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return _errors(exc.status_code, exc.detail)
        return _errors(500, "Internal Server Error")

    prefix = "/admin/api/{version}"
    app = Starlette(
        exception_handlers={HTTPException: http_error},
        routes=[
            Route(f"{prefix}/graphql.json", graphql, methods=["POST"]),
            Route(f"{prefix}/orders.json", orders, methods=["GET"]),
            Route(
                f"{prefix}/orders/{{order_id:int}}/fulfillment_orders.json",
                fulfillment_orders,
                methods=["GET"],
            ),
            Route(f"{prefix}/fulfillments.json", fulfill, methods=["POST"]),
            Route(f"{prefix}/shop.json", shop_json, methods=["GET"]),
            Route(f"{prefix}/locations.json", locations, methods=["GET"]),
            Route(f"{prefix}/variants.json", variants, methods=["GET"]),
            Route(f"{prefix}/inventory_levels/set.json", set_inventory, methods=["POST"]),
        ],
    )
    return ConnectionDropper(app)
