"""The interface every platform connector implements, and the plain records they exchange.

A new platform is one new module with a class that satisfies :class:`OrderSource` or
:class:`Warehouse`; register it in :mod:`imtui.connectors.registry`. Every failure leaves a
connector as :class:`imtui.domain.failures.ConnectorError` — nothing else escapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from imtui.domain.records import (
    Address,
    FulfillmentRequest,
    OrderLine,
    SourceOrder,
    StockLevel,
    WmsOrder,
    WmsOrderRequest,
)

__all__ = [
    "Address",
    "FulfillmentRequest",
    "OrderLine",
    "OrderSource",
    "SourceOrder",
    "StockLevel",
    "Warehouse",
    "WmsOrder",
    "WmsOrderRequest",
]


class OrderSource(Protocol):
    """A web shop (Shopify Admin REST shape)."""

    async def list_unfulfilled_orders(self, updated_since: datetime | None) -> list[SourceOrder]:
        """Every open, unfulfilled order updated since the watermark, across all pages."""
        ...

    async def create_fulfillment(self, request: FulfillmentRequest) -> str:
        """Mark the order fulfilled with tracking; returns the shop's fulfillment id."""
        ...

    async def set_inventory_level(self, sku: str, available: int) -> bool:
        """Set the available quantity of the SKU; False when the shop does not sell it."""
        ...

    async def aclose(self) -> None: ...


class Warehouse(Protocol):
    """A WMS (Extensiv 3PL Warehouse Manager REST shape)."""

    async def create_order(self, request: WmsOrderRequest) -> WmsOrder:
        """Create the order. A duplicate reference raises a DUPLICATE-class failure."""
        ...

    async def find_order(self, reference: str) -> WmsOrder | None:
        """Look an order up by ``referenceNum``; None when the WMS has none."""
        ...

    async def list_closed_orders(self, modified_since: datetime | None) -> list[WmsOrder]:
        """Closed (shipped) orders modified since the watermark, across all pages."""
        ...

    async def stock_summaries(self) -> list[StockLevel]: ...

    async def aclose(self) -> None: ...
