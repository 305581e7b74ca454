"""The keys no other test presses: each is pressed here as a person would, and its effect
asserted — alternate keys (tab, ctrl+p, k, the page keys, home/end), the detail screens' own r
and q, the outbox email's r/d/q, and the contacts and outbox lists' esc, space, 1/3 and enter.
(An audit listed every binding against the tests; these were the gaps.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from textual.command import CommandPalette

from imtui.domain.orders import OrderStatus
from imtui.sandbox import FaultRule
from imtui.tui.screens.accounts import AccountScreen
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.dashboard import DashboardScreen
from imtui.tui.screens.detail import AlertDetailScreen, OrderDetailScreen, OutboxDetailScreen
from imtui.tui.screens.help import HelpScreen
from imtui.tui.screens.lists import ContactsScreen, OutboxScreen
from tests.conftest import add_shop_order
from tests.test_tui_email import add_contact, emails, seed_outbox
from tests.tui_support import (
    alerts,
    app_on_orders,
    audit,
    make_app,
    open_list,
    order,
    outage_on_1001_to_1003,
    pane,
    scrollable_order_detail,
    settle,
    wait_contact_form,
    wait_for,
)


def current_number(app: Any) -> str | None:
    record = pane(app, "orders").current
    return None if record is None else record.number


async def test_tab_cycles_the_panes_on_a_small_terminal(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        seen = [app.dashboard.active]
        for _ in range(3):
            await pilot.press("tab")
            last = seen[-1]
            await wait_for(pilot, lambda last=last: app.dashboard.active != last)
            seen.append(app.dashboard.active)
    assert seen == ["alerts", "orders", "queue", "alerts"]


@pytest.mark.slow
async def test_esc_clears_the_marks_first_then_the_filter(db, sandbox, world, engine):
    for number in (1001, 1002):
        add_shop_order(sandbox, number)
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        orders = pane(app, "orders")
        await pilot.press("2", "slash", *"status:delivered", "enter")
        await wait_for(pilot, lambda: orders.spec.text == "status:delivered")
        await wait_for(pilot, lambda: len(orders.records) == 2)
        await pilot.press("space")
        await wait_for(pilot, lambda: len(orders.marked) == 1)
        await pilot.press("escape")
        await wait_for(pilot, lambda: orders.marked == set())
        assert orders.spec.text == "status:delivered"  # the filter stays for now
        await pilot.pause(0.2)  # a key right behind esc would read as alt+key
        await pilot.press("escape")
        await wait_for(pilot, lambda: orders.spec.text == "")


async def test_q_on_the_dashboard_quits_at_once(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_ctrl_p_opens_the_palette_as_colon_does(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


@pytest.mark.slow
async def test_rows_move_with_k_up_the_page_keys_home_and_end(db, sandbox, world, engine):
    app = await app_on_orders(db, sandbox, engine, 60)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: current_number(app) == "#1060")  # newest first
        for key in ("end", "home", "G"):
            await pilot.press(key)
            want = "#1060" if key == "home" else "#1001"
            await wait_for(pilot, lambda want=want: current_number(app) == want)
        await pilot.press("k")
        await wait_for(pilot, lambda: current_number(app) == "#1002")
        await pilot.press("up")
        await wait_for(pilot, lambda: current_number(app) == "#1003")
        page = pane(app, "orders").table.rows_fit
        assert 5 < page < 30
        for key in ("pageup", "ctrl+b"):
            before = int(current_number(app)[1:])
            await pilot.press(key)
            await wait_for(pilot, lambda b=before: int(current_number(app)[1:]) >= b + page - 1)
        for key in ("pagedown", "ctrl+f"):
            before = int(current_number(app)[1:])
            await pilot.press(key)
            await wait_for(pilot, lambda b=before: int(current_number(app)[1:]) <= b - page + 1)


async def test_a_detail_scrolls_with_k_the_page_keys_home_and_end_and_q_goes_back(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001)
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(80, 10)) as pilot:  # short: the detail has more to scroll
        await settle(pilot)
        await pilot.press("2", "enter")
        text = await scrollable_order_detail(pilot, 6)
        bottom = text.max_scroll_y
        await pilot.press("end")
        await wait_for(pilot, lambda: text.scroll_y == bottom)
        await pilot.press("k")
        await wait_for(pilot, lambda: text.scroll_y == bottom - 1)
        await pilot.press("home")
        await wait_for(pilot, lambda: text.scroll_y == 0)
        for key in ("pagedown", "ctrl+f"):
            before = text.scroll_y
            await pilot.press(key)
            await wait_for(pilot, lambda b=before: text.scroll_y > b)
        for key in ("pageup", "ctrl+b"):
            before = text.scroll_y
            await pilot.press(key)
            await wait_for(pilot, lambda b=before: text.scroll_y < b)
        await pilot.press("q")  # on a detail q is back, not quit
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.is_running


async def test_the_account_picker_goes_to_the_top_with_g_and_esc_changes_nothing(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)

        async def picker() -> Any:
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, AccountScreen))
            found = app.screen.query_one("#account-list")
            await wait_for(pilot, lambda: found.highlighted is not None)
            return found

        listed = await picker()
        await pilot.press("G", "g")
        await wait_for(pilot, lambda: listed.highlighted == 0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.account_name == "All accounts"
        await picker()
        await pilot.press("j", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.account_name == "All accounts"


async def test_help_closes_with_q_and_question_mark(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in ("q", "question_mark"):
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
            assert app.is_running


@pytest.mark.slow
async def test_r_in_an_outages_detail_retries_every_row_it_holds_up_and_in_an_orders_its_order(
    db, sandbox, world, engine, clock
):
    await outage_on_1001_to_1003(sandbox, engine)
    [outage] = alerts(db)
    assert outage.subject == "deliver"  # the connection's, not one order's
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_alert_detail(outage.id)
        await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
        await wait_for(pilot, lambda: app.screen.data is not None)
        await pilot.press("r")  # the remote is back: try every order the outage held up, now
        await wait_for(
            pilot,
            lambda: all(
                order(db, f"#{n}").status == OrderStatus.DELIVERED for n in (1001, 1002, 1003)
            ),
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

        add_shop_order(sandbox, 1004)
        sandbox.faults.add(FaultRule("wms.create_order", "http_503", times=1, retry_after=1))
        clock.advance(timedelta(minutes=5))  # the shop's next poll
        await engine.run_once()
        assert order(db, "#1004").status == OrderStatus.QUEUED
        app.open_order_detail(order(db, "#1004").id)
        await wait_for(pilot, lambda: isinstance(app.screen, OrderDetailScreen))
        await wait_for(pilot, lambda: app.screen.data is not None)
        await pilot.press("r")
        await wait_for(pilot, lambda: order(db, "#1004").status == OrderStatus.DELIVERED)
    resent = [e for e in audit(db) if e.action == "deliver_order.resend"]
    assert len(resent) == 4


async def test_an_emails_detail_sends_now_with_r_cancels_with_d_and_q_goes_back(
    db, world, engine, clock
):
    contact_id = add_contact(db, clock, world.account_id, "dana@example.com", "immediately")
    ids = seed_outbox(db, clock, world.account_id, contact_id)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        outbox = await open_list(pilot, "o", 3)

        async def open_email(name: str) -> None:
            outbox.pane.table.move_cursor([r.id for r in outbox.pane.records].index(ids[name]))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, OutboxDetailScreen))
            await wait_for(pilot, lambda: app.screen.data is not None)

        await open_email("failing")
        await pilot.press("r")
        await wait_for(pilot, lambda: emails(db)[ids["failing"]].next_attempt_at == clock.now())
        await pilot.press("q")
        await wait_for(pilot, lambda: app.screen is outbox)
        await open_email("queued")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: emails(db)[ids["queued"]].state == "cancelled")
        assert app.is_running


@pytest.mark.slow
async def test_the_lists_esc_space_1_3_and_enter(db, world, engine, clock):
    first = add_contact(db, clock, world.account_id, "dana@example.com", "immediately")
    add_contact(db, clock, world.account_id, "lee@example.com", "hourly")
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in ("c", "o"):
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen | OutboxScreen))
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.pause(0.2)  # a key right behind esc would read as alt+key

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        contacts_screen = app.screen
        await wait_for(pilot, lambda: len(contacts_screen.pane.records) == 2)
        await pilot.press("space")
        await wait_for(pilot, lambda: len(contacts_screen.pane.marked) == 1)
        await pilot.press("enter")  # edits the contact under the cursor
        await wait_contact_form(pilot)
        shown = app.screen.query_one("#field-email").value
        assert shown == contacts_screen.pane.current.email
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is contacts_screen)
        await pilot.pause(0.2)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.dashboard.active == "queue"
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen))
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.dashboard.active == "alerts"
    assert first
