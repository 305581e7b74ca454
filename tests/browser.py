"""What the browser-mode tests share: ``imtui serve`` as a real process on a free loopback port,
an alert emailed (through a real SMTP server) while it serves, and Debian's Chromium driven
by Playwright."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.notify.mailer import Mailer
from imtui.store.database import Database
from imtui.store.links import is_served
from imtui.store.queue import worker_identity
from tests.conftest import World, add_shop_order
from tests.mail_server import MailServer
from tests.test_alert_email import add_contact, email_settings, send_gathered

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parent.parent / "build" / "artefacts"
"""Where the test run leaves its screenshots (a copy is in docs/images)."""


def needs_chromium() -> pytest.MarkDecorator:
    """Skipped without Chromium on a developer's machine; CI installs it (.ci/run), so there a
    missing browser fails instead."""
    missing = not Path(CHROMIUM).exists() and not os.environ.get("CI")
    return pytest.mark.skipif(missing, reason="no Chromium: apt-get install chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(db: Database, tmp_path: Path, *args: str) -> Iterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IMTUI_DB": str(db.url), "IMTUI_PUBLIC_URL": url}
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "imtui.cli", "serve", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    served = Served(url, process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, served.output()
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, served.output()
                time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(check: object, seconds: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.1)


@dataclass
class Emailed:
    link: str
    alert_id: int
    contact_id: int
    text: str


async def email_alerts(
    db: Database,
    clock: FakeClock,
    world: World,
    sandbox: object,
    engine: Engine,
    smtp: MailServer,
    served: Served,
    methods: tuple[str, ...] = ("NOPE",),
) -> list[Emailed]:
    """Three orders for each unmapped ship method, held; each method's alert emailed at once
    to dana@acme.example while ``served`` serves: one email, and link, per method."""

    def registered() -> bool:
        with db.read() as session:
            return is_served(session, served.url, clock.now())

    wait_until(registered, what="imtui serve registered itself")
    contact = add_contact(db, clock, world.account_id, "dana@acme.example", "immediately")
    for first, method in enumerate(methods):
        for number in range(1001 + 100 * first, 1004 + 100 * first):
            add_shop_order(sandbox, number, method=method)
    await engine.run_once()
    settings = email_settings(smtp, public_url=served.url)
    mailer = Mailer(db, clock=clock, owner=worker_identity(), settings=settings)
    await send_gathered(clock, mailer)
    assert len(smtp.received) == len(methods)
    emailed = []
    for received in smtp.received:
        link = re.search(re.escape(served.url) + r"/link/\S+", received.text)
        alert = re.search(r"imtui open alert/(\d+)", received.text)
        assert link and alert, received.text
        emailed.append(Emailed(link.group(), int(alert.group(1)), contact, received.text))
    return emailed
