"""One process's running product: the engine's cycle and the email jobs (the outbox sender and
the digest composer, from the notify layer) on one APScheduler, started and stopped together.

``imtui worker``, the dashboard and the demo all run a :class:`Service`; nothing else starts
schedulers, so the three behave the same. The dashboard and the demo run theirs on a
:class:`ServiceThread`: in the same process, never on the event loop that paints the screen.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from imtui.engine.runtime import Engine, settle_heap
from imtui.engine.scheduler import EngineScheduler
from imtui.notify.mailer import Mailer
from imtui.notify.settings import EmailSettings
from imtui.store.database import one_line

log = logging.getLogger(__name__)
T = TypeVar("T")

OUTBOX_JOB_ID = "imtui-outbox"
DIGEST_JOB_ID = "imtui-digests"


class Service:
    def __init__(
        self,
        engine: Engine,
        *,
        tick_seconds: float = 5.0,
        email: EmailSettings | None = None,
        mail_tick_seconds: float = 5.0,
        digest_tick_seconds: float = 30.0,
    ) -> None:
        """``email`` None reads the IMTUI_SMTP_* environment; unusable settings turn sending
        off (logged once) rather than stopping the engine."""
        self.engine = engine
        self.scheduler = EngineScheduler(engine, tick_seconds=tick_seconds)
        self.mailer = Mailer(engine.db, clock=engine.clock, owner=engine.owner, settings=email)
        self.mail_tick_seconds = mail_tick_seconds
        self.digest_tick_seconds = digest_tick_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop :meth:`start` ran on: the scheduler's, the cycles', the HTTP clients'."""
        self.thread: ServiceThread | None = None
        """The :class:`ServiceThread` running this service, when one does."""

    async def start(self) -> int:
        """Beat (before anything is claimed: the other engines must see who holds what), take
        back the leases and poll claims of dead workers on this host and of silent engines on
        any host, then start the periodic jobs. Returns how many claims were freed."""
        self._loop = asyncio.get_running_loop()
        await self.scheduler.beat()
        freed = await self.engine.recover()
        freed += await self.mailer.recover()
        settle_heap()
        self.scheduler.start()
        jobs = self.scheduler.scheduler
        for job_id, run, seconds in (
            (OUTBOX_JOB_ID, self.mailer.send_job, self.mail_tick_seconds),
            (DIGEST_JOB_ID, self.mailer.digest_job, self.digest_tick_seconds),
        ):
            jobs.add_job(
                run,
                "interval",
                seconds=seconds,
                id=job_id,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
                misfire_grace_time=None,
            )
        return freed

    def wake(self) -> None:
        """Run the next cycle now (after a resend, an edit, a new mapping). From any thread:
        the scheduler's job is changed on the service's own loop."""
        loop = self._loop
        if loop is not None and not _running_on(loop) and loop.is_running():
            loop.call_soon_threadsafe(self.scheduler.wake)
            return
        self.scheduler.wake()

    async def stop(self, grace: float = 30.0) -> None:
        """Let the cycle and the email being sent record their outcomes (up to ``grace``
        seconds in all), then stop. Awaited on another loop than the service's own (it runs on
        a :class:`ServiceThread`), the stop still happens on its own."""
        own = self._loop
        if own is not None and not _running_on(own) and own.is_running():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.stop(grace), own))
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if self.scheduler.scheduler.running:
            self.scheduler.scheduler.pause()
        await self.mailer.stop(grace)
        await self.scheduler.stop(grace=max(0.0, deadline - loop.time()))
        await self.engine.aclose()


def _running_on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this code runs on ``loop`` (not on another thread, nor outside any loop)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


STOP_MARGIN_S = 1.0
"""How much longer than its grace a stop may take before the thread is left to end alone:
enough for the last writes (the beat forgotten, outcomes of what was cut short)."""


class ServiceThread:
    """The engine — and the :class:`Service` running its cycle, if any — on a thread of its own
    with its own event loop, in the same process as the dashboard.

    The CPU the engine spends (a storm of HTTP responses, batches of outcomes) would freeze the
    keys if it were spent on the loop that paints. So everything engine-side happens on this
    thread's loop: the service's start (APScheduler binds to the loop it starts on), its cycles,
    a send "now", the stop; the caller awaits the results from its own loop. The engine's
    database calls run in worker threads, as everywhere. What the caller may read directly, as
    plain attributes, is the service's scheduler's next run and last error and the mailer's
    settings (``get_job`` takes APScheduler's jobstore lock, a threading RLock).

    The engine (and service) handed in belong to this thread from then on: their HTTP clients
    and tasks are this loop's, and nothing else may run them.
    """

    def __init__(
        self,
        engine: Engine,
        service: Service | None = None,
        *,
        name: str = "imtui-engine",
        nice: int = 0,
    ) -> None:
        """``nice``: how much lower than the rest of the process this thread's CPU priority
        is (Linux; the threads it starts — the engine's database calls — inherit it), so that
        when both want a core the thread painting the screen gets it first."""
        if service is not None and service.engine is not engine:
            raise ValueError("the service must run this engine")
        self.engine = engine
        self.service = service
        if service is not None:
            service.thread = self
        self.name = name
        self.nice = nice
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runs: set[asyncio.Task[Any]] = set()
        """What :meth:`run` started and is not done (only touched on the engine's loop)."""
        self._stopping: concurrent.futures.Future[None] | None = None
        self._stop_by = 0.0

    # -- the thread ---------------------------------------------------------------------------

    def _engine_loop(self) -> asyncio.AbstractEventLoop:
        """The engine's loop, its thread started the first time (work handed to it before the
        loop runs waits in its queue)."""
        with self._lock:
            if self._stopping is not None:
                raise RuntimeError("the engine's thread is stopping")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._serve, args=(loop, self.nice), name=self.name, daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, nice: int) -> None:
        if nice and sys.platform == "linux":  # elsewhere a thread's id names no thread here
            with contextlib.suppress(OSError):
                me = threading.get_native_id()
                os.setpriority(os.PRIO_PROCESS, me, os.getpriority(os.PRIO_PROCESS, me) + nice)
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            # Whatever a stop cut short is cancelled and awaited here, so nothing is left
            # half-run to complain (a traceback) when the loop closes.
            try:
                left = asyncio.all_tasks(loop)
                for task in left:
                    task.cancel()
                if left:
                    loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    @property
    def alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- what callers on other loops and threads use ------------------------------------------

    def submit(self, work: Callable[[], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Run ``work()`` on the engine's loop (the coroutine is made there); from any thread."""
        return asyncio.run_coroutine_threadsafe(self._tracked(work), self._engine_loop())

    async def _tracked(self, work: Callable[[], Awaitable[T]]) -> T:
        task = asyncio.current_task()
        assert task is not None
        self._runs.add(task)
        try:
            return await work()
        finally:
            self._runs.discard(task)

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """``await work()`` on the engine's loop, e.g. ``run(partial(engine.send_now, op, ids))``;
        its result (or exception) here. Should the caller stop waiting (cancelled), the work
        goes on: a send cut off before its answer could not record it. :meth:`stop` lets it
        finish within its grace."""
        waiting = asyncio.wrap_future(self.submit(work))
        waiting.add_done_callback(_retrieve)
        return await asyncio.shield(waiting)

    async def start(self) -> int:
        """Start the service on the engine's loop: what :meth:`Service.start` returns (leases
        freed), or raises — a locked database, say. 0 with no service (sends only)."""
        if self.service is None:
            return 0
        return await self.run(self.service.start)

    def wake(self) -> None:
        """Run the next cycle now; from any thread (the job is changed on the engine's loop)."""
        loop = self._loop
        if self.service is None or loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.service.wake)
        except RuntimeError:  # closed in between: stopped, nothing to wake
            return

    def stop_soon(self, grace: float = 30.0) -> None:
        """Begin :meth:`stop` without waiting for it (an app leaving: the wait comes later)."""
        with self._lock:
            if self._stopping is not None or self._loop is None:
                return
            self._stop_by = time.monotonic() + grace + STOP_MARGIN_S
            self._stopping = asyncio.run_coroutine_threadsafe(self._stop_here(grace), self._loop)

    async def stop(self, grace: float = 30.0) -> None:
        """Stop the service on its loop (:meth:`Service.stop`: the cycle in progress records its
        outcomes for up to ``grace`` seconds, then is cut short), or close the engine if there
        is none; then end the thread. Never waits more than ``grace`` plus a small margin from
        the first call, and prints nothing: a stop that goes wrong is one line in the log. Safe
        to call twice, and from any loop."""
        self.stop_soon(grace)
        thread = self._thread
        if thread is None:
            return
        await asyncio.to_thread(thread.join, max(0.0, self._stop_by - time.monotonic()))
        if thread.is_alive():
            log.warning("the engine's thread did not end within its grace; left to end alone")

    async def _stop_here(self, grace: float) -> None:
        loop = asyncio.get_running_loop()
        ends = loop.time() + grace
        try:
            async with asyncio.timeout(grace + STOP_MARGIN_S / 2):
                # Sends "now" (and a start) in progress first: their outcomes get recorded.
                runs = set(self._runs)
                if runs:
                    await asyncio.wait(runs, timeout=grace)
                    for task in runs:
                        task.cancel()
                remaining = max(0.0, ends - loop.time())
                if self.service is not None:
                    await self.service.stop(grace=remaining)
                else:
                    await self.engine.aclose()
        except TimeoutError:
            log.warning("the engine did not stop within %.1f s: cut short", grace)
        except Exception as exc:  # one line, never a traceback on the user's terminal
            log.warning("stopping the engine: %s", one_line(exc))
        finally:
            loop.call_soon(loop.stop)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a result nobody waits for any more as seen (else it is logged when collected)."""
    if not future.cancelled():
        future.exception()
