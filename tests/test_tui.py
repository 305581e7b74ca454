"""The dashboard, driven by keys with Pilot against a real database and the loopback sandbox:
every key action, both forms end to end, live updates, and untrusted text on screen."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.engine import account_actions
from imtui.engine.runtime import Engine
from imtui.sandbox import FaultRule
from imtui.sandbox.seed import BAD_ADDRESSES
from imtui.store.database import Database
from imtui.tui.app import StartAt
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.detail import AlertDetailScreen, OrderDetailScreen
from imtui.tui.screens.help import HelpScreen
from imtui.tui.screens.mapping_form import MappingFormScreen
from imtui.tui.screens.order_form import OrderFormScreen
from tests.conftest import ACTOR, add_shop_order, map_ship_method
from tests.tui_support import (
    alerts,
    audit,
    hold_1001_for_its_address,
    make_app,
    notices,
    open_alert_detail,
    order,
    outage_on_1001_to_1003,
    pane,
    queue_1001_after_a_503,
    screen_lines,
    screen_text,
    settle,
    wait_for,
    wait_mapping_form,
    wait_order_form,
)


async def test_r_resends_an_order_now_and_its_alert_resolves(db, sandbox, world, engine):
    await queue_1001_after_a_503(sandbox, engine)
    assert order(db, "#1001").status == OrderStatus.QUEUED
    assert alerts(db, state=AlertState.OPEN)

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: pane(app, "orders").current.number == "#1001")
        await pilot.press("r")
        await wait_for(pilot, lambda: order(db, "#1001").status == OrderStatus.DELIVERED)
        await wait_for(pilot, lambda: "delivered" in screen_lines(app, "orders")[1])

    assert sandbox.wms.created(order(db, "#1001").reference) == 1
    assert not alerts(db, state=AlertState.OPEN)
    resend = [e for e in audit(db) if e.action == "deliver_order.resend"]
    assert resend and resend[0].actor == ACTOR


async def test_d_dismisses_an_alert_only_after_yes(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001, sku="SKU-999")  # the WMS does not know it: needs a person
    await engine.run_once()
    [alert] = alerts(db, state=AlertState.OPEN)

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert alerts(db, state=AlertState.OPEN)

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not alerts(db, state=AlertState.OPEN))
        await wait_for(pilot, lambda: pane(app, "alerts").records == [])

    dismissed = [e for e in audit(db) if e.action == "alert.dismiss"]
    assert [(e.actor, e.target) for e in dismissed] == [(ACTOR, f"alert:{alert.id}")]


async def test_space_marks_rows_and_r_resends_all_marked(db, sandbox, world, engine):
    await outage_on_1001_to_1003(sandbox, engine)

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")  # the retry queue
        await wait_for(pilot, lambda: len(pane(app, "queue").records) == 3)
        await pilot.press("space", "down", "space")
        assert pane(app, "queue").marked == {r.id for r in pane(app, "queue").records[:2]}
        assert "●" in screen_lines(app, "queue")[1]
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: (
                sum(order(db, f"#{n}").status == OrderStatus.DELIVERED for n in (1001, 1002, 1003))
                == 2
            ),
        )
        assert pane(app, "queue").marked == set()
    assert len([e for e in audit(db) if e.action == "deliver_order.resend"]) == 2


@pytest.mark.slow
async def test_filter_then_resend_all_matching_releases_one_ship_method(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    add_shop_order(sandbox, 1002, method="SAME_DAY_COURIER")
    add_shop_order(sandbox, 1003)
    await engine.run_once()

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "slash")
        await pilot.press(*"status:held method:SAME_DAY_COURIER", "enter")
        await wait_for(pilot, lambda: len(pane(app, "orders").records) == 2)
        assert all(r.status == "held" for r in pane(app, "orders").records)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "all 2 orders" in str(app.screen.question)
        await pilot.press("y")
        await wait_for(
            pilot, lambda: len([e for e in audit(db) if e.action == "deliver_order.resend"]) == 2
        )
        await pilot.press("escape")  # clears the filter
        await wait_for(pilot, lambda: len(pane(app, "orders").records) == 3)


async def test_enter_opens_the_detail_with_every_attempt_verbatim(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001, sku="SKU-999")
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_alert_detail(pilot)
        text = app.screen.query_one("#detail-body").render_line(0).text  # it drew
        assert text is not None
        _, order_detail = app.screen.data
        assert order_detail.attempts and order_detail.attempts[0].http_status == 400
        body = screen_text(app)
        assert "SKU-999" in body and "Attempts (1, newest first)" in body
        await pilot.press("escape")
        await pilot.press("2", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderDetailScreen))
        await wait_for(pilot, lambda: app.screen.data is not None)


@pytest.mark.slow
async def test_order_form_fixes_the_address_then_it_is_sent_and_the_alert_resolves(
    db, sandbox, world, engine
):
    await hold_1001_for_its_address(sandbox, engine)
    [alert] = alerts(db, state=AlertState.OPEN)
    assert alert.kind == AlertKind.INCOMPLETE_ADDRESS

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")  # on the alert: its fix is the order's form
        form = await wait_order_form(pilot)
        error = form.query_one("#error-address1")
        assert "required" in str(error.render())
        assert app.focused is form.query_one("#field-address1")

        await pilot.press("ctrl+s")  # refused: the field is still empty
        assert isinstance(app.screen, OrderFormScreen)
        await pilot.press(*"12 Harbor Way")
        assert str(error.render()).strip() == ""
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderFormScreen))
        await wait_for(pilot, lambda: order(db, "#1001").status == OrderStatus.DELIVERED)
        await wait_for(pilot, lambda: not alerts(db, state=AlertState.OPEN))

    fixed = order(db, "#1001")
    assert fixed.ship_address1 == "12 Harbor Way"
    assert sandbox.wms.created(fixed.reference) == 1
    assert alerts(db)[0].resolved_by == ACTOR  # the edit closed it, in the editor's name
    edits = [e for e in audit(db) if e.action == "order.edit"]
    assert edits and edits[0].actor == ACTOR and "12 Harbor Way" in edits[0].detail


async def test_order_form_shows_bad_values_next_to_their_fields(db, sandbox, world, engine):
    await hold_1001_for_its_address(sandbox, engine)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "e")
        form = await wait_order_form(pilot)
        form.query_one("#field-zip").value = "ABC"
        await pilot.pause(0.05)
        assert "12345" in str(form.query_one("#error-zip").render())
        form.query_one("#field-country").value = "USA"
        await pilot.pause(0.05)
        assert "two-letter" in str(form.query_one("#error-country").render())
        assert "required" in str(form.query_one("#error-address1").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderFormScreen))
    assert order(db, "#1001").ship_country == "US"  # nothing saved


async def test_mapping_form_releases_every_held_order_and_they_are_sent(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    add_shop_order(sandbox, 1002, method="SAME_DAY_COURIER")
    await engine.run_once()
    [alert] = alerts(db, state=AlertState.OPEN, kind=AlertKind.UNMAPPED_SHIP_METHOD)

    app = make_app(db, engine, start=StartAt(alert_id=alert.id))  # imtui open alert/<id>
    async with app.run_test(size=(80, 24)) as pilot:
        form = await wait_mapping_form(pilot, "2 orders are held")
        assert form.query_one("#field-source_code").value == "SAME_DAY_COURIER"
        assert "UPS" in str(form.query_one("#known-carriers").render())
        assert app.focused is form.query_one("#field-carrier")
        await pilot.press(*"UPS", "enter", *"03")  # a pair in use: saved without a question
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))
        await wait_for(pilot, lambda: order(db, "#1001").status == OrderStatus.QUEUED)

    await engine.run_once()  # the next cycle (the dashboard's own engine wakes for it)
    assert order(db, "#1001").status == OrderStatus.DELIVERED
    assert order(db, "#1002").status == OrderStatus.DELIVERED
    assert not alerts(db, state=AlertState.OPEN)
    mapped = [e for e in audit(db) if e.action == "mapping.set" and "SAME_DAY" in e.target]
    assert mapped[0].actor == ACTOR and "released 2" in mapped[0].detail


async def test_sort_account_switch_help_and_palette(db, sandbox, world, engine, clock):
    for number in (1001, 1002):
        add_shop_order(sandbox, number)
    await engine.run_once()
    with db.write() as session:
        account_actions.add_account(
            session, name="Other", kind="warehouse", actor=ACTOR, now=clock.now()
        )

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await wait_for(
            pilot, lambda: [r.number for r in pane(app, "orders").records] == ["#1002", "#1001"]
        )
        await pilot.press("s")
        await wait_for(
            pilot, lambda: [r.number for r in pane(app, "orders").records] == ["#1001", "#1002"]
        )

        await pilot.press("a")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "AccountScreen")
        await pilot.press("down", "down", "enter")  # All, Acme, Other
        await wait_for(pilot, lambda: app.account_name == "Other")
        await wait_for(pilot, lambda: pane(app, "orders").records == [])

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Send the row (or the marked rows) now." in screen_text(app)
        sections = [str(w.render()) for w in app.screen.query(".help-section")]
        assert "Header counts" in sections and "Order status" in sections
        await pilot.press("escape")

        from imtui.tui.commands import ActionCommands

        async def palette_titles() -> list[str]:
            provider = ActionCommands(app.screen)
            return [str(hit.text) for hit in [h async for h in provider.discover()]]

        # like the footer, the palette offers what the pane can do: no Dismiss on Orders
        titles = await palette_titles()
        assert any("Resend" in t for t in titles) and not any("Dismiss" in t for t in titles)
        await pilot.press("1")
        await wait_for(pilot, lambda: app.dashboard.active == "alerts")
        assert any("Dismiss" in t for t in await palette_titles())


async def test_a_commit_by_another_process_shows_within_a_second(db, sandbox, world, engine, clock):
    add_shop_order(sandbox, 1001, sku="SKU-999")
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert pane(app, "alerts").records == []

        def elsewhere() -> None:  # its own connections, as another process would have
            other = Database(db.url)
            asyncio.run(Engine(other, clock=clock).run_once())
            other.dispose()

        thread = threading.Thread(target=elsewhere)
        thread.start()
        await wait_for(pilot, lambda: not thread.is_alive(), timeout=20)
        begun = time.monotonic()
        await wait_for(pilot, lambda: len(pane(app, "alerts").records) == 1, timeout=5)
        assert time.monotonic() - begun < 1.0
        assert "#1001" in screen_lines(app, "alerts")[1]


NASTY = {
    "markup": "[bold]x",
    "close": "[/]",
    "link": "[link=http://x]y[/link]",
    "clipboard": "\x1b]52;c;AAAA\x07",
    "title": "\x1b]0;title\x07",
    "rtl": "abc\u202edef",
}


async def test_untrusted_text_is_shown_literally_and_never_reaches_the_terminal(
    db, sandbox, world, engine
):
    huge = "A" * 100_000
    address = {"name": NASTY["markup"] + NASTY["close"], "address1": NASTY["link"],
               "city": NASTY["clipboard"] + NASTY["title"] + NASTY["rtl"]}  # fmt: skip
    add_shop_order(sandbox, 1001, address=address, sku="SKU-999")
    sandbox.faults.add(FaultRule("wms.create_order", "http_500", times=1))
    await engine.run_once()
    with db.write() as session:
        from imtui.store.models import Alert

        alert = session.get(Alert, alerts(db)[0].id)
        alert.message = " ".join(NASTY.values()) + huge
        alert.order_number = NASTY["link"]
        session.add(alert)

    app = make_app(db, engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        lines = "\n".join(screen_lines(app, "alerts") + screen_lines(app, "orders"))
        assert "[bold]x" in lines and "[/]" in lines and "[link=http://x]y[/link]" in lines
        assert "\\x1b]52;c;AAAA\\x07" in lines and "\\u202e" in lines
        assert "\x1b" not in lines and "\u202e" not in lines
        await open_alert_detail(pilot)
        shot = screen_text(app)
        assert "[link=http://x]y[/link]" in shot and "\x1b]52" not in shot
        await pilot.press("escape", "2", "e")
        await wait_order_form(pilot)
        assert "contains control characters" in str(app.screen.query_one("#error-city").render())


async def test_a_resend_that_fails_again_says_why_in_the_remote_systems_words(
    db, sandbox, world, engine
):
    await queue_1001_after_a_503(sandbox, engine, times=2)
    assert order(db, "#1001").status == OrderStatus.QUEUED
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: [r.number for r in pane(app, "orders").records] == ["#1001"])
        await pilot.press("r")

        def said() -> list[str]:
            return [text for text in notices(app) if "sent " in text]

        await wait_for(pilot, lambda: bool(said()))
        assert said()[-1].startswith("sent 0 of 1 now; 1 to be tried again — #1001: ")
        assert "unavailable" in said()[-1]


@pytest.mark.slow
async def test_shift_d_dismisses_the_open_alerts_matching_and_says_which_are_closed(
    db, sandbox, world, engine, clock
):
    add_shop_order(sandbox, 1001, sku="SKU-999")  # needs a person: stays open
    add_shop_order(sandbox, 1002)
    sandbox.faults.add(
        FaultRule("wms.create_order", "http_503", times=1, retry_after=1, reference="ACME-1002")
    )
    await engine.run_once()
    clock.advance(timedelta(hours=1))
    await engine.run_once()  # the 503 heals: its alert is resolved
    [still_open] = alerts(db, state=AlertState.OPEN)
    assert len(alerts(db)) == 2

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"state:all", "enter")
        await wait_for(pilot, lambda: len(pane(app, "alerts").records) == 2)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.question)
        assert "Dismiss the 1 open alert matching" in question
        assert "1 more matches: closed already" in question
        assert "1 order stays held: dismissing closes the alert, not the hold; it goes" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: alerts(db, id=still_open.id)[0].state == "dismissed")
        assert [a.state for a in alerts(db)].count("resolved") == 1  # left as it was
        await pilot.press("D")
        await wait_for(pilot, lambda: any("closed already" in text for text in notices(app)))
        assert not isinstance(app.screen, ConfirmScreen)
    dismissed = [e for e in audit(db) if e.action == "alert.dismiss"]
    assert [e.actor for e in dismissed] == [ACTOR]


async def test_resending_all_says_how_many_went_back_on_hold_and_how_many_wait_a_retry(
    db, sandbox, world, engine
):
    for number in (1001, 1002):
        add_shop_order(sandbox, number)
    for number in (1003, 1004):
        add_shop_order(sandbox, number, address=BAD_ADDRESSES["missing_address1"])
    sandbox.faults.add(FaultRule("wms.create_order", "http_503", times=10, retry_after=1))
    await engine.run_once()
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: len(pane(app, "orders").records) == 4)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")

        def said() -> list[str]:
            return [text for text in notices(app) if text.startswith("sent ")]

        await wait_for(pilot, lambda: bool(said()))
    summary = said()[-1]
    assert summary.startswith("sent 0 of 4 now; 2 held for a person, 2 to be tried again — "), (
        summary
    )
    assert summary.endswith("(see the queue)") and "#1001, #1002: " in summary, summary


async def test_a_notification_with_a_remote_systems_brackets_shows_them_as_typed(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, sku="[/]X[@click=app.quit]")  # the WMS repeats it back
    await engine.run_once()
    assert order(db, "#1001").status == OrderStatus.HELD
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:  # toasts painted
        await settle(pilot)
        await pilot.press("2", "r")
        await wait_for(pilot, lambda: any(t.startswith("sent 0 of 1") for t in notices(app)))
        await pilot.pause(0.2)  # the toast is painted: markup would have raised by now
        assert app.is_running
        assert any("'[/]X[@click=app.quit]'" in text for text in notices(app))


async def test_open_alert_on_an_alert_fixed_since_lands_on_its_detail_not_a_form(
    db, sandbox, world, engine, clock
):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    map_ship_method(db, clock, "SAME_DAY_COURIER", "UPS", "92")
    app = make_app(db, engine, start=StartAt(alert_id=alert.id))  # the email's old link
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
        await wait_for(pilot, lambda: app.screen.data is not None)
        assert f"resolved by {ACTOR}" in screen_text(app)
        assert not isinstance(app.screen, MappingFormScreen)


async def test_a_row_whose_last_try_got_no_answer_is_not_shown_as_sending(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001)
    sandbox.faults.add(FaultRule("wms.create_order", "commit_then_drop", times=1))
    await engine.run_once()  # the WMS took it, the answer never came: outcome unknown
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        queue = pane(app, "queue")
        await wait_for(pilot, lambda: len(queue.records) == 1)
        assert queue.records[0].in_flight_since is not None and not queue.records[0].lease_owner
        line = next(text for text in screen_lines(app, "queue") if "#1001" in text)
        assert "sending" not in line and "?in " in line
