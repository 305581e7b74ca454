"""What reaches a real terminal: ``imtui open alert/<id>`` on an order a shop customer filled
with terminal escapes, run in a pseudo-terminal exactly as a person runs it, and every byte
the app writes read back from the terminal's side.

None of the payloads' own sequences may arrive — no clipboard write (OSC 52), no window title
(OSC 0), no screen clear, no device control string, no 8-bit C1 control — while their
made-visible rendering (``\\x1b]52…``) does, which proves the form holding them was drawn.
(Textual writes escapes of its own, of course — cursor moves, colours, modes — so the checks
are on sequences only the payloads contain: a control run on a harmless order shows Textual
emitting none of them.)
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine, EngineSettings
from imtui.sandbox import Sandbox
from imtui.store.database import Database
from tests.conftest import add_shop_order, wire_world
from tests.tui_support import alerts

pytestmark = pytest.mark.slow

OSC52 = "\x1b]52;c;SElKQUNL\x07"
OSC0 = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
DCS = "\x1bPq#0\x1b\\"
C1 = "\x9b2J\x9d0;x\x9c"

HOSTILE_ADDRESS = {
    "name": f"Eve{OSC0}",
    "company": f"Co{CLEAR}",
    "address1": f"1 Main{DCS}",
    "address2": C1,
    "city": "",  # incomplete: the fix is the order's form
    "province_code": "TX",
    "zip": "78701",
    "country_code": "US",
    "phone": "",
}
HARMLESS_ADDRESS = {**HOSTILE_ADDRESS, "name": "Eve", "company": "Co", "address1": "1 Main"}
HARMLESS_ADDRESS["address2"] = "Apt 2"

FORBIDDEN = {
    "OSC 52 (clipboard)": b"\x1b]52",
    "OSC 0 (title)": b"\x1b]0;pwned",
    "the payload's clear screen": b"Co\x1b[2J",
    "DCS": b"\x1bP",
    "8-bit CSI": b"\xc2\x9b",
    "8-bit OSC": b"\xc2\x9d",
    "8-bit ST": b"\xc2\x9c",
}
C1_IN_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
STARTUP = 10.0
"""Generous: a loaded 2-core machine starts Python, Textual and the database in well under it."""
SHOWN_FOR = 1.5
"""How long the form stays open once drawn (its cursor blinks, the clock ticks: more writes)."""


def hostile_database(path: Path, *, harmless: bool = False) -> dict[str, int]:
    """An SQLite file with two held orders and their alerts: #1001 for a ship method nobody
    mapped (its code carrying OSC 52 and C1 controls), #1002 for an incomplete address (its
    name, company and lines carrying OSC 0, a screen clear, DCS and C1). The alert ids, by
    the form they open."""

    async def prepare() -> dict[str, int]:
        db = Database(f"sqlite:///{path}")
        clock = FakeClock()
        try:
            with Sandbox(seed=1) as sandbox:
                wire_world(db, sandbox, clock)
                method = "SAME_DAY" if harmless else f"SD{OSC52}{C1}"
                add_shop_order(sandbox, 1001, method=method)
                add_shop_order(
                    sandbox, 1002, address=HARMLESS_ADDRESS if harmless else HOSTILE_ADDRESS
                )
                engine = Engine(db, clock=clock, settings=EngineSettings(concurrency=2))
                try:
                    await engine.run_once()
                finally:
                    await engine.aclose()
            [mapping] = alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)
            [address] = alerts(db, state=AlertState.OPEN, kind=AlertKind.INCOMPLETE_ADDRESS)
            return {"mapping": mapping.id or 0, "order": address.id or 0}
        finally:
            db.dispose()

    return asyncio.run(prepare())


def run_on_a_terminal(tmp_path: Path, db_file: Path, alert_id: int, shown: bytes) -> bytes:
    """``python -m imtui.cli --db FILE open alert/ID --no-worker`` on an 80x24 pseudo-terminal
    (TERM=xterm-256color); once ``shown`` has been written, the form is left open a moment,
    then esc and ctrl+q quit. Everything written to the terminal, start to end."""
    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": "80",
        "LINES": "24",
        # The log file, keymap and any per-user state go in the test's folder.
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "IMTUI_KEYS": str(tmp_path / "no-keys.toml"),
    }
    for name in ("TEXTUAL", "TEXTUAL_DRIVER", "NO_COLOR", "IMTUI_DB"):
        env.pop(name, None)
    # Made the terminal's controlling process, as a login shell's child would be.
    bootstrap = (
        "import fcntl, runpy, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
        "sys.argv[0] = 'imtui'; runpy.run_module('imtui.cli', run_name='__main__')"
    )
    command = ["--db", str(db_file), "open", f"alert/{alert_id}", "--no-worker"]
    process = subprocess.Popen(
        [sys.executable, "-c", bootstrap, *command],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=str(tmp_path),
        start_new_session=True,
    )
    os.close(child)
    written = b""
    started = time.monotonic()
    seen_at: float | None = None
    quit_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if seen_at is None and shown in written:
                seen_at = now
            if quit_at is None and (
                (seen_at is not None and now - seen_at > SHOWN_FOR) or now - started > STARTUP
            ):
                os.write(main, b"\x1b")  # esc: leave the (unchanged) form
                time.sleep(0.5)
                os.write(main, b"\x11")  # ctrl+q: quit
                quit_at = now
            if quit_at is not None and now - quit_at > 4.0 and process.poll() is None:
                process.send_signal(signal.SIGTERM)
            if quit_at is not None and now - quit_at > 6.0:
                break
            ready, _, _ = select.select([main], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the terminal's other side has closed: the app has gone
                    chunk = b""
                written += chunk
                if not chunk and process.poll() is not None:
                    break
            elif process.poll() is not None:
                break
        return written
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        os.close(main)


def payloads_in(written: bytes) -> list[str]:
    found = [name for name, raw in FORBIDDEN.items() if raw in written]
    if C1_IN_UTF8.search(written):
        found.append("a C1 control (U+0080-U+009F)")
    return found


@pytest.mark.parametrize(
    ("form", "shown"),
    [
        # the ship-method code, made visible, in the mapping form's field
        ("mapping", rb"SD\x1b]52;c;SElKQUNL"),
        # the customer's name, made visible, in the order form's field
        ("order", rb"Eve\x1b]0;pwned\x07"),
    ],
)
def test_hostile_order_text_never_reaches_the_terminal(tmp_path: Path, form: str, shown: bytes):
    db_file = tmp_path / "imtui.db"
    ids = hostile_database(db_file)
    written = run_on_a_terminal(tmp_path, db_file, ids[form], shown)
    assert payloads_in(written) == [], f"raw payload bytes reached the terminal in the {form} form"
    assert shown in written, f"the {form} form was not shown:\n{written[-3000:]!r}"
    assert b"Traceback" not in written
    if form == "order":
        for rendering in (rb"\x1bPq#0", rb"\x9b2J\x9d0;x\x9c"):
            assert rendering in written


def test_control_run_textual_itself_writes_none_of_the_payload_sequences(tmp_path: Path):
    """The same forms on harmless orders: what the checks above look for is the payloads' own,
    not something Textual writes anyway."""
    db_file = tmp_path / "imtui.db"
    ids = hostile_database(db_file, harmless=True)
    written = run_on_a_terminal(tmp_path, db_file, ids["order"], b"1 Main")
    assert b"1 Main" in written, f"the order form was not shown:\n{written[-3000:]!r}"
    assert payloads_in(written) == []
