"""One line when a periodic job overruns its interval, one when it ends: not one every tick.

APScheduler 3 logs "Execution of job ... skipped: maximum number of running instances
reached" at every tick that finds the job's previous run still going (``max_instances=1``).
A cycle that takes minutes on a 5 s tick fills the worker's log with that line. Attached to a
scheduler, :func:`watch_overruns` silences that one message (a filter on the scheduler's
logger, nothing else is filtered) and says instead, per job::

    cycle overran its 5 s interval; its ticks are skipped until it ends
    cycle ended after 42 s; 7 ticks skipped

Each scheduler has its own watch, so several schedulers in one process (the tests start
many) keep apart which of their jobs overran.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_REMOVED,
    EVENT_JOB_SUBMITTED,
    EVENT_SCHEDULER_SHUTDOWN,
    JobEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

APSCHEDULER_LOGGER = "apscheduler.scheduler"
"""The logger APScheduler 3 writes the skipped-run warning on, unless given another."""
MAX_INSTANCES_TEXT = "maximum number of running instances reached"
"""A piece of that warning's format string, which is what the filter matches."""
WATCHED_EVENTS = (
    EVENT_JOB_SUBMITTED
    | EVENT_JOB_MAX_INSTANCES
    | EVENT_JOB_EXECUTED
    | EVENT_JOB_ERROR
    | EVENT_JOB_REMOVED
    | EVENT_SCHEDULER_SHUTDOWN
)


class SkippedRunFilter(logging.Filter):
    """Drop APScheduler's "skipped: maximum number of running instances" warning, and only it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and MAX_INSTANCES_TEXT in record.msg)


_FILTER = SkippedRunFilter()
_watches: weakref.WeakKeyDictionary[BaseScheduler, OverrunWatch] = weakref.WeakKeyDictionary()
_watches_lock = threading.Lock()


@dataclass
class _Overrun:
    """A job whose running instance made at least one tick skip."""

    started: float
    skipped: int = 0


class OverrunWatch:
    """Listens to one scheduler's job events and writes the overrun and end lines. It holds
    its scheduler weakly: the scheduler keeps its listener alive, not the other way round."""

    def __init__(
        self,
        scheduler: BaseScheduler,
        names: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._scheduler = weakref.ref(scheduler)
        self.names: dict[str, str] = dict(names or {})
        self.clock = clock
        self._started: dict[str, float] = {}
        self._overruns: dict[str, _Overrun] = {}
        self._lock = threading.Lock()

    def name(self, job_id: str) -> str:
        """The job's name in the log: the one given, else its id."""
        return self.names.get(job_id, job_id)

    def on_event(self, event: SchedulerEvent) -> None:
        """The scheduler's listener: route each event to what it means for an overrun."""
        if event.code == EVENT_SCHEDULER_SHUTDOWN:
            self._forget_all()
        elif not isinstance(event, JobEvent):
            return
        elif event.code == EVENT_JOB_SUBMITTED:
            self._run_started(event.job_id)
        elif event.code == EVENT_JOB_MAX_INSTANCES and isinstance(event, JobSubmissionEvent):
            self._tick_skipped(event.job_id, len(event.scheduled_run_times) or 1)
        elif event.code in (EVENT_JOB_EXECUTED, EVENT_JOB_ERROR):
            self._run_ended(event.job_id)
        elif event.code == EVENT_JOB_REMOVED:
            self._forget(event.job_id)

    def _run_started(self, job_id: str) -> None:
        with self._lock:
            self._started[job_id] = self.clock()

    def _tick_skipped(self, job_id: str, ticks: int) -> None:
        with self._lock:
            overrun = self._overruns.get(job_id)
            first = overrun is None
            if overrun is None:
                started = self._started.get(job_id, self.clock())
                overrun = self._overruns[job_id] = _Overrun(started=started)
            overrun.skipped += ticks
        if first:
            log.warning(
                "%s overran its %s; its ticks are skipped until it ends",
                self.name(job_id),
                self._interval_text(job_id),
            )

    def _run_ended(self, job_id: str) -> None:
        with self._lock:
            self._started.pop(job_id, None)
            overrun = self._overruns.pop(job_id, None)
        if overrun is None:
            return
        log.warning(
            "%s ended after %s; %d %s skipped",
            self.name(job_id),
            seconds_text(self.clock() - overrun.started),
            overrun.skipped,
            "tick" if overrun.skipped == 1 else "ticks",
        )

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._started.pop(job_id, None)
            self._overruns.pop(job_id, None)

    def _forget_all(self) -> None:
        with self._lock:
            self._started.clear()
            self._overruns.clear()

    def _interval_text(self, job_id: str) -> str:
        """What the job overran, as the log says it: "5 s interval", or "schedule" when the
        job does not run at an interval."""
        scheduler = self._scheduler()
        job = scheduler.get_job(job_id) if scheduler is not None else None
        interval = getattr(getattr(job, "trigger", None), "interval", None)
        if interval is None:
            return "schedule"
        return f"{interval.total_seconds():g} s interval"


def seconds_text(seconds: float) -> str:
    """A duration as the log says it: "42 s" from ten seconds on, "0.5 s" below."""
    if seconds >= 10:
        return f"{seconds:.0f} s"
    return f"{seconds:.1f} s"


def install_filter(logger: logging.Logger) -> None:
    """Put the skipped-run filter on ``logger``, once however many schedulers use it."""
    if not any(isinstance(existing, SkippedRunFilter) for existing in logger.filters):
        logger.addFilter(_FILTER)


def scheduler_logger(scheduler: BaseScheduler) -> logging.Logger:
    """The logger the scheduler writes its skipped-run warning on."""
    logger = getattr(scheduler, "_logger", None)
    if isinstance(logger, logging.Logger):
        return logger
    return logging.getLogger(APSCHEDULER_LOGGER)


def watch_overruns(
    scheduler: BaseScheduler, names: Mapping[str, str] | None = None
) -> OverrunWatch:
    """Attach the overrun lines to ``scheduler`` (all its jobs, those added later too) and
    silence APScheduler's per-tick warning. Attaching twice returns the first watch, with
    ``names`` added to its own."""
    with _watches_lock:
        watch = _watches.get(scheduler)
        if watch is None:
            watch = _watches[scheduler] = OverrunWatch(scheduler, names)
            scheduler.add_listener(watch.on_event, WATCHED_EVENTS)
        elif names:
            watch.names.update(names)
    install_filter(scheduler_logger(scheduler))
    return watch
