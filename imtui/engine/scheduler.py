"""APScheduler 3 drives the periodic cycle in-process; the database decides who sends what.

The one job ticks every ``tick_seconds`` (``max_instances=1``, missed runs coalesce): each tick
starts a cycle for every account that has none running (:meth:`Engine.start_due_cycles`) and
does not wait for them, so an account whose remote is slow misses its own ticks, never the
others'. Each connection's own polling interval is kept by its ``next_poll_at`` in the
database, so a short tick costs one cheap query when nothing is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from imtui.engine.overrun import watch_overruns
from imtui.engine.runtime import CycleReport, Engine
from imtui.store import beats
from imtui.store.database import DatabaseError

log = logging.getLogger(__name__)

JOB_ID = "imtui-cycle"
BEAT_JOB_ID = "imtui-beat"
BEAT_CHECK_S = 10.0
"""How often (wall-clock seconds, at most) the beat job looks whether a beat is due: a beat
then goes out at most this long after :data:`beats.BEAT_EVERY`, whatever the tick."""
JOB_NAMES = {
    JOB_ID: "cycle",
    BEAT_JOB_ID: "beat",
    # added by imtui.service on this scheduler (the engine does not import the service)
    "imtui-outbox": "outbox",
    "imtui-digests": "digests",
}
"""How the log names each job when it overruns its interval (:mod:`imtui.engine.overrun`)."""


class EngineScheduler:
    def __init__(self, engine: Engine, *, tick_seconds: float = 5.0) -> None:
        self.engine = engine
        self.tick_seconds = tick_seconds
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # one line when a job starts overrunning and one when it keeps its interval again:
        # neither APScheduler's warning every tick (filtered at its logger) nor a pair per late run
        watch_overruns(self.scheduler, JOB_NAMES)
        self.last_report: CycleReport | None = None
        self.last_error: str | None = None
        self.cycles = 0
        self._started_at: datetime | None = None
        self._beat_at: datetime | None = None
        self._beating = asyncio.Lock()
        self._signed_off = False
        self._between_cycles = asyncio.Event()
        self._between_cycles.set()

    def start(self) -> None:
        """Start ticking (the first tick at once; it beats before it claims anything). The beat
        has a job of its own too: a long tick, or a cycle whose poll takes minutes, must not
        let this engine look dead to the others."""
        self._started_at = self._started_at or self.engine.clock.now()
        for job_id, run, seconds in (
            (JOB_ID, self._cycle, self.tick_seconds),
            (BEAT_JOB_ID, self._beat_job, min(self.tick_seconds, BEAT_CHECK_S)),
        ):
            self.scheduler.add_job(
                run,
                "interval",
                seconds=seconds,
                id=job_id,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
                misfire_grace_time=None,
            )
        self.scheduler.start()

    async def _cycle(self) -> None:
        self._between_cycles.clear()
        try:
            await self._run_cycle()
        finally:
            self._between_cycles.set()

    async def _run_cycle(self) -> None:
        try:
            await self.beat()  # before any claim: the others must see who holds what
            for lane in await self.engine.start_due_cycles():
                lane.add_done_callback(self._lane_done)
            self.last_error = next(iter(self.engine.lane_errors.values()), None)
        except DatabaseError as exc:
            # A locked or vanished database: say so once per cycle and try again next tick.
            self.last_error = str(exc)
            log.warning("cycle skipped: %s", exc)
        except Exception as exc:
            # A bug must not kill the worker nor print a traceback every tick: one line, and
            # the records stay in the queue (claimed rows come back when their lease ends).
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("cycle failed: %s", self.last_error, exc_info=log.isEnabledFor(10))

    def _lane_done(self, lane: asyncio.Task[CycleReport]) -> None:
        if lane.cancelled():
            return
        if lane.exception() is None:  # the engine has logged any failure
            self.last_report = lane.result()
        self.last_error = next(iter(self.engine.lane_errors.values()), None)
        self.cycles += 1

    async def beat(self) -> None:
        """Note in the database that this engine runs (at most every ``BEAT_EVERY``), and free
        the claims of engines that fell silent (on any host): a sweep as cheap as the beat
        when none did."""
        async with self._beating:
            now = self.engine.clock.now()
            if self._signed_off or (
                self._beat_at is not None and now - self._beat_at < beats.BEAT_EVERY
            ):
                return
            self._started_at = self._started_at or now
            freed = await self.engine.write(
                beats.beat_and_sweep,
                self.engine.owner,
                now,
                self._started_at,
                silent_after=self.engine.settings.silent_after,
            )
            self._beat_at = now
        if freed:
            log.warning("took back %d claim(s) of engines whose beat went silent", freed)

    async def _beat_job(self) -> None:
        try:
            await self.beat()
        except DatabaseError as exc:
            log.warning("beat skipped: %s", exc)
        except Exception as exc:
            log.error("beat failed: %s: %s", type(exc).__name__, exc)

    def wake(self) -> None:
        """Run the next cycle now (after a resend, an edit, a new mapping)."""
        job = self.scheduler.get_job(JOB_ID)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))

    @property
    def next_run_time(self) -> datetime | None:
        job = self.scheduler.get_job(JOB_ID)
        return job.next_run_time if job is not None else None

    async def stop(self, grace: float = 30.0) -> None:
        """Start no new cycle, let those in progress record their outcomes for up to ``grace``
        seconds, cut short what is still running then (a remote that trickles its answer must
        not hold the stop), and shut down."""
        if self.scheduler.running:
            self.scheduler.pause()
        self.engine.stopping = True
        loop = asyncio.get_running_loop()
        ends = loop.time() + grace
        with contextlib.suppress(TimeoutError):
            # the tick in progress — its beat included — ends before the scheduler does
            await asyncio.wait_for(self._between_cycles.wait(), grace)
            await asyncio.wait_for(self.engine.idle(), max(0.0, ends - loop.time()))
        await self.engine.cancel_cycles()
        # What was cut short goes back to the others now (rows left in flight are looked up
        # before any resend), then this engine says it runs no more.
        async with self._beating:  # a beat in progress must not bring the row back
            self._signed_off = True
            with contextlib.suppress(DatabaseError):  # it goes silent instead: swept later
                await self.engine.write(beats.sign_off, self.engine.owner, self.engine.clock.now())
        self.shutdown()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
