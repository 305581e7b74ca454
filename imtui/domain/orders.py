"""What an order must have before it may be sent to the WMS (B3), checked locally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imtui.domain.states import NOT_EDITABLE as NOT_EDITABLE
from imtui.domain.states import NOT_IN_WMS as NOT_IN_WMS
from imtui.domain.states import OrderStatus as OrderStatus

if TYPE_CHECKING:
    from imtui.domain.records import Address


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
