"""The plain records imtui exchanges with shops and warehouses, whatever the platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    name: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class SourceOrder:
    """An order as the shop reports it."""

    remote_id: str
    number: str
    """The shop's human order number, e.g. "#1001"."""
    ship_to: Address | None
    ship_method_code: str
    """``shipping_lines[0].code`` (falls back to the title when the shop sends no code)."""
    ship_method_title: str
    lines: tuple[OrderLine, ...]
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WmsOrderRequest:
    """What the engine asks the WMS to create."""

    reference: str
    """Our unique ``referenceNum``; the WMS rejects a second order with the same one."""
    customer_id: str
    facility_id: str
    carrier: str
    mode: str
    billing_code: str
    ship_to: Address
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True)
class WmsOrder:
    """An order as the WMS reports it."""

    wms_id: str
    reference: str
    is_closed: bool = False
    tracking_number: str | None = None
    carrier: str | None = None
    last_modified: datetime | None = None

    @property
    def shipped(self) -> bool:
        return self.is_closed and bool(self.tracking_number)


@dataclass(frozen=True, slots=True)
class StockLevel:
    sku: str
    available: int
    on_hand: int


@dataclass(frozen=True, slots=True)
class FulfillmentRequest:
    remote_order_id: str
    tracking_number: str
    carrier: str
    extra: dict[str, str] = field(default_factory=dict)
