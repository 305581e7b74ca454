"""The send loop every operation shares: claim due rows, send them concurrently, record the
outcomes in batches.

Claims and records are short write transactions run in a thread so the event loop never waits
on the database; sends are bounded by a semaphore so one remote sees at most ``concurrency``
requests from this process at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Generic, TypeVar

from imtui.domain.failures import AlertKind, Failure, FailureClass
from imtui.engine.outcomes import Outcome

if TYPE_CHECKING:
    from imtui.engine.runtime import Engine

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.2
FLUSH_SIZE = 200

W = TypeVar("W", bound="Work")


@dataclass(frozen=True, slots=True)
class Work:
    item_id: int


@dataclass(slots=True)
class Claimed(Generic[W]):
    work: list[W]
    claimed: int
    """Rows leased, including those settled without a send (held locally)."""


@dataclass(slots=True)
class PipelineStats:
    claimed: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0

    def add(self, other: PipelineStats) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.succeeded += other.succeeded
        self.failed += other.failed


async def run_pipeline(
    engine: Engine,
    claim: Callable[[int], Awaitable[Claimed[W]]],
    send: Callable[[W], Awaitable[Outcome]],
    *,
    max_claims: int | None = None,
) -> PipelineStats:
    """Drain what is due now. ``claim(limit)`` leases rows; ``send(work)`` never raises."""
    stats = PipelineStats()
    concurrency = engine.settings.concurrency
    gate = asyncio.Semaphore(concurrency)
    in_flight: set[asyncio.Task[Outcome]] = set()
    finished: list[Outcome] = []
    exhausted = False
    claims = 0
    last_flush = time.monotonic()

    async def bounded(work: W) -> Outcome:
        async with gate:
            started = time.monotonic()
            outcome = await _never_raise(send, work)
            return replace(outcome, duration_ms=int((time.monotonic() - started) * 1000))

    async def flush() -> None:
        nonlocal finished, last_flush
        await engine.record_outcomes(finished)
        stats.succeeded += sum(1 for outcome in finished if outcome.ok)
        stats.failed += sum(1 for outcome in finished if not outcome.ok)
        finished = []
        last_flush = time.monotonic()

    try:
        while True:
            if not exhausted and len(in_flight) < concurrency:
                batch = await claim(engine.settings.claim_batch)
                claims += 1
                stats.claimed += batch.claimed
                exhausted = batch.claimed == 0 or (max_claims is not None and claims >= max_claims)
                for work in batch.work:
                    in_flight.add(asyncio.create_task(bounded(work)))
                stats.sent += len(batch.work)
            if not in_flight:
                break
            done, in_flight = await asyncio.wait(
                in_flight, timeout=FLUSH_EVERY_S, return_when=asyncio.FIRST_COMPLETED
            )
            finished.extend(task.result() for task in done)
            if finished and (
                len(finished) >= FLUSH_SIZE
                or not in_flight
                or time.monotonic() - last_flush >= FLUSH_EVERY_S
            ):
                await flush()
        if finished:
            await flush()
    finally:
        # Only reached with sends still running when recording failed (database locked or
        # gone) or the cycle was cancelled. Their rows stay leased and marked in flight, so
        # whoever claims them after the lease looks each record up before sending again.
        for task in in_flight:
            task.cancel()
        if in_flight:
            await asyncio.wait(in_flight)
    return stats


async def _never_raise(send: Callable[[W], Awaitable[Outcome]], work: W) -> Outcome:
    """A bug in a send must not lose the record: it becomes an outcome-unknown failure, so the
    record is looked up and retried like any other."""
    try:
        return await send(work)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("send failed unexpectedly for retry item %s", work.item_id)
        return Outcome(
            item_id=work.item_id,
            failure=Failure(
                FailureClass.OUTCOME_UNKNOWN,
                AlertKind.BAD_RESPONSE,
                f"internal error while sending: {type(exc).__name__}: {exc}",
            ),
        )
