"""A database that is locked when the outcomes are written loses and duplicates nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from imtui.domain.orders import OrderStatus
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.store.database import Database, DatabaseError
from tests.conftest import add_shop_order, wire_world
from tests.test_engine_rules import order_by_number


async def test_locked_database_while_recording_loses_nothing(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imtui.store.database.BUSY_TIMEOUT_S", 0.3)
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'imtui.db'}"
    db = Database(url)
    wire_world(db, sandbox, clock)
    add_shop_order(sandbox, 3001)
    engine = Engine(db, clock=clock)
    sandbox.latency = 0.5
    cycle = asyncio.create_task(engine.run_once())
    for _ in range(100):
        if sandbox.wms.posts("ACME-3001"):
            break
        await asyncio.sleep(0.02)
    other = Database(url, migrate=False)
    with other.write_engine.connect() as locker:
        locker.execute(text("SELECT 1"))  # another process holds the write lock
        with pytest.raises(DatabaseError):
            await cycle
        locker.rollback()
    other.dispose()
    assert sandbox.wms.created("ACME-3001") == 1
    assert order_by_number(db, "#3001").status == OrderStatus.QUEUED  # outcome not recorded

    sandbox.latency = 0.0
    clock.advance(timedelta(minutes=6))  # the lease has run out
    await engine.run_once()
    order = order_by_number(db, "#3001")
    assert order.status == OrderStatus.DELIVERED and order.wms_order_id
    assert sandbox.wms.posts("ACME-3001") == 1  # looked up, not sent again
    await engine.aclose()
    db.dispose()
