"""``imtui`` with no command (and ``imtui dashboard``): the live dashboard on the configured
database, with the engine's scheduler running in the same process unless ``--no-worker``.

Nothing heavy is imported before the dashboard is on screen. A helper process, started first of
all, reads the first rows on another core while this one loads Textual and builds the frame
(:mod:`imtui.store.first_screen`); the database layer (SQLAlchemy) is then loaded in a worker
behind the painted screen, and the engine (httpx, APScheduler) is built after that.
``python -X importtime -m imtui.cli`` shows what is left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from imtui.cli.context import AppContext, CliError, pass_app
from imtui.cli.signals import TERMINAL_SIGNALS, on_stop_signals

if TYPE_CHECKING:
    from imtui.engine.runtime import Engine
    from imtui.service import Service
    from imtui.store.database import Database
    from imtui.store.rows import FirstScreen
    from imtui.tui.app import StartAt
    from imtui.tui.backend import Backend

log = logging.getLogger("imtui.dashboard")


def is_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def needs_terminal(what: str, instead: str) -> None:
    if not is_a_terminal():
        raise CliError(f"{what} needs a terminal; {instead}")


def log_to_file() -> Path | None:
    """The engine's log lines go to a file while the screen belongs to the dashboard."""
    from platformdirs import user_log_dir

    from imtui.cli.logs import QUIET_LOGGERS, SafeFormatter

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
    return Path(handler.baseFilename) if isinstance(handler, logging.FileHandler) else None


def build_engine(database: Database, *, worker: bool, tick: float) -> tuple[Engine, Service | None]:
    """The engine the dashboard sends "now" with, and the service running its cycle here."""
    from imtui.engine.runtime import Engine
    from imtui.service import Service

    engine = Engine(database)
    return engine, Service(engine, tick_seconds=tick) if worker else None


def open_backend(app_context: AppContext, *, worker: bool, tick: float) -> Backend:
    """Open (and if need be migrate) the database; called in the dashboard's worker thread."""
    from imtui.store.people import access_of
    from imtui.tui.backend import Backend

    database = app_context.db
    if worker and not database.is_sqlite:
        # An engineer's own role on a team database runs no engine: the workers (the owner's
        # login) do the sending. Row-level security would stop an engine's writes outside the
        # engineer's accounts half way, and the engineer need not hold the secret key.
        with database.read() as session:
            worker = access_of(session).owner
    return Backend(
        app_context.db,
        actor=app_context.actor,
        engine_factory=partial(build_engine, worker=worker, tick=tick),
        runs_worker=worker,
    )


class FirstScreenHelper:
    """The helper process reading the first screen on another core (see
    :mod:`imtui.store.first_screen`), as the dashboard waits for it."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    def answered(self, within: float) -> bool:
        """Whether the helper has finished, waiting at most ``within`` seconds. (One that
        wrote more than a pipe holds finishes only once read: :meth:`answer` reads it.)"""
        try:
            self._process.wait(within)
        except subprocess.TimeoutExpired:
            return False
        return True

    def answer(self) -> FirstScreen | None:
        """What the helper read, waiting for it (None: no answer)."""
        import pickle

        from imtui.store.rows import FirstScreen

        try:
            data, _ = self._process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            return None
        if self._process.returncode != 0 or not data:
            return None
        screen = pickle.loads(data)  # from our own child process, over a pipe
        return screen if isinstance(screen, FirstScreen) else None

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """Not needed after all (the dashboard did not start): gone, not left behind."""
        if self.running:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


@contextmanager
def first_screen_helper(app_context: AppContext) -> Iterator[FirstScreenHelper | None]:
    """The helper that reads the first screen, started now (None: no terminal, or it could
    not be started), and never outliving the block."""
    helper = start_first_screen(app_context) if is_a_terminal() else None
    try:
        yield helper
    finally:
        if helper is not None:
            helper.stop()


def start_first_screen(app_context: AppContext) -> FirstScreenHelper | None:
    """Start the helper that reads the first screen (None: it could not be started)."""
    env = dict(os.environ)
    if app_context.db_url:
        env["IMTUI_DB"] = app_context.db_url
    rows = shutil.get_terminal_size().lines
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "imtui.store.first_screen", str(rows)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return None
    return FirstScreenHelper(process)


async def run_dashboard(
    app_context: AppContext,
    *,
    worker: bool,
    tick: float,
    start: StartAt | None = None,
    first_screen: FirstScreenHelper | None = None,
) -> None:
    from imtui.tui.app import DashboardApp

    app = DashboardApp(
        partial(open_backend, app_context, worker=worker, tick=tick),
        start=start,
        first_screen=first_screen,
    )
    on_stop_signals(app.exit, TERMINAL_SIGNALS)
    try:
        await app.run_async()
    finally:
        if app.backend_ready:
            await app.backend.stop_engine(grace=10.0)
    if app.opening_failure is not None:
        # The database failed behind the painted screen: the app has left; say why, once.
        raise app.opening_failure


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
    # First of all: the helper that reads the first rows on the other core, while this process
    # checks the file and loads Textual. (On a file that cannot be opened it reads nothing.)
    with first_screen_helper(app) as first_screen:
        app.check_database()  # a wrong --db is one line now, not a dashboard that never loads
        needs_terminal("the dashboard", "use the other commands (imtui --help) in scripts")
        log_to_file()
        run = run_dashboard(app, worker=not no_worker, tick=tick, first_screen=first_screen)
        asyncio.run(run)
