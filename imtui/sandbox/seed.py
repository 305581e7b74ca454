"""Realistic shop orders for tests, the demo and ``imtui sandbox --orders N``.

Everything is driven by ``random.Random`` seeded from the arguments, so ``make_order(7)`` is the
same order on every run and a demo replays the same morning. A few orders are deliberately bad
(an address the WMS rejects, a ship method nobody mapped, a SKU the WMS lacks) because the
product exists for exactly those.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import count, islice
from typing import Any, Literal

from imtui.sandbox.wms import DEFAULT_SKUS

SHIP_METHODS: dict[str, str] = {
    "UPS_GROUND": "UPS Ground",
    "UPS_NEXT_DAY_AIR": "UPS Next Day Air",
    "FEDEX_GROUND": "FedEx Ground",
    "FEDEX_PRIORITY_OVERNIGHT": "FedEx Priority Overnight",
    "USPS_PRIORITY": "USPS Priority Mail",
    "USPS_GROUND_ADVANTAGE": "USPS Ground Advantage",
}
"""Shop ship-method ``code`` → ``title``: the usual ones, each worth a mapping to a carrier."""

SANDBOX_MAPPINGS: dict[str, tuple[str, str]] = {
    "UPS_GROUND": ("UPS", "03"),
    "UPS_NEXT_DAY_AIR": ("UPS", "92"),
    "FEDEX_GROUND": ("FedEx", "FEDEX_GROUND"),
    "FEDEX_PRIORITY_OVERNIGHT": ("FedEx", "PRIORITY_OVERNIGHT"),
    "USPS_PRIORITY": ("USPS", "Priority"),
    "USPS_GROUND_ADVANTAGE": ("USPS", "Ground Advantage"),
}
"""Each usual method → the sandbox WMS's carrier and mode for it (what a mapping says)."""

UNUSUAL_SHIP_METHOD = "SAME_DAY_COURIER"
"""A method shops offer now and then that nobody has mapped yet (B8, B9)."""
SHIP_METHODS_WITH_UNUSUAL = {**SHIP_METHODS, UNUSUAL_SHIP_METHOD: "Same Day Courier"}

UNKNOWN_SKU = "SKU-999"
"""Sold by the shop, unknown to the WMS."""

_PLACES: tuple[tuple[str, str, str], ...] = (
    ("Springfield", "IL", "62701"),
    ("Austin", "TX", "78701"),
    ("Portland", "OR", "97205"),
    ("Denver", "CO", "80202"),
    ("Madison", "WI", "53703"),
    ("Columbus", "OH", "43215"),
    ("Raleigh", "NC", "27601"),
    ("Boise", "ID", "83702"),
    ("Tucson", "AZ", "85701"),
    ("Albany", "NY", "12207"),
    ("Burlington", "VT", "05401"),
    ("Savannah", "GA", "31401"),
)
_STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Park Blvd", "Lake Rd")
_FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas")
_LAST = ("Okafor", "Lindqvist", "García", "Nguyen", "Schmidt", "Kowalski", "Haddad", "Reyes")
_COMPANIES = ("", "", "", "Acme Corp", "Northwind Traders", "Blue Fern Studio")

BAD_ADDRESSES: dict[str, dict[str, str]] = {
    "missing_address1": {
        "name": "Pat Doe",
        "company": "",
        "address1": "",
        "address2": "",
        "city": "Austin",
        "province_code": "TX",
        "zip": "78701",
        "country_code": "US",
        "phone": "",
    },
    "missing_state": {
        # passes a check for street, city and zip; the WMS still wants a state for the US
        "name": "Sam Roe",
        "company": "",
        "address1": "12 Harbor Way",
        "address2": "",
        "city": "Portland",
        "province_code": "",
        "zip": "97205",
        "country_code": "US",
        "phone": "",
    },
}
"""Deliberately incomplete ``shipping_address`` values, by what is wrong with them."""


def random_address(rng: random.Random) -> dict[str, str]:
    """A complete US ``shipping_address`` in Shopify's shape."""
    city, state, zip_code = rng.choice(_PLACES)
    return {
        "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        "company": rng.choice(_COMPANIES),
        "address1": f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}",
        "address2": rng.choice(("", "", "", f"Apt {rng.randint(1, 40)}")),
        "city": city,
        "province_code": state,
        "zip": zip_code,
        "country_code": "US",
        "phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
    }


def make_order(
    n: int,
    *,
    sku: str | Sequence[str] = "SKU-1",
    quantity: int = 1,
    ship_method: str = "UPS_GROUND",
    address: Mapping[str, str] | Literal["random"] | None = "random",
    updated_at: datetime | str | None = None,
) -> dict[str, Any]:
    """Shop order number ``#{1000+n}``, ready for ``sandbox.shop.add_order``.

    ``address="random"`` picks a valid address seeded by ``n``; ``None`` sends
    ``shipping_address: null`` (Shopify does, for pick-ups). ``ship_method`` is a code; its
    title comes from :data:`SHIP_METHODS` when known.
    """
    rng = random.Random(f"order-{n}")
    skus = [sku] if isinstance(sku, str) else list(sku)
    order: dict[str, Any] = {
        "name": f"#{1000 + n}",
        "email": f"customer{n}@example.com",
        "currency": "USD",
        "shipping_address": (
            random_address(rng)
            if address == "random"
            else None
            if address is None
            else dict(address)
        ),
        "shipping_lines": [
            {
                "title": SHIP_METHODS_WITH_UNUSUAL.get(ship_method, ship_method),
                "code": ship_method,
                "price": "9.95",
            }
        ],
        "line_items": [
            {"sku": s, "quantity": quantity, "title": f"Product {s}", "price": "19.00"}
            for s in skus
        ],
    }
    if updated_at is not None:
        order["updated_at"] = updated_at
    return order


def order_stream(
    seed: int = 0,
    *,
    start: int = 1,
    bad_rate: float = 0.05,
    skus: Sequence[str] = DEFAULT_SKUS,
) -> Iterator[dict[str, Any]]:
    """An endless, seeded supply of mostly good orders, for the demo's live feed.

    About ``bad_rate`` of them carry one problem each: a bad address, the unmapped ship method,
    or a SKU the WMS does not stock.
    """
    rng = random.Random(f"stream-{seed}")
    methods = list(SHIP_METHODS)
    for n in count(start):
        lines = rng.sample(list(skus), k=min(len(skus), rng.choice((1, 1, 1, 2, 3))))
        ship_method = rng.choice(methods)
        address: Mapping[str, str] | Literal["random"] = "random"
        if rng.random() < bad_rate:
            problem = rng.choice(("address", "ship_method", "sku"))
            if problem == "address":
                address = BAD_ADDRESSES[rng.choice(sorted(BAD_ADDRESSES))]
            elif problem == "ship_method":
                ship_method = UNUSUAL_SHIP_METHOD
            else:
                lines.append(UNKNOWN_SKU)
        yield make_order(
            n, sku=lines, quantity=rng.randint(1, 3), ship_method=ship_method, address=address
        )


def realistic_orders(
    total: int, seed: int = 0, *, start: int = 1, bad_rate: float = 0.05
) -> list[dict[str, Any]]:
    """The first ``total`` orders of :func:`order_stream`."""
    return list(islice(order_stream(seed, start=start, bad_rate=bad_rate), total))


ADDRESS_FIELDS = ("address1", "city", "province_code", "zip", "country_code")
"""What a US ``shipping_address`` needs before the WMS takes it (the seed's bad ones lack one)."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What a shop's orders hold, counted, so that the sandbox's banner says what a first poll
    will really find rather than what a seed usually makes."""

    names: tuple[str, ...]
    methods: tuple[str, ...]
    skus: tuple[str, ...]
    unmapped: dict[str, int]
    """Ship method → orders using it, for methods no mapping covers."""
    unstocked: dict[str, int]
    """SKU → orders carrying it, for SKUs the WMS does not stock."""
    bad_addresses: int
    ready: int
    """Orders with none of those problems: the ones a first poll delivers."""


def summarize_orders(
    orders: Iterable[Mapping[str, Any]], *, mapped: Collection[str], stocked: Collection[str]
) -> SeedSummary:
    """Count what ``orders`` (in the shop's shape) hold against the mappings and the WMS's
    stock."""
    listed = list(orders)
    unmapped: Counter[str] = Counter()
    unstocked: Counter[str] = Counter()
    bad_addresses = ready = 0
    for order in listed:
        missing = sorted(set(_methods(order)) - set(mapped))
        foreign = sorted(set(_skus(order)) - set(stocked))
        incomplete = not _address_complete(order.get("shipping_address"))
        unmapped.update(missing)
        unstocked.update(foreign)
        bad_addresses += incomplete
        ready += not (missing or foreign or incomplete)
    return SeedSummary(
        names=tuple(str(order.get("name", "")) for order in listed),
        methods=tuple(sorted({code for order in listed for code in _methods(order)})),
        skus=tuple(sorted({sku for order in listed for sku in _skus(order)}, key=_sku_order)),
        unmapped=dict(unmapped),
        unstocked=dict(unstocked),
        bad_addresses=bad_addresses,
        ready=ready,
    )


def _methods(order: Mapping[str, Any]) -> list[str]:
    return [str(line.get("code") or "") for line in order.get("shipping_lines") or []]


def _skus(order: Mapping[str, Any]) -> list[str]:
    return [str(item.get("sku") or "") for item in order.get("line_items") or []]


def _sku_order(sku: str) -> tuple[str, int]:
    """``SKU-2`` before ``SKU-10``."""
    stem, _, number = sku.rpartition("-")
    return (stem, int(number)) if number.isdigit() else (sku, -1)


def _address_complete(address: Mapping[str, str] | None) -> bool:
    return address is not None and all(address.get(field) for field in ADDRESS_FIELDS)
