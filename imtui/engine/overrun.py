"""One line when a periodic job starts overrunning its interval, one when it keeps it again: not
one every tick, nor one pair per late run.

APScheduler 3 logs "Execution of job ... skipped: maximum number of running instances
reached" at every tick that finds the job's previous run still going (``max_instances=1``).
A cycle that takes minutes on a 5 s tick fills the worker's log with that line, so
:func:`watch_overruns` silences that one message (a filter on the scheduler's logger, nothing
else is filtered; its "Run time of job ... was missed" never comes, the jobs having no misfire
grace time).

A pair of lines per late run is no better: while a storm keeps the event loop and the database
busy, the tick runs a little late every few ticks (1,114 lines in one 100,000-order drain at a
0.2 s tick). So the lines are per *spell* of overruns, per job: the first late run opens one,
and it closes once the job has kept its interval for :func:`settle_seconds` (ten intervals, a
minute at least)::

    WARNING cycle overran its 5 s interval; its ticks are skipped until it keeps it again
    INFO    cycle keeps its 5 s interval again: one run took 42 s; 7 ticks skipped
    INFO    cycle keeps its 0.2 s interval again: 37 late runs in 212 s, the longest 1.4 s;
            512 ticks skipped

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


SETTLE_TICKS = 10
SETTLE_MIN_S = 60.0


def settle_seconds(interval: float | None) -> float:
    """How long a job must keep its interval (``None``: it has none) before its spell of
    overruns is over: long enough that a storm making every few ticks late is one spell."""
    return max(SETTLE_TICKS * (interval or 0.0), SETTLE_MIN_S)


@dataclass
class _Spell:
    """A job's overruns since its first skipped tick, until it keeps its interval again."""

    started: float
    last_skip: float
    skipped: int = 0
    late_runs: int = 0
    longest: float = 0.0
    late_until: float = 0.0
    """When the last late run ended."""
    running_late: bool = False
    """The run in progress has made a tick skip."""

    def skip(self, ticks: int, now: float) -> None:
        self.skipped += ticks
        self.last_skip = now
        self.running_late = True

    def run_ended(self, took: float, now: float) -> None:
        if self.running_late:
            self.late_runs += 1
            self.longest = max(self.longest, took)
            self.late_until = now
        self.running_late = False


class OverrunWatch:
    """Listens to one scheduler's job events and writes the overrun and settle lines. It holds
    its scheduler weakly: the scheduler keeps its listener alive, not the other way round.
    ``settle`` overrides :func:`settle_seconds` (tests)."""

    def __init__(
        self,
        scheduler: BaseScheduler,
        names: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        settle: float | None = None,
    ) -> None:
        self._scheduler = weakref.ref(scheduler)
        self.names: dict[str, str] = dict(names or {})
        self.clock = clock
        self.settle = settle
        self._started: dict[str, float] = {}
        self._spells: dict[str, _Spell] = {}
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
        now = self.clock()
        with self._lock:
            spell = self._spells.get(job_id)
            opened = spell is None
            if spell is None:
                started = self._started.get(job_id, now)
                spell = self._spells[job_id] = _Spell(started=started, last_skip=now)
            spell.skip(ticks, now)
        if opened:
            log.warning(
                "%s overran its %s; its ticks are skipped until it keeps it again",
                self.name(job_id),
                self._interval_text(job_id),
            )

    def _run_ended(self, job_id: str) -> None:
        settle = self._settle(job_id)  # asks the scheduler: not under this watch's lock
        now = self.clock()
        with self._lock:
            started = self._started.pop(job_id, now)
            spell = self._spells.get(job_id)
            if spell is None:
                return
            spell.run_ended(now - started, now)
            if now - spell.last_skip < settle:
                return
            del self._spells[job_id]
        log.info(
            "%s keeps its %s again: %s",
            self.name(job_id),
            self._interval_text(job_id),
            spell_text(spell),
        )

    def _settle(self, job_id: str) -> float:
        return self.settle if self.settle is not None else settle_seconds(self._interval(job_id))

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._started.pop(job_id, None)
            self._spells.pop(job_id, None)

    def _forget_all(self) -> None:
        with self._lock:
            self._started.clear()
            self._spells.clear()

    def _interval(self, job_id: str) -> float | None:
        """The job's interval in seconds; None when it does not run at one (or is gone)."""
        scheduler = self._scheduler()
        job = scheduler.get_job(job_id) if scheduler is not None else None
        interval = getattr(getattr(job, "trigger", None), "interval", None)
        return None if interval is None else float(interval.total_seconds())

    def _interval_text(self, job_id: str) -> str:
        """What the job overran, as the log says it: "5 s interval", or "schedule" when the
        job does not run at an interval."""
        interval = self._interval(job_id)
        return "schedule" if interval is None else f"{interval:g} s interval"


def spell_text(spell: _Spell) -> str:
    """How a spell went: "one run took 42 s; 7 ticks skipped", or "37 late runs in 212 s, the
    longest 1.4 s; 512 ticks skipped"."""
    ticks = f"{spell.skipped} {'tick' if spell.skipped == 1 else 'ticks'} skipped"
    if spell.late_runs <= 1:
        return f"one run took {seconds_text(spell.longest)}; {ticks}"
    took = seconds_text(spell.late_until - spell.started)
    return (
        f"{spell.late_runs} late runs in {took}, the longest {seconds_text(spell.longest)}; {ticks}"
    )


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
    scheduler: BaseScheduler,
    names: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    settle: float | None = None,
) -> OverrunWatch:
    """Attach the overrun lines to ``scheduler`` (all its jobs, those added later too) and
    silence APScheduler's per-tick warning. Attaching twice returns the first watch, with
    ``names`` added to its own (``clock`` and ``settle`` are the first's)."""
    with _watches_lock:
        watch = _watches.get(scheduler)
        if watch is None:
            watch = _watches[scheduler] = OverrunWatch(scheduler, names, clock, settle)
            scheduler.add_listener(watch.on_event, WATCHED_EVENTS)
        elif names:
            watch.names.update(names)
    install_filter(scheduler_logger(scheduler))
    return watch
