"""The plain records imtui exchanges with shops and warehouses, whatever the platform."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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


ADDRESS_FIELDS = tuple(f.name for f in fields(Address))
"""The ship-to fields, in form order."""


@dataclass(frozen=True, slots=True, order=True)
class OrderLine:
    """Ordered by SKU then quantity, so two versions of an order compare line for line."""

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
    cancelled_at: datetime | None = None
    """When the shop cancelled the order (None: not cancelled). Cancelled orders are listed too,
    so the engine can stop or cancel them (B11)."""
    fulfillment_status: str = ""
    """The shop's own word for how far it is fulfilled (GraphQL ``displayFulfillmentStatus``:
    ``UNFULFILLED``, ``PARTIALLY_FULFILLED``, ``FULFILLED``…); empty when the shop did not say."""


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
    is_cancelled: bool = False
    """Canceled in the WMS (closed, without a shipment)."""
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
