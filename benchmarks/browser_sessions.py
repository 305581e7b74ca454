"""Emailed links opened at once: ``python benchmarks/browser_sessions.py [--sessions 8]``.

``imtui serve`` runs as a real process; N unmapped ship methods are emailed (one email and
link each) through a real SMTP server on loopback; Debian's Chromium opens the links. Printed,
next to their targets:

- the time from opening a link to the mapping form on screen: one link alone (the baseline,
  same run), then the other N - 1 opened at once;
- the memory of each session's app process and of the server (RSS), since each browser
  session is a process and ``--sessions`` caps how many run;
- one more link past the cap: refused as busy, and left unused.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine, EngineSettings
from imtui.sandbox import Sandbox
from imtui.store.database import Database
from tests.browser import CHROMIUM, email_alerts, serve
from tests.conftest import wire_world
from tests.mail_server import mail_server
from tests.test_browser_mode import Screen

TARGET_ALONE_S = 3.0
TARGET_AT_ONCE_S = 10.0
TARGET_RSS_MB = 150.0


async def open_form(browser: object, link: str) -> tuple[float, object]:
    """Seconds from opening ``link`` to the mapping form on screen; the page stays open."""
    context = await browser.new_context()  # type: ignore[attr-defined]
    page = await context.new_page()
    screen = Screen(page)
    started = time.perf_counter()
    await page.goto(link)
    await screen.shows("Ship-method mapping", seconds=60)
    return time.perf_counter() - started, context


def session_processes(server: int) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(server).children(recursive=True)
        if "link-session" in " ".join(child.cmdline())
    ]


async def run(sessions: int) -> None:
    from playwright.async_api import async_playwright

    folder = Path(tempfile.mkdtemp(prefix="imtui-browser-bench-"))
    db = Database(f"sqlite:///{folder / 'imtui.db'}")
    clock = FakeClock(datetime.now(UTC))
    with (
        Sandbox(seed=1) as sandbox,
        mail_server() as smtp,
        serve(db, folder, "--sessions", str(sessions)) as served,
    ):
        world = wire_world(db, sandbox, clock)
        engine = Engine(db, clock=clock, settings=EngineSettings(concurrency=20))
        methods = tuple(f"METHOD-{n}" for n in range(sessions + 1))
        emailed = await email_alerts(db, clock, world, sandbox, engine, smtp, served, methods)
        await engine.aclose()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            alone, first = await open_form(browser, emailed[0].link)
            opened = await asyncio.gather(
                *(open_form(browser, e.link) for e in emailed[1:sessions])
            )
            at_once = [seconds for seconds, _ in opened]
            rss = [p.memory_info().rss / 2**20 for p in session_processes(served.process.pid)]
            server_rss = psutil.Process(served.process.pid).memory_info().rss / 2**20
            async with httpx.AsyncClient(timeout=10) as client:
                busy = await client.get(emailed[sessions].link)
            for _, context in [(alone, first), *opened]:
                await context.close()  # type: ignore[attr-defined]
            await browser.close()
    db.dispose()

    print(f"browser sessions: {sessions} links opened in Chromium against imtui serve")
    print(f"  link to form, alone (baseline)     {alone:6.2f} s   target < {TARGET_ALONE_S} s")
    middle = statistics.median(at_once)
    print(
        f"  link to form, {sessions - 1} at once           median {middle:.2f} s,"
        f" max {max(at_once):.2f} s   target < {TARGET_AT_ONCE_S} s"
    )
    print(
        f"  session app RSS ({len(rss)} processes)   median {statistics.median(rss):.0f} MB,"
        f" max {max(rss):.0f} MB   target < {TARGET_RSS_MB:.0f} MB each"
    )
    print(f"  server RSS                         {server_rss:6.0f} MB")
    print(f"  link {sessions + 1} past the cap            HTTP {busy.status_code} (target 503)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    asyncio.run(run(parser.parse_args().sessions))


if __name__ == "__main__":
    main()
