"""The Shopify Admin GraphQL connector (order source), platform ``shopify``.

Every call is ``POST /admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``; the
version is pinned (:data:`DEFAULT_API_VERSION`) and a connection may name another with its
``api_version`` setting. The legacy REST connector is :mod:`imtui.connectors.shopify_rest`.

- Orders in: ``orders(query: "fulfillment_status:unfulfilled updated_at:>='…'")`` paged by
  cursor; cancelled orders come too, with ``cancelledAt``.
- Tracking out: the order's ``fulfillmentOrders``, then ``fulfillmentCreate``. An order whose
  fulfillment orders are all closed is already fulfilled: a DUPLICATE (done), which makes
  resending after a lost answer safe.
- Stock out: the inventory item and its available quantity by SKU, then
  ``inventorySetQuantities`` with ``changeFromQuantity`` (compare-and-set) under
  ``@idempotent(key:)``. A stale compare value is read again and tried once more.
- Throttling: every answer's ``extensions.cost.throttleStatus`` feeds the connection's
  :class:`~imtui.connectors.pacing.CallPacer`, which holds each query until the bucket has its
  requested cost, so a steady imtui is not THROTTLED; a THROTTLED answer pauses the connection
  for the restore time and the query is made again.

Shopify's token does not expire, so there is nothing to refresh: a 401 is a credentials problem
at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from datetime import datetime
from typing import Any

import httpx

from imtui.connectors.base import (
    Address,
    FulfillmentRequest,
    OrderLine,
    PageHandler,
    SourceOrder,
)
from imtui.connectors.errors import (
    CallKind,
    UnexpectedShape,
    as_duplicate,
    failure_from_graphql_errors,
    failure_from_graphql_status,
    failure_from_user_errors,
    graphql_error_codes,
    graphql_error_words,
    list_of,
    parse_retry_after,
    shape_problem,
)
from imtui.connectors.http_connection import HttpConnection
from imtui.connectors.json_fields import as_utc, lookup, parse_timestamp, text
from imtui.connectors.pacing import CallPacer, Paused, ThrottleStatus
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass

DEFAULT_API_VERSION = "2026-10"
"""The stable Admin API version imtui is written against: ``changeFromQuantity`` (2026-01+)
and a mandatory ``@idempotent`` on inventory mutations (2026-04+) are modelled as it has them."""

BUCKET_SIZE = 1000.0
RESTORE_RATE = 50.0
"""Shopify's standard GraphQL bucket until the first answer says otherwise (Plus is larger)."""

HEADROOM_POINTS = 20.0
"""Points left unused: room for another worker of the same app and for clock skew between our
model and the shop's bucket."""

LONGEST_THROTTLE_WAITED = 25.0
"""A THROTTLED answer asks for at most a full bucket's restore (20 s at 50/s) when nobody else
drains it: waited out; past this the call fails as rate limited, retried next cycle."""

THROTTLED_TRIES = 3
"""THROTTLED (or 429) answers met by one call before it fails as rate limited."""

ORDERS_PAGE = 40
LINE_ITEMS_PAGE = 10
"""Orders per page and line items per order in the listing (an order with more has the rest
read after). One order is priced 1 + 1 (address) + 1 (shipping line) + 2 + 10 (line items) = 15
points, so a page asks for 2 + 40 × 15 = 602: under the 1,000-point single-query limit, and low
enough that a page goes out long before the bucket is full again — the shop keeps only the
actual cost (about 7 points an order), and the pacer waits on that."""

MUTATION_COST = 10
FULFILLMENT_ORDERS_PAGE = 20
STOCK_MATCHES = 2

FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})
STALE_CODES = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})

INVENTORY_REASON = "correction"
"""``inventorySetQuantities`` reason: the WMS count corrects the shop's."""

ORDERS_QUERY = f"""
query ImtuiOrders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id
      legacyResourceId
      name
      updatedAt
      cancelledAt
      displayFulfillmentStatus
      shippingAddress {{
        name company address1 address2 city provinceCode zip countryCodeV2 phone
      }}
      shippingLine {{ code title }}
      lineItems(first: {LINE_ITEMS_PAGE}) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ sku quantity }}
      }}
    }}
  }}
}}
"""

MORE_LINE_ITEMS_QUERY = """
query ImtuiOrderLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 250, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { sku quantity }
    }
  }
}
"""

FULFILLMENT_ORDERS_QUERY = f"""
query ImtuiFulfillmentOrders($id: ID!) {{
  order(id: $id) {{
    id
    fulfillmentOrders(first: {FULFILLMENT_ORDERS_PAGE}) {{ nodes {{ id status }} }}
  }}
}}
"""

FULFILL_MUTATION = """
mutation ImtuiFulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""

LOCATION_QUERY = """
query ImtuiLocation {
  locations(first: 1) { nodes { id isActive } }
}
"""

STOCK_QUERY = f"""
query ImtuiStock($query: String!, $location: ID!) {{
  inventoryItems(first: {STOCK_MATCHES}, query: $query) {{
    nodes {{
      id
      sku
      inventoryLevel(locationId: $location) {{
        quantities(names: ["available"]) {{ name quantity }}
      }}
    }}
  }}
}}
"""

SHOP_QUERY = """
query ImtuiShop {
  shop { name myshopifyDomain }
}
"""

SET_STOCK_MUTATION = """
mutation ImtuiSetStock($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field code message }
  }
}
"""

ESTIMATED_COSTS: dict[str, float] = {
    "ImtuiOrders": 2 + ORDERS_PAGE * (3 + 2 + LINE_ITEMS_PAGE),
    "ImtuiOrderLines": 1 + 2 + 250,
    "ImtuiFulfillmentOrders": 1 + 2 + FULFILLMENT_ORDERS_PAGE,
    "ImtuiFulfil": 10,
    "ImtuiLocation": 2 + 1,
    "ImtuiStock": 2 + STOCK_MATCHES * 3,
    "ImtuiSetStock": 10,
    "ImtuiShop": 1,
}
"""Each query's requested cost by Shopify's rules, until an answer's ``requestedQueryCost``
says what the shop counts (then that is used)."""


class ShopifySource:
    """An :class:`~imtui.connectors.base.OrderSource` over the Shopify Admin GraphQL API."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        max_connections: int = 10,
        deadline: float | None = None,
        max_body: int | None = None,
    ) -> None:
        self.api_version = api_version
        self._http = HttpConnection(
            base_url,
            headers={
                "X-Shopify-Access-Token": access_token,
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
            deadline=deadline,
            max_body=max_body,
            secrets=(access_token,),
        )
        # It waits in real time, whatever ``clock`` says.
        self.pacer = CallPacer(
            time.monotonic,
            capacity=BUCKET_SIZE,
            rate=RESTORE_RATE,
            headroom=HEADROOM_POINTS,
            longest_pause=LONGEST_THROTTLE_WAITED,
        )
        self._costs = dict(ESTIMATED_COSTS)
        self._location_id: str | None = None
        self._location_lock = asyncio.Lock()
        self.throttled = 0
        """THROTTLED answers met (for benchmarks and tests)."""

    # --- OrderSource -----------------------------------------------------------------------------

    async def list_unfulfilled_orders(
        self, updated_since: datetime | None, *, on_page: PageHandler | None = None
    ) -> list[SourceOrder]:
        """Every unfulfilled order updated since the watermark, across all pages, oldest update
        first; cancelled ones included, with their ``cancelled_at``. With ``on_page`` each page
        is handed over as it arrives (and nothing is returned): a first download of thousands
        of orders, paced by the shop's bucket, keeps what it got if its deadline ends it."""
        search = "fulfillment_status:unfulfilled"
        if updated_since is not None:
            stamp = as_utc(updated_since).strftime("%Y-%m-%dT%H:%M:%SZ")
            search = f"{search} updated_at:>='{stamp}'"
        orders: list[SourceOrder] = []
        after: str | None = None
        seen: set[str] = set()
        while True:
            variables = {"first": ORDERS_PAGE, "after": after, "query": search}
            response, data = await self._query("ImtuiOrders", ORDERS_QUERY, variables)
            try:
                connection = _required(data, "orders")
                nodes = list_of(connection, "nodes")
                parsed = [(_parse_order(node), node) for node in nodes]
                has_next, after = _page_info(connection)
            except Exception as exc:  # any parse failure is the body's fault (shape_problem)
                raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
            page = []
            for order, node in parsed:
                if lookup(node, "lineItems.pageInfo.hasNextPage") is True:
                    order = await self._with_all_lines(order, node)
                page.append(order)
            if on_page is not None:
                await on_page(page)
            else:
                orders.extend(page)
            if not has_next:
                return orders
            if not after or after in seen:
                raise self._http.unreadable(
                    response, CallKind.READ, f"the next-page cursor repeats or is empty: {after!r}"
                )
            seen.add(after)

    async def create_fulfillment(self, request: FulfillmentRequest) -> str:
        """Fulfil every open fulfillment order of the order with the tracking number.

        Raises a DUPLICATE-class failure when the shop already shows the order fulfilled,
        whether we see that before sending or from the shop's userErrors afterwards.
        ``request.extra`` may carry ``tracking_url`` and ``notify_customer`` ("true").
        """
        look, fulfil = self._costs["ImtuiFulfillmentOrders"], self._costs["ImtuiFulfil"]
        async with self.pacer.back_to_back(look + fulfil):  # the look and the fulfilment
            return await self._fulfil(request)

    async def set_inventory_level(
        self, sku: str, available: int, *, idempotency_key: str | None = None
    ) -> bool:
        """Set the SKU's available quantity at the shop's first location; False when the shop
        has no inventory item with this SKU.

        Compare-and-set: the quantity is read, then set with ``changeFromQuantity`` equal to
        what was read; if someone changed it in between, it is read and set once more, and a
        second stale answer is a TRANSIENT failure (the next cycle tries again). A quantity that
        already equals ``available`` is left alone — which is also how a retry after a lost
        answer finds its work done.

        ``idempotency_key`` names the push (the engine keeps it for every retry of the same
        push); the key sent is it plus a digest of the mutation's input, so a retry with the
        same input is applied at most once while one with a new compare value is a new request,
        as Shopify's ``@idempotent`` requires.
        """
        intent = idempotency_key or str(uuid.uuid4())
        location = await self._first_location_id()
        stale: Failure | None = None
        for _ in range(2):
            look, write = self._costs["ImtuiStock"], self._costs["ImtuiSetStock"]
            async with self.pacer.back_to_back(look + write):
                found = await self._stock_of(sku, location)
                if found is None:
                    return False
                item_id, current = found
                if current == available:
                    return True
                quantities = {
                    "inventoryItemId": item_id,
                    "locationId": location,
                    "quantity": available,
                    "changeFromQuantity": current,
                }
                payload = {
                    "name": "available",
                    "reason": INVENTORY_REASON,
                    "quantities": [quantities],
                }
                key = _idempotency_key(intent, payload)
                response, data = await self._query(
                    "ImtuiSetStock",
                    SET_STOCK_MUTATION,
                    {"input": payload, "key": key},
                    call=CallKind.SEND,
                )
            result = lookup(data, "inventorySetQuantities")
            if not isinstance(result, dict):
                raise self._http.unreadable(
                    response, CallKind.SEND, "no inventorySetQuantities in the answer"
                )
            user_errors = lookup(result, "userErrors") or []
            if not user_errors:
                return True
            failure = failure_from_user_errors(user_errors, sku=sku)
            codes = {text(error, "code").upper() for error in user_errors}
            if codes & STALE_CODES:
                stale = failure
                continue  # someone changed it between our read and write: read again
            if "INVALID_LOCATION" in codes:
                self._location_id = None  # the location went away: look again next time
            raise self._http.error(failure)
        assert stale is not None
        raise self._http.error(
            Failure(
                FailureClass.TRANSIENT,
                AlertKind.REMOTE_ERROR,
                f"the shop's quantity of {sku} changed while imtui set it, twice: {stale.message}",
                sku=sku,
                field=stale.field,
            )
        )

    async def probe(self) -> str:
        """The shop's name, one query of a point: the token and the endpoint work (any
        token may read ``shop``, whatever its scopes)."""
        response, data = await self._query("ImtuiShop", SHOP_QUERY, {})
        name = text(data, "shop.name")
        if not name:
            raise self._http.unreadable(response, CallKind.READ, "no shop.name in the answer")
        domain = text(data, "shop.myshopifyDomain")
        return f"shop {name} ({domain})" if domain else f"shop {name}"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ShopifySource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- one GraphQL call ------------------------------------------------------------------------

    @property
    def _endpoint(self) -> str:
        return f"/admin/api/{self.api_version}/graphql.json"

    async def _query(
        self,
        name: str,
        query: str,
        variables: dict[str, Any],
        *,
        call: CallKind = CallKind.READ,
    ) -> tuple[httpx.Response, Any]:
        """One query or mutation in its turn of the shop's cost bucket; (response, ``data``).

        A THROTTLED answer (or a 429) pauses the connection for the time the bucket needs and
        the call is made again — it was not run, so that is safe for a mutation too — up to
        :data:`THROTTLED_TRIES` times. Top-level ``errors`` become failures
        (:func:`~imtui.connectors.errors.failure_from_graphql_errors`).
        """
        body = {"query": query, "variables": variables, "operationName": name}
        tries = 0
        while True:
            cost = self._costs.get(name, float(MUTATION_COST))
            try:
                await self.pacer.take(cost)
            except Paused as paused:
                raise self._rate_limited(paused.words, paused.remaining) from None
            observed = False
            try:
                response = await self._http.request("POST", self._endpoint, call=call, json=body)
                payload, cost_info = self._decode(response, call)
                self.pacer.observe_cost(ThrottleStatus.from_cost(cost_info), cost)
                observed = True
            finally:
                if not observed:
                    self.pacer.observe_cost(None, cost)
            tries += 1
            wait = self._throttle_wait(response, payload, cost_info)
            if wait is None:
                return response, self._data_of(response, payload, call, cost_info, name)
            words = (
                graphql_error_words(lookup(payload, "errors"))
                if response.is_success
                else self._http.rejected(response, call).failure.message
            )
            if response.is_success:
                self.throttled += 1
            self.pacer.pause(wait, words, full=not response.is_success)
            if tries >= THROTTLED_TRIES or wait > LONGEST_THROTTLE_WAITED:
                raise self._rate_limited(words, wait, status=response.status_code)

    def _decode(self, response: httpx.Response, call: CallKind) -> tuple[Any, Any]:
        """The JSON body and its ``extensions.cost`` (None for a non-2xx answer)."""
        if not response.is_success:
            return None, None
        payload = self._http.json(response, call)
        return payload, lookup(payload, "extensions.cost")

    def _throttle_wait(
        self, response: httpx.Response, payload: Any, cost_info: Any
    ) -> float | None:
        """Seconds to wait before trying again, or None when the answer was not a throttle."""
        if response.status_code == 429:
            return parse_retry_after(response.headers.get("retry-after")) or 1.0
        if not response.is_success:
            return None
        if "THROTTLED" not in graphql_error_codes(lookup(payload, "errors")):
            return None
        status = ThrottleStatus.from_cost(cost_info)
        requested = lookup(cost_info, "requestedQueryCost")
        if status is None or not isinstance(requested, int | float):
            return 1.0
        return max(status.seconds_until(float(requested) + HEADROOM_POINTS), 0.1)

    def _data_of(
        self, response: httpx.Response, payload: Any, call: CallKind, cost_info: Any, name: str
    ) -> Any:
        if not response.is_success:
            failure = failure_from_graphql_status(response, call, api_version=self.api_version)
            raise self._http.error(failure)
        requested = lookup(cost_info, "requestedQueryCost")
        usable = isinstance(requested, int | float) and not isinstance(requested, bool)
        if usable and 0 < requested <= BUCKET_SIZE * 100:
            self._costs[name] = float(requested)  # what the shop counts, from now on
        if not isinstance(payload, dict):
            raise self._http.unreadable(response, call, "the answer is not a JSON object")
        errors = payload.get("errors")
        if errors:
            failure = failure_from_graphql_errors(errors, call, api_version=self.api_version)
            raise self._http.error(failure)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise self._http.unreadable(response, call, "no data in the answer")
        return data

    def _rate_limited(
        self, words: str, wait: float, *, status: int | None = None
    ) -> ConnectorError:
        return self._http.error(
            Failure(
                FailureClass.TRANSIENT,
                AlertKind.RATE_LIMITED,
                words or f"the shop asked for a pause: {wait:.0f} s",
                status=status if status and status != 200 else None,
                retry_after=wait,
            )
        )

    # --- the parts -------------------------------------------------------------------------------

    async def _with_all_lines(self, order: SourceOrder, node: Any) -> SourceOrder:
        """The order with the line items past the listing's first page."""
        lines = list(order.lines)
        after = text(node, "lineItems.pageInfo.endCursor") or None
        order_gid = text(node, "id") or _order_gid(order.remote_id)
        seen: set[str] = set()
        while after:
            response, data = await self._query(
                "ImtuiOrderLines", MORE_LINE_ITEMS_QUERY, {"id": order_gid, "after": after}
            )
            try:
                connection = _required(data, "order.lineItems")
                lines.extend(_parse_line(item) for item in list_of(connection, "nodes"))
                has_next, after = _page_info(connection)
            except Exception as exc:  # any parse failure is the body's fault (shape_problem)
                raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
            if not has_next:
                break
            if not after or after in seen:
                raise self._http.unreadable(
                    response, CallKind.READ, f"the line-item cursor repeats or is empty: {after!r}"
                )
            seen.add(after)
        return _replace_lines(order, tuple(lines))

    async def _fulfil(self, request: FulfillmentRequest) -> str:
        order_id = request.remote_order_id
        statuses = await self._fulfillment_order_statuses(order_id)
        open_ids = [fo_id for fo_id, status in statuses.items() if status in FULFILLABLE]
        if not open_ids:
            raise self._nothing_to_fulfil(order_id, statuses)
        tracking: dict[str, str] = {"number": request.tracking_number, "company": request.carrier}
        if request.extra.get("tracking_url"):
            tracking["url"] = request.extra["tracking_url"]
        fulfillment = {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id} for fo_id in open_ids],
            "trackingInfo": tracking,
            "notifyCustomer": request.extra.get("notify_customer", "").lower() == "true",
        }
        response, data = await self._query(
            "ImtuiFulfil", FULFILL_MUTATION, {"fulfillment": fulfillment}, call=CallKind.SEND
        )
        result = lookup(data, "fulfillmentCreate")
        if not isinstance(result, dict):
            raise self._http.unreadable(
                response, CallKind.SEND, "no fulfillmentCreate in the answer"
            )
        user_errors = lookup(result, "userErrors") or []
        if user_errors:
            failure = failure_from_user_errors(user_errors)
            # Someone (a person in the admin, or our own earlier send whose answer was lost)
            # may have fulfilled it meanwhile: only the fulfillment orders can tell.
            if _all_closed(await self._fulfillment_order_statuses(order_id)):
                raise ConnectorError(as_duplicate(failure))
            raise self._http.error(failure)
        fulfillment_id = text(result, "fulfillment.id")
        if not fulfillment_id:
            raise self._http.unreadable(response, CallKind.SEND, "no fulfillment.id in the answer")
        return _legacy_id(fulfillment_id)

    async def _fulfillment_order_statuses(self, order_id: str) -> dict[str, str]:
        """Fulfillment order id → status (upper case) for the order."""
        response, data = await self._query(
            "ImtuiFulfillmentOrders", FULFILLMENT_ORDERS_QUERY, {"id": _order_gid(order_id)}
        )
        order = lookup(data, "order")
        if order is None:
            raise self._http.error(
                Failure(
                    FailureClass.NEEDS_PERSON,
                    AlertKind.VALIDATION,
                    f"the shop has no order {order_id}",
                    status=404,
                )
            )
        try:
            nodes = list_of(_required(order, "fulfillmentOrders"), "nodes")
            return {_required_text(node, "id"): text(node, "status").upper() for node in nodes}
        except Exception as exc:  # any parse failure is the body's fault (shape_problem)
            raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None

    def _nothing_to_fulfil(self, order_id: str, statuses: dict[str, str]) -> ConnectorError:
        if _all_closed(statuses):
            return ConnectorError(
                Failure(
                    FailureClass.DUPLICATE,
                    AlertKind.VALIDATION,
                    f"order {order_id} is already fulfilled: every fulfillment order is closed",
                )
            )
        described = ", ".join(sorted(set(statuses.values()))) or "none"
        return ConnectorError(
            Failure(
                FailureClass.NEEDS_PERSON,
                AlertKind.VALIDATION,
                f"order {order_id} has no fulfillment order that can be fulfilled "
                f"(statuses: {described})",
            )
        )

    async def _first_location_id(self) -> str:
        if self._location_id is not None:
            return self._location_id
        async with self._location_lock:
            if self._location_id is not None:
                return self._location_id
            response, data = await self._query("ImtuiLocation", LOCATION_QUERY, {})
            try:
                nodes = list_of(_required(data, "locations"), "nodes")
                location_id = _required_text(nodes[0], "id") if nodes else None
            except Exception as exc:  # any parse failure is the body's fault (shape_problem)
                raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
            if location_id is None:
                raise self._http.error(
                    Failure(
                        FailureClass.TRANSIENT,
                        AlertKind.BAD_CONFIGURATION,
                        "the shop has no location to hold inventory",
                    )
                )
            self._location_id = location_id
            return location_id

    async def _stock_of(self, sku: str, location: str) -> tuple[str, int | None] | None:
        """(inventory item id, available quantity at the location, or None when the item is
        not stocked there) for the SKU; None when the shop has no such item."""
        search = f'sku:"{sku.replace(chr(34), "")}"'
        response, data = await self._query(
            "ImtuiStock", STOCK_QUERY, {"query": search, "location": location}
        )
        try:
            for node in list_of(_required(data, "inventoryItems"), "nodes"):
                if text(node, "sku") != sku:
                    continue  # a search can match more than the exact SKU
                item_id = _required_text(node, "id")
                level = lookup(node, "inventoryLevel")
                if level is None:
                    return item_id, None
                for quantity in list_of(level, "quantities"):
                    if text(quantity, "name") == "available":
                        return item_id, _whole_number(lookup(quantity, "quantity"))
                raise UnexpectedShape("no available quantity in the inventory level")
        except Exception as exc:  # any parse failure is the body's fault (shape_problem)
            raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
        return None


# --- parsing -------------------------------------------------------------------------------------


def _parse_order(data: Any) -> SourceOrder:
    gid = _required_text(data, "id")
    order_id = text(data, "legacyResourceId") or _legacy_id(gid)
    line = lookup(data, "shippingLine")
    title = text(line, "title")
    lines = tuple(_parse_line(item) for item in list_of(_required(data, "lineItems"), "nodes"))
    return SourceOrder(
        remote_id=order_id,
        number=text(data, "name") or order_id,
        ship_to=_parse_address(lookup(data, "shippingAddress")),
        ship_method_code=text(line, "code") or title,
        ship_method_title=title,
        lines=lines,
        updated_at=parse_timestamp(lookup(data, "updatedAt")),
        cancelled_at=parse_timestamp(lookup(data, "cancelledAt")),
        fulfillment_status=text(data, "displayFulfillmentStatus"),
    )


def _parse_line(item: Any) -> OrderLine:
    return OrderLine(sku=text(item, "sku"), quantity=_whole_number(lookup(item, "quantity")))


def _parse_address(data: Any) -> Address | None:
    if not isinstance(data, dict):
        return None  # digital goods and pickups have no shipping address
    return Address(
        name=text(data, "name"),
        company=text(data, "company"),
        address1=text(data, "address1"),
        address2=text(data, "address2"),
        city=text(data, "city"),
        state=text(data, "provinceCode"),
        zip=text(data, "zip"),
        country=text(data, "countryCodeV2"),
        phone=text(data, "phone"),
    )


def _replace_lines(order: SourceOrder, lines: tuple[OrderLine, ...]) -> SourceOrder:
    return SourceOrder(
        remote_id=order.remote_id,
        number=order.number,
        ship_to=order.ship_to,
        ship_method_code=order.ship_method_code,
        ship_method_title=order.ship_method_title,
        lines=lines,
        updated_at=order.updated_at,
        cancelled_at=order.cancelled_at,
        fulfillment_status=order.fulfillment_status,
    )


def _page_info(connection: Any) -> tuple[bool, str | None]:
    has_next = lookup(connection, "pageInfo.hasNextPage")
    if not isinstance(has_next, bool):
        raise UnexpectedShape("pageInfo.hasNextPage is missing")
    return has_next, text(connection, "pageInfo.endCursor") or None


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnexpectedShape(f"quantity {value!r} is not a whole number")
    return value


def _required(data: Any, path: str) -> Any:
    value = lookup(data, path)
    if not isinstance(value, dict):
        raise UnexpectedShape(f"{path} is missing")
    return value


def _required_text(data: Any, key: str) -> str:
    value = lookup(data, key)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise UnexpectedShape(f"{key} is missing")
    return str(value)


def _order_gid(order_id: str) -> str:
    """Orders are stored by their number (``4500001``, as REST named them); GraphQL wants the
    global id."""
    return order_id if order_id.startswith("gid://") else f"gid://shopify/Order/{order_id}"


def _legacy_id(gid: str) -> str:
    """``gid://shopify/Fulfillment/5600001`` → ``5600001``; anything else as it came."""
    tail = gid.rsplit("/", 1)[-1]
    return tail if gid.startswith("gid://") and tail.isdigit() else gid


def _idempotency_key(intent: str, payload: dict[str, Any]) -> str:
    """The push's key plus a digest of this request's input: the same push with the same input
    gets the same key (applied once), a new compare value a new one."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return f"{intent[:200]}-{digest}"


def _all_closed(statuses: dict[str, str]) -> bool:
    return bool(statuses) and all(status == "CLOSED" for status in statuses.values())
