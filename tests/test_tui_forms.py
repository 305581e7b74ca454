"""The forms and the keys that open them, as a reviewer found them wanting: ``m`` on a mapped
method starts from its mapping, a refused save goes to the first bad field and each mark follows
its field's value, long messages wrap, ``e`` opens the fix the order needs (or says at once
why there is none), and ``d`` asks only about alerts still open."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.engine import action_rules, mapping_actions, order_actions
from imtui.store.models import AlertContact
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.dashboard import DashboardScreen
from imtui.tui.screens.detail import AlertDetailScreen, OrderDetailScreen
from imtui.tui.screens.mapping_form import MappingFormScreen
from tests.conftest import ACTOR, add_shop_order
from tests.tui_support import (
    alerts,
    app_opened_on_an_unmapped_method,
    audit,
    detail_lines,
    hold_1001_for_its_address,
    make_app,
    mapping,
    notices,
    order,
    pane,
    queue_1001_after_a_503,
    screen_text,
    settle,
    text_of,
    type_fast,
    wait_contact_form,
    wait_for,
    wait_mapping_form,
    wait_order_form,
)


def notified(app, words: str) -> bool:
    return any(words in text for text in notices(app))


async def filter_pane(pilot, app, name: str, text: str, rows: int) -> None:
    await pilot.press({"alerts": "1", "orders": "2", "queue": "3"}[name], "slash")
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: len(pane(app, name).records) == rows)


# -- the mapping form -------------------------------------------------------------------------


async def test_m_on_a_mapped_method_starts_from_its_mapping_and_counts_only_its_holds(
    db, sandbox, world, engine
):
    # Held for its address, not for its ship method (UPS_GROUND is mapped: UPS 03).
    await hold_1001_for_its_address(sandbox, engine)
    assert order(db, "#1001").status == OrderStatus.HELD

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "m")
        form = await wait_mapping_form(pilot, "Account")
        about = text_of(form, "#form-about")
        assert "held" not in about  # a mapping would not release it: its address would
        assert "mapped to UPS 03" in about
        assert form.query_one("#field-carrier").value == "UPS"
        assert form.query_one("#field-mode").value == "03"
        assert form.query_one("#field-billing_code").value == "Prepaid"

        await pilot.press("ctrl+s")  # saving as it stands changes nothing
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))

    saved = mapping(db, "UPS_GROUND")
    assert (saved.carrier, saved.mode) == ("UPS", "03")
    assert order(db, "#1001").status == OrderStatus.HELD


@pytest.mark.slow
async def test_mapping_form_refused_save_goes_to_the_first_bad_field_and_marks_follow_values(
    db, sandbox, world, engine
):
    app = await app_opened_on_an_unmapped_method(db, sandbox, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await wait_mapping_form(pilot, "held")
        await pilot.press("tab", "tab")
        assert app.focused is form.query_one("#field-billing_code")

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "fix the fields" in text_of(form, "#form-error"))
        assert app.focused is form.query_one("#field-carrier")
        assert "required" in text_of(form, "#error-carrier")
        assert "required" in text_of(form, "#error-mode")

        await pilot.press(*"UPS")
        assert text_of(form, "#error-carrier").strip() == ""  # at once, not at the next save
        assert "required" in text_of(form, "#error-mode")
        assert "fix the fields" in text_of(form, "#form-error")

        await pilot.press("tab", *"03")
        assert text_of(form, "#error-mode").strip() == ""
        assert text_of(form, "#form-error").strip() == ""
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))

    assert (mapping(db, "SAME_DAY_COURIER").carrier, mapping(db, "SAME_DAY_COURIER").mode) == (
        "UPS",
        "03",
    )


# -- the order form ---------------------------------------------------------------------------


@pytest.mark.slow
async def test_order_form_refused_save_goes_to_the_first_bad_field_and_the_note_clears(
    db, sandbox, world, engine
):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        form = await wait_order_form(pilot)
        await pilot.press("tab", "tab", "tab")
        assert app.focused is form.query_one("#field-state")

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "fix the fields" in text_of(form, "#form-error"))
        assert app.focused is form.query_one("#field-address1")
        await pilot.press(*"12 Harbor Way")
        assert text_of(form, "#error-address1").strip() == ""
        assert text_of(form, "#form-error").strip() == ""
        await pilot.press("escape")


@pytest.mark.parametrize("width", [80, 160])
async def test_order_form_messages_wrap_instead_of_being_cut(db, sandbox, world, engine, width):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        form = await wait_order_form(pilot)
        form.query_one("#field-zip").value = "ABC"
        await wait_for(pilot, lambda: "ZIP" in text_of(form, "#error-zip"))
        await pilot.pause(0.1)
        shown = screen_text(app)
        assert "12345-6789" in shown, shown  # "US ZIP code: 12345 or 12345-6789", all of it
        form.query_one("#field-country").value = "USA"
        await wait_for(pilot, lambda: "two-letter" in text_of(form, "#error-country"))
        await pilot.pause(0.1)
        shown = screen_text(app)
        assert "e.g. US" in shown, shown  # "two-letter country code, e.g. US"
        await pilot.press("escape")


async def test_order_form_opens_with_nothing_selected_so_a_key_does_not_replace_a_value(
    db, sandbox, world, engine
):
    await queue_1001_after_a_503(sandbox, engine)
    assert order(db, "#1001").status == OrderStatus.QUEUED
    name = order(db, "#1001").ship_name

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "e")
        form = await wait_order_form(pilot)
        field = form.query_one("#field-name")
        assert app.focused is field
        assert field.selection.is_empty and field.cursor_position == len(name)
        await pilot.press("x")
        assert field.value == name + "x"
        await pilot.press("tab", "shift+tab")  # nor is a field moved back to
        assert app.focused is field and field.selection.is_empty
        await pilot.press("escape")


# -- the contact form -------------------------------------------------------------------------


async def test_contact_form_refused_save_goes_to_the_first_bad_field_and_the_note_clears(
    db, world, engine
):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_contact_form(None, world.account_id)
        form = await wait_contact_form(pilot)
        await pilot.press("tab")
        assert app.focused is form.query_one("#field-email")

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "fix the fields" in text_of(form, "#form-error"))
        assert app.focused is form.query_one("#field-name")
        await pilot.press(*"Dana")
        assert text_of(form, "#error-name").strip() == ""
        assert "fix the fields" in text_of(form, "#form-error")  # the address is still missing
        await pilot.press("tab", *"dana@example.com")
        assert text_of(form, "#error-email").strip() == ""
        assert text_of(form, "#form-error").strip() == ""
        await pilot.press("escape")


# -- e: the fix the order needs ---------------------------------------------------------------


@pytest.mark.slow
async def test_e_on_an_order_held_for_its_ship_method_opens_the_mapping_form(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    add_shop_order(sandbox, 1002)
    await engine.run_once()
    assert order(db, "#1001").status == OrderStatus.HELD

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await filter_pane(pilot, app, "orders", "method:SAME_DAY_COURIER", 1)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, MappingFormScreen))
        assert app.screen.query_one("#field-source_code").value == "SAME_DAY_COURIER"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

        await pilot.press("3")  # its row in the retry queue: the same fix
        await wait_for(pilot, lambda: len(pane(app, "queue").records) == 1)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, MappingFormScreen))
        assert app.screen.query_one("#field-source_code").value == "SAME_DAY_COURIER"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

        await pilot.press("2", "enter")  # and from the order's detail
        await wait_for(pilot, lambda: isinstance(app.screen, OrderDetailScreen))
        await wait_for(pilot, lambda: app.screen.data is not None)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, MappingFormScreen))
        assert app.screen.query_one("#field-source_code").value == "SAME_DAY_COURIER"


async def test_e_on_an_order_in_the_wms_says_so_at_once(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001)
    await engine.run_once()
    assert order(db, "#1001").status == OrderStatus.DELIVERED

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: len(pane(app, "orders").records) == 1)
        await pilot.press("e")
        await wait_for(pilot, lambda: notified(app, "only orders on their way to the WMS"))
        assert notified(app, "#1001 is already delivered")
        await pilot.pause(0.1)
        assert isinstance(app.screen, DashboardScreen)  # no form to fill in for nothing


# -- d: only what is open ---------------------------------------------------------------------


async def test_d_on_a_resolved_alert_says_so_without_asking(db, sandbox, world, engine, clock):
    await queue_1001_after_a_503(sandbox, engine)
    with db.write() as session:
        order_actions.resend_order(session, order_key="#1001", actor=ACTOR, now=clock.now())
    await engine.run_once()
    [resolved] = alerts(db)
    assert resolved.state == AlertState.RESOLVED
    add_shop_order(sandbox, 1002, sku="SKU-999")
    add_shop_order(sandbox, 1003, sku="SKU-999")
    clock.advance(timedelta(minutes=10))  # the shop's next poll
    await engine.run_once()
    opened = [a.id for a in alerts(db, state=AlertState.OPEN)]
    assert len(opened) == 2

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await filter_pane(pilot, app, "alerts", "state:all", 3)
        alerts_pane = pane(app, "alerts")
        alerts_pane.table.move_cursor([r.id for r in alerts_pane.records].index(resolved.id))
        await pilot.press("d")
        await wait_for(pilot, lambda: notified(app, f"alert {resolved.id} is already resolved"))
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen)

        for index in range(3):  # mark all three: only the open two are asked about
            alerts_pane.table.move_cursor(index)
            await pilot.press("space")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.question)
        assert f"Dismiss alerts {min(opened)}, {max(opened)}?" in question
        assert "1 more marked" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: not alerts(db, state=AlertState.OPEN))
        await wait_for(pilot, lambda: notified(app, "dismissed 2"))
        assert not notified(app, "refused")

    dismissed = [e.target for e in audit(db) if e.action == "alert.dismiss"]
    assert sorted(dismissed) == sorted(f"alert:{i}" for i in opened)


async def test_e_on_an_unknown_sku_alert_shows_its_detail_and_what_fixes_it(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, sku="SKU-999")
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNKNOWN_SKU)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
        assert app.screen.key == alert.id
        await wait_for(pilot, lambda: app.screen.data is not None)
        await wait_for(
            pilot, lambda: "the WMS has no item SKU-999: add it there" in detail_text(app)
        )
        assert "to fix" in detail_text(app)


def detail_text(app) -> str:
    """The whole detail (scrolled or not), its lines joined by spaces (long ones wrap)."""
    return " ".join(line.strip() for line in detail_lines(app) if line.strip())


# -- esc on a form asks before throwing away what was typed -----------------------------------


async def test_esc_on_a_mapping_form_typed_in_fast_asks_and_n_keeps_everything(
    db, sandbox, world, engine
):
    app = await app_opened_on_an_unmapped_method(db, sandbox, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await wait_mapping_form(pilot, "held")
        carrier = form.query_one("#field-carrier")
        assert app.focused is carrier

        type_fast(pilot, *"abc", "escape")  # one burst: esc comes behind the keys it would lose
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Discard your changes?" in str(app.screen.question)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is form)
        assert carrier.value == "abc"
        assert app.focused is carrier

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: not isinstance(app.screen, (ConfirmScreen, MappingFormScreen))
        )

    assert not mapping(db, "SAME_DAY_COURIER")


@pytest.mark.slow
async def test_esc_on_a_form_nothing_was_changed_in_leaves_at_once(db, sandbox, world, engine):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    app.backend.save_contact(None, world.account_id, "Dana", "dana@example.com", "daily")
    with db.read() as session:
        contact_id = session.exec(select(AlertContact.id)).one()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")  # the order form, filled in from the order
        await wait_order_form(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

        await pilot.press("2", "m")  # the mapping form, started from the method's mapping
        await wait_mapping_form(pilot, "mapped to UPS 03")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

        app.open_contact_form(contact_id, world.account_id)  # a contact, as it is
        await wait_contact_form(pilot)
        assert app.screen.query_one("#field-name").value == "Dana"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

        app.open_contact_form(None, world.account_id)  # a new one, left blank
        await wait_contact_form(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_esc_on_a_changed_order_form_asks_and_y_discards(db, sandbox, world, engine):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        form = await wait_order_form(pilot)
        address1 = form.query_one("#field-address1")
        assert app.focused is address1

        type_fast(pilot, *"12 Harbor Way", "tab", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is form)
        assert address1.value == "12 Harbor Way"
        assert app.focused is form.query_one("#field-address2")

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

    assert order(db, "#1001").ship_address1 == ""
    assert order(db, "#1001").status == OrderStatus.HELD


@pytest.mark.slow
async def test_q_on_a_forms_button_asks_before_quitting_with_typed_changes(
    db, sandbox, world, engine
):
    from textual.widgets import Button

    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        form = await wait_order_form(pilot)
        type_fast(pilot, *"12 Harbor Way")
        await wait_for(pilot, lambda: form.query_one("#field-address1").value == "12 Harbor Way")
        form.query_one(Button).focus()
        await pilot.press("q")  # not a character here: the app's quit key
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "lose the changes" in str(app.screen.question)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is form)
        assert app.is_running and form.query_one("#field-address1").value == "12 Harbor Way"
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)


async def test_esc_on_a_changed_contact_form_asks(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_contact_form(None, world.account_id)
        form = await wait_contact_form(pilot)
        type_fast(pilot, *"Dana", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # esc on the question: no, back to the form
        await wait_for(pilot, lambda: app.screen is form)
        assert form.query_one("#field-name").value == "Dana"
        assert app.focused is form.query_one("#field-name")

        await pilot.press("escape", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))

    with db.read() as session:
        assert not session.exec(select(AlertContact)).first()


# -- the mapping form and carriers the WMS may not know ---------------------------------------


@pytest.mark.slow
async def test_a_carrier_not_in_use_is_warned_about_and_saving_it_asks_first(
    db, sandbox, world, engine
):
    app = await app_opened_on_an_unmapped_method(db, sandbox, engine, proven=True)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await wait_mapping_form(pilot, "held")
        assert "In use (delivered): FedEx: FEDEX_GROUND; UPS: 03" in text_of(
            form, "#known-carriers"
        )

        await pilot.press(*"ups")  # the WMS spells it "UPS", and compares as spelt
        warning = text_of(form, "#error-carrier")
        assert "not a carrier in use here" in warning
        assert "check the WMS spells it 'UPS'" in warning
        await pilot.press("backspace", "backspace", "backspace", *"UPS")
        assert text_of(form, "#error-carrier").strip() == ""
        await pilot.press("X")
        assert "spells it 'UPS'" in text_of(form, "#error-carrier")

        await pilot.press("tab", *"03", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "UPSX 03 is not a carrier in use" in str(app.screen.question)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is form)
        assert form.query_one("#field-carrier").value == "UPSX"
        assert not mapping(db, "SAME_DAY_COURIER")

        await pilot.press("shift+tab", "backspace", "backspace", "backspace", "backspace")
        await pilot.press(*"ups", "ctrl+s")  # saved anyway, when the person says so
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: not isinstance(app.screen, (ConfirmScreen, MappingFormScreen))
        )

    assert mapping(db, "SAME_DAY_COURIER").carrier == "ups"
    await engine.run_once()  # and the WMS refuses it, as the warning said it would
    assert order(db, "#1001").status == OrderStatus.HELD
    assert alerts(db, state=AlertState.OPEN, kind=AlertKind.UNKNOWN_CARRIER)


async def test_a_carrier_in_use_saves_without_asking(db, sandbox, world, engine):
    app = await app_opened_on_an_unmapped_method(db, sandbox, engine, proven=True)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await wait_mapping_form(pilot, "held")
        type_fast(pilot, *"FedEx", "tab", *"FEDEX_GROUND")
        await wait_for(pilot, lambda: form.query_one("#field-mode").value == "FEDEX_GROUND")
        await pilot.pause(0.1)
        assert text_of(form, "#error-carrier").strip() == ""  # no warning for a known carrier
        type_fast(pilot, "ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))
        assert not isinstance(app.screen, ConfirmScreen)
    assert mapping(db, "SAME_DAY_COURIER").carrier == "FedEx"


async def test_with_no_carriers_in_use_yet_any_carrier_saves_without_a_warning(
    db, sandbox, world, engine, clock
):
    with db.write() as session:
        account = action_rules.account_for(session, str(world.account_id))
        for code in ("UPS_GROUND", "FEDEX_2DAY"):
            mapping_actions.delete_mapping(
                session, account=account, source_code=code, actor=ACTOR, now=clock.now()
            )
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_mapping_form(world.account_id, "SAME_DAY_COURIER")
        await wait_for(pilot, lambda: isinstance(app.screen, MappingFormScreen))
        form = app.screen
        await wait_for(pilot, lambda: "No mappings yet" in text_of(form, "#known-carriers"))
        await pilot.press(*"UPSX")
        assert text_of(form, "#error-carrier").strip() == ""
        await pilot.press("tab", *"03", "ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))
        assert not isinstance(app.screen, ConfirmScreen)
    assert mapping(db, "SAME_DAY_COURIER").carrier == "UPSX"
