"""A job that overruns its interval says so once, and once more when it keeps its interval again:
APScheduler's own "skipped: maximum number of running instances" line, every tick, never reaches
the log, and neither does a pair of lines per late run while a storm keeps the ticks late."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from apscheduler.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from imtui.engine.overrun import OverrunWatch, SkippedRunFilter, settle_seconds, watch_overruns
from imtui.engine.scheduler import BEAT_JOB_ID, JOB_ID, EngineScheduler

TICK = 0.05
SETTLE = 0.3
"""How long the real-scheduler tests' job must keep its interval to end a spell of overruns."""
OVERRAN = re.compile(
    r"^cycle overran its 0\.05 s interval; its ticks are skipped until it keeps it again$"
)
SETTLED = re.compile(
    r"^cycle keeps its 0\.05 s interval again: one run took (\d+\.\d) s; (\d+) ticks? skipped$"
)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything from APScheduler and imtui, whatever levels other tests left them at."""
    caplog.set_level(logging.DEBUG, logger="apscheduler")
    caplog.set_level(logging.INFO, logger="imtui")
    return caplog


def job_taking(*seconds: float) -> tuple[Callable[[], Awaitable[None]], list[float]]:
    """A job whose n-th run takes ``seconds[n]`` (the runs after the last take no time), and
    the list of its runs so far."""
    runs: list[float] = []

    async def job() -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) <= len(seconds):
            await asyncio.sleep(seconds[len(runs) - 1])

    return job, runs


async def run_scheduler(job: Callable[[], Awaitable[None]], runs: list[float], until: int) -> None:
    """Run ``job`` every :data:`TICK` on a real scheduler, named "cycle", until it has started
    ``until`` times (a few seconds at most)."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    watch_overruns(scheduler, {"job": "cycle"}, settle=SETTLE)
    scheduler.add_job(
        job,
        "interval",
        seconds=TICK,
        id="job",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
        misfire_grace_time=None,
    )
    scheduler.start()
    try:
        async with asyncio.timeout(5):
            while len(runs) < until:
                await asyncio.sleep(0.01)
    finally:
        scheduler.shutdown(wait=False)


def messages(caplog: pytest.LogCaptureFixture, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    return [m for r in caplog.records if (m := pattern.match(r.getMessage()))]


def skipped_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "maximum number of running instances" in r.getMessage()]


async def test_a_long_run_logs_one_overrun_line_and_one_when_it_keeps_time_again(logs):
    job, runs = job_taking(0.5)
    await run_scheduler(job, runs, until=12)  # the long run, then quick ones past SETTLE

    overran, settled = messages(logs, OVERRAN), messages(logs, SETTLED)
    assert len(overran) == 1
    assert len(settled) == 1
    assert float(settled[0].group(1)) >= 0.4
    assert int(settled[0].group(2)) > 0
    assert not skipped_warnings(logs)
    lines = [r for r in logs.records if r.name == "imtui.engine.overrun"]
    assert [r.levelno for r in lines] == [logging.WARNING, logging.INFO]
    assert OVERRAN.match(lines[0].getMessage()) and SETTLED.match(lines[1].getMessage())


async def test_late_runs_close_together_are_one_spell(logs):
    """A storm makes the tick late every few runs: one warning, not one pair per late run."""
    job, runs = job_taking(0.12, 0, 0.12, 0, 0.12, 0, 0.12)
    await run_scheduler(job, runs, until=8)

    lines = [r for r in logs.records if r.name == "imtui.engine.overrun"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING and OVERRAN.match(lines[0].getMessage())
    assert not skipped_warnings(logs)


async def test_quick_runs_log_nothing(logs):
    job, runs = job_taking()
    await run_scheduler(job, runs, until=3)

    assert not [r for r in logs.records if r.name == "imtui.engine.overrun"]


def test_the_filter_drops_only_the_skipped_run_warning(logs):
    logger = logging.getLogger("apscheduler.scheduler")
    watch_overruns(AsyncIOScheduler(timezone=UTC))
    logger.warning(
        'Execution of job "%s" skipped: maximum number of running instances reached (%d)', "x", 1
    )
    logger.warning('Run time of job "%s" was missed by %s', "x", "0:00:01")
    logger.info("Scheduler started")

    assert [r.getMessage() for r in logs.records if r.name == "apscheduler.scheduler"] == [
        'Run time of job "x" was missed by 0:00:01',
        "Scheduler started",
    ]


def test_many_schedulers_install_the_filter_once_and_keep_their_own_watch():
    schedulers = [AsyncIOScheduler(timezone=UTC) for _ in range(3)]
    watches = [watch_overruns(s) for s in schedulers]
    assert watch_overruns(schedulers[0], {"a": "b"}) is watches[0]
    assert len({id(w) for w in watches}) == 3
    assert watches[0].names == {"a": "b"} and watches[1].names == {}
    logger = logging.getLogger("apscheduler.scheduler")
    assert sum(isinstance(f, SkippedRunFilter) for f in logger.filters) == 1


async def test_the_engine_scheduler_names_its_jobs():
    scheduler = EngineScheduler(engine=None, tick_seconds=5.0)  # type: ignore[arg-type]
    watch = watch_overruns(scheduler.scheduler)
    assert watch.name(JOB_ID) == "cycle"
    assert watch.name(BEAT_JOB_ID) == "beat"
    assert watch.name("imtui-outbox") == "outbox"
    assert watch.name("imtui-digests") == "digests"


# -- the watch alone, on an injected clock ----------------------------------------------------


class Ticking:
    """Feeds one interval job's events to an :class:`OverrunWatch` as APScheduler would, on a
    clock the test moves (in whole milliseconds, so that ticks fall where the test says)."""

    def __init__(self, interval: float) -> None:
        self.ms = 1_000_000
        self.tick_ms = round(interval * 1000)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_job(print, "interval", seconds=interval, id=JOB_ID)
        self.watch = OverrunWatch(self.scheduler, {JOB_ID: "cycle"}, clock=lambda: self.ms / 1000)

    def run(self, seconds: float) -> None:
        """One run taking ``seconds``: every tick due meanwhile is skipped."""
        at = datetime.now(UTC)
        self.watch.on_event(JobSubmissionEvent(EVENT_JOB_SUBMITTED, JOB_ID, "default", [at]))
        ends = self.ms + round(seconds * 1000)
        next_tick = self.ms + self.tick_ms - self.ms % self.tick_ms
        while next_tick < ends:
            self.ms = next_tick
            skipped = JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, JOB_ID, "default", [at])
            self.watch.on_event(skipped)
            next_tick += self.tick_ms
        self.ms = ends
        self.watch.on_event(JobExecutionEvent(EVENT_JOB_EXECUTED, JOB_ID, "default", at))

    def idle(self) -> None:
        """The rest of the interval, until the next tick."""
        self.ms += self.tick_ms - self.ms % self.tick_ms

    @property
    def seconds(self) -> float:
        return (self.ms - 1_000_000) / 1000


UNTIL_KEPT = "its ticks are skipped until it keeps it again"


def overrun_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "imtui.engine.overrun"]


def test_a_cycle_overrunning_for_many_ticks_is_one_warning(logs):
    ticking = Ticking(interval=5.0)
    ticking.run(600.0)  # ten minutes on a 5 s tick: 119 ticks skipped
    for _ in range(13):  # on time again, for longer than it takes to settle (60 s)
        ticking.run(0.1)
        ticking.idle()

    assert overrun_lines(logs) == [
        (logging.WARNING, f"cycle overran its 5 s interval; {UNTIL_KEPT}"),
        (logging.INFO, "cycle keeps its 5 s interval again: one run took 600 s; 119 ticks skipped"),
    ]


def test_a_storm_of_late_runs_is_one_warning_and_one_summary(logs):
    """The drain that wrote 1,114 lines: a 0.2 s tick late every other run for minutes."""
    ticking = Ticking(interval=0.2)
    for n in range(600):
        ticking.run((0.3, 0.5, 0.7)[n % 3])  # 1, 2 and 3 ticks skipped
        ticking.run(0.05)
        ticking.idle()
    assert overrun_lines(logs) == [
        (logging.WARNING, f"cycle overran its 0.2 s interval; {UNTIL_KEPT}"),
    ]
    while ticking.seconds < 600:  # on time again, past the minute it takes to settle
        ticking.run(0.05)
        ticking.idle()

    (level, summary), *more = overrun_lines(logs)[1:]
    assert level == logging.INFO and not more
    assert re.fullmatch(
        r"cycle keeps its 0\.2 s interval again: 600 late runs in \d+ s, the longest "
        r"0\.7 s; 1200 ticks skipped",
        summary,
    ), summary


def test_a_new_spell_after_the_last_settled_warns_again(logs):
    ticking = Ticking(interval=5.0)
    for _ in range(2):
        ticking.run(30.0)
        for _ in range(13):
            ticking.run(0.1)
            ticking.idle()

    assert [level for level, _ in overrun_lines(logs)] == [
        logging.WARNING,
        logging.INFO,
        logging.WARNING,
        logging.INFO,
    ]


def test_a_spell_settles_after_ten_intervals_or_a_minute():
    assert settle_seconds(0.2) == 60.0
    assert settle_seconds(5.0) == 60.0
    assert settle_seconds(30.0) == 300.0
    assert settle_seconds(None) == 60.0
