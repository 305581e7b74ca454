"""The interface every platform connector implements, and the plain records they exchange.

A new platform is one new module with a class that satisfies :class:`OrderSource` or
:class:`Warehouse`; register it in :mod:`imtui.connectors.registry`. Every failure leaves a
connector as :class:`imtui.domain.failures.ConnectorError` — nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


PageHandler = Callable[[list[SourceOrder]], Awaitable[None]]
"""Takes one page of a download as it arrives (the engine stores it at once)."""


class OrderSource(Protocol):
    """A web shop (Shopify Admin GraphQL shape; the legacy REST one too)."""

    async def list_unfulfilled_orders(
        self, updated_since: datetime | None, *, on_page: PageHandler | None = None
    ) -> list[SourceOrder]:
        """Every unfulfilled order updated since the watermark, across all pages — cancelled
        ones included (``SourceOrder.cancelled_at``) where the platform can tell. With
        ``on_page``, pages are handed over as they arrive, in update order where the platform
        allows (then nothing is returned)."""
        ...

    async def create_fulfillment(self, request: FulfillmentRequest) -> str:
        """Mark the order fulfilled with tracking; returns the shop's fulfillment id."""
        ...

    async def set_inventory_level(
        self, sku: str, available: int, *, idempotency_key: str | None = None
    ) -> bool:
        """Set the available quantity of the SKU; False when the shop does not sell it.

        ``idempotency_key`` names this push: the same key on every retry of the same push lets
        the shop apply it once (GraphQL ``@idempotent``); None: a fresh key per call."""
        ...

    async def probe(self) -> str:
        """A connection test: the token and one small read (the shop's name). Returns what was
        read, in a few words of the shop's own data; fails as every call does. Writes
        nothing remotely."""
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

    async def cancel_order(self, wms_id: str, reason: str) -> WmsOrder:
        """Cancel the order (B11); one already canceled is a success, one picked or shipped a
        NEEDS_PERSON failure in the WMS's words."""
        ...

    async def stock_summaries(self) -> list[StockLevel]: ...

    async def probe(self) -> str:
        """A connection test: a token, then one small read (the customer orders are sent for).
        Returns what was read, in a few words of the WMS's own data; fails as every call
        does. Writes nothing remotely."""
        ...

    async def aclose(self) -> None: ...
