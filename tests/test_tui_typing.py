"""Keys typed in one burst — a quick typist over SSH, a paste, a repeating key — land where the
person meant them: the next form field after tab or enter, the filter after ``/``. These tests
queue every key at once (``type_fast``), as a terminal delivers them, instead of letting the
app go idle between keys as ``pilot.press`` does."""

from __future__ import annotations

import time

from imtui.domain.orders import OrderStatus
from imtui.tui.screens.detail import OrderDetailScreen
from imtui.tui.screens.mapping_form import MappingFormScreen
from imtui.tui.screens.order_form import OrderFormScreen
from imtui.tui.widgets import record_table
from tests.conftest import add_shop_order
from tests.tui_support import (
    app_on_orders,
    app_opened_on_an_unmapped_method,
    hold_1001_for_its_address,
    make_app,
    mapping,
    notices,
    order,
    pane,
    screen_lines,
    settle,
    type_fast,
    wait_for,
    wait_mapping_form,
    wait_order_form,
)


async def test_mapping_form_tab_moves_to_the_next_field_even_when_typed_fast(
    db, sandbox, world, engine
):
    app = await app_opened_on_an_unmapped_method(db, sandbox, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await wait_mapping_form(pilot, "held")
        assert app.focused is form.query_one("#field-carrier")

        type_fast(pilot, *"UPS", "tab", *"92")
        await wait_for(pilot, lambda: form.query_one("#field-mode").value == "92")
        assert form.query_one("#field-carrier").value == "UPS"
        assert app.focused is form.query_one("#field-mode")

        type_fast(pilot, "shift+tab", "backspace", "backspace", "backspace", *"FedEx", "enter")
        type_fast(pilot, "backspace", "backspace", *"FEDEX_GROUND", "ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))

    saved = mapping(db, "SAME_DAY_COURIER")
    assert saved is not None
    assert (saved.carrier, saved.mode, saved.billing_code) == ("FedEx", "FEDEX_GROUND", "Prepaid")
    assert order(db, "#1001").status == OrderStatus.QUEUED  # released (B9)


async def test_mapping_form_fields_typed_before_it_has_loaded_keep_their_keys(
    db, sandbox, world, engine
):
    app = await app_opened_on_an_unmapped_method(db, sandbox, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MappingFormScreen))
        form = app.screen
        type_fast(pilot, *"UPS", "enter", *"03")  # before the known carriers have come
        await wait_for(pilot, lambda: "held" in str(form.query_one("#form-about").render()))
        await wait_for(pilot, lambda: form.query_one("#field-mode").value == "03")
        assert form.query_one("#field-carrier").value == "UPS"
        assert app.focused is form.query_one("#field-mode")


async def test_order_form_tab_shift_tab_and_ctrl_s_typed_in_one_burst(db, sandbox, world, engine):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        form = await wait_order_form(pilot)
        assert app.focused is form.query_one("#field-address1")

        type_fast(pilot, *"12 Harbor Way", "tab", *"Suite 5", "shift+tab", "shift+tab")
        type_fast(pilot, "ctrl+u", *"Harbor Supply Co", "ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderFormScreen))
        await wait_for(pilot, lambda: order(db, "#1001").status == OrderStatus.DELIVERED)

    fixed = order(db, "#1001")
    assert (fixed.ship_company, fixed.ship_address1, fixed.ship_address2) == (
        "Harbor Supply Co",
        "12 Harbor Way",
        "Suite 5",
    )


async def test_slash_then_typing_at_once_goes_into_the_filter_and_enter_applies_it(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    add_shop_order(sandbox, 1002)
    add_shop_order(sandbox, 1003)
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        orders = pane(app, "orders")
        type_fast(pilot, "2", "slash", *"status:held", "enter", "j")
        await wait_for(pilot, lambda: orders.spec.text == "status:held")
        await wait_for(pilot, lambda: [r.number for r in orders.records] == ["#1001"])
        assert app.focused is orders.table
        assert orders.spec.sort == "newest"  # the "s" in "status" did not sort the pane
        assert app.dashboard.active == "orders"

        # esc leaves the filter box and keeps the filter the pane had; esc again clears it
        type_fast(pilot, "slash", *" 3", "escape")
        await wait_for(pilot, lambda: app.focused is orders.table)
        assert orders.spec.text == "status:held"
        assert not app.dashboard.filter_field.has_class("-open")
        type_fast(pilot, "escape")
        await wait_for(pilot, lambda: len(orders.records) == 3)
        assert orders.spec.text == ""


async def test_a_filter_it_does_not_understand_stays_open_with_the_reason(
    db, sandbox, world, engine
):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_fast(pilot, "slash", *"colour:red", "enter")
        await wait_for(pilot, lambda: app.dashboard.query_one("#filter-error").has_class("-open"))
        assert "state:, kind: or text" in str(app.dashboard.query_one("#filter-error").render())
        assert app.focused is app.dashboard.filter_field
        type_fast(pilot, "escape")
        await wait_for(pilot, lambda: app.focused is pane(app, "alerts").table)


async def test_a_text_filter_finds_what_the_orders_pane_shows_city_and_ship_method(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER", address={"city": "Savannah"})
    add_shop_order(sandbox, 1002, address={"city": "Portland"})
    add_shop_order(sandbox, 1003, address={"city": "Austin"})
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        orders = pane(app, "orders")
        type_fast(pilot, "2", "slash", *"portland", "enter")
        await wait_for(pilot, lambda: [r.number for r in orders.records] == ["#1002"])
        type_fast(pilot, "slash", "ctrl+u", *"same_day", "enter")
        await wait_for(pilot, lambda: [r.number for r in orders.records] == ["#1001"])


async def test_keys_typed_behind_g_or_G_act_on_the_row_those_keys_lead_to(
    db, sandbox, world, engine, monkeypatch
):
    # Ordering only: on a machine loaded enough to take 3 s for a page, the keys behind
    # would be dropped (the next test), not run out of turn.
    monkeypatch.setattr(record_table, "WAIT_LIMIT_S", 60.0)
    app = await app_on_orders(db, sandbox, engine, 30)  # more than the 80x24 pane shows
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        orders = pane(app, "orders")
        type_fast(pilot, "2")
        await wait_for(pilot, lambda: orders.records and orders.records[0].number == "#1030")

        type_fast(pilot, "G", "enter")  # the bottom row's detail, not the top one's
        await wait_for(pilot, lambda: isinstance(app.screen, OrderDetailScreen))
        assert order(db, "#1001").id == app.screen.key
        type_fast(pilot, "escape")
        await wait_for(pilot, lambda: app.screen is app.dashboard)

        type_fast(pilot, "g", "j", "j", "space")  # from the bottom: top, then two down
        await wait_for(pilot, lambda: len(orders.marked) == 1)
        assert orders.marked == {order(db, "#1028").id}
        assert orders.current is not None and orders.current.number == "#1028"


async def test_a_filter_that_matches_nothing_says_it_is_the_filter(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001)
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_fast(pilot, "2", "slash", *"nobody-by-this-name", "enter")
        orders = pane(app, "orders")
        await wait_for(pilot, lambda: orders.spec.text == "nobody-by-this-name")
        await wait_for(pilot, lambda: "nothing matches" in screen_lines(app, "orders")[1])
        assert "esc clears the filter" in screen_lines(app, "orders")[1]


async def test_a_filter_with_several_mistakes_names_each_and_every_choice(
    db, sandbox, world, engine
):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_fast(pilot, "slash", *"kind:nonsense bogus:1 state:xyz", "enter")
        error = app.dashboard.query_one("#filter-error")
        await wait_for(pilot, lambda: error.has_class("-open"))
        await pilot.pause(0.1)
        shown = " ".join(error.render_line(y).text for y in range(error.size.height))
        shown = " ".join(shown.split())
        for told in ("kind:nonsense", "incomplete_address", "skipped", "state:xyz", "bogus:"):
            assert told in shown, (told, shown)


async def test_keys_typed_behind_g_are_dropped_not_run_on_the_old_rows_when_the_rows_are_late(
    db, sandbox, world, engine, monkeypatch
):
    """A page that does not come in time (a slow or failed read): the space typed behind g
    must not mark the row the cursor was on before — it is dropped, and the person told."""
    monkeypatch.setattr(record_table, "WAIT_LIMIT_S", 0.3)
    app = await app_on_orders(db, sandbox, engine, 30)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        orders = pane(app, "orders")
        type_fast(pilot, "2", "G")
        await wait_for(pilot, lambda: orders.records and orders.records[-1].number == "#1001")
        await settle(pilot)
        read = orders.backend.orders

        def slow_read(*args, **kwargs):
            time.sleep(1.0)  # in the pane's reading thread: longer than the wait
            return read(*args, **kwargs)

        monkeypatch.setattr(orders.backend, "orders", slow_read)
        type_fast(pilot, "g", "j", "space")
        await wait_for(pilot, lambda: any("were not used" in n for n in notices(app)))
        await wait_for(pilot, lambda: orders.records and orders.records[0].number == "#1030")
        await settle(pilot)
        assert orders.marked == frozenset()
        assert orders.current is not None and orders.current.number == "#1030"
