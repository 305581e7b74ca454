"""The support engineer's day over SSH, at 80x24 and 60x20: ctrl+c quits as in k9s and lazygit
(asking only with typed changes in a form), and "all quiet" is never said while records wait
held with no alert open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.engine import alert_actions, order_actions
from imtui.sandbox.seed import BAD_ADDRESSES
from imtui.store.rows import HeaderCounts
from imtui.tui.commands import ActionCommands
from imtui.tui.screens.audit import AuditScreen
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.detail import AlertDetailScreen, OrderDetailScreen
from imtui.tui.screens.lists import MappingsScreen
from imtui.tui.screens.mapping_form import MappingFormScreen
from imtui.tui.text import clock_time, display_zone, stamp
from imtui.tui.widgets.audit_pane import AuditPane
from imtui.tui.widgets.mapping_pane import MappingsPane
from imtui.tui.widgets.status import header_line, header_parts
from tests.conftest import ACTOR, add_shop_order, map_ship_method
from tests.tui_support import (
    alerts,
    app_opened_on_an_unmapped_method,
    audit,
    detail_lines,
    hold_1001_for_its_address,
    make_app,
    mapping,
    notices,
    open_alert_detail,
    order,
    pane,
    screen_lines,
    screen_text,
    settle,
    text_of,
    wait_contact_form,
    wait_for,
    wait_mapping_form,
)

SIZES = [(80, 24), (60, 20)]


def orders_of(db):
    from sqlmodel import select

    from imtui.store.models import Order

    with db.read() as session:
        return list(session.exec(select(Order)))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_ctrl_c_quits_at_once_from_the_dashboard(db, world, engine, size):
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running)  # no hint to press ctrl+q instead


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_ctrl_c_in_a_form_with_typed_changes_asks_first(db, world, engine, size):
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.open_contact_form(None, world.account_id)
        await wait_contact_form(pilot)
        await pilot.press(*"Dana")
        await pilot.press("ctrl+c")  # in a field, where ctrl+c would otherwise copy
        await wait_for(pilot, lambda: "lose the changes" in screen_text(app))
        assert app.is_running
        await pilot.press("n")  # keep editing
        await wait_for(pilot, lambda: app.screen.query_one("#field-name").value == "Dana")
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: "lose the changes" in screen_text(app))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_all_quiet_is_not_said_while_records_wait_held(
    db, sandbox, world, engine, clock, size
):
    await hold_1001_for_its_address(sandbox, engine)
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.INCOMPLETE_ADDRESS)
    with db.write() as session:  # dismissed: the alert closes, the order stays held
        alert_actions.dismiss(session, alert_id=alert.id, actor=ACTOR, now=clock.now())
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: "records wait: 1 held" in screen_text(app))
        assert "all quiet" not in screen_text(app)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_y_copies_the_order_number_made_visible_and_details_open_each_other(
    db, sandbox, world, engine, size
):
    from imtui.sandbox.seed import make_order

    order = make_order(1)
    order["name"] = "#1001\nrm -rf ~\x1b]52;c;eA==\x07"  # a shop's number, pasted into a shell
    sandbox.shop.add_order(order)
    add_shop_order(sandbox, 1002, address=BAD_ADDRESSES["missing_address1"])
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("2")  # orders, newest first: #1002, then the hostile one
        await wait_for(pilot, lambda: len(pane(app, "orders").records) == 2)
        await pilot.press("j", "y")
        await wait_for(pilot, lambda: app.clipboard != "")
        assert app.clipboard == "#1001\\nrm -rf ~\\x1b]52;c;eA==\\x07"  # no newline, no escape
        assert "\n" not in app.clipboard and "\x1b" not in app.clipboard

        # an alert's detail → its order (o) → back to its alert (a), and y on a detail
        await pilot.press("1")
        await wait_for(pilot, lambda: len(pane(app, "alerts").records) == 1)
        alert_screen = await open_alert_detail(pilot)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderDetailScreen))
        order_screen = app.screen
        await wait_for(pilot, lambda: order_screen.data is not None)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.clipboard == "#1002")
        await pilot.press("Y")
        await wait_for(pilot, lambda: app.clipboard == order_screen.data.order.reference)
        await pilot.press("a")
        await wait_for(pilot, lambda: app.screen is not order_screen)
        assert isinstance(app.screen, AlertDetailScreen)
        assert app.screen.key == alert_screen.key


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_a_details_palette_lists_its_own_actions_not_textuals_scrolling(
    db, sandbox, world, engine, size
):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await open_alert_detail(pilot)
        listed = [str(hit.text) async for hit in ActionCommands(app.screen).discover()]
        names = [text.split("  (")[0] for text in listed]
        assert {"Back", "Resend", "Dismiss", "Order"} <= set(names)
        assert not any(n.startswith(("Scroll", "Focus", "Page")) for n in names), names


@pytest.fixture
def zone(monkeypatch):
    """Set IMTUI_TZ for one test (the zone is read once per process: forgotten around it)."""

    def use(name: str) -> None:
        monkeypatch.setenv("IMTUI_TZ", name)
        display_zone.cache_clear()

    yield use
    monkeypatch.delenv("IMTUI_TZ", raising=False)
    display_zone.cache_clear()


def test_every_time_is_in_one_zone_named_on_screen(zone):
    zone("Asia/Kolkata")  # +05:30 all year: no daylight saving to blur the check
    moment = datetime(2026, 12, 6, 3, 0, 5, tzinfo=UTC)
    assert stamp(moment) == "2026-12-06 08:30:05 IST"
    assert stamp(moment.replace(tzinfo=None)) == "2026-12-06 08:30:05 IST"  # the store's UTC
    _, engine, _ = header_parts(
        width=120,
        account="Acme",
        runs_worker=True,
        next_run=moment,
        worker_error=None,
        counts=None,
    )
    assert engine.plain == "engine ⟳08:30:05 IST"


async def test_a_zone_that_is_none_says_so_once_and_shows_utc(db, world, engine, zone):
    zone("Mars/Olympus_Mons")
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert any("IMTUI_TZ=Mars/Olympus_Mons is not a time zone" in n for n in notices(app))
    assert stamp(datetime(2026, 12, 6, 3, 0, tzinfo=UTC)).endswith("03:00:00 UTC")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_an_alerts_detail_shows_its_times_in_the_zone_named(
    db, sandbox, world, engine, zone, size
):
    zone("Asia/Kolkata")
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await open_alert_detail(pilot)
        await wait_for(pilot, lambda: " IST" in "\n".join(detail_lines(app)))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_e_on_an_order_held_for_an_unknown_sku_opens_what_fixes_it(
    db, sandbox, world, engine, size
):
    add_shop_order(sandbox, 1001, sku="SKU-999")
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNKNOWN_SKU)
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: len(pane(app, "orders").records) == 1)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
        assert app.screen.key == alert.id
        await wait_for(pilot, lambda: any(line.startswith("to fix") for line in detail_lines(app)))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_the_audit_log_shows_who_did_what_and_filters_by_who_and_on_what(
    db, sandbox, world, engine, clock, size
):
    await hold_1001_for_its_address(sandbox, engine)
    [order_row] = orders_of(db)
    with db.write() as session:
        order_actions.edit_order(
            session,
            order_key=str(order_row.id),
            changes={"address1": "1 Main St"},
            actor="dana\x1b]0;x\x07",  # an actor's name is text too: shown made visible
            now=clock.now(),
        )
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        audit_pane = app.screen.query_one(AuditPane)
        await wait_for(pilot, lambda: audit_pane.loaded_once and len(audit_pane.records) >= 4)
        assert audit_pane.records[0].action == "order.edit"  # newest first
        assert "\x1b" not in screen_text(app) and "dana\\x1b" in screen_text(app)

        await pilot.press("slash", *f"on:order:{order_row.id}", "enter")
        await wait_for(pilot, lambda: [r.action for r in audit_pane.records] == ["order.edit"])
        await pilot.press("escape")  # the filter goes
        await wait_for(pilot, lambda: len(audit_pane.records) >= 4)
        await pilot.press("slash", *"colour:red", "enter")
        await wait_for(pilot, lambda: any("is not a filter here" in n for n in notices(app)))
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AuditScreen))

        # and the order's own detail says who changed it
        await pilot.press("2")
        await wait_for(pilot, lambda: len(pane(app, "orders").records) == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderDetailScreen))
        await wait_for(pilot, lambda: "Changed by" in "\n".join(detail_lines(app)))
        assert any("order.edit" in line for line in detail_lines(app))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_a_mode_not_in_use_with_its_carrier_is_warned_about_and_saving_asks(
    db, sandbox, world, engine, size
):
    app = await app_opened_on_an_unmapped_method(db, sandbox, engine, proven=True)
    async with app.run_test(size=size) as pilot:
        form = await wait_mapping_form(pilot, "held")
        await pilot.press(*"FedEx", "tab", *"FEDEX_GROUNDX")
        await wait_for(
            pilot, lambda: "not a mode in use with FedEx" in text_of(form, "#error-mode")
        )
        assert "spells it 'FEDEX_GROUND'" in text_of(form, "#error-mode")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "FedEx FEDEX_GROUNDX is not a mode in use" in str(app.screen.question)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is form)
        await pilot.press("backspace")  # FEDEX_GROUND: in use, no question
        await wait_for(pilot, lambda: text_of(form, "#error-mode").strip() == "")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))
        assert not isinstance(app.screen, ConfirmScreen)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_a_pair_the_wms_refused_is_not_blessed_as_in_use(db, sandbox, world, engine, size):
    """The issue's walk: UPS 01 saved anyway, the WMS refuses the released order — and the
    form, opened again, still lists 01 as not delivered yet and warns about it; the mappings
    list says which pairs delivered."""
    app = await app_opened_on_an_unmapped_method(db, sandbox, engine, proven=True)
    async with app.run_test(size=size) as pilot:
        form = await wait_mapping_form(pilot, "held")
        await pilot.press(*"UPS", "tab", *"01")
        await wait_for(pilot, lambda: "not a mode in use with UPS" in text_of(form, "#error-mode"))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: not isinstance(app.screen, (ConfirmScreen, MappingFormScreen))
        )
        await engine.run_once()  # the WMS refuses UPS 01
        assert order(db, "#1001").status == OrderStatus.HELD
        saved = mapping(db, "SAME_DAY_COURIER")
        assert saved is not None and (saved.mode, saved.delivered_at) == ("01", None)

        app.open_mapping_form(world.account_id, "SAME_DAY_COURIER")
        form = await wait_mapping_form(pilot, "mapped to UPS 01")
        await wait_for(
            pilot, lambda: "Not delivered yet: UPS: 01" in text_of(form, "#known-carriers")
        )
        assert "In use (delivered): FedEx: FEDEX_GROUND; UPS: 03" in text_of(
            form, "#known-carriers"
        )
        await wait_for(pilot, lambda: "not a mode in use with UPS" in text_of(form, "#error-mode"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))

        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MappingsScreen))
        mappings_pane = app.screen.query_one(MappingsPane)
        await wait_for(pilot, lambda: len(mappings_pane.records) == 3)
        await pilot.pause(0.1)
        lines = screen_text(app).splitlines()
        rows = {line.split()[0]: line for line in lines if line.split()[:1]}
        assert "not yet" in rows["SAME_DAY_COURIER"], lines
        assert "not yet" not in rows["UPS_GROUND"], lines


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_the_mappings_list_deletes_after_asking_and_m_off_a_method_opens_it(
    db, sandbox, world, engine, size
):
    await hold_1001_for_its_address(sandbox, engine)  # an alert that is not about a method
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MappingsScreen))
        screen = app.screen
        mappings_pane = screen.query_one(MappingsPane)
        await wait_for(pilot, lambda: len(mappings_pane.records) == 2)
        first = mappings_pane.records[0].source_code
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "held from then on" in str(app.screen.question)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(mappings_pane.records) == 1)
        await pilot.press("enter")  # the other one, in its form
        await wait_for(pilot, lambda: isinstance(app.screen, MappingFormScreen))
        await pilot.press("escape")
    assert mapping(db, first) is None
    assert [e.action for e in audit(db)][-1] == "mapping.delete"


def test_a_60_column_header_keeps_the_next_cycles_time_and_the_account():
    moment = datetime(2026, 12, 6, 3, 0, 5, tzinfo=UTC)
    line = header_line(
        width=60,
        account="Acme Outdoors",
        runs_worker=True,
        next_run=moment,
        worker_error=None,
        counts=HeaderCounts(3, 1, 0, 2, 0),
    ).plain
    assert len(line) <= 60
    assert "⟳" + clock_time(moment) in line  # the time, not a bare ⟳
    assert "Acme Out" in line
    assert "alr 3 · act 1 · due 0 · hld 2 · skp 0" in line  # every count, in short words


async def test_at_60x20_help_and_quit_stay_on_the_footer_and_fields_stay_usable(
    db, sandbox, world, engine
):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer
        for open_form in (
            lambda: app.open_mapping_form(world.account_id, "SAME_DAY"),
            lambda: app.open_order_form(order(db, "#1001").id),
        ):
            open_form()
            await wait_for(pilot, lambda: app.screen.query(".field"))
            await pilot.pause(0.2)
            widths = [field.size.width for field in app.screen.query(".field")]
            assert min(widths) >= 20, widths
            # the form's own footer, once laid out for the narrow width
            await wait_for(pilot, lambda: "Cancel" in screen_text(app).splitlines()[-1])
            app.pop_screen()
            await pilot.pause(0.1)


async def test_at_120_columns_a_ship_method_gets_the_room_short_addresses_leave(
    db, sandbox, world, engine, clock
):
    map_ship_method(db, clock, "SAME_DAY_COURIER_EXPRESS", "UPS", "03")
    add_shop_order(
        sandbox, 1001, method="SAME_DAY_COURIER_EXPRESS", address={"city": "Ely", "name": "Al"}
    )
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: len(pane(app, "orders").records) == 1)
        await pilot.pause(0.1)
        assert "SAME_DAY_COURIER_EXPRESS" in "\n".join(screen_lines(app, "orders"))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "60x20"])
async def test_the_footer_stays_under_a_question_and_the_help(db, sandbox, world, engine, size):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.2)
        footer = screen_text(app).splitlines()[-1]
        assert "y Yes" in footer and "n No" in footer
        await pilot.press("n", "question_mark")
        await wait_for(pilot, lambda: "Close" in screen_text(app).splitlines()[-1])
