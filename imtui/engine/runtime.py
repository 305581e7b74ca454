"""The engine: one object per process that runs the jobs against one database.

The jobs themselves are in ingest, delivery and sync; this module gives them the clock, the
database (through a thread, so the event loop never waits on it), the connectors and the lease
holder's name, and runs one full communication cycle.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from imtui.domain.failures import ConnectorError
from imtui.domain.retry import Operation
from imtui.engine.clock import Clock, SystemClock
from imtui.engine.connections import ConnectorPool
from imtui.engine.delivery import claim_deliveries, send_delivery
from imtui.engine.ingest import record_poll_failure, store_source_orders
from imtui.engine.outcomes import Outcome, apply_outcomes
from imtui.engine.pipeline import Claimed, PipelineStats, run_pipeline
from imtui.engine.sync import claim_pushes, send_push, store_warehouse_state
from imtui.store.connections import SOURCE, WMS, claim_poll, due_connections
from imtui.store.database import Database
from imtui.store.models import Connection
from imtui.store.queue import (
    ClaimRequest,
    process_is_alive,
    release_dead_leases,
    worker_identity,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EngineSettings:
    concurrency: int = 64
    """Sends in flight at once from this process. Each response costs the event loop about a
    millisecond of CPU (httpx) and responses tend to come back together; 64 delivers ~650
    orders/s at 50 ms latency with the loop's worst stall near 50 ms (benchmarks/)."""
    claim_batch: int = 100
    lease: timedelta = timedelta(minutes=5)
    """How long a claimed row stays ours; far longer than any send's timeouts."""
    http_timeout: float | None = None
    """Read timeout for connectors (None: the connector's own default)."""


@dataclass(slots=True)
class CycleReport:
    new_orders: int = 0
    shipped: int = 0
    inventory_queued: int = 0
    deliveries: PipelineStats = field(default_factory=PipelineStats)
    tracking: PipelineStats = field(default_factory=PipelineStats)
    inventory: PipelineStats = field(default_factory=PipelineStats)
    poll_failures: int = 0


def settle_heap() -> None:
    """Call once start-up is done (imports, database open, first connectors built).

    ``gc.freeze()`` moves every object alive now out of the collector's view. Without it each
    full collection rescans the ~100,000 objects imports leave behind and holds the GIL for
    50-90 ms — long enough to stall the event loop past 100 ms during a send storm.
    """
    gc.collect()
    gc.freeze()


class Engine:
    def __init__(
        self,
        database: Database,
        *,
        clock: Clock | None = None,
        settings: EngineSettings | None = None,
        owner: str | None = None,
    ) -> None:
        self.db = database
        self.clock = clock or SystemClock()
        self.settings = settings or EngineSettings()
        self.owner = owner or worker_identity()
        self.connectors = ConnectorPool(timeout=self.settings.http_timeout)
        self._cycle_lock = asyncio.Lock()

    # -- database access, always off the event loop ------------------------------------------

    async def write(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``work(session, *args, **kwargs)`` in a write transaction in a thread."""
        return await self.db.write_in_thread(work, *args, **kwargs)

    async def read(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.db.read_in_thread(work, *args, **kwargs)

    async def record_outcomes(self, outcomes: list[Outcome]) -> None:
        await self.write(apply_outcomes, outcomes, now=self.clock.now(), worker=self.owner)

    # -- start-up ---------------------------------------------------------------------------

    async def recover(self) -> int:
        """Take back leases left by processes on this host that died (crash, SIGKILL)."""
        host = socket.gethostname()
        return await self.write(
            partial(release_dead_leases, host=host, is_alive=process_is_alive, now=self.clock.now())
        )

    # -- one communication cycle ----------------------------------------------------------

    async def run_once(self) -> CycleReport:
        """Poll what is due, send what is due, push what is due. Cycles never overlap."""
        async with self._cycle_lock:
            report = CycleReport()
            await self.poll_sources(report)
            report.deliveries = await self.send_due(Operation.DELIVER_ORDER)
            await self.poll_warehouses(report)
            report.tracking = await self.send_due(Operation.PUSH_TRACKING)
            report.inventory = await self.send_due(Operation.PUSH_INVENTORY)
            return report

    async def poll_sources(self, report: CycleReport) -> None:
        now = self.clock.now()
        for connection in await self._claim_polls(SOURCE, now):
            try:
                source = self.connectors.source(connection)
                orders = await source.list_unfulfilled_orders(connection.watermark)
            except ConnectorError as exc:
                report.poll_failures += 1
                await self.write(record_poll_failure, connection.id, exc.failure, self.clock.now())
                continue
            report.new_orders += await self.write(
                store_source_orders, connection.id, orders, self.clock.now()
            )

    async def poll_warehouses(self, report: CycleReport) -> None:
        now = self.clock.now()
        for connection in await self._claim_polls(WMS, now):
            try:
                wms = self.connectors.warehouse(connection)
                closed = await wms.list_closed_orders(connection.watermark)
                stock = await wms.stock_summaries()
            except ConnectorError as exc:
                report.poll_failures += 1
                await self.write(record_poll_failure, connection.id, exc.failure, self.clock.now())
                continue
            shipped, queued = await self.write(
                store_warehouse_state, connection.id, closed, stock, self.clock.now()
            )
            report.shipped += shipped
            report.inventory_queued += queued

    async def _claim_polls(self, role: str, now: datetime) -> list[Connection]:
        due = await self.read(due_connections, role, now)
        claimed = []
        for connection in due:
            mine = await self.write(claim_poll, connection.id, now)
            if mine is not None:
                claimed.append(mine)
        return claimed

    async def send_due(
        self, operation: Operation, only_ids: list[int] | None = None
    ) -> PipelineStats:
        """Send what is due for one operation; with ``only_ids``, just those rows, now."""
        if operation is Operation.DELIVER_ORDER:
            claim_rows: Callable[..., Claimed[Any]] = claim_deliveries
            send: Callable[..., Any] = send_delivery
        else:
            claim_rows, send = partial(claim_pushes, operation=operation), send_push

        async def claim(limit: int) -> Claimed[Any]:
            request = ClaimRequest(
                owner=self.owner,
                now=self.clock.now(),
                lease=self.settings.lease,
                limit=limit,
                for_update=not self.db.is_sqlite,
                only_ids=only_ids,
            )
            return await self.write(claim_rows, request=request)

        return await run_pipeline(
            self,
            claim,
            partial(send, self.connectors),
            max_claims=1 if only_ids is not None else None,
        )

    async def deliver_due(self) -> PipelineStats:
        return await self.send_due(Operation.DELIVER_ORDER)

    async def send_now(self, operation: Operation, item_ids: list[int]) -> PipelineStats:
        """Resend these rows at once (the "r" key and ``imtui … resend``), in this process."""
        return await self.send_due(operation, only_ids=item_ids)

    async def idle(self) -> None:
        """Wait until no cycle is running."""
        async with self._cycle_lock:
            return

    async def aclose(self) -> None:
        await self.connectors.aclose()
