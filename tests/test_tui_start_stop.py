"""The dashboard's engine and timers at the edges of its life: quitting while the live timers
run (the screens come apart under them, and nothing may raise — CI once failed on a tick that
found the dashboard's panes already gone), and an engine that cannot start (a database another
process holds) saying so in the header and starting once it can."""

from __future__ import annotations

import asyncio

import pytest

from tests.tui_support import make_app, settle


@pytest.mark.parametrize("attempt", range(3))
async def test_quitting_while_ticking_raises_nothing(db, world, engine, attempt):
    app = make_app(db, engine)
    app.TICK_SECONDS = 0.001  # a tick in every gap of the shutdown
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.05)
    # run_test re-raises whatever a timer raised while the app closed


async def test_an_engine_that_cannot_start_says_why_in_the_header_and_starts_once_it_can(
    tmp_path, monkeypatch
):
    import sqlite3

    from imtui.engine.runtime import Engine
    from imtui.service import Service
    from imtui.store.database import Database
    from imtui.tui.app import DashboardApp
    from imtui.tui.backend import Backend
    from imtui.tui.widgets.status import StatusHeader
    from tests.conftest import ACTOR
    from tests.tui_support import wait_for

    monkeypatch.setattr("imtui.store.database.BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "imtui.db"
    db = Database(f"sqlite:///{path}")
    engine = Engine(db)
    service = Service(engine, tick_seconds=60)
    app = DashboardApp(Backend(db, engine, service=service, actor=ACTOR), keymap={})
    app.ENGINE_RETRY_SECONDS = 0.3
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        async with app.run_test(size=(100, 24)) as pilot:
            header = app.dashboard.query_one(StatusHeader)
            await wait_for(pilot, lambda: "engine: database is locked" in header.text)
            locker.execute("COMMIT")
            await wait_for(pilot, lambda: "⟳" in header.text)  # started: its next cycle shows
            assert "locked" not in header.text
            await service.stop(grace=1)
    finally:
        locker.close()
        db.dispose()


async def test_an_engine_notes_that_it_runs_and_a_watching_dashboard_says_so(
    db, world, engine, clock
):
    from datetime import timedelta

    from imtui.engine.scheduler import EngineScheduler
    from imtui.store.beats import beat, last_beat
    from imtui.tui.widgets.status import StatusHeader
    from tests.tui_support import make_app, settle, wait_for

    scheduler = EngineScheduler(engine, tick_seconds=60)
    scheduler.start()  # its first cycle at once
    try:
        for _ in range(200):
            if scheduler.cycles:
                break
            await asyncio.sleep(0.02)
        with db.read() as session:
            assert last_beat(session) == clock.now()
    finally:
        await scheduler.stop(grace=1)
    with db.read() as session:
        assert last_beat(session) is None  # stopped cleanly: it says so at once

    app = make_app(db, engine)  # this dashboard runs no engine
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        header = app.dashboard.query_one(StatusHeader)
        await wait_for(pilot, lambda: "no engine running!" in header.text)
        with db.write() as session:  # another process's engine, a moment ago
            beat(session, "other-host:1:x", clock.now(), clock.now())
        app.refresh_now()
        await wait_for(pilot, lambda: "engine elsewhere" in header.text)
        clock.advance(timedelta(minutes=5))  # and then nothing from it
        app.refresh_now()
        await wait_for(pilot, lambda: "no engine running!" in header.text)
