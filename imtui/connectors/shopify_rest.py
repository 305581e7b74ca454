"""The Shopify Admin REST connector (order source) — legacy, platform ``shopify_rest``.

Shopify made REST legacy on 2024-10-01 (new public apps must use GraphQL, and the /products and
/variants endpoints the inventory push reads are deprecated); platform ``shopify`` is the Admin
GraphQL connector (:mod:`imtui.connectors.shopify`). This one stays for shops already connected
through REST, and stays tested.

Shopify's token does not expire, so there is nothing to refresh: a 401 or 403 is a credentials
problem at once. Fulfilling an order that the shop already shows as fulfilled is reported as a
DUPLICATE (the tracking is there; the engine counts it as done), which is what makes resending
a fulfilment after a lost answer safe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
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
from imtui.connectors.errors import CallKind, UnexpectedShape, as_duplicate, list_of, shape_problem
from imtui.connectors.http_connection import HttpConnection
from imtui.connectors.json_fields import as_utc, lookup, parse_timestamp, text
from imtui.connectors.pacing import CallPacer, sit_out_rate_limits
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass

DEFAULT_API_VERSION = "2024-10"
PAGE_SIZE = 250
"""Shopify's maximum page size: fewer calls against a 2-calls-per-second budget."""

CATALOG_REFRESH_INTERVAL = 60.0
"""A SKU missing from the cached variant list reloads the list at most this often, so an
inventory push of thousands of SKUs the shop doesn't sell costs one reload, not thousands."""

FULFILLABLE_STATUSES = frozenset({"open", "in_progress"})

CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"


class ShopifyRestSource:
    """An :class:`~imtui.connectors.base.OrderSource` over the Shopify Admin REST API."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        max_connections: int = 10,
        clock: Callable[[], float] = time.monotonic,
        deadline: float | None = None,
        max_body: int | None = None,
    ) -> None:
        self._api_version = api_version
        self._clock = clock
        self._http = HttpConnection(
            base_url,
            headers={"X-Shopify-Access-Token": access_token, "Accept": "application/json"},
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
            deadline=deadline,
            max_body=max_body,
            secrets=(access_token,),
        )
        self._pacer = CallPacer(time.monotonic)  # it waits in real time, whatever ``clock`` says
        self._inventory_items: dict[str, str] = {}
        self._catalog_loaded_at: float | None = None
        self._catalog_lock = asyncio.Lock()
        self._location_id: str | None = None

    # --- OrderSource -----------------------------------------------------------------------------

    async def list_unfulfilled_orders(
        self, updated_since: datetime | None, *, on_page: PageHandler | None = None
    ) -> list[SourceOrder]:
        """Every open, unfulfilled order updated since the watermark, across all pages (with
        ``on_page``: handed over once, whole — REST's pages are not in update order)."""
        params: dict[str, Any] = {
            "status": "open",
            "fulfillment_status": "unfulfilled",
            "limit": PAGE_SIZE,
        }
        if updated_since is not None:
            params["updated_at_min"] = as_utc(updated_since).isoformat()
        orders: list[SourceOrder] = []
        async for response, body in self._pages("orders.json", params):
            try:
                orders.extend(_parse_order(item) for item in list_of(body, "orders"))
            except Exception as exc:  # any parse failure is the body's fault (shape_problem)
                raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
        if on_page is not None:
            await on_page(orders)
            return []
        return orders

    async def create_fulfillment(self, request: FulfillmentRequest) -> str:
        """Fulfil every open fulfillment order of the order with the tracking number.

        Raises a DUPLICATE-class failure when the shop already shows the order fulfilled,
        whether we see that before sending or from Shopify's 422 afterwards.
        ``request.extra`` may carry ``tracking_url`` and ``notify_customer`` ("true").
        """
        async with self._pacer.back_to_back(2):  # the look and the fulfilment, one after the other
            return await self._fulfil(request)

    async def _fulfil(self, request: FulfillmentRequest) -> str:
        order_id = request.remote_order_id
        statuses = await self._fulfillment_order_statuses(order_id)
        open_ids = [fo_id for fo_id, status in statuses.items() if status in FULFILLABLE_STATUSES]
        if not open_ids:
            raise self._nothing_to_fulfil(order_id, statuses)

        tracking: dict[str, str] = {"number": request.tracking_number, "company": request.carrier}
        if request.extra.get("tracking_url"):
            tracking["url"] = request.extra["tracking_url"]
        body = {
            "fulfillment": {
                "line_items_by_fulfillment_order": [
                    {"fulfillment_order_id": _id_value(fo_id)} for fo_id in open_ids
                ],
                "tracking_info": tracking,
                "notify_customer": request.extra.get("notify_customer", "").lower() == "true",
            }
        }
        response = await self._paced("POST", "fulfillments.json", call=CallKind.SEND, json=body)
        if response.status_code == 422:
            error = self._http.rejected(response, CallKind.SEND)
            # Someone (a person in the admin, or our own earlier send whose answer was lost)
            # may have fulfilled it meanwhile: only the fulfillment orders can tell.
            if _all_closed(await self._fulfillment_order_statuses(order_id)):
                raise ConnectorError(as_duplicate(error.failure))
            raise error
        if not response.is_success:
            raise self._http.rejected(response, CallKind.SEND)
        fulfillment_id = text(self._http.json(response, CallKind.SEND), "fulfillment.id")
        if not fulfillment_id:
            raise self._http.unreadable(response, CallKind.SEND, "no fulfillment.id in the answer")
        return fulfillment_id

    async def set_inventory_level(
        self, sku: str, available: int, *, idempotency_key: str | None = None
    ) -> bool:
        """Set the SKU's available quantity at the shop's first location (REST has no
        idempotency key: an absolute set is safe to repeat).

        False when the shop has no variant with this SKU (after reloading the variant list,
        at most once per :data:`CATALOG_REFRESH_INTERVAL`).
        """
        inventory_item_id = await self._inventory_item_id(sku)
        if inventory_item_id is None:
            return False
        location_id = await self._first_location_id()
        body = {
            "location_id": _id_value(location_id),
            "inventory_item_id": _id_value(inventory_item_id),
            "available": available,
        }
        await self._call("POST", "inventory_levels/set.json", call=CallKind.SEND, json=body)
        return True

    async def probe(self) -> str:
        """The shop's name (``GET shop.json``, one call): the token and the endpoint work."""
        response = await self._call("GET", "shop.json", call=CallKind.READ)
        body = self._http.json(response, CallKind.READ)
        name = text(body, "shop.name")
        if not name:
            raise self._http.unreadable(response, CallKind.READ, "no shop.name in the answer")
        domain = text(body, "shop.myshopify_domain")
        return f"shop {name} ({domain})" if domain else f"shop {name}"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ShopifyRestSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- requests --------------------------------------------------------------------------------

    def _path(self, resource: str) -> str:
        return f"/admin/api/{self._api_version}/{resource}"

    async def _call(
        self, method: str, resource: str, *, call: CallKind, **kwargs: Any
    ) -> httpx.Response:
        response = await self._paced(method, resource, call=call, **kwargs)
        if not response.is_success:
            raise self._http.rejected(response, call)
        return response

    async def _paced(
        self, method: str, resource: str, *, call: CallKind, **kwargs: Any
    ) -> httpx.Response:
        """One call in its turn of the shop's rate limit. A 429 pauses the whole connection
        for its Retry-After and the call is made again (a 429 was not processed, so that is
        safe for a send too), up to :data:`~imtui.connectors.pacing.RATE_LIMIT_TRIES` times."""
        return await sit_out_rate_limits(
            self._pacer,
            lambda: self._http.request(method, self._path(resource), call=call, **kwargs),
            lambda response: self._http.rejected(response, call).failure.message,
            lambda response: response.headers.get(CALL_LIMIT_HEADER),
        )

    async def _pages(
        self, resource: str, params: dict[str, Any]
    ) -> AsyncIterator[tuple[httpx.Response, Any]]:
        """Yield (response, body) for each page, following ``Link: <…page_info=…>; rel="next"``.

        Only the cursor is taken from the link, never its host: the next request goes to our
        own base URL, so a forged link cannot carry the access token elsewhere.
        """
        seen_cursors: set[str] = set()
        while True:
            response = await self._call("GET", resource, call=CallKind.READ, params=params)
            yield response, self._http.json(response, CallKind.READ)
            try:
                next_params = next_page_params(response.links)
            except Exception as exc:  # a Link header httpx cannot parse as a URL
                raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
            if next_params is None:
                return
            cursor = next_params.get("page_info", "")
            if cursor in seen_cursors:
                raise self._http.unreadable(
                    response, CallKind.READ, f"the next-page link repeats cursor {cursor!r}"
                )
            seen_cursors.add(cursor)
            params = next_params

    async def _fulfillment_order_statuses(self, order_id: str) -> dict[str, str]:
        """Fulfillment order id → status (lower case) for the order."""
        response = await self._call(
            "GET", f"orders/{order_id}/fulfillment_orders.json", call=CallKind.READ
        )
        body = self._http.json(response, CallKind.READ)
        try:
            return {
                _required_id(item, "id"): text(item, "status").lower()
                for item in list_of(body, "fulfillment_orders")
            }
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

    async def _inventory_item_id(self, sku: str) -> str | None:
        if sku in self._inventory_items:
            return self._inventory_items[sku]
        loaded_at = self._catalog_loaded_at
        async with self._catalog_lock:
            if self._catalog_loaded_at == loaded_at and self._catalog_is_stale():
                await self._load_catalog()
        return self._inventory_items.get(sku)

    def _catalog_is_stale(self) -> bool:
        loaded_at = self._catalog_loaded_at
        return loaded_at is None or self._clock() - loaded_at >= CATALOG_REFRESH_INTERVAL

    async def _load_catalog(self) -> None:
        catalog: dict[str, str] = {}
        async for response, body in self._pages("variants.json", {"limit": PAGE_SIZE}):
            try:
                for variant in list_of(body, "variants"):
                    sku = text(variant, "sku")
                    if sku and sku not in catalog:
                        catalog[sku] = _required_id(variant, "inventory_item_id")
            except Exception as exc:  # any parse failure is the body's fault (shape_problem)
                raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
        self._inventory_items = catalog
        self._catalog_loaded_at = self._clock()

    async def _first_location_id(self) -> str:
        if self._location_id is not None:
            return self._location_id
        response = await self._call("GET", "locations.json", call=CallKind.READ)
        body = self._http.json(response, CallKind.READ)
        try:
            locations = list_of(body, "locations")
            location_id = _required_id(locations[0], "id") if locations else None
        except Exception as exc:  # any parse failure is the body's fault (shape_problem)
            raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
        if location_id is None:
            raise ConnectorError(
                Failure(
                    FailureClass.NEEDS_PERSON,
                    AlertKind.VALIDATION,
                    "the shop has no location to hold inventory",
                )
            )
        self._location_id = location_id
        return location_id


# --- parsing -------------------------------------------------------------------------------------


def next_page_params(links: Mapping[str | None, dict[str, str]]) -> dict[str, str] | None:
    """The query of the ``rel="next"`` link (``limit`` and ``page_info``) among a response's
    parsed ``Link`` header (:attr:`httpx.Response.links`), or None."""
    target = links.get("next", {}).get("url")
    if not target:
        return None
    query = httpx.URL(target).params
    if "page_info" not in query:
        return None
    return {name: query[name] for name in ("limit", "page_info") if name in query}


def _parse_order(data: Any) -> SourceOrder:
    order_id = _required_id(data, "id")
    shipping_lines = lookup(data, "shipping_lines") or []
    first_line = shipping_lines[0] if isinstance(shipping_lines, list) and shipping_lines else {}
    title = text(first_line, "title")
    lines = tuple(
        OrderLine(sku=text(item, "sku"), quantity=_quantity(item))
        for item in list_of(data, "line_items")
    )
    return SourceOrder(
        remote_id=order_id,
        number=text(data, "name") or order_id,
        ship_to=_parse_address(lookup(data, "shipping_address")),
        ship_method_code=text(first_line, "code") or title,
        ship_method_title=title,
        lines=lines,
        updated_at=parse_timestamp(lookup(data, "updated_at")),
    )


def _parse_address(data: Any) -> Address | None:
    if not isinstance(data, dict):
        return None  # digital goods and pickups have no shipping address
    return Address(
        name=text(data, "name"),
        company=text(data, "company"),
        address1=text(data, "address1"),
        address2=text(data, "address2"),
        city=text(data, "city"),
        state=text(data, "province_code"),
        zip=text(data, "zip"),
        country=text(data, "country_code"),
        phone=text(data, "phone"),
    )


def _quantity(item: Any) -> int:
    quantity = lookup(item, "quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise UnexpectedShape(f"line item quantity {quantity!r} is not a whole number")
    return quantity


def _required_id(data: Any, key: str) -> str:
    value = lookup(data, key)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise UnexpectedShape(f"{key} is missing")
    return str(value)


def _id_value(value: str) -> int | str:
    """Shopify ids are integers in JSON; keep anything else as the shop sent it."""
    return int(value) if value.isdigit() else value


def _all_closed(statuses: dict[str, str]) -> bool:
    return bool(statuses) and all(status == "closed" for status in statuses.values())
