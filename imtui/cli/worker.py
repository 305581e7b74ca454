"""``imtui worker`` (the engine, headless) and ``imtui sandbox`` (the fake WMS and shop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import click

from imtui.cli.context import AppContext, CliError, pass_app
from imtui.cli.logs import setup_logging
from imtui.cli.signals import WORKER_SIGNALS, on_stop_signals
from imtui.engine.pipeline import PipelineStats
from imtui.engine.runtime import CycleReport, Engine, EngineSettings
from imtui.engine.scheduler import EngineScheduler
from imtui.service import Service
from imtui.store.database import describe_url

log = logging.getLogger("imtui.worker")

STOP_GRACE_S = 30.0
"""How long a stopping worker lets the cycle in progress record its outcomes."""
WATCH_EVERY_S = 0.5


def summarize(report: CycleReport) -> str:
    """One line for a cycle: what came in, what went out, what failed."""
    parts = [
        f"{report.new_orders} new orders",
        _stats("deliveries", report.deliveries),
        f"{report.shipped} shipped",
        _stats("tracking", report.tracking),
        _stats("inventory", report.inventory),
    ]
    if report.poll_failures:
        parts.append(f"{report.poll_failures} poll failures")
    return "; ".join(parts)


def _stats(name: str, stats: PipelineStats) -> str:
    held = stats.claimed - stats.sent  # settled locally without a send (B3)
    text = f"{name} {stats.succeeded} ok, {stats.failed} failed"
    return f"{text}, {held} held" if held > 0 else text


def _is_quiet(report: CycleReport) -> bool:
    return not any(
        (
            report.new_orders,
            report.shipped,
            report.inventory_queued,
            report.poll_failures,
            report.deliveries.claimed,
            report.tracking.claimed,
            report.inventory.claimed,
        )
    )


@click.command("worker", short_help="Run the engine until Ctrl-C or SIGTERM.")
@click.option("--once", is_flag=True, help="Run one cycle, print its summary and exit.")
@click.option(
    "--tick",
    type=click.FloatRange(0.2, 3600),
    default=5.0,
    show_default=True,
    help="Seconds between cycles; each connection still keeps its own polling interval.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=EngineSettings().concurrency,
    show_default=True,
    help="Sends in flight at once.",
)
@pass_app
def worker_command(app: AppContext, once: bool, tick: float, concurrency: int) -> None:
    """Run the engine: poll the shops, deliver to the WMS, push tracking and stock, retry what
    failed. Runs until Ctrl-C or SIGTERM (exit 0). Several workers may share a PostgreSQL
    database: the database hands each record to one of them."""
    setup_logging()
    database = app.db
    log.info("database %s", describe_url(database.url))
    engine = Engine(database, settings=EngineSettings(concurrency=concurrency))
    if once:
        report = asyncio.run(_run_once(engine))
        click.echo(summarize(report))
    else:
        asyncio.run(_run_until_stopped(engine, tick))


async def _run_once(engine: Engine) -> CycleReport:
    try:
        await _recover(engine)
        return await engine.run_once()
    finally:
        await engine.aclose()


async def _recover(engine: Engine) -> None:
    freed = await engine.recover()
    if freed:
        log.info("took back %d leases left by stopped workers on this host", freed)


async def _run_until_stopped(engine: Engine, tick: float) -> None:
    stopping = asyncio.Event()
    on_stop_signals(stopping.set, WORKER_SIGNALS)
    service = Service(engine, tick_seconds=tick)
    try:
        freed = await service.start()
        if freed:
            log.info("took back %d leases left by stopped workers on this host", freed)
        log.info("worker %s started, a cycle every %gs", engine.owner, tick)
        await _watch(service.scheduler, stopping)
    finally:
        await service.stop(grace=STOP_GRACE_S)
        log.info("worker stopped")


async def _watch(scheduler: EngineScheduler, stopping: asyncio.Event) -> None:
    """Log each cycle that did something (or could not run) until a stop signal arrives."""
    seen = 0
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), WATCH_EVERY_S)
        if scheduler.cycles == seen:
            continue
        seen = scheduler.cycles
        if scheduler.last_error is not None:
            continue  # the scheduler has logged it
        report = scheduler.last_report
        if report is not None and not _is_quiet(report):
            log.info("cycle %d: %s", seen, summarize(report))
    log.info("stopping: letting the cycle in progress finish (up to %gs)", STOP_GRACE_S)


# -- the sandbox ------------------------------------------------------------------------------


@click.command("sandbox", short_help="Serve a fake WMS and shop on loopback.")
@click.option("--port-wms", type=click.IntRange(0, 65535), default=0, help="0: any free port.")
@click.option("--port-shop", type=click.IntRange(0, 65535), default=0, help="0: any free port.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="The same seed, the same orders."
)
@click.option(
    "--orders",
    type=click.IntRange(0, 1_000_000),
    default=20,
    show_default=True,
    help="Orders waiting in the shop at the start (a few are bad on purpose).",
)
@click.option(
    "--faults",
    "faults_profile",
    default="none",
    show_default=True,
    metavar="PROFILE",
    help="none: all goes well; flaky: a few percent of requests fail (5xx, 429, drops); "
    "storm: a third or more do, some after the WMS took the order.",
)
@pass_app
def sandbox_command(
    app: AppContext, port_wms: int, port_shop: int, seed: int, orders: int, faults_profile: str
) -> None:
    """Serve a fake WMS and a fake shop on 127.0.0.1 for demos and trials, until Ctrl-C. Prints
    their URLs, credentials, what the shop holds, and the lines that connect an account to
    them, in the order to run them: on the database given to it (--db or IMTUI_DB), else on a
    new one in a temporary folder. The database is not opened here."""
    from imtui.sandbox import serve_forever

    app.check_database()
    try:
        serve_forever(port_wms, port_shop, seed, orders, faults_profile, db=app.db_url)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"cannot serve the sandbox: {exc.strerror or exc}") from exc
