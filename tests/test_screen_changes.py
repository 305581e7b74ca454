"""A screen change is painted once (imtui/tui/frames.py ScreenChangeHold, applied by holder.py):
when the new screen has read what it shows and is quiet, or when it has been held too long.
A covered screen is not kept up to date; it catches up, in that one paint, when uncovered."""

from __future__ import annotations

from datetime import timedelta

from imtui.tui.frames import LONGEST_S, SETTLE_S, ScreenChangeHold
from imtui.tui.screens.detail import AlertDetailScreen
from tests.conftest import add_shop_order
from tests.tui_support import make_app, open_alert_detail, pane, settle, wait_for


def test_a_change_is_painted_once_quiet_and_read_or_once_overdue() -> None:
    hold = ScreenChangeHold()
    assert not hold.holding and not hold.due(0.0, reading=False)
    hold.begin(10.0)
    assert not hold.due(10.0 + SETTLE_S / 2, reading=False)  # the screen is still building
    hold.keep(10.01)  # its first paint, kept
    assert not hold.due(10.01 + SETTLE_S / 2, reading=False)
    assert hold.due(10.01 + SETTLE_S * 1.01, reading=False)  # quiet since
    assert not hold.due(10.01 + SETTLE_S * 1.01, reading=True)  # but its rows are on their way
    assert hold.due(10.0 + LONGEST_S * 1.01, reading=True)  # a slow read: painted as it is
    assert hold.end() is True  # something was kept: paint the screen whole
    assert not hold.holding

    hold.begin(20.0)  # a change that paints nothing (kept nothing): nothing to repaint
    assert hold.end() is False


def test_a_change_during_a_hold_extends_it_from_the_first() -> None:
    hold = ScreenChangeHold()
    hold.begin(1.0)
    hold.begin(1.0 + SETTLE_S)  # esc, then enter again at once
    assert not hold.due(1.0 + SETTLE_S * 1.5, reading=False)
    assert hold.overdue(1.0 + LONGEST_S * 1.01)  # counted from the first change


async def test_a_covered_dashboard_is_not_read_again_until_it_is_uncovered(
    db, sandbox, world, engine, clock
):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    await engine.run_once()
    app = make_app(db, engine, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        alerts = pane(app, "alerts")
        assert len(alerts.records) == 1
        await open_alert_detail(pilot)

        add_shop_order(sandbox, 1002, method="NEXT_DAY_AIR")  # a second unmapped method
        clock.advance(timedelta(minutes=10))  # the next poll
        await engine.run_once()
        app.refresh_now()  # a change committed: the detail on top re-reads, not the panes
        await pilot.pause(0.5)
        assert len(alerts.records) == 1 and not alerts.reading

        await pilot.press("escape")  # uncovered: it catches up
        await wait_for(pilot, lambda: len(alerts.records) == 2)


async def test_a_detail_of_a_record_that_is_gone_says_so_and_popped_screens_are_let_go(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    await engine.run_once()
    app = make_app(db, engine, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_alert_detail(9999)
        await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
        gone = app.screen
        await wait_for(pilot, lambda: "it is gone" in str(gone.query_one("#detail-body").render()))

        app.open_alert_detail(1)  # a detail over the one that is gone: it is covered
        await wait_for(pilot, lambda: app.screen is not gone)
        app.refresh_now()
        await wait_for(pilot, lambda: gone in app._stale)
        await pilot.press("escape", "escape")  # both closed
        await wait_for(pilot, lambda: not isinstance(app.screen, AlertDetailScreen))
        await pilot.pause(0.2)
        assert gone not in app._stale  # not kept alive by the note that it missed a change


async def test_a_hold_outliving_the_last_screen_ends_quietly(db, world, engine):
    """Leaving pops every screen: a screen change still held then has nothing to paint, and
    its timer must not ask for a screen (ScreenStackError at exit, seen in CI)."""
    app = make_app(db, engine, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app._screen_changed(app.screen)  # a screen change begins: held
        hold = app._screen_hold
        assert hold is not None and hold.holding
        stack = app._screen_stacks[app._current_mode]
        kept = list(stack)
        stack.clear()  # as when the app is taken apart
        try:
            app._paint_if_due()
            app._refresh_screens()
            assert not hold.holding and not app.shows(kept[0])
        finally:
            stack.extend(kept)
