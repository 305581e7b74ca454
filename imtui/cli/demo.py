"""``imtui demo``: the dashboard against the built-in sandbox, with a throw-away database.
``--headless`` prints what happens instead (for a terminal-less run or a log)."""

from __future__ import annotations

import asyncio

import click

from imtui.cli.dashboard import log_to_file, needs_terminal
from imtui.cli.signals import TERMINAL_SIGNALS, on_stop_signals
from imtui.demo import Demo, run_headless
from imtui.tui.app import DashboardApp, StartAt
from imtui.tui.backend import Backend


def demo_dashboard(demo: Demo) -> DashboardApp:
    """The dashboard on a started demo. Resolved alerts stay in view (✓): a newcomer sees
    them heal, not just vanish."""
    backend = Backend(demo.db, demo.engine, service=demo.service)
    return DashboardApp(backend, start=StartAt(alerts_filter="state:all"))


async def run_demo_dashboard(seconds: float | None = None) -> None:
    """The dashboard demo; its temporary folder and database are removed when it ends."""
    demo = Demo()
    try:
        await demo.start()
        app = demo_dashboard(demo)
        if seconds is not None:
            asyncio.get_running_loop().call_later(seconds, app.exit)
        on_stop_signals(app.exit, TERMINAL_SIGNALS)
        await app.run_async()
    finally:
        await demo.stop()


@click.command("demo", short_help="Watch imtui work against its built-in sandbox.")
@click.option(
    "--headless",
    is_flag=True,
    help="No dashboard: print each delivery, failure and alert as it happens.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(1, 86400),
    default=None,
    help="Stop by itself after this long (default: run until q or Ctrl-C).",
)
def demo_command(headless: bool, seconds: float | None) -> None:
    """Start the sandbox WMS and shop inside this process (loopback only, no network), a fresh
    SQLite database in a temporary folder, a seeded stream of orders and faults, and the engine
    with time running 240x faster — then open the dashboard on it. Within seconds alerts appear,
    retries run and heal them, and one ship method nobody mapped waits for you: select its
    alert and press e.

    The temporary folder is removed when the dashboard closes; with --headless it is kept (the
    commands printed at the end use its database), and the last line says where."""
    if headless:
        asyncio.run(run_headless(seconds=seconds))
        return
    needs_terminal("the demo dashboard", "run 'imtui demo --headless' to print it instead")
    log_to_file()
    asyncio.run(run_demo_dashboard(seconds))
