"""A fake Extensiv 3PL Warehouse Manager: OAuth tokens, orders, RQL look-ups, stock summaries,
customers.

:class:`FakeWms` holds the state and the Python API tests use to inspect and steer it ("was
this reference posted twice?", "ship it now"); :func:`build_wms_app` is the HTTP face, shaped
as docs/sandbox-contract.md describes. State is shared between the server thread and the test
thread, so every read and write goes through one lock, and stored orders are replaced, never
mutated, so a dict handed to a test stays a stable snapshot.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import random
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from imtui.sandbox.clock import Clock, system_clock
from imtui.sandbox.network import ConnectionDropper, Dialect, Network

ORDER_REL = "http://api.3plCentral.com/rels/orders/order"
CUSTOMER_REL = "http://api.3plCentral.com/rels/customers/customer"
ERROR_TYPE = "Tpl.Api.Models.ErrorResponse"
DENIED = "Authorization has been denied for this request."
TOKEN_LIFETIME = 3600

DEFAULT_CARRIERS: dict[str, set[str]] = {
    "UPS": {"03", "92"},
    "FedEx": {"FEDEX_GROUND", "PRIORITY_OVERNIGHT"},
    "USPS": {"Priority", "Ground Advantage"},
}
DEFAULT_SKUS: tuple[str, ...] = tuple(f"SKU-{i}" for i in range(1, 51))

WMS_DIALECT = Dialect(
    messages={
        500: "Object reference not set to an instance of an object.",
        503: "The service is unavailable.",
        429: "API calls quota exceeded! Maximum admitted 100 per 1m.",
        504: "The operation has timed out.",
    },
    json_errors=False,
    # RFC 9110 delay-seconds is an integer; the real WMS sends whole seconds.
    retry_after=lambda seconds: str(max(1, round(seconds))),
)


class WmsRejection(Exception):
    """A 400 the WMS answers with its ErrorResponse JSON.

    ``lower_case`` writes the keys as ``errorCode``/``hint``/``properties``, as some real
    responses do, so clients must parse case-insensitively.
    """

    def __init__(
        self,
        code: str,
        hint: str,
        properties: list[tuple[str, str]] | None = None,
        *,
        lower_case: bool = False,
    ) -> None:
        super().__init__(hint)
        self.code = code
        self.hint = hint
        self.properties = properties or []
        self.lower_case = lower_case

    def payload(self) -> dict[str, Any]:
        if self.lower_case:
            return {
                "$type": ERROR_TYPE,
                "errorCode": self.code,
                "hint": self.hint,
                "properties": [{"name": n, "value": v} for n, v in self.properties],
            }
        return {
            "$type": ERROR_TYPE,
            "ErrorCode": self.code,
            "Hint": self.hint,
            "Properties": [{"Name": n, "Value": v} for n, v in self.properties],
        }


class PreconditionFailed(Exception):
    """A 412: the order changed since the ETag the client sent in If-Match."""


class OrderNotFound(Exception):
    """A 404: no order with that id."""


class CustomerNotFound(Exception):
    """A 404: no customer with that id."""


CANCELED_STATUS = 2
"""``readOnly.status`` of a canceled order (0 open, 1 closed, 2 canceled); it is closed too."""


class TokenRefused(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.payload = {"error": error, "error_description": description}


def wms_timestamp(moment: datetime) -> str:
    """UTC, whole seconds, no offset: the WMS's ``lastModifiedDate`` style."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _identifier(value: Any) -> int | None:
    """``{"id": 1}`` (or ``{"id": "1"}``) → 1; anything else → None."""
    raw = value.get("id") if isinstance(value, dict) else None
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    return None


# --- RQL: the subset the connector uses -------------------------------------------------------

_RQL_TERM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(==|!=|=ge=|=gt=|=le=|=lt=)(.*)$")


@dataclass(frozen=True, slots=True)
class RqlTerm:
    path: tuple[str, ...]
    op: str
    value: str

    def test(self, order: dict[str, Any]) -> bool:
        actual: Any = order
        for part in self.path:
            if not isinstance(actual, dict):
                return False
            actual = next((v for k, v in actual.items() if k.lower() == part), None)
        if actual is None:
            return False
        expected: Any
        if isinstance(actual, bool):
            expected = self.value.lower() == "true"
        elif isinstance(actual, int):
            expected = int(self.value)
        elif self.path[-1].endswith("date"):
            actual, expected = _parse_moment(str(actual)), _parse_moment(self.value)
        else:
            expected = self.value
        match self.op:
            case "==":
                return bool(actual == expected)
            case "!=":
                return bool(actual != expected)
            case "=ge=":
                return bool(actual >= expected)
            case "=gt=":
                return bool(actual > expected)
            case "=le=":
                return bool(actual <= expected)
            case _:
                return bool(actual < expected)


def parse_rql(rql: str) -> list[RqlTerm]:
    """``referenceNum==X;readOnly.isClosed==true`` → terms, all of which must hold."""
    terms: list[RqlTerm] = []
    for raw in filter(None, (part.strip() for part in rql.split(";"))):
        match = _RQL_TERM.match(raw)
        if match is None:
            raise WmsRejection("InvalidRql", f"Cannot parse RQL term '{raw}'", [("Rql", rql)])
        field, op, value = match.groups()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        path = tuple(field.lower().split("."))
        if path[-1].endswith("date"):
            try:
                _parse_moment(value)
            except ValueError:
                raise WmsRejection(
                    "InvalidRql", f"'{value}' is not a valid date for {field}", [("Rql", rql)]
                ) from None
        terms.append(RqlTerm(path, op, value))
    return terms


_REFERENCE_TERM = re.compile(r"(?:^|;)\s*referenceNum\s*==\s*([^;]*)", re.IGNORECASE)


def rql_reference(rql: str | None) -> str | None:
    """The referenceNum a look-up asks about, so a fault rule can target it."""
    match = _REFERENCE_TERM.search(rql or "")
    return match.group(1).strip().strip("\"'") if match else None


# --- state ------------------------------------------------------------------------------------


class FakeWms:
    """The WMS's memory and the knobs tests turn. Safe to use from any thread."""

    def __init__(self, *, seed: int | None = 0, clock: Clock = system_clock) -> None:
        rng = random.Random(f"wms-{seed}")
        self.clock = clock
        self.client_id = f"{rng.getrandbits(128):032x}"
        self.client_secret = base64.urlsafe_b64encode(rng.randbytes(18)).decode()
        self.user_login_id = "1"
        self.customers: set[int] = {1}
        self.facilities: set[int] = {1}
        self.customer_names: dict[int, str] = {1: "Sandbox Goods Co."}
        self.facility_names: dict[int, str] = {1: "Main Warehouse"}
        self.deactivated: set[int] = set()
        """Customers ``GET /customers`` shows as ``readOnly.deactivated``."""
        self.carriers: dict[str, set[str]] = {c: set(m) for c, m in DEFAULT_CARRIERS.items()}
        self.missing_carriers: set[str] = set()
        """Unknown carriers refused as ``DoesNotExist`` with a ``Carrier`` property, as some
        WMS versions word it, instead of the default ``InvalidCarrier``: the client must read
        the property, not the code. Empty unless a test sets it."""
        self.accept_repeated_references = False
        """Some WMS setups take a second order with a reference they already have: then only
        the client's own care keeps an order from being created twice (``created`` counts)."""
        self.create_seconds = 0.0
        """How long creating an order takes, before it exists (and whatever happens to the
        client meanwhile: a killed worker's order still appears when this has passed)."""
        self.skus: set[str] = set(DEFAULT_SKUS)
        self.token_lifetime = TOKEN_LIFETIME
        self._lock = threading.Lock()
        self._orders: dict[str, dict[str, Any]] = {}
        self._posts: Counter[str] = Counter()
        self._created: Counter[str] = Counter()
        self._tokens: dict[str, datetime] = {}
        self._next_order_id = 1
        self._revoked = False
        self._forbidden = False
        self._stock: dict[str, tuple[int, int]] = {}
        self._versions: Counter[int] = Counter()
        """Each order's version, by order id: its ETag, which moves with every change."""
        self._picked: set[str] = set()
        self._cancels: Counter[str] = Counter()
        self._edit_before_cancel: set[str] = set()
        for sku in DEFAULT_SKUS:
            on_hand = rng.randint(0, 250)
            self._stock[sku] = (on_hand - rng.randint(0, min(on_hand, 20)), on_hand)

    # -- what tests read and steer ------------------------------------------------------------

    @property
    def credentials(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "user_login_id": self.user_login_id,
        }

    def posts(self, reference: str) -> int:
        """POST /orders requests received for the reference, rejected and faulted ones too."""
        with self._lock:
            return self._posts[reference]

    def created(self, reference: str) -> int:
        """Orders created for the reference: 0 or 1, since duplicates are rejected (unless
        ``accept_repeated_references`` is set: then what counts is that it stays 1)."""
        with self._lock:
            return self._created[reference]

    @property
    def orders(self) -> dict[str, dict[str, Any]]:
        """The stored orders by reference (snapshots: the server replaces, never mutates)."""
        with self._lock:
            return dict(self._orders)

    def order(self, reference: str) -> dict[str, Any] | None:
        with self._lock:
            return self._orders.get(reference)

    def ship(
        self, reference: str, tracking: str | None = None, carrier: str | None = None
    ) -> dict[str, Any]:
        """Close the order with tracking, as the warehouse does when the parcel leaves."""
        with self._lock:
            order = copy.deepcopy(self._orders[reference])
            read_only = order["readOnly"]
            routing = order.setdefault("routingInfo", {})
            read_only["isClosed"] = True
            read_only["lastModifiedDate"] = wms_timestamp(self.clock())
            routing["trackingNumber"] = tracking or f"1Z{read_only['orderId']:016d}"
            if carrier is not None:
                routing["carrier"] = carrier
            self._orders[reference] = order
            self._touch(reference)
            return order

    def pick(self, reference: str) -> None:
        """The warehouse has picked the order: it can no longer be canceled."""
        with self._lock:
            self._picked.add(reference)
            self._touch(reference)

    def edit_before_next_cancel(self, reference: str) -> None:
        """Someone changes the order between the client's read and its cancel: the next cancel
        of it finds its If-Match stale (412)."""
        with self._lock:
            self._edit_before_cancel.add(reference)

    def cancels(self, reference: str) -> int:
        """Orders canceled for the reference (0 or 1: a second cancel is refused)."""
        with self._lock:
            return self._cancels[reference]

    def order_by_id(self, order_id: int) -> tuple[dict[str, Any], str]:
        """The order and its ETag; raises OrderNotFound."""
        with self._lock:
            order = self._by_id(order_id)
            return order, self._etag(order_id)

    def cancel_order(self, order_id: int, if_match: str | None, body: Any) -> dict[str, Any]:
        """``POST /orders/{id}/canceler``: close the order as canceled, if it is still open and
        unpicked and ``if_match`` is its current ETag."""
        reason = body.get("reason") if isinstance(body, dict) else None
        if _blank(reason):
            raise WmsRejection("Required", "Reason is required", [("Field", "Reason")])
        with self._lock:
            order = self._by_id(order_id)
            if not if_match:
                raise WmsRejection(
                    "IfMatchRequired", "The If-Match header is required to cancel an order."
                )
            reference = str(order.get("referenceNum"))
            if reference in self._edit_before_cancel:
                self._edit_before_cancel.discard(reference)
                self._versions[order_id] += 1
            if if_match != self._etag(order_id):
                raise PreconditionFailed(order_id)
            read_only = order["readOnly"]
            if read_only.get("status") == CANCELED_STATUS:
                raise WmsRejection(
                    "OrderAlreadyCanceled",
                    f"Order {order_id} is already canceled.",
                    [("OrderId", str(order_id))],
                )
            if read_only.get("isClosed") or reference in self._picked:
                state = "closed" if read_only.get("isClosed") else "picked"
                raise WmsRejection(
                    "OrderCannotBeCanceled",
                    f"Order {order_id} is {state} and cannot be canceled.",
                    [("OrderId", str(order_id))],
                )
            order = copy.deepcopy(order)
            order["readOnly"].update(
                isClosed=True,
                status=CANCELED_STATUS,
                lastModifiedDate=wms_timestamp(self.clock()),
                cancelReason=str(reason),
            )
            self._orders[reference] = order
            self._versions[order_id] += 1
            self._cancels[reference] += 1
            return order

    def _by_id(self, order_id: int) -> dict[str, Any]:
        for order in self._orders.values():
            if order["readOnly"]["orderId"] == order_id:
                return order
        raise OrderNotFound(order_id)

    def _etag(self, order_id: int) -> str:
        return f'W/"{order_id}-{self._versions[order_id]}"'

    def _touch(self, reference: str) -> None:
        order = self._orders.get(reference)
        if order is not None:
            self._versions[order["readOnly"]["orderId"]] += 1

    def set_stock(self, sku: str, available: int, on_hand: int | None = None) -> None:
        with self._lock:
            self.skus.add(sku)
            self._stock[sku] = (available, available if on_hand is None else on_hand)

    def expire_tokens(self) -> None:
        """Every issued token stops working now (the next call gets 401, then refreshes)."""
        with self._lock:
            self._tokens.clear()

    def revoke_client(self) -> None:
        """The client credentials are rejected from now on, and issued tokens die with them."""
        with self._lock:
            self._revoked = True
            self._tokens.clear()

    def restore_client(self) -> None:
        with self._lock:
            self._revoked = False

    def forbid(self, forbidden: bool = True) -> None:
        """Every API call (not the token call) answers 403 while set."""
        with self._lock:
            self._forbidden = forbidden

    # -- what the HTTP layer calls ------------------------------------------------------------

    def note_post(self, reference: str | None) -> None:
        if reference is not None:
            with self._lock:
                self._posts[reference] += 1

    def issue_token(self, authorization: str | None, body: Any) -> dict[str, Any]:
        client_id, secret = _basic_credentials(authorization)
        with self._lock:
            if (
                self._revoked
                or not secrets.compare_digest(client_id, self.client_id)
                or not secrets.compare_digest(secret, self.client_secret)
            ):
                raise TokenRefused(401, "invalid_client", "The client credentials are invalid.")
            if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
                raise TokenRefused(
                    400, "unsupported_grant_type", "grant_type must be client_credentials."
                )
            login = body.get("user_login_id")
            if login is not None and str(login) != self.user_login_id:
                raise TokenRefused(401, "invalid_client", f"Unknown user_login_id '{login}'.")
            token = secrets.token_urlsafe(32)
            self._tokens[token] = self.clock() + timedelta(seconds=self.token_lifetime)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}

    def token_valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and self.clock() < expires

    @property
    def forbidden(self) -> bool:
        return self._forbidden

    def create_order(self, body: Any) -> dict[str, Any]:
        """Validate like the real WMS (first problem wins) and store; raises WmsRejection."""
        if not isinstance(body, dict):
            raise WmsRejection("InvalidJson", "The request body is not a JSON object.")
        reference = body.get("referenceNum")
        if _blank(reference):
            raise WmsRejection("Required", "ReferenceNum is required", [("Field", "ReferenceNum")])
        reference = str(reference)
        with self._lock:
            if reference in self._orders and not self.accept_repeated_references:
                raise WmsRejection(
                    "DuplicateReferenceNum",
                    f"An order with ReferenceNum '{reference}' already exists for customer 1",
                    [("ReferenceNum", reference)],
                )
            self._validate(body)
            now = wms_timestamp(self.clock())
            order: dict[str, Any] = {
                "readOnly": {
                    "orderId": self._next_order_id,
                    "isClosed": False,
                    "creationDate": now,
                    "lastModifiedDate": now,
                    "status": 0,
                },
                **{k: v for k, v in body.items() if k != "readOnly"},
            }
            self._next_order_id += 1
            self._orders.setdefault(reference, order)  # a look-up finds the first
            self._created[reference] += 1
            return order

    def _validate(self, body: dict[str, Any]) -> None:
        customer = _identifier(body.get("customerIdentifier"))
        if customer is None:
            raise WmsRejection(
                "Required", "CustomerIdentifier is required", [("Field", "CustomerIdentifier")]
            )
        if customer not in self.customers:
            raise WmsRejection(
                "InvalidCustomer", f"Customer {customer} not found", [("CustomerId", str(customer))]
            )
        facility = _identifier(body.get("facilityIdentifier"))
        if facility is None:
            raise WmsRejection(
                "Required", "FacilityIdentifier is required", [("Field", "FacilityIdentifier")]
            )
        if facility not in self.facilities:
            raise WmsRejection(
                "InvalidFacility", f"Facility {facility} not found", [("FacilityId", str(facility))]
            )
        _validate_ship_to(body.get("shipTo"))
        routing = body.get("routingInfo")
        if not isinstance(routing, dict):
            routing = {}
        carrier, mode = str(routing.get("carrier") or ""), str(routing.get("mode") or "")
        if not carrier:
            raise WmsRejection(
                "Required", "RoutingInfo.Carrier is required", [("Field", "RoutingInfo.Carrier")]
            )
        if carrier in self.missing_carriers and carrier not in self.carriers:
            raise WmsRejection(
                "DoesNotExist",
                f"The requested resource does not exist: carrier '{carrier}'",
                [("Carrier", carrier)],
            )
        if mode not in self.carriers.get(carrier, ()):
            raise WmsRejection(
                "InvalidCarrier",
                f"Carrier '{carrier}' with mode '{mode}' is not set up for customer {customer}",
                [("Carrier", carrier), ("Mode", mode)],
                lower_case=True,  # deterministic, so tests can pin case-insensitive parsing
            )
        items = body.get("orderItems")
        if not isinstance(items, list) or not items:
            raise WmsRejection("Required", "OrderItems is required", [("Field", "OrderItems")])
        for index, item in enumerate(items):
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            sku = identifier.get("sku") if isinstance(identifier, dict) else None
            if _blank(sku):
                field = f"OrderItems[{index}].ItemIdentifier.Sku"
                raise WmsRejection("Required", f"{field} is required", [("Field", field)])
            if sku not in self.skus:
                raise WmsRejection(
                    "InvalidSku",
                    f"Sku '{sku}' not found for customer {customer}",
                    [("Sku", str(sku))],
                )
            qty = item.get("qty")
            if isinstance(qty, bool) or not isinstance(qty, int | float) or qty <= 0:
                field = f"OrderItems[{index}].Qty"
                raise WmsRejection(
                    "InvalidQty", f"{field} must be greater than zero", [("Field", field)]
                )

    def find_orders(self, rql: str, page_size: int, page: int) -> dict[str, Any]:
        terms = parse_rql(rql)
        reference = rql_reference(rql)
        with self._lock:
            if reference is not None:  # the connector's hot path: one dict look-up
                found = self._orders.get(reference)
                candidates = [found] if found is not None else []
            else:
                candidates = list(self._orders.values())
        try:
            matches = [o for o in candidates if all(term.test(o) for term in terms)]
        except ValueError as exc:
            raise WmsRejection("InvalidRql", str(exc), [("Rql", rql)]) from None
        matches.sort(key=lambda o: o["readOnly"]["orderId"])
        start = (page - 1) * page_size
        return {
            "totalResults": len(matches),
            "_embedded": {ORDER_REL: matches[start : start + page_size]},
        }

    def customer(self, customer_id: int) -> dict[str, Any]:
        """``GET /customers/{id}``; raises CustomerNotFound."""
        with self._lock:
            if customer_id not in self.customers:
                raise CustomerNotFound(customer_id)
            return self._customer(customer_id)

    def find_customers(self, rql: str, page_size: int, page: int) -> dict[str, Any]:
        """``GET /customers?rql=…``: the customers every term holds for, by id, paged."""
        terms = parse_rql(rql)
        with self._lock:
            customers = [self._customer(c) for c in sorted(self.customers)]
        try:
            matches = [c for c in customers if all(term.test(c) for term in terms)]
        except ValueError as exc:
            raise WmsRejection("InvalidRql", str(exc), [("Rql", rql)]) from None
        start = (page - 1) * page_size
        return {
            "totalResults": len(matches),
            "_embedded": {CUSTOMER_REL: matches[start : start + page_size]},
        }

    def _customer(self, customer_id: int) -> dict[str, Any]:
        facilities = [
            {"id": f, "name": self.facility_names.get(f, f"Facility {f}")}
            for f in sorted(self.facilities)
        ]
        return {
            "readOnly": {
                "customerId": customer_id,
                "creationDate": "2020-01-01T00:00:00",
                "deactivated": customer_id in self.deactivated,
            },
            "companyInfo": {
                "companyName": self.customer_names.get(customer_id, f"Customer {customer_id}")
            },
            "facilities": facilities,
            "primaryFacilityIdentifier": facilities[0] if facilities else None,
        }

    def stock_summaries(self, page_size: int, page: int) -> dict[str, Any]:
        with self._lock:
            stock = list(self._stock.items())
        start = (page - 1) * page_size
        return {
            "totalResults": len(stock),
            "summaries": [
                {
                    "facilityId": 1,
                    "itemIdentifier": {"sku": sku},
                    "available": available,
                    "onHand": on_hand,
                    "allocated": max(0, on_hand - available),
                }
                for sku, (available, on_hand) in stock[start : start + page_size]
            ],
        }


def _validate_ship_to(ship_to: Any) -> None:
    if not isinstance(ship_to, dict):
        raise WmsRejection("Required", "ShipTo is required", [("Field", "ShipTo")])
    country = str(ship_to.get("country") or "").strip().upper()
    required = ["name", "address1", "city"]
    if country in ("US", "CA"):
        required.append("state")
    required += ["zip", "country"]
    for key in required:
        if _blank(ship_to.get(key)):
            field = f"ShipTo.{key[0].upper()}{key[1:]}"
            raise WmsRejection("Required", f"{field} is required", [("Field", field)])


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


# --- HTTP -------------------------------------------------------------------------------------


def _int_param(request: Request, name: str, default: int, upper: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        value = default
    return min(max(value, 1), upper)


async def _json_body(request: Request) -> Any:
    """The parsed body, or None when it is not JSON (the handler then rejects it)."""
    try:
        return await request.json()
    except ValueError:
        return None


def build_wms_app(wms: FakeWms, network: Network) -> ConnectionDropper:
    """The WMS's HTTP face. Every endpoint goes through ``network`` (latency, faults, counts)."""

    def denied(request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not wms.token_valid(token.strip()):
            return PlainTextResponse(DENIED, 401)
        if wms.forbidden:
            rejection = WmsRejection("Forbidden", "The user has no access to customer 1.")
            return JSONResponse(rejection.payload(), 403)
        return None

    def guarded(request: Request, answer: Callable[[], Response]) -> Callable[[], Response]:
        def handle() -> Response:
            return denied(request) or answer()

        return handle

    async def token(request: Request) -> Response:
        body = await _json_body(request)

        def handle() -> Response:
            try:
                return JSONResponse(wms.issue_token(request.headers.get("authorization"), body))
            except TokenRefused as refused:
                return JSONResponse(refused.payload, refused.status)

        return await network.exchange("wms.token", None, WMS_DIALECT, handle)

    async def create_order(request: Request) -> Response:
        body = await _json_body(request)
        reference = body.get("referenceNum") if isinstance(body, dict) else None
        reference = None if reference is None else str(reference)
        wms.note_post(reference)
        if wms.create_seconds:
            await asyncio.sleep(wms.create_seconds)

        def answer() -> Response:
            try:
                order = wms.create_order(body)
            except WmsRejection as rejection:
                return JSONResponse(rejection.payload(), 400)
            location = f"/orders/{order['readOnly']['orderId']}"
            return JSONResponse(order, 201, {"Location": location})

        handle = guarded(request, answer)
        return await network.exchange("wms.create_order", reference, WMS_DIALECT, handle)

    async def find_orders(request: Request) -> Response:
        rql = request.query_params.get("rql", "")

        def answer() -> Response:
            size = _int_param(request, "pgsiz", 100, 1000)
            page = _int_param(request, "pgnum", 1, 1_000_000)
            try:
                return JSONResponse(wms.find_orders(rql, size, page))
            except WmsRejection as rejection:
                return JSONResponse(rejection.payload(), 400)

        handle = guarded(request, answer)
        return await network.exchange("wms.find_orders", rql_reference(rql), WMS_DIALECT, handle)

    async def get_order(request: Request) -> Response:
        order_id = int(request.path_params["order_id"])

        def answer() -> Response:
            try:
                order, etag = wms.order_by_id(order_id)
            except OrderNotFound:
                return PlainTextResponse(f"Order {order_id} not found", 404)
            return JSONResponse(order, headers={"ETag": etag})

        handle = guarded(request, answer)
        return await network.exchange("wms.get_order", str(order_id), WMS_DIALECT, handle)

    async def cancel_order(request: Request) -> Response:
        order_id = int(request.path_params["order_id"])
        body = await _json_body(request)

        def answer() -> Response:
            try:
                order = wms.cancel_order(order_id, request.headers.get("if-match"), body)
            except OrderNotFound:
                return PlainTextResponse(f"Order {order_id} not found", 404)
            except PreconditionFailed:
                return PlainTextResponse("The order was changed by someone else.", 412)
            except WmsRejection as rejection:
                return JSONResponse(rejection.payload(), 400)
            etag = wms.order_by_id(order_id)[1]
            return JSONResponse(order, headers={"ETag": etag})

        handle = guarded(request, answer)
        return await network.exchange("wms.cancel_order", str(order_id), WMS_DIALECT, handle)

    async def get_customer(request: Request) -> Response:
        customer_id = int(request.path_params["customer_id"])

        def answer() -> Response:
            try:
                return JSONResponse(wms.customer(customer_id))
            except CustomerNotFound:
                return PlainTextResponse(f"Customer {customer_id} not found", 404)

        handle = guarded(request, answer)
        return await network.exchange("wms.customers", str(customer_id), WMS_DIALECT, handle)

    async def find_customers(request: Request) -> Response:
        rql = request.query_params.get("rql", "")

        def answer() -> Response:
            size = _int_param(request, "pgsiz", 100, 1000)
            page = _int_param(request, "pgnum", 1, 1_000_000)
            try:
                return JSONResponse(wms.find_customers(rql, size, page))
            except WmsRejection as rejection:
                return JSONResponse(rejection.payload(), 400)

        handle = guarded(request, answer)
        return await network.exchange("wms.customers", None, WMS_DIALECT, handle)

    async def stock(request: Request) -> Response:
        def answer() -> Response:
            size = _int_param(request, "pgsiz", 500, 1000)
            page = _int_param(request, "pgnum", 1, 1_000_000)
            return JSONResponse(wms.stock_summaries(size, page))

        return await network.exchange("wms.stock", None, WMS_DIALECT, guarded(request, answer))

    app = Starlette(
        routes=[
            Route("/AuthServer/api/Token", token, methods=["POST"]),
            Route("/orders", create_order, methods=["POST"]),
            Route("/orders", find_orders, methods=["GET"]),
            Route("/orders/{order_id:int}", get_order, methods=["GET"]),
            Route("/orders/{order_id:int}/canceler", cancel_order, methods=["POST"]),
            Route("/inventory/stocksummaries", stock, methods=["GET"]),
            Route("/customers", find_customers, methods=["GET"]),
            Route("/customers/{customer_id:int}", get_customer, methods=["GET"]),
        ]
    )
    return ConnectionDropper(app)
