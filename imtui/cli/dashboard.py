"""``imtui`` with no command (and ``imtui dashboard``): the live dashboard on the configured
database, with the engine's scheduler running in the same process unless ``--no-worker``."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from imtui.cli.context import AppContext, CliError, pass_app
from imtui.engine.runtime import Engine
from imtui.service import Service
from imtui.tui.app import DashboardApp, StartAt
from imtui.tui.backend import Backend

log = logging.getLogger("imtui.dashboard")


def needs_terminal(what: str, instead: str) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError(f"{what} needs a terminal; {instead}")


def log_to_file() -> Path | None:
    """The engine's log lines go to a file while the screen belongs to the dashboard."""
    from platformdirs import user_log_dir

    from imtui.cli.worker import QUIET_LOGGERS, SafeFormatter

    folder = Path(user_log_dir("imtui", appauthor=False))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(folder / "dashboard.log", encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return getattr(handler, "baseFilename", None) and Path(handler.baseFilename)  # type: ignore[attr-defined]


async def run_dashboard(
    app_context: AppContext, *, worker: bool, tick: float, start: StartAt | None = None
) -> None:
    engine = Engine(app_context.db)
    service = Service(engine, tick_seconds=tick) if worker else None
    if service is not None:
        await service.start()
    try:
        backend = Backend(app_context.db, engine, service=service, actor=app_context.actor)
        await DashboardApp(backend, start=start).run_async()
    finally:
        if service is not None:
            await service.stop(grace=10.0)
        else:
            await engine.aclose()


@click.command("dashboard", short_help="The live dashboard (also: imtui with no command).")
@click.option(
    "--no-worker",
    is_flag=True,
    help="Only watch and act; leave sending to a worker elsewhere (imtui worker).",
)
@click.option(
    "--tick",
    type=click.FloatRange(0.2, 3600),
    default=5.0,
    show_default=True,
    help="Seconds between the engine's cycles in this process.",
)
@pass_app
def dashboard_command(app: AppContext, no_worker: bool, tick: float) -> None:
    """Alerts, orders and the retry queue, live, with keys to resend, dismiss and fix. The
    engine runs in the same process (unless --no-worker); q quits, ? lists every key."""
    needs_terminal("the dashboard", "use the other commands (imtui --help) in scripts")
    log_to_file()
    asyncio.run(run_dashboard(app, worker=not no_worker, tick=tick))
