"""The engine: one object per process that runs the jobs against one database.

The jobs themselves are in ingest, delivery and sync; this module gives them the clock, the
database (through a thread, so the event loop never waits on it), the connectors and the lease
holder's name, and runs one full communication cycle.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlmodel import Session

from imtui.domain.failures import ConnectorError
from imtui.domain.records import SourceOrder, StockLevel, WmsOrder
from imtui.domain.retry import Operation
from imtui.engine.cancellation import claim_cancellations, send_cancellation
from imtui.engine.clock import Clock, SystemClock
from imtui.engine.connections import (
    DEFAULT_POLL_DEADLINE,
    ConnectorPool,
    in_flight_settle,
    poll_broke,
    poll_deadline,
    poll_deadline_passed,
)
from imtui.engine.delivery import claim_deliveries, send_delivery
from imtui.engine.ingest import poll_cut_short, record_poll_failure, store_source_orders
from imtui.engine.outcomes import Outcome, apply_outcomes
from imtui.engine.pipeline import Claimed, PipelineStats, run_pipeline
from imtui.engine.sync import claim_pushes, send_push, store_warehouse_state
from imtui.store.beats import SILENT_AFTER, release_silent_engines
from imtui.store.connections import (
    SOURCE,
    WMS,
    accounts_with_connections,
    claim_poll,
    connections_of,
    due_connections,
)
from imtui.store.database import Database, DatabaseError
from imtui.store.models import Connection, OutboxEmail, RetryItem
from imtui.store.queue import (
    ClaimRequest,
    process_is_alive,
    release_dead_leases,
    release_dead_polls,
    retry_keys,
    worker_host,
    worker_identity,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EngineSettings:
    concurrency: int = 64
    """Sends in flight at once from this process. 64 delivers ~1,150 orders/s at 50 ms of
    latency, the event loop's worst stall under 25 ms (benchmarks/delivery_throughput.py)."""
    claim_batch: int = 256
    """Rows one claim leases. A claim costs a few milliseconds whatever its size, so a bigger
    batch costs less per order (0.040 ms of CPU at 256, 0.056 at 128); the sends it feeds
    take a quarter of a second at 50 ms of latency, far within the lease."""
    lease: timedelta = timedelta(minutes=5)
    """How long a claimed row stays ours; far longer than any send's timeouts. Claimed work
    still waiting for a sender after half of it is not sent (engine/pipeline.py)."""
    http_timeout: float | None = None
    """Read timeout for connectors (None: the connector's own default)."""
    poll_deadline: float = DEFAULT_POLL_DEADLINE
    """Seconds one poll (every page of a download) may take; a connection's ``poll_deadline``
    setting overrides it."""
    silent_after: timedelta = SILENT_AFTER
    """Another engine whose beat is older than this (by our clock) is taken for dead: its
    leases and poll claims are freed (tests make it short)."""


POLL_CLAIM_MARGIN = timedelta(seconds=60)
"""How much longer than its deadline a poll claim holds: storing what the poll downloaded
comes after the deadline's end."""


@dataclass(slots=True)
class CycleReport:
    new_orders: int = 0
    shipped: int = 0
    inventory_queued: int = 0
    deliveries: PipelineStats = field(default_factory=PipelineStats)
    tracking: PipelineStats = field(default_factory=PipelineStats)
    inventory: PipelineStats = field(default_factory=PipelineStats)
    cancellations: PipelineStats = field(default_factory=PipelineStats)
    poll_failures: int = 0

    def add(self, other: CycleReport) -> None:
        self.new_orders += other.new_orders
        self.shipped += other.shipped
        self.inventory_queued += other.inventory_queued
        self.deliveries.add(other.deliveries)
        self.tracking.add(other.tracking)
        self.inventory.add(other.inventory)
        self.cancellations.add(other.cancellations)
        self.poll_failures += other.poll_failures


def record_own_outcomes(
    session: Session,
    outcomes: list[Outcome],
    *,
    clock: Callable[[], datetime],
    worker: str,
    lock: bool,
) -> int:
    """Record the outcomes of the rows this engine still holds; returns how many it no longer
    held. An engine stopped (SIGSTOP, a frozen VM) past its beat's silence has had its leases
    taken over: what it learned then is left to the new holder, who looks the record up."""
    ids = [outcome.item_id for outcome in outcomes]
    mine = retry_keys(session, ids, held_by=worker, lock=lock)
    kept = [outcome for outcome in outcomes if outcome.item_id in mine]
    if kept:
        apply_outcomes(session, kept, clock=clock, worker=worker, keys=mine)
    return len(outcomes) - len(kept)


def recover_claims(session: Session, *, me: str, now: datetime, silent_after: timedelta) -> int:
    """Free what dead processes of this host and silent engines of any host hold: retry and
    outbox leases, poll claims. Returns how many were freed."""
    host = worker_host()
    dead = partial(release_dead_leases, session, host=host, is_alive=process_is_alive, now=now)
    return (
        dead(table=RetryItem)
        + dead(table=OutboxEmail)
        + release_dead_polls(session, host=host, is_alive=process_is_alive, now=now)
        + release_silent_engines(session, me=me, now=now, silent_after=silent_after)
    )


YOUNG_GENERATION = 10_000
"""New objects between collections of the youngest generation (Python's default: 700)."""


def settle_heap() -> None:
    """Call once start-up is done (imports, database open, first connectors built).

    ``gc.freeze()`` moves every object alive now out of the collector's view. Without it each
    full collection rescans the ~100,000 objects imports leave behind and holds the GIL for
    50-90 ms — long enough to stall the event loop past 100 ms during a send storm.

    The youngest generation is collected every 10,000 new objects instead of 700: a send makes
    a few hundred short-lived ones, so at 700 the collector ran on nearly every send (1,400
    times for 10,000 orders, 4 % of the engine's CPU); the few cycles that do form wait a
    little longer to be freed.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, older, oldest)


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
        self._lanes: dict[int, asyncio.Task[CycleReport]] = {}
        self.stopping = False
        """Set by a stop: the cycles in progress finish what they sent, claim nothing more and
        skip their remaining stages."""
        self.lane_errors: dict[int, str] = {}
        """Why an account's last cycle stopped short, while it does."""

    # -- database access, always off the event loop ------------------------------------------

    async def write(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``work(session, *args, **kwargs)`` in a write transaction in a thread."""
        return await self.db.write_in_thread(work, *args, **kwargs)

    async def read(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.db.read_in_thread(work, *args, **kwargs)

    async def record_outcomes(self, outcomes: list[Outcome]) -> None:
        dropped = await self.write(
            record_own_outcomes,
            outcomes,
            clock=self.clock.now,
            worker=self.owner,
            lock=not self.db.is_sqlite,
        )
        if dropped:
            log.warning(
                "%d outcome(s) not recorded: their rows were taken over while this engine was "
                "silent; whoever holds them now looks each record up before sending",
                dropped,
            )

    # -- start-up ---------------------------------------------------------------------------

    async def recover(self) -> int:
        """Take back leases and poll claims left by processes on this host that died (crash,
        SIGKILL), and by engines on any host whose beat went silent."""
        return await self.write(
            recover_claims,
            me=self.owner,
            now=self.clock.now(),
            silent_after=self.settings.silent_after,
        )

    # -- communication cycles, one lane per account --------------------------------------------

    async def run_once(self) -> CycleReport:
        """One full cycle for every account, the accounts side by side; returns when all are
        done. A cycle already running for an account (the scheduler's) is waited for first, so
        each account has had a whole cycle that started after this call."""
        accounts = await self.read(accounts_with_connections)
        running = [lane for account, lane in self._lanes.items() if account in accounts]
        if running:
            await asyncio.wait(running)
        lanes = self.start_cycles(accounts)
        report = CycleReport()
        for result in await asyncio.gather(*lanes, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result  # a locked database, say: the caller reports it
            report.add(result)
        return report

    def start_cycles(self, accounts: list[int]) -> list[asyncio.Task[CycleReport]]:
        """Start a cycle for each of these accounts that has none running; return the started.

        Each account runs in its own task (its lane): a shop that trickles its answer or a WMS
        that never answers holds up its own account until its deadline, never the others —
        the next tick starts the other accounts' cycles whether or not this one is done (B10).
        """
        started = []
        for account_id in accounts:
            if account_id in self._lanes:
                continue
            lane = asyncio.create_task(self._cycle(account_id), name=f"imtui-account-{account_id}")
            self._lanes[account_id] = lane
            lane.add_done_callback(partial(self._lane_done, account_id))
            started.append(lane)
        return started

    async def start_due_cycles(self) -> list[asyncio.Task[CycleReport]]:
        """The scheduler's tick: a cycle for every account that has none running."""
        return self.start_cycles(await self.read(accounts_with_connections))

    @property
    def running_accounts(self) -> list[int]:
        return sorted(self._lanes)

    async def _cycle(self, account_id: int) -> CycleReport:
        """One account's cycle, in the order the work flows: new orders in, deliveries out,
        shipments and stock in, tracking and stock out."""
        report = CycleReport()
        stages: tuple[Callable[[], Awaitable[object]], ...] = (
            lambda: self.poll_sources(report, account_id),
            lambda: self._send_stage(report, "deliveries", Operation.DELIVER_ORDER, account_id),
            lambda: self._send_stage(report, "cancellations", Operation.CANCEL_ORDER, account_id),
            lambda: self.poll_warehouses(report, account_id),
            lambda: self._send_stage(report, "tracking", Operation.PUSH_TRACKING, account_id),
            lambda: self._send_stage(report, "inventory", Operation.PUSH_INVENTORY, account_id),
        )
        for stage in stages:
            if self.stopping:
                break
            await stage()
        return report

    async def _send_stage(
        self, report: CycleReport, name: str, operation: Operation, account_id: int
    ) -> None:
        setattr(report, name, await self.send_due(operation, account_id=account_id))

    def _lane_done(self, account_id: int, lane: asyncio.Task[CycleReport]) -> None:
        """A lane ended: a database that is locked or gone, or a bug, is noted in one line
        (``lane_errors``, for the header and the worker's log) and its rows stay queued."""
        self._lanes.pop(account_id, None)
        if lane.cancelled():
            return
        exc = lane.exception()
        if exc is None:
            self.lane_errors.pop(account_id, None)
        elif isinstance(exc, DatabaseError):
            self.lane_errors[account_id] = str(exc)
            log.warning("cycle of account %s stopped: %s", account_id, exc)
        else:
            # No traceback every tick, and no exception text: it may quote a record's data.
            self.lane_errors[account_id] = (
                f"{type(exc).__name__} in the cycle of account {account_id}"
            )
            log.error(
                "cycle of account %s failed: %s",
                account_id,
                type(exc).__name__,
                exc_info=exc if log.isEnabledFor(logging.DEBUG) else None,
            )

    async def poll_sources(self, report: CycleReport, account_id: int | None = None) -> None:
        polls = await self._claim_polls(SOURCE, self.clock.now(), account_id)
        await asyncio.gather(*(self._poll_source(connection, report) for connection in polls))

    async def _poll_source(self, connection: Connection, report: CycleReport) -> None:
        start = connection.watermark
        newest = start

        async def keep(page: list[SourceOrder]) -> None:
            """Each page is stored as it arrives (the watermark moves with it): a download the
            deadline cuts short keeps what it got, and the next poll goes on from there."""
            nonlocal newest
            stamps = [order.updated_at for order in page if order.updated_at is not None]
            if stamps and (newest is None or max(stamps) > newest):
                newest = max(stamps)  # before the write: a deadline during it cannot stop it
            report.new_orders += await self.write(
                store_source_orders, connection.id, page, self.clock.now()
            )

        async def download() -> list[SourceOrder]:
            source = self.connectors.source(connection)
            return await source.list_unfulfilled_orders(connection.watermark, on_page=keep)

        # Cut short, the poll counts as progress only if the watermark moved: a next poll
        # would otherwise start where this one did and be cut short again, alert-free.
        orders = await self._poll(connection, download, report, progressed=lambda: newest != start)
        if orders is not None:
            report.new_orders += await self.write(
                store_source_orders, connection.id, orders, self.clock.now(), poller=self.owner
            )

    async def poll_warehouses(self, report: CycleReport, account_id: int | None = None) -> None:
        polls = await self._claim_polls(WMS, self.clock.now(), account_id)
        await asyncio.gather(*(self._poll_warehouse(connection, report) for connection in polls))

    async def _poll_warehouse(self, connection: Connection, report: CycleReport) -> None:
        async def download() -> tuple[list[WmsOrder], list[StockLevel]]:
            wms = self.connectors.warehouse(connection)
            closed = await wms.list_closed_orders(connection.watermark)
            return closed, await wms.stock_summaries()

        state = await self._poll(connection, download, report)
        if state is not None:
            shipped, queued = await self.write(
                store_warehouse_state, connection.id, *state, self.clock.now(), poller=self.owner
            )
            report.shipped += shipped
            report.inventory_queued += queued

    async def _poll(
        self,
        connection: Connection,
        download: Callable[[], Awaitable[T]],
        report: CycleReport,
        progressed: Callable[[], bool] = lambda: False,
    ) -> T | None:
        """Run one poll's download within the poll deadline. Whatever stops it — a remote
        failure, the deadline, a response nothing could read, a bug — raises or updates the
        connection's poll alert (B1, B10); None then."""
        deadline = poll_deadline(connection, self.settings.poll_deadline)
        try:
            async with asyncio.timeout(deadline):
                return await download()
        except ConnectorError as exc:
            failure = exc.failure
        except TimeoutError:
            if progressed():
                # Pages were stored: not a failure, a download longer than one poll (a shop's
                # first, paced by its bucket). The next cycle goes on from the watermark.
                await self.write(poll_cut_short, connection.id, self.clock.now(), self.owner)
                return None
            failure = poll_deadline_passed(connection, deadline)
        except Exception as exc:
            failure = poll_broke(connection, exc)
            log.error(
                "poll of connection %s failed: %s",
                connection.id,
                type(exc).__name__,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
        report.poll_failures += 1
        await self.write(
            record_poll_failure, connection.id, failure, self.clock.now(), poller=self.owner
        )
        return None

    async def _claim_polls(
        self, role: str, now: datetime, account_id: int | None = None
    ) -> list[Connection]:
        due = await self.read(due_connections, role, now, account_id)
        claimed = []
        for connection in due:
            hold = timedelta(seconds=poll_deadline(connection, self.settings.poll_deadline))
            mine = await self.write(
                claim_poll, connection.id, now, owner=self.owner, hold=hold + POLL_CLAIM_MARGIN
            )
            if mine is not None:
                claimed.append(mine)
        return claimed

    async def send_due(
        self,
        operation: Operation,
        only_ids: list[int] | None = None,
        *,
        account_id: int | None = None,
    ) -> PipelineStats:
        """Send what is due for one operation (of one account, if given); with ``only_ids``,
        just those rows, now."""
        if operation is Operation.DELIVER_ORDER:
            claim_rows: Callable[..., Claimed[Any]] = claim_deliveries
            send: Callable[..., Any] = send_delivery
        elif operation is Operation.CANCEL_ORDER:
            claim_rows, send = claim_cancellations, send_cancellation
        else:
            claim_rows, send = partial(claim_pushes, operation=operation), send_push

        to_wms = operation in (Operation.DELIVER_ORDER, Operation.CANCEL_ORDER)
        role = WMS if to_wms else SOURCE
        settle = in_flight_settle(await self.read(connections_of, account_id, role))

        async def claim(limit: int) -> Claimed[Any]:
            request = ClaimRequest(
                owner=self.owner,
                now=self.clock.now(),
                lease=self.settings.lease,
                limit=limit,
                for_update=not self.db.is_sqlite,
                only_ids=only_ids,
                account_id=account_id,
                settle=settle,
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
        """Wait until no account's cycle is running."""
        while self._lanes:
            await asyncio.wait(list(self._lanes.values()))

    async def cancel_cycles(self) -> None:
        """Stop the cycles still running (a stop whose grace ran out). A send cut short stays
        marked in flight, so whoever takes its row next looks the record up before sending."""
        lanes = list(self._lanes.values())
        for lane in lanes:
            lane.cancel()
        if lanes:
            await asyncio.wait(lanes)

    async def aclose(self) -> None:
        await self.connectors.aclose()
