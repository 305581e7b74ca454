"""Helpers for driving the dashboard with Pilot: build it on a test database, wait for its
workers to settle, and read what is on screen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlmodel import col, select

from imtui.engine.runtime import Engine
from imtui.store.database import Database
from imtui.store.models import Alert, AuditEntry, Order, RetryItem
from imtui.tui.app import DashboardApp, StartAt
from imtui.tui.backend import Backend
from imtui.tui.widgets.panes import RecordPane
from tests.conftest import ACTOR


def make_app(
    db: Database, engine: Engine, *, start: StartAt | None = None, live: bool = True
) -> DashboardApp:
    return DashboardApp(Backend(db, engine, actor=ACTOR), start=start, keymap={}, live=live)


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds (workers post back asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await pilot.pause(0.02)
        try:
            if condition():
                return
        except Exception:  # the screen may still be building
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the dashboard did not get there in time")


async def settle(pilot: Any) -> None:
    """Wait until every pane has its rows and no fetch is running."""
    app = pilot.app

    def loaded() -> bool:
        panes = list(app.dashboard.query(RecordPane))
        return bool(panes) and all(p.loaded_once for p in panes)

    await wait_for(pilot, loaded)
    await app.workers.wait_for_complete() if not app.live else None
    await pilot.pause(0.05)


def pane(app: DashboardApp, name: str) -> RecordPane[Any, Any]:
    return app.dashboard.query_one(f"#{name}", RecordPane)


def screen_lines(app: DashboardApp, name: str) -> list[str]:
    table = pane(app, name).table
    return [table.render_line(y).text for y in range(table.size.height)]


def order(db: Database, number: str) -> Order:
    with db.read() as session:
        return session.exec(select(Order).where(Order.number == number)).one()


def alerts(db: Database, **where: Any) -> list[Alert]:
    with db.read() as session:
        query = select(Alert).order_by(col(Alert.id))
        for key, value in where.items():
            query = query.where(getattr(Alert, key) == value)
        return list(session.exec(query))


def audit(db: Database) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.id))))


def queue_item(db: Database, order_id: int) -> RetryItem:
    with db.read() as session:
        return session.exec(
            select(RetryItem).where(
                RetryItem.subject_id == order_id, RetryItem.operation == "deliver_order"
            )
        ).one()


def screen_text(app: DashboardApp) -> str:
    """What the terminal shows now, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def type_fast(pilot: Any, *keys: str) -> None:
    """Send keys the way a terminal does when someone types quickly (or pastes, or a key
    repeats): all queued at once, none waiting for the app to handle the one before — unlike
    ``pilot.press``, which waits for the app to go idle after every key and so hides races
    between a key that moves focus and the keys behind it."""
    import unicodedata

    from textual import events
    from textual.keys import _character_to_key, _get_unicode_name_from_key

    driver = pilot.app._driver
    for key in keys:
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(name))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(name, char)
        event.set_sender(pilot.app)
        driver.send_message(event)


def notices(app: DashboardApp) -> list[str]:
    """Every notification the app has shown and not yet timed out (Textual keeps them in a
    private list: this is the one place the tests read it)."""
    return [str(notification.message) for notification in app._notifications]
