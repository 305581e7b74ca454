"""The dashboard runs the engine in its own process but never on the event loop that paints: its
cycles, a resend's send and its stop all happen on the engine's own thread and loop
(:class:`imtui.service.ServiceThread`), so the CPU a storm of sends costs never holds up a key.
And quitting while the engine waits on a WMS that does not answer takes the stop's grace, no
more, and prints nothing."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from imtui.domain.orders import OrderStatus
from imtui.engine.runtime import Engine
from imtui.sandbox import FaultRule
from imtui.service import STOP_MARGIN_S, Service, ServiceThread
from imtui.store.database import Database
from imtui.store.models import Connection
from imtui.tui.app import DashboardApp
from imtui.tui.backend import Backend
from tests.conftest import ACTOR, add_shop_order
from tests.tui_support import (
    make_app,
    notices,
    order,
    pane,
    queue_1001_after_a_503,
    settle,
    type_fast,
    wait_for,
)

Where = tuple[int, asyncio.AbstractEventLoop]


def record_engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[Where]:
    """The thread and loop of every database call an engine makes from now on: every cycle,
    send, start and stop goes through :meth:`Engine.read` or :meth:`Engine.write`."""
    seen: list[Where] = []

    def recording(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(self: Engine, work: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append((threading.get_ident(), asyncio.get_running_loop()))
            return await original(self, work, *args, **kwargs)

        return call

    for name in ("read", "write"):
        monkeypatch.setattr(Engine, name, recording(getattr(Engine, name)))
    return seen


def off_the_apps_loop(seen: list[Where]) -> bool:
    """Whether every call recorded ran on another thread and loop than this test's, which is
    the app's (``run_test`` runs the app on the test's loop)."""
    here = (threading.get_ident(), asyncio.get_running_loop())
    return bool(seen) and all(thread != here[0] and loop is not here[1] for thread, loop in seen)


def dashboard_running_its_engine(db: Database, clock: Any) -> tuple[DashboardApp, Service]:
    """The dashboard with its own engine and service (as ``imtui`` runs it), one cycle a minute
    — the first at once."""
    engine = Engine(db, clock=clock)
    service = Service(engine, tick_seconds=60)
    app = DashboardApp(Backend(db, engine, service=service, actor=ACTOR), keymap={})
    return app, service


async def test_the_dashboards_engine_cycles_on_its_own_thread_not_the_apps_loop(
    db, sandbox, world, clock, monkeypatch
):
    add_shop_order(sandbox, 1001)  # the engine's first cycle takes it in and delivers it
    seen = record_engine_calls(monkeypatch)
    app, service = dashboard_running_its_engine(db, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: order(db, "#1001").status == OrderStatus.DELIVERED)
        assert off_the_apps_loop(seen), "an engine call ran on the app's loop"
        assert len({loop for _, loop in seen}) == 1  # one engine loop, the service's
    await app.backend.stop_engine(grace=5)
    assert service.thread is not None and not service.thread.alive
    assert sandbox.wms.created(order(db, "#1001").reference) == 1


async def test_r_sends_through_the_engine_on_its_thread_and_says_what_happened(
    db, sandbox, world, engine, monkeypatch
):
    await queue_1001_after_a_503(sandbox, engine)  # this test's engine, on this loop
    seen = record_engine_calls(monkeypatch)
    app = make_app(db, engine)  # sends only: the cycle runs elsewhere
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: pane(app, "orders").current.number == "#1001")
        await pilot.press("r")
        await wait_for(pilot, lambda: any("sent 1 of 1 now" in text for text in notices(app)))
        assert order(db, "#1001").status == OrderStatus.DELIVERED
        assert off_the_apps_loop(seen), "the send ran on the app's loop"
    await app.backend.stop_engine(grace=5)
    assert sandbox.wms.created(order(db, "#1001").reference) == 1


async def test_quitting_while_the_wms_hangs_mid_cycle_takes_the_grace_and_prints_nothing(
    db, sandbox, world, clock, capfd
):
    grace = 0.5
    with db.write() as session:  # the connector would otherwise give up after 2 s by itself
        wms = session.get(Connection, world.wms_id)
        assert wms is not None
        wms.settings = {**wms.settings, "read_timeout": 60}
        session.add(wms)
    sandbox.hang_seconds = 60
    sandbox.faults.add(FaultRule("wms.create_order", "timeout"))
    add_shop_order(sandbox, 1001)
    app, service = dashboard_running_its_engine(db, clock)
    app.ENGINE_STOP_SECONDS = grace
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: sandbox.requests["wms.create_order"] >= 1)
        await pilot.pause(0.2)  # the send is waiting on the WMS: the cycle is in progress
        assert order(db, "#1001").status != OrderStatus.DELIVERED
        quit_at = time.monotonic()
        # Sent as a terminal does: Pilot's press would first wait for the process to be idle.
        type_fast(pilot, "q")
    await app.backend.stop_engine(grace=grace)
    took = time.monotonic() - quit_at
    assert took <= grace + STOP_MARGIN_S + 0.5, f"quitting took {took:.2f} s"
    assert service.thread is not None and not service.thread.alive
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own CPU priority is Linux's")
async def test_the_engines_thread_and_its_database_threads_yield_the_cpu_to_the_screen(db, clock):
    from imtui.tui.backend import ENGINE_NICE

    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    here = priority()
    lower = min(19, here + ENGINE_NICE)  # 19: the lowest there is
    engine = Engine(db, clock=clock)
    runner = ServiceThread(engine, nice=ENGINE_NICE)

    async def on_the_engines_thread() -> tuple[int, int]:
        return priority(), await asyncio.to_thread(priority)  # as its database calls run

    try:
        assert await runner.run(on_the_engines_thread) == (lower, lower)
        assert priority() == here  # the caller's is untouched
    finally:
        await runner.stop(grace=1)
    assert not runner.alive
