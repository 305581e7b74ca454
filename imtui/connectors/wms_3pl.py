"""The Extensiv 3PL Warehouse Manager connector (REST, OAuth client credentials).

The engine sends many orders at once through one instance, so the bearer token is shared: it
is fetched once, cached until shortly before it expires, and refreshed by exactly one caller
while the others wait on the same lock. A 401 on an API call means the token died early; the
call refreshes once and is retried once, and a second 401 is a credentials problem.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from imtui.connectors.base import StockLevel, WmsOrder, WmsOrderRequest
from imtui.connectors.errors import CallKind, UnexpectedShape, shape_problem
from imtui.connectors.http_connection import HttpConnection
from imtui.connectors.json_fields import lookup, lookup_key, text
from imtui.connectors.pacing import sit_out_rate_limits, unmetered
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass

TOKEN_PATH = "/AuthServer/api/Token"
ORDERS_REL = "http://api.3plCentral.com/rels/orders/order"
"""The HAL relation under ``_embedded`` that holds the orders of a search."""
CUSTOMERS_REL = "http://api.3plCentral.com/rels/customers/customer"
"""The HAL relation under ``_embedded`` that holds the customers of a search."""

ORDER_PAGE_SIZE = 100
STOCK_PAGE_SIZE = 500

CANCELED_STATUS = 2
"""``readOnly.status`` of a canceled order (0 open, 1 closed, 2 canceled)."""
DEFAULT_TOKEN_LIFETIME = 3600.0
"""Seconds a token is taken to live when the answer gives no usable ``expires_in``."""

QUANTITY_RANGE = range(-(2**63), 2**63)
"""Stock quantities we accept: what the database's integer columns hold."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float
    """Clock reading after which we fetch a new token instead of using this one."""


class ThreePLWarehouse:
    """A :class:`~imtui.connectors.base.Warehouse` over the 3PL Warehouse Manager REST API."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        user_login_id: str,
        customer_id: str,
        facility_id: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        max_connections: int = 100,
        clock: Callable[[], float] = time.monotonic,
        deadline: float | None = None,
        max_body: int | None = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._user_login_id = user_login_id
        self._customer_id = customer_id
        self._facility_id = facility_id
        self._clock = clock
        self._http = HttpConnection(
            base_url,
            headers={"Accept": "application/hal+json, application/json"},
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
            deadline=deadline,
            max_body=max_body,
            secrets=(client_secret,),
        )
        self._pacer = unmetered(clock)
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._token_fetches_done = 0
        self._token_failure: ConnectorError | None = None

    # --- Warehouse -----------------------------------------------------------------------------

    async def create_order(self, request: WmsOrderRequest) -> WmsOrder:
        """POST the order; a reference the WMS already has raises a DUPLICATE-class failure."""
        response = await self._api(
            "POST", "/orders", call=CallKind.SEND, json=self._order_body(request)
        )
        body = self._http.json(response, CallKind.SEND)
        try:
            return _parse_order(body)
        except Exception as exc:  # any parse failure is the body's fault (shape_problem)
            raise self._http.unreadable(response, CallKind.SEND, shape_problem(exc)) from None

    async def find_order(self, reference: str) -> WmsOrder | None:
        """The WMS order with this ``referenceNum``; the outcome-unknown path relies on it."""
        params = {"pgsiz": 1, "pgnum": 1, "rql": f"referenceNum=={rql_value(reference)}"}
        response = await self._api("GET", "/orders", call=CallKind.READ, params=params)
        body = self._read(response)
        try:
            orders = _orders_page(body)
        except Exception as exc:  # any parse failure is the body's fault (shape_problem)
            raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
        # The WMS matches RQL values loosely (wildcards, case); only an exact match is ours.
        return next((order for order in orders if order.reference == reference), None)

    async def list_closed_orders(self, modified_since: datetime | None) -> list[WmsOrder]:
        """Closed orders modified since the watermark (ISO, UTC), across all pages."""
        rql = "readOnly.isClosed==true"
        if modified_since is not None:
            rql += f";readOnly.lastModifiedDate=ge={_rql_timestamp(modified_since)}"
        orders = await self._all_pages("/orders", {"rql": rql}, ORDER_PAGE_SIZE, _orders_page)
        return [order for order in orders if order.is_closed]

    async def cancel_order(self, wms_id: str, reason: str) -> WmsOrder:
        """Cancel the WMS order (an order cancelled in the shop, B11), as the API asks: read
        the order for its ETag, then ``POST /orders/{id}/canceler`` with ``If-Match``. An order
        already canceled is a success (a retry whose first answer was lost); one the warehouse
        has picked or shipped comes back as the WMS's refusal, for a person. A 412 (the order
        changed between the read and the cancel) reads it again, once."""
        if not wms_id.isdigit():
            raise ConnectorError(
                Failure(FailureClass.NEEDS_PERSON, AlertKind.VALIDATION, f"no WMS order {wms_id!r}")
            )
        path = f"/orders/{wms_id}"
        for last_try in (False, True):
            response = await self._api("GET", path, call=CallKind.READ)
            current = self._order(response, CallKind.READ)
            if current.is_cancelled:
                return current
            etag = response.headers.get("etag", "")
            try:
                response = await self._api(
                    "POST",
                    f"{path}/canceler",
                    call=CallKind.SEND,
                    json={"reason": reason},
                    headers={"If-Match": etag},
                )
            except ConnectorError as exc:
                if exc.failure.status == 412 and not last_try:
                    continue
                raise
            return self._order(response, CallKind.SEND)
        raise AssertionError("unreachable")  # the second try returns or raises

    async def stock_summaries(self) -> list[StockLevel]:
        """Available and on-hand quantity of every SKU, across all pages."""
        return await self._all_pages("/inventory/stocksummaries", {}, STOCK_PAGE_SIZE, _stock_items)

    async def probe(self) -> str:
        """A token, then the customer orders are sent for (``GET /customers/{id}``; one named
        rather than numbered is searched by its company name): the credentials work, this
        login may read that customer, and the facility is one of the customer's. Nothing is
        written."""
        response, customer = await self._customer()
        try:
            return "token granted; " + self._customer_described(customer)
        except UnexpectedShape as exc:
            raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ThreePLWarehouse:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- requests --------------------------------------------------------------------------------

    async def _customer(self) -> tuple[httpx.Response, Any]:
        """The connection's customer as the WMS describes it (``readOnly``, ``companyInfo``,
        ``facilities``); a BAD_CONFIGURATION failure when the WMS has no such customer."""
        wanted = self._customer_id.strip()
        if wanted.isdigit():
            try:
                response = await self._api("GET", f"/customers/{int(wanted)}", call=CallKind.READ)
            except ConnectorError as exc:
                if exc.failure.status == 404:
                    raise self._unusable(
                        f"the WMS has no customer {wanted} (setting customer_id): "
                        f"{exc.failure.message}",
                        status=404,
                    ) from None
                raise
            return response, self._read(response)
        params = {"pgsiz": 100, "pgnum": 1, "rql": f"companyInfo.companyName=={rql_value(wanted)}"}
        response = await self._api("GET", "/customers", call=CallKind.READ, params=params)
        body = self._read(response)
        try:
            found = _embedded(body, CUSTOMERS_REL)
        except Exception as exc:  # any parse failure is the body's fault (shape_problem)
            raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
        # The WMS matches RQL values loosely (wildcards, case); only an exact name is ours.
        customer = next((c for c in found if text(c, "companyInfo.companyName") == wanted), None)
        if customer is None:
            raise self._unusable(f"the WMS has no customer named {wanted!r} (setting customer_id)")
        return response, customer

    def _customer_described(self, customer: Any) -> str:
        """The customer in a few words ("customer 1 Acme Goods, facility 1 Main"), or a
        BAD_CONFIGURATION failure when it is deactivated or the connection's facility is not
        one of its own."""
        if not isinstance(customer, Mapping):
            raise UnexpectedShape("the customer is not a JSON object")
        number = text(customer, "readOnly.customerId") or self._customer_id
        named = _named("customer", number, text(customer, "companyInfo.companyName"))
        if lookup(customer, "readOnly.deactivated") is True:
            raise self._unusable(f"{named} is deactivated in the WMS")
        facilities = lookup(customer, "facilities")
        if not isinstance(facilities, list):
            return f"{named}, facility {self._facility_id}"
        wanted = self._facility_id.strip()
        listed = [(text(f, "id"), text(f, "name")) for f in facilities]
        for facility_id, name in listed:
            if wanted == facility_id or wanted.lower() == name.lower():
                return f"{named}, {_named('facility', facility_id, name)}"
        known = ", ".join(_named("", *facility) for facility in listed[:10])
        raise self._unusable(
            f"{named} has no facility {wanted!r} (setting facility_id; its facilities: "
            f"{known or 'none'})"
        )

    def _unusable(self, message: str, *, status: int | None = None) -> ConnectorError:
        """A connection whose settings name what the WMS does not have: every order would be
        refused the same way, so it is the connection's problem, not one order's."""
        return self._http.error(
            Failure(FailureClass.CONNECTION, AlertKind.BAD_CONFIGURATION, message, status=status)
        )

    async def _api(
        self,
        method: str,
        url: str,
        *,
        call: CallKind,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One API call with the shared bearer token; a 401 refreshes once and retries once. A
        429 pauses the connection's calls for its Retry-After and the call goes again (see
        :func:`sit_out_rate_limits`): a WMS that rate-limits costs time, not an alert per
        record."""

        def send(token: str) -> Callable[[], Awaitable[httpx.Response]]:
            return lambda: self._http.request(
                method,
                url,
                call=call,
                headers={**(headers or {}), **_bearer_header(token)},
                **kwargs,
            )

        token = await self._bearer()
        response = await sit_out_rate_limits(self._pacer, send(token), self._words)
        if response.status_code == 401:
            # A 401 means the request was refused, not processed: resending a POST is safe.
            token = await self._bearer(rejected=token)
            response = await sit_out_rate_limits(self._pacer, send(token), self._words)
        if not response.is_success:
            raise self._http.rejected(response, call)
        return response

    async def _all_pages(
        self,
        path: str,
        params: dict[str, Any],
        page_size: int,
        items_of: Callable[[Any], list[_T]],
    ) -> list[_T]:
        collected: list[_T] = []
        page = 1
        while True:
            query = {**params, "pgsiz": page_size, "pgnum": page}
            response = await self._api("GET", path, call=CallKind.READ, params=query)
            body = self._read(response)
            try:
                batch = items_of(body)
            except Exception as exc:  # any parse failure is the body's fault (shape_problem)
                raise self._http.unreadable(response, CallKind.READ, shape_problem(exc)) from None
            collected.extend(batch)
            total = lookup(body, "totalResults")
            if len(batch) < page_size or (isinstance(total, int) and len(collected) >= total):
                return collected
            page += 1

    def _words(self, response: httpx.Response) -> str:
        return self._http.rejected(response, CallKind.READ).failure.message

    def _read(self, response: httpx.Response) -> Any:
        return self._http.json(response, CallKind.READ)

    def _order(self, response: httpx.Response, call: CallKind) -> WmsOrder:
        body = self._http.json(response, call)
        try:
            return _parse_order(body)
        except Exception as exc:  # any parse failure is the body's fault (shape_problem)
            raise self._http.unreadable(response, call, shape_problem(exc)) from None

    def _order_body(self, request: WmsOrderRequest) -> dict[str, Any]:
        ship_to = request.ship_to
        return {
            "customerIdentifier": _identifier(request.customer_id or self._customer_id),
            "facilityIdentifier": _identifier(request.facility_id or self._facility_id),
            "referenceNum": request.reference,
            "routingInfo": {
                "carrier": request.carrier,
                "mode": request.mode,
                "billingCode": request.billing_code,
            },
            "shipTo": {
                "name": ship_to.name,
                "companyName": ship_to.company,
                "address1": ship_to.address1,
                "address2": ship_to.address2,
                "city": ship_to.city,
                "state": ship_to.state,
                "zip": ship_to.zip,
                "country": ship_to.country,
                "phoneNumber": ship_to.phone,
            },
            "orderItems": [
                {"itemIdentifier": {"sku": line.sku}, "qty": line.quantity}
                for line in request.lines
            ],
        }

    # --- token -----------------------------------------------------------------------------------

    async def _bearer(self, rejected: str | None = None) -> str:
        """The current token, fetching a new one when there is none, it is due, or the WMS
        just rejected it. Concurrent callers share one fetch, and its failure."""
        token = self._valid_token(rejected)
        if token is not None:
            return token
        fetches_seen = self._token_fetches_done
        async with self._token_lock:
            token = self._valid_token(rejected)
            if token is not None:
                return token  # another caller refreshed while we waited
            if self._token_fetches_done != fetches_seen and self._token_failure is not None:
                # A fetch finished while we waited, and failed: share that answer rather than
                # hitting the token endpoint once per waiting order.
                raise ConnectorError(self._token_failure.failure)
            try:
                fetched = await self._fetch_token()
            except ConnectorError as exc:
                self._token_failure = exc
                raise
            else:
                self._token, self._token_failure = fetched, None
            finally:
                self._token_fetches_done += 1
            return fetched.value

    def _valid_token(self, rejected: str | None) -> str | None:
        token = self._token
        if token is None or token.value == rejected or self._clock() >= token.refresh_at:
            return None
        return token.value

    async def _fetch_token(self) -> _Token:
        # Nothing of the caller's order has been sent yet, so a lost answer here is a READ.
        response = await self._http.request(
            "POST",
            TOKEN_PATH,
            call=CallKind.READ,
            auth=httpx.BasicAuth(self._client_id, self._client_secret),
            json={"grant_type": "client_credentials", "user_login_id": self._user_login_id},
        )
        if not response.is_success:
            error = self._http.rejected(response, CallKind.READ)
            if response.status_code in (400, 401, 403):
                # Any refusal from the token endpoint is about our credentials, not an order.
                error = ConnectorError(
                    replace(
                        error.failure,
                        failure_class=FailureClass.CONNECTION,
                        kind=AlertKind.CREDENTIALS_REJECTED,
                    )
                )
            raise error
        body = self._read(response)
        value = text(body, "access_token")
        if not value:
            raise self._http.unreadable(response, CallKind.READ, "no access_token in the answer")
        self._http.add_token(value)
        expires_in = _number(lookup(body, "expires_in"), default=DEFAULT_TOKEN_LIFETIME)
        if expires_in <= 0:
            # A token "already expired" would be fetched again for every single call.
            expires_in = DEFAULT_TOKEN_LIFETIME
        # Refresh a little early so a token never expires between our check and the WMS's.
        margin = min(60.0, expires_in / 10)
        return _Token(value, self._clock() + expires_in - margin)


# --- parsing -------------------------------------------------------------------------------------


def _embedded(body: Any, rel: str) -> list[Any]:
    """The items of a HAL search under ``_embedded[rel]``."""
    if not isinstance(body, Mapping):
        raise UnexpectedShape("the answer is not a JSON object")
    embedded = lookup(body, "_embedded")
    if embedded is None:
        return []  # the WMS omits _embedded when a search finds nothing
    if not isinstance(embedded, Mapping):
        raise UnexpectedShape("_embedded is not an object")
    items = lookup_key(embedded, rel, [])
    if not isinstance(items, list):
        raise UnexpectedShape(f"_embedded.{rel} is not a list")
    return items


def _orders_page(body: Any) -> list[WmsOrder]:
    return [_parse_order(item) for item in _embedded(body, ORDERS_REL)]


def _parse_order(data: Any) -> WmsOrder:
    order_id = lookup(data, "readOnly.orderId")
    if order_id is None or isinstance(order_id, dict | list):
        raise UnexpectedShape("the order has no readOnly.orderId")
    tracking = text(data, "routingInfo.trackingNumber")
    carrier = text(data, "routingInfo.carrier")
    return WmsOrder(
        wms_id=str(order_id),
        reference=text(data, "referenceNum"),
        is_closed=lookup(data, "readOnly.isClosed") is True,
        is_cancelled=lookup(data, "readOnly.status") == CANCELED_STATUS,
        tracking_number=tracking or None,
        carrier=carrier or None,
        last_modified=_parse_timestamp(lookup(data, "readOnly.lastModifiedDate")),
    )


def _stock_items(body: Any) -> list[StockLevel]:
    if not isinstance(body, Mapping):
        raise UnexpectedShape("the answer is not a JSON object")
    summaries = lookup(body, "summaries")
    if summaries is None:
        return []
    if not isinstance(summaries, list):
        raise UnexpectedShape("summaries is not a list")
    levels: list[StockLevel] = []
    for item in summaries:
        sku = text(item, "itemIdentifier.sku")
        if not sku:
            raise UnexpectedShape("a stock summary has no itemIdentifier.sku")
        levels.append(
            StockLevel(
                sku=sku,
                available=_quantity(item, "available", sku),
                on_hand=_quantity(item, "onHand", sku),
            )
        )
    return levels


def _quantity(item: Any, key: str, sku: str) -> int:
    """A stock figure as a whole number; 0 when the WMS leaves it out.

    Anything else that is not a finite number (``NaN``, ``"lots"``, ``1e400``, a list) is an
    unreadable answer, not zero: pushing 0 for it would take the SKU off sale in the shop.
    """
    value = lookup(item, key)
    if value is None:
        return 0
    number = _number(value, default=math.nan)  # finite, or the NaN default
    if math.isnan(number):
        raise UnexpectedShape(f"{key} of SKU {sku!r} is not a number: {_shown(value)}")
    whole = int(number)
    if whole not in QUANTITY_RANGE:
        raise UnexpectedShape(f"{key} of SKU {sku!r} is out of range: {_shown(value)}")
    return whole


def _named(what: str, number: str, name: str) -> str:
    """A record's number and its name, shortened: "customer 1 Acme Goods"."""
    return " ".join(part for part in (what, number, _shown(name)) if part)


def _shown(value: Any) -> str:
    """A remote value for a message, short."""
    shown = text({"v": value}, "v")
    return shown if len(shown) <= 40 else shown[:39] + "…"


def _parse_timestamp(value: Any) -> datetime | None:
    """The WMS's timestamps are UTC, usually without an offset; we hand out aware datetimes."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: a year past 9999 (or before 1) in UTC
        return None


def _rql_timestamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def _number(value: Any, *, default: float) -> float:
    """A finite number from a JSON number or numeric string; ``default`` for anything else
    (booleans, NaN, infinities, an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return default
    return number if math.isfinite(number) else default


def _identifier(value: str) -> dict[str, Any]:
    """3PL identifiers are ``{"id": 1}`` or, for names, ``{"name": "..."}``."""
    return {"id": int(value)} if value.strip().isdigit() else {"name": value}


def _bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


_RQL_PLAIN = re.compile(r"[^\s\"'();,=!~<>*\\]+")
"""Characters an RQL value may hold unquoted; anything else (``;`` would end the term, ``*`` is
a wildcard, ``,`` an OR) needs quoting."""


def rql_value(value: str) -> str:
    """``value`` as one RQL argument: bare when safe, else double-quoted with ``\\`` escapes."""
    if _RQL_PLAIN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
