"""An order the shop changed or cancelled after imtui downloaded it (B11): what to do about it.

Pure rules; the engine (``engine/shop_updates.py``) applies the decision in the store.

- Cancelled before it reached the WMS → never sent, shown as cancelled, its alerts closed.
- Cancelled once it may be in the WMS (delivered, or a send in flight) and not shipped →
  cancelled in the WMS, retried like any send; a refusal (picked, shipped) is for a person.
- Cancelled after it shipped → a person is told; nothing can be undone from here.
- Changed before it reached the WMS → the local copy follows, unless a person edited one of
  the fields the shop changed: then nothing is overwritten, the order waits, and a person sees
  both versions.
- Changed once in the WMS → a person sees the difference (imtui does not edit WMS orders).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from imtui.domain.orders import NOT_IN_WMS, OrderStatus
from imtui.domain.records import ADDRESS_FIELDS, Address, OrderLine, SourceOrder

FOLLOWED_FIELDS = (*ADDRESS_FIELDS, "ship_method_code", "lines")
"""What a shop's change can move in the local copy (the title follows its code)."""


@dataclass(frozen=True, slots=True)
class ShopVersion:
    """The parts of an order the shop owns and imtui copies."""

    address: Address
    ship_method_code: str
    ship_method_title: str
    lines: tuple[OrderLine, ...]

    @classmethod
    def of(cls, order: SourceOrder) -> ShopVersion:
        return cls(
            order.ship_to or Address(),
            order.ship_method_code,
            order.ship_method_title,
            tuple(order.lines),
        )

    def value(self, field: str) -> str:
        """A field as a person reads it ("lines": "SKU-1 ×2, SKU-9 ×1")."""
        if field == "lines":
            return ", ".join(f"{line.sku} ×{line.quantity}" for line in self.lines)
        if field == "ship_method_code":
            return self.ship_method_code
        return str(getattr(self.address, field))


def to_text(version: ShopVersion) -> str:
    """The version as stored with the order (``order.source_version``)."""
    return json.dumps(
        {
            "address": {f: getattr(version.address, f) for f in ADDRESS_FIELDS},
            "ship_method_code": version.ship_method_code,
            "ship_method_title": version.ship_method_title,
            "lines": sorted([line.sku, line.quantity] for line in version.lines),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def from_text(text: str | None) -> ShopVersion | None:
    """A stored version; None when there is none (an order taken in before it was kept) or
    it cannot be read."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return ShopVersion(
            Address(**{f: str(data["address"].get(f, "")) for f in ADDRESS_FIELDS}),
            str(data["ship_method_code"]),
            str(data["ship_method_title"]),
            tuple(OrderLine(str(sku), int(quantity)) for sku, quantity in data["lines"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


@dataclass(frozen=True, slots=True)
class Difference:
    field: str
    here: str
    shop: str


def differences(here: ShopVersion, shop: ShopVersion) -> list[Difference]:
    """The followed fields that differ, in form order."""
    return [
        Difference(field, here.value(field), shop.value(field))
        for field in FOLLOWED_FIELDS
        if here.value(field) != shop.value(field)
        and not (field == "lines" and sorted(here.lines) == sorted(shop.lines))
    ]


class Follow(StrEnum):
    NOTHING = "nothing"
    CANCEL_HERE = "cancel here"
    """Never sent: cancelled before it reached the WMS."""
    CANCEL_IN_WMS = "cancel in the WMS"
    CANCELLED_AFTER_SHIPPING = "cancelled after shipping"
    FOLLOW = "follow"
    CONFLICT = "conflict"
    """A person edited a field the shop changed too: both versions, for a person."""
    CHANGED_IN_WMS = "changed in the WMS"
    """Changed after it reached the WMS: the difference, for a person."""


def decide(
    status: OrderStatus,
    *,
    cancelled: bool,
    maybe_in_wms: bool,
    shop_changed: list[Difference],
    edited_here: frozenset[str],
) -> Follow:
    """What to do with a shop's new version of an order.

    ``shop_changed``: what the shop changed since the version last seen; ``maybe_in_wms``: the
    order is in the WMS, or a send of it is in flight (its outcome not recorded yet), so only
    the WMS can say whether it is there.
    """
    if status == OrderStatus.CANCELLED:
        return Follow.NOTHING
    if cancelled:
        if status in (OrderStatus.SHIPPED, OrderStatus.FULFILLED):
            return Follow.CANCELLED_AFTER_SHIPPING
        if status == OrderStatus.CANCELLING:
            return Follow.NOTHING
        if status in NOT_IN_WMS and not maybe_in_wms:
            return Follow.CANCEL_HERE
        return Follow.CANCEL_IN_WMS
    if not shop_changed or status == OrderStatus.CANCELLING:
        return Follow.NOTHING
    if status not in NOT_IN_WMS or maybe_in_wms:
        return Follow.CHANGED_IN_WMS
    if edited_here & {difference.field for difference in shop_changed}:
        return Follow.CONFLICT
    return Follow.FOLLOW


def describe(changed: list[Difference]) -> str:
    """Both versions, one field per line: "city: here 'Austin', shop 'Dallas'"."""
    return "\n".join(f"{d.field}: here {d.here!r}, shop {d.shop!r}" for d in changed)
