"""The alert detail, driven with Pilot against the real engine and the loopback sandbox: it
lists exactly the attempts behind the alert (its record's, or its connection and channel's),
the orders a ship-method alert holds, a closed alert's state without "needs a person", and
every remote message in full."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.retry import Operation
from imtui.engine import alert_actions, order_actions
from imtui.sandbox import FaultRule
from imtui.store.models import Alert, Attempt
from imtui.tui.screens.detail import AlertDetailScreen
from tests.conftest import ACTOR, add_shop_order, map_ship_method
from tests.tui_support import (
    alerts,
    detail_lines,
    footer_keys,
    make_app,
    order,
    outage_on_1001_to_1003,
    queue_1001_after_a_503,
    settle,
    wait_for,
)

HOUR = timedelta(hours=1)


async def open_detail(pilot: Any, alert_id: int) -> list[str]:
    """Open the alert's detail as Enter does and return every line of it, scrolled or not."""
    app = pilot.app
    await settle(pilot)
    app.open_alert_detail(alert_id)
    await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
    await wait_for(pilot, lambda: app.screen.data is not None)
    await pilot.pause(0.05)
    return detail_lines(app)


async def resolved_after_a_503(db: Any, sandbox: Any, engine: Any, clock: Any) -> Alert:
    """Order #1001 queued after a 503, and sent two hours on: its alert, resolved by the retry."""
    await queue_1001_after_a_503(sandbox, engine)
    clock.advance(HOUR * 2)
    await engine.run_once()
    [alert] = alerts(db)
    return alert


def attempts_section(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Attempts ("))
    return lines[start:]


def attempt_lines(lines: list[str]) -> list[str]:
    """The one line each attempt has (its time first), without the messages under them."""
    return [line for line in attempts_section(lines) if line.strip()[:3] == "202"]


async def test_connection_alert_lists_every_failure_on_its_connection_and_channel_only(
    db, sandbox, world, engine, clock
):
    await outage_on_1001_to_1003(sandbox, engine)
    [outage] = alerts(db, kind=AlertKind.REMOTE_ERROR)
    assert outage.count == 3 and outage.subject == "deliver"

    # While it is open: one more 503 (its fourth sighting) and, on the same connection and
    # channel at the same moment, a rejection that is another alert's.
    clock.advance(timedelta(minutes=5))  # the next poll
    add_shop_order(sandbox, 1004, sku="SKU-999")
    add_shop_order(sandbox, 1005)
    sandbox.faults.add(
        FaultRule("wms.create_order", "http_503", times=1, retry_after=1, reference="ACME-1005")
    )
    await engine.run_once()
    # Then it heals, the orders ship, and the shop fails their tracking pushes: another
    # connection, another channel, another alert — on the very orders the outage hit.
    clock.advance(HOUR)
    await engine.run_once()
    assert alerts(db, id=outage.id)[0].state == AlertState.RESOLVED
    for number in (1001, 1002, 1003):
        sandbox.wms.ship(order(db, f"#{number}").reference, tracking="1ZT", carrier="UPS")
    sandbox.faults.add(FaultRule("shop.fulfill", "http_500", times=3))
    clock.advance(timedelta(minutes=5))
    await engine.run_once()
    assert len(alerts(db)) > 2

    app = make_app(db, engine)
    async with app.run_test(size=(160, 48)) as pilot:
        lines = await open_detail(pilot, outage.id)
    text = "\n".join(attempts_section(lines))
    rows = attempt_lines(lines)
    assert "Attempts (4, newest first)" in text
    assert len(rows) == 4
    assert all("deliver order" in row and " 503 " in row for row in rows)
    assert sorted(row.split()[-1] for row in rows) == ["#1001", "#1002", "#1003", "#1005"]
    assert "push tracking" not in text and "#1004" not in text
    assert "The service is unavailable." in text
    # an outage is about the connection: the order it names is only the latest it hit
    assert any(line.startswith("latest order hit") for line in lines)


async def test_record_alert_lists_each_of_its_sightings_and_no_other_failure(
    db, sandbox, world, engine, clock
):
    add_shop_order(sandbox, 1001, sku="SKU-999")  # the WMS does not know it: held
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNKNOWN_SKU)
    # Resent: the WMS is down this time (a connection-wide alert), then rejects it again.
    sandbox.faults.add(FaultRule("wms.create_order", "http_503", times=1, retry_after=1))
    with db.write() as session:
        item = order_actions.resend_order(session, order_key="#1001", actor=ACTOR, now=clock.now())
    await engine.send_now(Operation.DELIVER_ORDER, [item.id])
    clock.advance(HOUR * 2)
    await engine.run_once()
    assert alerts(db, id=alert.id)[0].count == 2

    app = make_app(db, engine)
    async with app.run_test(size=(160, 48)) as pilot:
        lines = await open_detail(pilot, alert.id)
    rows = attempt_lines(lines)
    assert "Attempts (2, newest first)" in "\n".join(lines)
    assert len(rows) == 2 and all(" 400 " in row and "needs_person" in row for row in rows)
    assert "503" not in "\n".join(attempts_section(lines))


async def test_ship_method_alert_lists_the_orders_it_holds_and_all_their_attempts(
    db, sandbox, world, engine
):
    for number in (1001, 1002, 1003):
        add_shop_order(sandbox, number, method="SAME_DAY_COURIER")
    add_shop_order(sandbox, 1004)
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    assert alert.count == 3

    app = make_app(db, engine)
    async with app.run_test(size=(160, 48)) as pilot:
        lines = await open_detail(pilot, alert.id)
    text = "\n".join(lines)
    held = lines[lines.index("Orders held for this ship method (3)") :]
    assert [line.split()[0] for line in held[1:4]] == ["#1003", "#1002", "#1001"]
    assert "Attempts (3, newest first)" in text
    rows = attempt_lines(lines)
    assert sorted(row.split()[-1] for row in rows) == ["#1001", "#1002", "#1003"]
    assert all("local_hold" in row for row in rows)
    assert "#1004" not in text
    # no remote system spoke: a check here held them, and the detail says what fixes it
    assert "Message (a check here, before sending)" in text and "Remote message" not in text
    [fix] = [line for line in lines if line.startswith("to fix")]
    assert fix.split(None, 2)[2].startswith("e opens the ship-method mapping form")


async def test_a_closed_alert_no_longer_says_it_needs_a_person(db, sandbox, world, engine, clock):
    add_shop_order(sandbox, 1001, sku="SKU-999")
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNKNOWN_SKU)  # (a slow machine may add a timeout's)
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        lines = await open_detail(pilot, alert.id)
        assert "open, needs a person" in lines[0]
        assert any(line.startswith("to fix") for line in lines)
        with db.write() as session:
            alert_actions.dismiss(session, alert_id=alert.id, actor=ACTOR, now=clock.now())
        app.screen.refresh_data()
        await wait_for(pilot, lambda: "dismissed" in detail_lines(app)[0])
        heading = detail_lines(app)[0]
        assert not any(line.startswith("to fix") for line in detail_lines(app))
    assert "needs a person" not in heading
    assert f"dismissed by {ACTOR} (had needed a person)" in heading


async def test_resolved_alert_says_resolved_automatically(db, sandbox, world, engine, clock):
    alert = await resolved_after_a_503(db, sandbox, engine, clock)
    assert alert.state == AlertState.RESOLVED
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        lines = await open_detail(pilot, alert.id)
    assert "resolved automatically" in lines[0] and "needs a person" not in lines[0]


def detail_keys(app: Any) -> list[str]:
    """The descriptions the detail's key bar shows."""
    return [description for _, description in footer_keys(app.screen)]


async def test_a_closed_alerts_detail_offers_no_resend_fix_or_dismiss(
    db, sandbox, world, engine, clock
):
    alert = await resolved_after_a_503(db, sandbox, engine, clock)
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, alert.id)
        screen = app.screen
        await wait_for(pilot, lambda: "Back" in detail_keys(app))
        assert not {"Resend", "Edit/fix", "Dismiss"} & set(detail_keys(app))
        await pilot.press("d", "r", "e")
        await pilot.pause(0.1)
        assert app.screen is screen  # nothing asked, nothing opened


async def test_e_on_an_alert_no_form_fixes_is_not_offered_and_stacks_nothing(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, sku="SKU-999")
    await engine.run_once()
    [alert] = alerts(db)
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, alert.id)
        await wait_for(pilot, lambda: "Resend" in detail_keys(app))
        assert "Edit/fix" not in detail_keys(app)  # its "to fix" line says what to do
        depth = len(app.screen_stack)
        await pilot.press("e", "e")
        await pilot.pause(0.1)
        assert len(app.screen_stack) == depth


async def test_every_remote_message_is_shown_in_full_and_inert(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    await engine.run_once()
    [alert] = alerts(db)
    token = "X" * 150
    nasty = f"{token} [bold]markup[/] \x1b]52;c;AAAA\x07 end-of-message"
    with db.write() as session:
        attempt = session.exec(
            select(Attempt).where(Attempt.outcome == "local_hold").order_by(col(Attempt.id))
        ).first()
        assert attempt is not None
        attempt.message = nasty
        session.add(attempt)

    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        lines = await open_detail(pilot, alert.id)
    section = attempts_section(lines)
    flowing = "".join(line.strip() for line in section)
    assert token in flowing  # a token wider than the screen is folded, never cut
    assert "[bold]markup[/]" in flowing and "\\x1b]52;c;AAAA\\x07" in flowing
    assert "end-of-message" in flowing
    assert "…" not in "\n".join(section) and "\x1b" not in "\n".join(lines)


async def test_two_outages_on_one_channel_each_list_only_their_own_attempts(
    db, sandbox, world, engine, clock
):
    # One cycle, one connection, one channel, two kinds of trouble at once: a 503 for one
    # order, a page of HTML for the other. Both are transient; each alert has its own tries.
    add_shop_order(sandbox, 1001)
    add_shop_order(sandbox, 1002)
    sandbox.faults.add(
        FaultRule("wms.create_order", "http_503", times=2, retry_after=1, reference="ACME-1001")
    )
    sandbox.faults.add(FaultRule("wms.create_order", "html", times=2, reference="ACME-1002"))
    await engine.run_once()
    clock.advance(timedelta(minutes=5))
    await engine.run_once()
    [server] = alerts(db, kind=AlertKind.REMOTE_ERROR)
    [garbled] = alerts(db, kind=AlertKind.BAD_RESPONSE)
    assert server.subject == garbled.subject == "deliver"

    app = make_app(db, engine)
    async with app.run_test(size=(160, 48)) as pilot:
        server_rows = attempt_lines(await open_detail(pilot, server.id))
        await pilot.press("escape")
        garbled_rows = attempt_lines(await open_detail(pilot, garbled.id))
    assert server_rows and all(" 503 " in row and "#1001" in row for row in server_rows)
    assert garbled_rows and all("#1002" in row for row in garbled_rows)
    assert len(server_rows) == server.count and len(garbled_rows) == garbled.count


async def test_dismissing_a_ship_method_alert_says_its_held_orders_stay_held(
    db, sandbox, world, engine
):
    from imtui.tui.screens.confirm import ConfirmScreen

    for number in (1001, 1002):
        add_shop_order(sandbox, number, method="SAME_DAY_COURIER")
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNMAPPED_SHIP_METHOD)
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, alert.id)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "2 orders stay held" in str(app.screen.question)
        await pilot.press("y")
        await wait_for(pilot, lambda: alerts(db, id=alert.id)[0].state == AlertState.DISMISSED)
    assert order(db, "#1001").status == order(db, "#1002").status == "held"


async def test_dismissing_every_carrier_alert_of_one_method_counts_each_held_order_once(
    db, sandbox, world, engine, clock
):
    from imtui.tui.screens.confirm import ConfirmScreen

    # the WMS knows no such carrier: each order is held for it
    map_ship_method(db, clock, "DHL_EXPRESS", "DHL", "EXP")
    for number in (1001, 1002, 1003):
        add_shop_order(sandbox, number, method="DHL_EXPRESS")
    await engine.run_once()
    carrier_alerts = alerts(db, kind=AlertKind.UNKNOWN_CARRIER)
    assert len(carrier_alerts) == 3  # one per order, each naming the method's three holds
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "3 orders stay held" in str(app.screen.question)


async def test_a_refused_tracking_push_offers_no_order_form_and_says_to_fix_it_in_the_shop(
    db, sandbox, world, engine, clock
):
    from imtui.store.alerts import AlertSubject, raise_alert

    add_shop_order(sandbox, 1001)
    await engine.run_once()
    delivered = order(db, "#1001")
    with db.write() as session:  # as the shop connector raises it for a tracking push
        alert, _ = raise_alert(
            session,
            account_id=world.account_id,
            connection_id=world.shop_id,
            kind=AlertKind.VALIDATION,
            message="order 1001 has no fulfillment order that can be fulfilled",
            now=clock.now(),
            about=AlertSubject(
                order_id=delivered.id, order_number="#1001", subject=f"tracking:{delivered.id}"
            ),
        )
        alert_id = alert.id
    app = make_app(db, engine)
    async with app.run_test(size=(120, 40)) as pilot:
        lines = await open_detail(pilot, alert_id)
        await wait_for(pilot, lambda: "Back" in detail_keys(app))
        assert "Edit/fix" not in detail_keys(app)  # no edit of the order changes the shop's
        [fix] = [line for line in lines if line.startswith("to fix")]
        assert "correct it there" in fix and "e opens" not in fix


async def test_open_print_on_a_carrier_alert_offers_the_mapping_or_the_wms_not_both(
    db, sandbox, world, engine, clock, tmp_path
):
    from click.testing import CliRunner

    from imtui.cli import cli

    map_ship_method(db, clock, "DHL_EXPRESS", "DHL", "EXP")
    add_shop_order(sandbox, 1001, method="DHL_EXPRESS")
    await engine.run_once()
    [alert] = alerts(db, kind=AlertKind.UNKNOWN_CARRIER)
    shown = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "imtui.db"), "open", f"alert/{alert.id}", "--print"]
    )
    assert shown.exit_code == 0, shown.output
    assert "imtui mapping set DHL_EXPRESS" in shown.stdout
    assert "saving releases every order held for it" in shown.stdout
    assert "or, if the WMS should know that carrier: add it there" in shown.stdout
