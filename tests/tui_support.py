"""Helpers for driving the dashboard with Pilot: build it on a test database, wait for its
workers to settle, and read what is on screen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlmodel import col, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.engine.runtime import Engine
from imtui.sandbox import FaultRule
from imtui.sandbox.seed import BAD_ADDRESSES
from imtui.store.database import Database
from imtui.store.models import Alert, AuditEntry, Order, RetryItem, ShipMethodMapping
from imtui.tui.app import DashboardApp, StartAt
from imtui.tui.backend import Backend
from imtui.tui.screens.contact_form import ContactFormScreen
from imtui.tui.screens.detail import AlertDetailScreen, OrderDetailScreen
from imtui.tui.screens.lists import ContactsScreen, OutboxScreen
from imtui.tui.screens.mapping_form import MappingFormScreen
from imtui.tui.screens.order_form import OrderFormScreen
from imtui.tui.widgets.panes import RecordPane
from tests.conftest import ACTOR, STANDARD_METHODS, add_shop_order


def make_app(
    db: Database, engine: Engine, *, start: StartAt | None = None, live: bool = True
) -> DashboardApp:
    return DashboardApp(Backend(db, engine, actor=ACTOR), start=start, keymap={}, live=live)


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 20.0) -> None:
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


def mapping(db: Database, code: str) -> ShipMethodMapping | None:
    with db.read() as session:
        return session.exec(
            select(ShipMethodMapping).where(ShipMethodMapping.source_code == code)
        ).first()


# -- what the engine has been given to work on ------------------------------------------------


async def hold_1001_for_its_address(sandbox: Any, engine: Engine) -> None:
    """Order #1001 in the shop with no address1, and a cycle: the engine holds it."""
    add_shop_order(sandbox, 1001, address=BAD_ADDRESSES["missing_address1"])
    await engine.run_once()


async def queue_1001_after_a_503(sandbox: Any, engine: Engine, times: int = 1) -> None:
    """Order #1001 in the shop, the WMS answering 503 ``times``, and a cycle: queued to retry."""
    add_shop_order(sandbox, 1001)
    sandbox.faults.add(FaultRule("wms.create_order", "http_503", times=times, retry_after=1))
    await engine.run_once()


async def outage_on_1001_to_1003(sandbox: Any, engine: Engine) -> None:
    """Orders #1001-#1003 in the shop, a 503 for each, and a cycle: one outage alert."""
    for number in (1001, 1002, 1003):
        add_shop_order(sandbox, number)
    sandbox.faults.add(FaultRule("wms.create_order", "http_503", times=3, retry_after=1))
    await engine.run_once()


async def app_on_orders(db: Database, sandbox: Any, engine: Engine, count: int) -> Any:
    """Orders #1001 to #1000 + ``count`` in the shop, one cycle run (each delivered), and the
    dashboard made (not yet started) on them: more than a page, for the moving keys."""
    for number in range(1001, 1001 + count):
        add_shop_order(sandbox, number)
    await engine.run_once()
    return make_app(db, engine)


async def app_opened_on_an_unmapped_method(
    db: Database, sandbox: Any, engine: Engine, *, proven: bool = False
) -> Any:
    """Order #1001 held for SAME_DAY_COURIER, which has no mapping, and the dashboard started
    on its alert (``imtui open alert/<id>``): that is, on the alert's mapping form. ``proven``:
    in the same cycle, one order through each standard mapping reaches the WMS (#1101, #1102),
    so their carriers and modes are in use."""
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    if proven:
        for number, method in enumerate(STANDARD_METHODS, start=1101):
            add_shop_order(sandbox, number, method=method)
    await engine.run_once()
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    return make_app(db, engine, start=StartAt(alert_id=alert.id))


# -- screens coming up ------------------------------------------------------------------------


async def open_alert_detail(pilot: Any) -> AlertDetailScreen:
    """``enter`` on the alert under the cursor: its detail, once read."""
    app = pilot.app
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
    detail = app.screen
    await wait_for(pilot, lambda: detail.data is not None)
    return detail


async def wait_order_form(pilot: Any) -> OrderFormScreen:
    """The order form, once it is on top and filled in from its order."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, OrderFormScreen))
    form = app.screen
    await wait_for(pilot, lambda: form.detail is not None)
    return form


async def wait_mapping_form(pilot: Any, about: str) -> MappingFormScreen:
    """The mapping form, once it is on top and its top lines say ``about``."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, MappingFormScreen))
    form = app.screen
    await wait_for(pilot, lambda: about in text_of(form, "#form-about"))
    return form


async def wait_contact_form(pilot: Any) -> ContactFormScreen:
    """The contact form, once it is on top and loaded."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, ContactFormScreen))
    form = app.screen
    await wait_for(pilot, lambda: form.loaded)
    return form


async def open_list(pilot: Any, key: str, rows: int) -> Any:
    """From the settled dashboard, ``key`` (c: the contacts, o: the outbox): the list, once it
    has ``rows`` rows."""
    app = pilot.app
    await settle(pilot)
    await pilot.press(key)
    kind = {"c": ContactsScreen, "o": OutboxScreen}[key]
    await wait_for(pilot, lambda: isinstance(app.screen, kind))
    screen = app.screen
    await wait_for(pilot, lambda: len(screen.pane.records) == rows)
    return screen


async def scrollable_order_detail(pilot: Any, lines: int) -> Any:
    """The order detail coming up: its scrolling text, once it can scroll ``lines`` lines."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, OrderDetailScreen))
    await wait_for(pilot, lambda: app.screen.data is not None)
    text = app.screen.query_one("#detail")
    await wait_for(pilot, lambda: text.max_scroll_y >= lines)
    return text


# -- what is on screen ------------------------------------------------------------------------


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector).render())


def detail_lines(app: DashboardApp) -> list[str]:
    """Every line of the detail on top, scrolled into view or not."""
    body = app.screen.query_one("#detail-body")
    return [body.render_line(y).text.rstrip() for y in range(body.size.height)]


def footer_keys(where: Any) -> list[tuple[str, str]]:
    """The keys a key bar in ``where`` (a screen, or the bar) shows: [("d", "Dismiss"), ...]."""
    from imtui.tui.widgets.keybar import KeyBar

    bar = where if isinstance(where, KeyBar) else where.query_one(KeyBar)
    return [(key.key, key.description) for key in bar.keys]


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
