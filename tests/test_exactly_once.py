"""Several engine processes on one database, and a worker killed mid-storm: every order reaches
the sandbox WMS exactly once. Runs on SQLite, and on PostgreSQL when IMTUI_TEST_POSTGRES_URL is
set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlmodel import func, select

from imtui.domain.orders import OrderStatus
from imtui.engine.clock import SystemClock
from imtui.engine.connections import IN_FLIGHT_MARGIN
from imtui.engine.runtime import Engine, EngineSettings
from imtui.store.database import Database
from imtui.store.models import Order
from tests.conftest import add_shop_order, set_wms_deadline, wire_world

pytestmark = pytest.mark.slow


def worker(url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "imtui.cli", "--db", url, "worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def delivered(db: Database) -> int:
    with db.read() as session:
        return session.exec(
            select(func.count()).select_from(Order).where(Order.status == OrderStatus.DELIVERED)
        ).one()


async def load_orders(db: Database, sandbox, count: int) -> list[str]:
    """Download ``count`` shop orders into the store, due for delivery, without sending any."""
    for n in range(count):
        add_shop_order(sandbox, 5000 + n)
    engine = Engine(db, clock=SystemClock())
    try:
        from imtui.engine.runtime import CycleReport

        await engine.poll_sources(CycleReport())
    finally:
        await engine.aclose()
    with db.read() as session:
        references = list(session.exec(select(Order.reference)))
    assert len(references) == count
    return references


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_two_worker_processes_send_every_order_exactly_once(db_url, sandbox):
    db = Database(db_url)
    wire_world(db, sandbox, SystemClock())
    sandbox.latency = 0.02
    references = await load_orders(db, sandbox, 300)
    procs = [worker(db_url, "--once", "--concurrency", "16") for _ in range(2)]
    outputs = [proc.communicate(timeout=120)[0].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert delivered(db) == 300
    assert all(sandbox.wms.created(ref) == 1 for ref in references)
    assert all(sandbox.wms.posts(ref) == 1 for ref in references)
    db.dispose()


async def test_two_engines_in_one_process_share_the_queue(db_url, sandbox):
    """The same race without process start-up noise: both engines claim from one queue."""
    import asyncio

    db = Database(db_url)
    wire_world(db, sandbox, SystemClock())
    sandbox.latency = 0.01
    references = await load_orders(db, sandbox, 200)
    engines = [
        Engine(
            Database(db_url, migrate=False), settings=EngineSettings(concurrency=8, claim_batch=10)
        )
        for _ in range(2)
    ]
    stats = await asyncio.gather(*(engine.deliver_due() for engine in engines))
    for engine in engines:
        await engine.aclose()
    assert all(s.sent > 0 for s in stats), "both engines should have taken part"
    assert sum(s.sent for s in stats) == 200
    assert all(sandbox.wms.posts(ref) == 1 for ref in references)
    db.dispose()


async def test_worker_killed_mid_storm_loses_and_duplicates_nothing(db_url, sandbox):
    db = Database(db_url)
    world = wire_world(db, sandbox, SystemClock())
    set_wms_deadline(db, world.wms_id, 2.0)  # rows left in flight settle 2 s + the margin
    sandbox.latency = 0.05
    references = await load_orders(db, sandbox, 400)
    first = worker(db_url, "--tick", "0.5", "--concurrency", "20")
    wait_for(lambda: sum(sandbox.wms.created(r) for r in references) >= 60, 60, "first sends")
    first.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    first.wait(timeout=10)
    sent_before_kill = sum(sandbox.wms.created(r) for r in references)
    assert sent_before_kill < 400, "the kill came too late to prove anything"
    second = worker(db_url, "--once", "--concurrency", "20")
    output = second.communicate(timeout=120)[0].decode()
    assert second.returncode == 0, output
    # what the dead worker had in flight waits for its requests to settle, then is looked up
    time.sleep(max(0.0, killed_at + 2.0 + IN_FLIGHT_MARGIN + 1 - time.monotonic()))
    third = worker(db_url, "--once", "--concurrency", "20")
    output = third.communicate(timeout=120)[0].decode()
    assert third.returncode == 0, output
    assert delivered(db) == 400
    assert all(sandbox.wms.created(ref) == 1 for ref in references)
    # A send in flight when the process died is looked up, not blindly resent.
    assert sum(sandbox.wms.posts(ref) for ref in references) <= 400 + 20
    db.dispose()
