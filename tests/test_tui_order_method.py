"""The order form and ship methods the account has no mapping for: such a method holds the order
again as soon as it is saved, so the form warns about it as it is typed and asks before saving
it. A mapped method, or the order's own method left as it is, gets neither."""

from __future__ import annotations

import pytest

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.order_form import OrderFormScreen
from tests.conftest import add_shop_order
from tests.tui_support import (
    alerts,
    hold_1001_for_its_address,
    make_app,
    order,
    screen_text,
    settle,
    text_of,
    type_fast,
    wait_for,
    wait_order_form,
)

TO_METHOD = ["tab"] * 7  # address1 -> address2, city, state, zip, country, phone, ship method


async def open_order_form(pilot, app) -> OrderFormScreen:
    await settle(pilot)
    await pilot.press("e")  # on the order's incomplete-address alert
    form = await wait_order_form(pilot)
    assert app.focused is form.query_one("#field-address1")
    return form


@pytest.mark.slow
async def test_an_unmapped_method_is_warned_about_and_saving_it_asks_first(
    db, sandbox, world, engine
):
    await hold_1001_for_its_address(sandbox, engine)
    assert order(db, "#1001").status == OrderStatus.HELD

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_order_form(pilot, app)
        method = form.query_one("#field-ship_method_code")
        assert text_of(form, "#method-warning").strip() == ""  # UPS_GROUND is mapped

        type_fast(pilot, *"12 Harbor Way", *TO_METHOD, "ctrl+u", *"FOO_BAR")
        await wait_for(pilot, lambda: method.value == "FOO_BAR")
        await wait_for(pilot, lambda: "FOO_BAR" in text_of(form, "#method-warning"))
        warning = text_of(form, "#method-warning")
        assert "FOO_BAR is not mapped: the order will be held until it is" in warning
        assert method.has_class("-warning") and not method.has_class("-invalid")
        await pilot.pause(0.1)
        shown = screen_text(app)
        assert "FOO_BAR is not mapped: the order will be held until it is" in shown  # one line
        assert "Save & send" in shown  # the warning leaves the buttons on screen at 80x24

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "FOO_BAR has no mapping: save and hold the order for it?" in str(app.screen.question)
        assert "Save and hold (y)" in screen_text(app)
        assert "Keep editing (n)" in screen_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is form)
        assert method.value == "FOO_BAR"
        assert form.query_one("#field-address1").value == "12 Harbor Way"
        assert app.focused is method
        assert order(db, "#1001").ship_method_code == "UPS_GROUND"  # nothing saved

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ConfirmScreen, OrderFormScreen)))
        # Sent at once, and held at once for its method, as the warning said.
        await wait_for(
            pilot,
            lambda: bool(alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)),
        )

    saved = order(db, "#1001")
    assert (saved.ship_method_code, saved.ship_address1) == ("FOO_BAR", "12 Harbor Way")
    assert saved.status == OrderStatus.HELD


@pytest.mark.slow
async def test_a_mapped_method_saves_without_asking(db, sandbox, world, engine):
    await hold_1001_for_its_address(sandbox, engine)

    app = make_app(db, engine)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await open_order_form(pilot, app)
        method = form.query_one("#field-ship_method_code")

        # Spelt as the shop might, not as the mapping is: the engine looks it up exactly.
        type_fast(pilot, *"12 Harbor Way", *TO_METHOD, "ctrl+u", *"fedex_2day")
        await wait_for(pilot, lambda: method.value == "fedex_2day")
        await wait_for(pilot, lambda: "fedex_2day" in text_of(form, "#method-warning"))
        warning = text_of(form, "#method-warning")
        assert "fedex_2day is not mapped" in warning
        assert "or is it 'FEDEX_2DAY'?" in warning

        await pilot.press("ctrl+u", *"FED")  # the mapped methods are offered
        await wait_for(pilot, lambda: method._suggestion == "FEDEX_2DAY")
        await pilot.press("right")
        assert method.value == "FEDEX_2DAY"
        assert text_of(form, "#method-warning").strip() == ""
        assert not method.has_class("-warning")

        type_fast(pilot, "ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderFormScreen))
        assert not isinstance(app.screen, ConfirmScreen)
        await wait_for(pilot, lambda: order(db, "#1001").status == OrderStatus.DELIVERED)

    assert order(db, "#1001").ship_method_code == "FEDEX_2DAY"
    assert not alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)


async def test_the_orders_own_unmapped_method_left_as_it_is_saves_without_asking(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    await engine.run_once()
    held = order(db, "#1001")
    assert held.status == OrderStatus.HELD

    app = make_app(db, engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_order_form(held.id)  # `e` would open its mapping form: what fixes it
        form = await wait_order_form(pilot)
        assert text_of(form, "#method-warning").strip() == ""
        type_fast(pilot, *"x", "ctrl+s")  # an edit of the name, not of the method
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderFormScreen))
        assert not isinstance(app.screen, ConfirmScreen)
        await wait_for(pilot, lambda: order(db, "#1001").ship_name == held.ship_name + "x")

    assert order(db, "#1001").ship_method_code == "SAME_DAY_COURIER"
