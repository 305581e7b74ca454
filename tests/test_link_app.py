"""The page an emailed link opens: it lands on its alert's fix, saves that fix in the name of
the link's person, and reaches nothing else — no other alert, order, account or dashboard key.
Real database, real engine cycles against the sandbox, the app driven through Pilot."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.domain.people import Act
from imtui.domain.retry import RetryState
from imtui.engine import account_actions, mapping_actions
from imtui.sandbox.seed import BAD_ADDRESSES
from imtui.store.database import Database
from imtui.store.rows import OrderFilter
from imtui.tui.backend import Backend
from imtui.tui.filters import OrderQuery
from imtui.tui.link_app import LinkAlertScreen, LinkApp, LinkNoteScreen
from imtui.tui.link_backend import LINK_METHODS, LinkBackend
from imtui.tui.messages import Refused
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.mapping_form import MappingFormScreen
from imtui.tui.screens.order_form import OrderFormScreen
from tests.conftest import ACTOR, add_shop_order, map_ship_method
from tests.tui_support import (
    alerts,
    audit,
    order,
    queue_item,
    screen_text,
    text_of,
    wait_for,
    wait_mapping_form,
    wait_order_form,
)

LINK_ACTOR = "dana@acme.example via emailed link"
CONTACT = "dana@acme.example"


def link_app(db: Database, alert_id: int, contact: str = CONTACT) -> LinkApp:
    return LinkApp(
        lambda: LinkBackend(db, alert_id=alert_id, actor=LINK_ACTOR),
        alert_id=alert_id,
        contact_label=contact,
    )


def everything(db: Database) -> dict[str, list[Any]]:
    """Every row of every table: what "nothing changed" is checked against."""
    with db.read() as session:
        return {
            name: [tuple(row) for row in session.exec(text(f'SELECT * FROM "{name}"'))]  # type: ignore[call-overload]
            for name in sorted(SQLModel.metadata.tables)
        }


async def next_poll(engine: Any) -> None:
    """A cycle at the shop's next poll (the clock moves on past its interval)."""
    engine.clock.advance(timedelta(minutes=10))
    await engine.run_once()


async def two_orders_held_for_an_unmapped_method(sandbox: Any, engine: Any, db: Database) -> int:
    """#1001 and #1002 held for SAME_DAY_COURIER (no mapping): its alert's id."""
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    add_shop_order(sandbox, 1002, method="SAME_DAY_COURIER")
    await next_poll(engine)
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    return alert.id or 0


async def an_address_alert_on_1003(sandbox: Any, engine: Any, db: Database) -> int:
    add_shop_order(sandbox, 1003, address=BAD_ADDRESSES["missing_address1"])
    await next_poll(engine)
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.INCOMPLETE_ADDRESS)
    return alert.id or 0


# -- landing on the fix, and saving it ----------------------------------------------------------


async def test_link_lands_on_the_mapping_form_and_saving_releases_the_held_orders_in_its_name(
    db, sandbox, world, engine
):
    alert_id = await two_orders_held_for_an_unmapped_method(sandbox, engine, db)
    app = link_app(db, alert_id)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await wait_mapping_form(pilot, "2 orders are held for SAME_DAY_COURIER")
        assert f"{CONTACT} via emailed link: alert {alert_id} only" in text_of(form, "#link-banner")
        code = form.query_one("#field-source_code")
        assert code.value == "SAME_DAY_COURIER" and code.disabled  # the alert's, fixed
        await pilot.press(*"UPS", "tab", *"03", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, LinkNoteScreen))
        page = text_of(app.screen, "#link-note")
        assert "mapped SAME_DAY_COURIER to UPS 03; released 2 held orders." in page
        assert "This link has done its work: you can close the tab." in page
        assert len(app.screen_stack) == 2  # the default screen and this page: nothing behind
        await pilot.press("e", "escape", "1", "a")
        assert isinstance(app.screen, LinkNoteScreen)

    for number in ("#1001", "#1002"):
        released = order(db, number)
        assert released.status == OrderStatus.QUEUED and released.hold_reason is None
        assert queue_item(db, released.id).state == RetryState.DUE
    [entry] = [e for e in audit(db) if e.action == "mapping.set" and "SAME_DAY" in e.target]
    assert entry.actor == LINK_ACTOR
    [alert] = alerts(db, id=alert_id)
    assert alert.state == AlertState.RESOLVED and alert.resolved_by == LINK_ACTOR


async def test_an_address_alert_lands_on_its_orders_form_and_the_edit_is_in_the_links_name(
    db, sandbox, world, engine
):
    alert_id = await an_address_alert_on_1003(sandbox, engine, db)
    app = link_app(db, alert_id)
    async with app.run_test(size=(100, 40)) as pilot:
        form = await wait_order_form(pilot)
        assert form.order_id == order(db, "#1003").id
        assert form.query_one("#link-banner") is not None
        await pilot.press(*"12 Harbor Way", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, LinkNoteScreen))
        assert "saved order #1003" in text_of(app.screen, "#link-note")

    edited = order(db, "#1003")
    assert edited.ship_address1 == "12 Harbor Way" and edited.status == OrderStatus.QUEUED
    [entry] = [e for e in audit(db) if e.action == "order.edit"]
    assert entry.actor == LINK_ACTOR


async def test_esc_on_the_form_goes_to_the_alerts_page_and_e_opens_the_form_again(
    db, sandbox, world, engine
):
    alert_id = await two_orders_held_for_an_unmapped_method(sandbox, engine, db)
    app = link_app(db, alert_id)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_mapping_form(pilot, "held for SAME_DAY_COURIER")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LinkAlertScreen))
        await wait_for(pilot, lambda: "What fixes it" in screen_text(app))
        page = screen_text(app)
        assert "Ship method has no mapping" in page or "SAME_DAY_COURIER" in page
        assert "e opens the ship-method mapping form" in page
        assert "imtui mapping set SAME_DAY_COURIER" in page
        await pilot.press("escape")  # nowhere further back to go
        assert isinstance(app.screen, LinkAlertScreen)
        await pilot.press("e")
        await wait_mapping_form(pilot, "held for SAME_DAY_COURIER")


@pytest.mark.parametrize("how", ["resolved", "unknown_sku"])
async def test_a_closed_alert_or_one_no_form_fixes_lands_on_its_read_only_page(
    db, sandbox, world, engine, clock, how
):
    if how == "resolved":
        alert_id = await two_orders_held_for_an_unmapped_method(sandbox, engine, db)
        map_ship_method(db, clock, "SAME_DAY_COURIER", "UPS", "03")
        words = "nothing to do: the alert is resolved"
    else:
        add_shop_order(sandbox, 1001, sku="SKU-999")
        await engine.run_once()
        [alert] = alerts(db, kind=AlertKind.UNKNOWN_SKU)
        alert_id = alert.id or 0
        words = "this page cannot fix it"
    app = link_app(db, alert_id)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: words in screen_text(app))
        assert isinstance(app.screen, LinkAlertScreen)
        if how == "unknown_sku":
            assert "imtui orders resend --account" in screen_text(app)
        await pilot.press("e")
        await pilot.pause(0.2)
        assert isinstance(app.screen, LinkAlertScreen)
        assert not any(isinstance(s, MappingFormScreen | OrderFormScreen) for s in app.screen_stack)


async def test_stored_text_and_the_contact_label_are_shown_as_typed_never_as_markup(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, method="RUSH[/b]\x1b[31m")
    await next_poll(engine)
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    app = link_app(db, alert.id or 0, contact="[b]dana[/b]\x1b]52;c;x\x07")
    async with app.run_test(size=(120, 30)) as pilot:
        form = await wait_mapping_form(pilot, "1 order is held for RUSH[/b]\\x1b[31m")
        assert "[b]dana[/b]\\x1b]52;c;x\\x07 via emailed link" in text_of(form, "#link-banner")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "What fixes it" in screen_text(app))
        assert "ship method  RUSH[/b]\\x1b[31m" in screen_text(app)
        assert "\x1b" not in screen_text(app)


# -- keys that reach elsewhere on the dashboard do nothing here ---------------------------------


@pytest.mark.slow
async def test_dashboard_keys_do_nothing_on_the_alerts_page_or_the_form(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001, sku="SKU-999")
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNKNOWN_SKU)
    app = link_app(db, alert.id or 0)
    keys = ["1", "2", "3", "a", "c", "o", "m", "r", "d", "ctrl+p", "question_mark", "colon", "tab"]
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "this page cannot fix it" in screen_text(app))
        page = app.screen
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.05)
            assert app.screen is page and len(app.screen_stack) == 2, key
        assert app.is_running

    alert_id = await two_orders_held_for_an_unmapped_method(sandbox, engine, db)
    before = everything(db)
    app = link_app(db, alert_id)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await wait_mapping_form(pilot, "held for SAME_DAY_COURIER")
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.05)
            assert app.screen is form or isinstance(app.screen, ConfirmScreen), key
        assert app.is_running
    assert everything(db) == before


async def test_q_leaves_and_ends_the_session(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001, sku="SKU-999")
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNKNOWN_SKU)
    app = link_app(db, alert.id or 0)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LinkAlertScreen))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_ctrl_q_on_an_untouched_form_leaves_at_once(db, sandbox, world, engine):
    alert_id = await two_orders_held_for_an_unmapped_method(sandbox, engine, db)
    app = link_app(db, alert_id)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_mapping_form(pilot, "held for SAME_DAY_COURIER")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_a_link_to_an_alert_that_does_not_exist_says_so_and_offers_nothing(db, world):
    app = link_app(db, 999)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "this link cannot be opened" in screen_text(app))
        assert "alert 999 is gone" in screen_text(app)
        assert isinstance(app.opening_failure, Refused)


# -- the backend refuses everything but its alert's fix -----------------------------------------


async def test_the_backend_refuses_other_alerts_methods_accounts_and_orders_and_changes_nothing(
    db, sandbox, world, engine, clock
):
    alert_id = await two_orders_held_for_an_unmapped_method(sandbox, engine, db)
    other_alert = await an_address_alert_on_1003(sandbox, engine, db)
    with db.write() as session:
        other = account_actions.add_account(
            session, name="Other", kind="merchant", actor=ACTOR, now=clock.now()
        )
        mapping_actions.set_mapping(
            session,
            account=other,
            source_code="SAME_DAY_COURIER",
            carrier="DHL",
            mode="X",
            actor=ACTOR,
            now=clock.now(),
        )
        other_id = other.id or 0
    link = LinkBackend(db, alert_id=alert_id, actor=LINK_ACTOR)
    before = everything(db)

    with pytest.raises(Refused, match=f"this page fixes alert {alert_id} only"):
        link.alert_detail(other_alert)
    with pytest.raises(Refused):
        link.set_mapping(world.account_id, "UPS_GROUND", "FedEx", "X", "Prepaid")
    with pytest.raises(Refused):
        link.set_mapping(other_id, "SAME_DAY_COURIER", "UPS", "03", "Prepaid")
    address_order = order(db, "#1003").id or 0
    with pytest.raises(Refused):
        link.edit_order(address_order, {"address1": "1 Main St"})
    with pytest.raises(Refused):
        link.order_detail(address_order)
    own_order = order(db, "#1001").id or 0
    with pytest.raises(Refused):  # its own order, but this alert's fix is the mapping form
        link.edit_order(own_order, {"address1": "1 Main St"})
    with pytest.raises(Refused):
        link.mappings(other_id)
    for name in ("resend_orders", "resend_for_alerts", "dismiss_alerts", "cancel_emails"):
        with pytest.raises(Refused):
            getattr(link, name)([alert_id, other_alert])
    with pytest.raises(Refused):
        link.contacts(None, None, 10)
    with pytest.raises(Refused):
        link.save_contact(None, world.account_id, "Mallory", "m@evil.example", "immediately")

    assert [a.id for a in link.accounts()] == [world.account_id]
    assert {m.account_id for m in link.mappings()} == {world.account_id}
    elsewhere = OrderQuery(filter=OrderFilter(status=OrderStatus.HELD, account_id=other_id))
    assert Backend(db, actor=ACTOR).count_orders(elsewhere) == 0
    assert link.count_orders(elsewhere) == 3  # forced to the alert's account: its three held
    assert link.alert_detail(alert_id) is not None
    assert everything(db) == before

    # An address alert's link: its own order only, never the mapping form's save.
    address_link = LinkBackend(db, alert_id=other_alert, actor=LINK_ACTOR)
    assert address_link.order_detail(address_order) is not None
    with pytest.raises(Refused):
        address_link.order_detail(own_order)
    with pytest.raises(Refused):
        address_link.edit_order(own_order, {"address1": "1 Main St"})
    with pytest.raises(Refused):
        address_link.set_mapping(world.account_id, "SAME_DAY_COURIER", "UPS", "03", "Prepaid")
    assert everything(db) == before


async def test_once_the_fix_is_saved_the_link_can_save_nothing_more(db, sandbox, world, engine):
    alert_id = await two_orders_held_for_an_unmapped_method(sandbox, engine, db)
    link = LinkBackend(db, alert_id=alert_id, actor=LINK_ACTOR)
    assert link.set_mapping(world.account_id, "SAME_DAY_COURIER", "UPS", "03", "Prepaid") == 2
    assert link.saved == "mapped SAME_DAY_COURIER to UPS 03; released 2 held orders"
    before = everything(db)
    with pytest.raises(Refused, match=f"alert {alert_id} is resolved: nothing to fix here"):
        link.set_mapping(world.account_id, "SAME_DAY_COURIER", "FedEx", "X", "Prepaid")
    assert everything(db) == before


def test_every_backend_attribute_not_on_the_whitelist_is_refused(db, world):
    add_alert_id = _an_alert(db, world.account_id)
    link = LinkBackend(db, alert_id=add_alert_id, actor=LINK_ACTOR)
    before = everything(db)
    refused = [n for n in dir(Backend) if not n.startswith("_") and n not in LINK_METHODS]
    assert "resend_orders" in refused and "build_engine" in refused and "send_now" in refused
    for name in refused:
        if isinstance(inspect.getattr_static(Backend, name), property):
            with pytest.raises(Refused):
                getattr(link, name)
            continue
        with pytest.raises(Refused):
            result = getattr(link, name)(1, 2, 3)
            if inspect.iscoroutine(result):  # never: refused before any coroutine is made
                result.close()
    assert link.engine is None and link._runner is None
    link.wake()  # harmless: no engine here
    assert everything(db) == before


def test_a_method_added_to_backend_later_is_refused_by_default(db, world, monkeypatch):
    called: list[int] = []
    monkeypatch.setattr(
        Backend, "purge_alerts", lambda self, ids: called.extend(ids), raising=False
    )
    link = LinkBackend(db, alert_id=_an_alert(db, world.account_id), actor=LINK_ACTOR)
    with pytest.raises(Refused, match="not through an emailed link"):
        link.purge_alerts([1, 2])
    assert called == []
    Backend(db, actor=ACTOR).purge_alerts([1])  # type: ignore[attr-defined]
    assert called == [1]


def test_the_link_acts_as_an_operator_of_its_alerts_account_only(db, world):
    link = LinkBackend(db, alert_id=_an_alert(db, world.account_id), actor=LINK_ACTOR)
    assert link.actor == LINK_ACTOR
    with pytest.raises(ValueError):  # never the process's login instead
        LinkBackend(db, alert_id=link.alert_id, actor=" ")
    assert link.access.role_refusal(Act.MAP_METHODS) is None
    assert link.access.may(Act.EDIT_ORDER, world.account_id)
    assert not link.access.may(Act.EDIT_ORDER, world.account_id + 1)
    assert link.access.role_refusal(Act.CHANGE_CONTACTS) is not None


def _an_alert(db: Database, account_id: int) -> int:
    """An open alert on the account, raised as the engine raises one (no engine needed)."""
    from datetime import UTC, datetime

    from imtui.store.alerts import raise_alert

    with db.write() as session:
        alert, _ = raise_alert(
            session,
            account_id=account_id,
            connection_id=None,
            kind=AlertKind.UNREACHABLE,
            message="connection refused",
            now=datetime.now(UTC),
        )
        session.flush()
        return alert.id or 0
