"""What an order must have before it may be sent to the WMS (B3), checked locally."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imtui.domain.records import Address


class OrderStatus(StrEnum):
    QUEUED = "queued"
    """Waiting to be delivered to the WMS (first try or a retry)."""
    HELD = "held"
    """Needs a person: unmapped ship method, incomplete address, or rejected by the WMS."""
    DELIVERED = "delivered"
    """The WMS has it."""
    SHIPPED = "shipped"
    """The WMS closed it with tracking; the tracking is on its way to the shop."""
    FULFILLED = "fulfilled"
    """The shop has the tracking."""
    SKIPPED = "skipped"
    """Gave up after its retry window (B6)."""
    CANCELLING = "cancelling"
    """Cancelled in the shop once it may have reached the WMS: being cancelled there (B11)."""
    CANCELLED = "cancelled"
    """Cancelled in the shop: never sent, or cancelled in the WMS (B11)."""


NOT_IN_WMS = (OrderStatus.QUEUED, OrderStatus.HELD, OrderStatus.SKIPPED)
"""On its way to the WMS, not there yet: what an edit may change and a delivery moves on."""
NOT_EDITABLE = "only orders on their way to the WMS can be edited"


STATES_REQUIRED = frozenset({"US", "CA"})


def missing_address_fields(address: Address) -> list[str]:
    """The ship-to fields a WMS will reject the order for, in form order."""
    missing = [
        name
        for name in ("name", "address1", "city", "zip", "country")
        if not getattr(address, name).strip()
    ]
    if address.country.strip().upper() in STATES_REQUIRED and not address.state.strip():
        missing.insert(missing.index("zip") if "zip" in missing else len(missing), "state")
    return missing


@dataclass(frozen=True, slots=True)
class Carrier:
    carrier: str
    mode: str
    billing_code: str = "Prepaid"


def order_reference(prefix: str, number: str) -> str:
    """The WMS ``referenceNum``: stable, unique per source connection, readable in the WMS."""
    cleaned = "".join(ch for ch in number if ch.isalnum() or ch in "-_.")
    return f"{prefix}-{cleaned}"
