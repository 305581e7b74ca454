"""The keys a k9s or lazygit user reaches for work everywhere the dashboard lists things, and
keys are shown as they are typed ("/", "?"), not by their names."""

from __future__ import annotations

import pytest

from imtui.engine import account_actions
from imtui.tui.commands import ActionCommands
from imtui.tui.screens.accounts import AccountScreen
from imtui.tui.screens.help import HelpScreen
from tests.conftest import ACTOR
from tests.tui_support import make_app, screen_text, settle, type_fast, wait_for


async def test_the_account_picker_moves_with_j_and_k(db, world, engine, clock):
    with db.write() as session:
        account_actions.add_account(
            session, name="Other", kind="warehouse", actor=ACTOR, now=clock.now()
        )
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AccountScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#account-list").highlighted is not None)
        await pilot.press("j", "j", "k", "enter")  # All, Acme, Other → back to Acme
        await wait_for(pilot, lambda: app.account_name == "Acme")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AccountScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#account-list").highlighted is not None)
        await pilot.press("G", "enter")
        await wait_for(pilot, lambda: app.account_name == "Other")


async def test_help_scrolls_with_j_and_g(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.query_one("#help")
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: text.scroll_y == 2)
        await pilot.press("G")
        await wait_for(pilot, lambda: text.scroll_y == text.max_scroll_y > 2)
        await pilot.press("g")
        await wait_for(pilot, lambda: text.scroll_y == 0)


async def test_the_palette_shows_keys_as_they_are_typed(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [str(hit.text) async for hit in ActionCommands(app.screen).discover()]
        assert "Filter  (/)" in titles and "Help  (?)" in titles
        assert not any("slash" in t or "question_mark" in t for t in titles)


async def test_detail_scrolls_one_line_per_key_however_fast_and_question_mark_helps(
    db, sandbox, world, engine
):
    from tests.conftest import add_shop_order
    from tests.tui_support import scrollable_order_detail, type_fast

    add_shop_order(sandbox, 1001)
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(80, 12)) as pilot:  # short: the detail has more to scroll
        await settle(pilot)
        type_fast(pilot, "2", "enter")
        text = await scrollable_order_detail(pilot, 4)
        type_fast(pilot, "j", "j", "j", "j")
        await wait_for(pilot, lambda: text.scroll_y == 4)
        type_fast(pilot, "G")
        await wait_for(pilot, lambda: text.scroll_y == text.max_scroll_y)
        type_fast(pilot, "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))


@pytest.mark.slow
async def test_the_palette_runs_the_command_named_and_offers_a_forms_own_keys(
    db, sandbox, world, engine
):
    from imtui.tui.screens.order_form import OrderFormScreen
    from tests.conftest import add_shop_order
    from tests.tui_support import pane, type_fast

    add_shop_order(sandbox, 1001, address={"address1": ""})
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        orders = pane(app, "orders")
        type_fast(pilot, "2")
        await wait_for(pilot, lambda: len(orders.records) == 1)
        await pilot.press("colon")
        await pilot.pause(0.2)
        type_fast(pilot, *"mark")
        await pilot.pause(0.5)  # the palette searches as it is typed
        await pilot.press("enter")
        await wait_for(pilot, lambda: orders.marked == {orders.records[0].id})

        await pilot.press("escape", "e")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderFormScreen))
        titles = [str(hit.text) async for hit in ActionCommands(app.screen).discover()]
        assert any(t.startswith("Save & send") for t in titles)
        assert not any("Resend" in t or "Dismiss" in t or "Mark" in t for t in titles)


async def test_the_palette_keeps_only_textuals_commands_that_add_to_ours(db, world, engine):
    from textual.command import CommandPalette

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        system = [command.title for command in app.get_system_commands(app.screen)]
        assert system == ["Theme", "Quit", "Screenshot"]  # Keys is ?, no Maximize
        listed = [str(hit.text) async for hit in ActionCommands(app.screen).discover()]
        assert listed[-3:] == system and "Filter  (/)" in listed[:-3]  # ours first
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        type_fast(pilot, *"keys")
        await pilot.pause(0.5)  # the palette searches as it is typed
        assert "summary of available keys" not in screen_text(app)  # Textual's Keys
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette))
        await pilot.pause(0.2)  # a key right behind esc would read as alt+key
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        type_fast(pilot, *"quit")
        await wait_for(pilot, lambda: "Quit the application" in screen_text(app))
