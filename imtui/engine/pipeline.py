"""The send loop every operation shares: claim due rows, send them concurrently, record the
outcomes in batches.

Claims and records are short write transactions run in a thread so the event loop never waits
on the database; sends are bounded by a semaphore so one remote sees at most ``concurrency``
requests from this process at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
    """Drain what is due now. ``claim(limit)`` leases rows; ``send(work)`` never raises.

    At most ``concurrency`` senders run, each taking the next claimed work as it finishes one
    (no task and no semaphore wait per send). The next batch is claimed while half of one
    still waits for a sender: a claim takes a few milliseconds in its thread, and senders left
    idle meanwhile cost a fifth of the rate. Senders wake this loop only when it has something
    to do: claim, record, or finish.
    """
    stats = PipelineStats()
    concurrency = engine.settings.concurrency
    refill_below = concurrency + engine.settings.claim_batch // 2
    pending: deque[tuple[W, float]] = deque()
    """Claimed work waiting for a sender, with when it was claimed."""
    send_within = engine.settings.lease.total_seconds() / 2
    """Work that waited longer is not sent: the lease must outlast the send (a remote that
    rate-limits every sender can hold the rest back for minutes). Its row is claimed again
    once the lease is over and, marked in flight, looked up before it is sent."""
    senders: set[asyncio.Task[None]] = set()
    """The senders still taking work (each leaves as it ends, not a loop turn later)."""
    running = 0
    """Claimed work not yet finished: pending or being sent."""
    finished: list[Outcome] = []
    recording: asyncio.Task[None] | None = None
    exhausted = False
    claims = 0
    last_flush = time.monotonic()
    wake = asyncio.Event()

    def wanted() -> bool:
        """Whether this loop has work now (a claim, a full batch to record, the end)."""
        refill = not exhausted and running < refill_below and not engine.stopping
        return refill or running == 0 or len(finished) >= FLUSH_SIZE

    async def sender() -> None:
        nonlocal running
        try:
            while pending:
                work, claimed_at = pending.popleft()
                started = time.monotonic()
                if started - claimed_at < send_within:
                    outcome = await _never_raise(send, work)
                    duration_ms = int((time.monotonic() - started) * 1000)
                    finished.append(outcome.taking(duration_ms))
                else:
                    stats.sent -= 1  # its lease is running out: left for the next claim
                running -= 1
                # The first outcome since a flush starts the wait for the next one.
                if len(finished) == 1 or wanted():
                    wake.set()
        finally:
            senders.discard(asyncio.current_task())

    def staff() -> None:
        while len(senders) < min(concurrency, len(pending)):
            senders.add(asyncio.create_task(sender()))

    async def record(outcomes: list[Outcome]) -> None:
        await engine.record_outcomes(outcomes)
        stats.succeeded += sum(1 for outcome in outcomes if outcome.ok)
        stats.failed += sum(1 for outcome in outcomes if not outcome.ok)

    async def flush() -> None:
        """Hand the finished outcomes to the database; sending and claiming go on meanwhile,
        but one batch is recorded at a time."""
        nonlocal finished, last_flush, recording
        if recording is not None:
            await recording
        recording = asyncio.create_task(record(finished))
        finished = []
        last_flush = time.monotonic()

    try:
        while True:
            if not exhausted and running < refill_below and not engine.stopping:
                batch = await claim(engine.settings.claim_batch)
                claims += 1
                stats.claimed += batch.claimed
                exhausted = batch.claimed == 0 or (max_claims is not None and claims >= max_claims)
                claimed_at = time.monotonic()
                pending.extend((work, claimed_at) for work in batch.work)
                running += len(batch.work)
                stats.sent += len(batch.work)
                staff()
            if running == 0:
                break
            # With outcomes waiting to be recorded, wait no longer than their flush is due;
            # with none, until a sender wakes us (a timeout of 0 here spun a core while a slow
            # remote kept every send waiting).
            wake.clear()
            if not wanted():
                wait = FLUSH_EVERY_S - (time.monotonic() - last_flush) if finished else None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await wake.wait()
            if finished and (
                len(finished) >= FLUSH_SIZE
                or running == 0
                or time.monotonic() - last_flush >= FLUSH_EVERY_S
            ):
                await flush()
        if finished:
            await flush()
        if recording is not None:
            await recording
    finally:
        # Only reached with sends still running when recording failed (database locked or
        # gone) or the cycle was cancelled. Their rows stay leased and marked in flight, so
        # whoever claims them after the lease looks each record up before sending again.
        pending.clear()
        running_senders = list(senders)
        for task in running_senders:
            task.cancel()
        if running_senders:
            await asyncio.wait(running_senders)
        if recording is not None and not recording.done():
            recording.cancel()
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
