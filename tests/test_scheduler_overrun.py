"""A job that overruns its interval says so once, and once more when it ends: APScheduler's own
"skipped: maximum number of running instances" line, every tick, never reaches the log."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from imtui.engine.overrun import SkippedRunFilter, watch_overruns
from imtui.engine.scheduler import BEAT_JOB_ID, JOB_ID, EngineScheduler

TICK = 0.05
OVERRAN = re.compile(r"^cycle overran its 0\.05 s interval; its ticks are skipped until it ends$")
ENDED = re.compile(r"^cycle ended after (\d+\.\d) s; (\d+) ticks? skipped$")


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
    watch_overruns(scheduler, {"job": "cycle"})
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


async def test_a_long_run_logs_one_overrun_line_and_one_end_line(logs):
    job, runs = job_taking(0.5)
    await run_scheduler(job, runs, until=4)  # the long run, then three quick ones

    overran, ended = messages(logs, OVERRAN), messages(logs, ENDED)
    assert len(overran) == 1
    assert len(ended) == 1
    assert float(ended[0].group(1)) >= 0.4
    assert int(ended[0].group(2)) > 0
    assert not skipped_warnings(logs)
    lines = [r for r in logs.records if r.name == "imtui.engine.overrun"]
    assert [r.levelno for r in lines] == [logging.WARNING, logging.WARNING]
    assert OVERRAN.match(lines[0].getMessage()) and ENDED.match(lines[1].getMessage())


async def test_a_second_overrun_after_an_end_logs_a_new_pair(logs):
    job, runs = job_taking(0.25, 0.25)
    await run_scheduler(job, runs, until=4)

    lines = [r.getMessage() for r in logs.records if r.name == "imtui.engine.overrun"]
    assert len(lines) == 4
    assert [bool(OVERRAN.match(line)) for line in lines] == [True, False, True, False]
    assert all(ENDED.match(line) for line in lines[1::2])
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
