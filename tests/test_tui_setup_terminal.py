"""A credential typed into the dashboard's form never reaches the terminal: the dashboard run
on a real pseudo-terminal, the secret typed key by key into the credentials form, and every
byte the program wrote searched for it (and for any four characters of it in a row)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from imtui.engine.clock import FakeClock
from imtui.sandbox import Sandbox
from imtui.store.database import Database
from imtui.store.models import Connection
from tests.conftest import wire_world
from tests.terminal import Terminal

pytestmark = pytest.mark.slow

SECRET = "Hunter2-S3cr3t-Qx9!"
DOT = "•".encode()


def wired_database(path: Path) -> tuple[int, dict[str, str]]:
    async def prepare() -> tuple[int, dict[str, str]]:
        db = Database(f"sqlite:///{path}")
        try:
            with Sandbox(seed=1) as sandbox:
                world = wire_world(db, sandbox, FakeClock())
                return world.wms_id, dict(sandbox.wms_credentials)
        finally:
            db.dispose()

    return asyncio.run(prepare())


def stored_credentials(path: Path, connection_id: int) -> dict[str, str]:
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as session:
            connection = session.get(Connection, connection_id)
            assert connection is not None
            return dict(connection.credentials)
    finally:
        db.dispose()


def test_a_credential_typed_into_the_form_never_reaches_the_terminal(tmp_path: Path):
    db_file = tmp_path / "imtui.db"
    wms_id, credentials = wired_database(db_file)
    with Terminal(tmp_path, ["--db", str(db_file), "dashboard", "--no-worker"]) as terminal:
        terminal.wait_for(b"Alerts")
        terminal.keys(b"A")
        terminal.wait_for(b"3PL")
        terminal.keys(b"j")  # the account's line, then its first connection: 3PL
        terminal.keys(b"c")
        terminal.wait_for(b"client_secret")
        terminal.keys(b"\t")  # client_id, then client_secret
        before = len(terminal.written)
        for char in SECRET:
            terminal.keys(char.encode(), settle=0.05)
        terminal.read(1.0)  # the cursor blinks, the header ticks: more writes
        typed = terminal.written[before:]
        terminal.keys(b"\x1b")  # esc: asks, as something was typed
        terminal.wait_for(b"Discard")
        terminal.keys(b"y")
    written = terminal.written
    assert typed.count(DOT) >= len(SECRET), "the field did not show a dot for each character"
    assert SECRET.encode() not in written
    for start in range(len(SECRET) - 3):
        assert SECRET[start : start + 4].encode() not in written
    assert b"Traceback" not in written
    assert stored_credentials(db_file, wms_id) == credentials  # discarded: nothing changed
