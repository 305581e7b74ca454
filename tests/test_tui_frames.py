"""What a key costs on the terminal: applying a filter paints the pane once — focused, with its
new rows — and the footer of keys is drawn again only when the keys it shows change. Both were the
difference between 20 ms and 70 ms per filter on a million orders (benchmarks/dashboard.py)."""

from __future__ import annotations

from typing import Any

import pytest

from imtui.tui.app import DashboardApp
from imtui.tui.backend import Backend
from imtui.tui.widgets.keybar import KeyBar
from tests.conftest import ACTOR, add_shop_order
from tests.tui_support import footer_keys, pane, settle, type_fast, wait_for


class FrameRecordingApp(DashboardApp):
    """The dashboard, noting what each frame it would write to the terminal shows of the
    Orders pane: whether its table has focus, and the order numbers in it."""

    frames: list[tuple[bool, tuple[str, ...]]]

    def _display(self, screen: Any, renderable: Any) -> None:
        if renderable is not None and not self._batch_count and self.is_running:
            try:
                orders = pane(self, "orders")
                numbers = tuple(record.number for record in orders.records)
                self.frames.append((self.focused is orders.table, numbers))
            except Exception:  # not the dashboard on top, or not composed yet
                pass
        super()._display(screen, renderable)


async def test_a_filter_is_painted_once_with_its_rows_never_as_old_rows_focused(
    db, sandbox, world, engine
):
    add_shop_order(sandbox, 1001, method="SAME_DAY_COURIER")
    add_shop_order(sandbox, 1002)
    add_shop_order(sandbox, 1003)
    await engine.run_once()
    app = FrameRecordingApp(Backend(db, engine, actor=ACTOR), keymap={}, live=False)
    app.frames = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        orders = pane(app, "orders")
        type_fast(pilot, "2", "slash", *"status:held")
        await wait_for(pilot, lambda: app.dashboard.filter_field.value == "status:held")
        await pilot.pause(0.1)
        everything = tuple(record.number for record in orders.records)
        assert len(everything) == 3
        app.frames.clear()

        type_fast(pilot, "enter")
        await wait_for(pilot, lambda: [r.number for r in orders.records] == ["#1001"])
        await wait_for(pilot, lambda: not app.dashboard.painting_held)
        # Until the new rows have been painted (a frame, not a fixed wait: on a busy machine
        # the paint comes late); then every frame before it is in the record too.
        await wait_for(pilot, lambda: any(f and n == ("#1001",) for f, n in app.frames))

        focused_frames = [numbers for focused, numbers in app.frames if focused]
        assert focused_frames, "the pane was never painted focused"
        assert everything not in focused_frames  # no frame of the old rows, focused
        assert focused_frames[0] == ("#1001",)

        # esc clears the filter the same way: all three, in one go
        app.frames.clear()
        type_fast(pilot, "escape")
        await wait_for(pilot, lambda: len(orders.records) == 3)
        await wait_for(pilot, lambda: not app.dashboard.painting_held)
        await wait_for(pilot, lambda: any(numbers == everything for _, numbers in app.frames))
        assert [numbers for _, numbers in app.frames][:1] == [everything]


async def test_a_filter_it_cannot_read_releases_the_screen_at_once(db, sandbox, world, engine):
    app = DashboardApp(Backend(db, engine, actor=ACTOR), keymap={}, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        type_fast(pilot, "slash", *"colour:red", "enter")
        await wait_for(pilot, lambda: app.dashboard.query_one("#filter-error").has_class("-open"))
        assert not app.dashboard.painting_held


def shown(app: DashboardApp) -> list[tuple[str, str]]:
    return footer_keys(app.dashboard.query_one(KeyBar))


@pytest.mark.slow
async def test_the_keys_footer_changes_only_when_its_keys_change(db, sandbox, world, engine):
    add_shop_order(sandbox, 1001)
    await engine.run_once()
    app = DashboardApp(Backend(db, engine, actor=ACTOR), keymap={}, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: ("d", "Dismiss") in shown(app))
        bar = app.dashboard.query_one(KeyBar)
        changes = bar.changes

        # into the filter and back out: the same keys, so the footer is not drawn again
        type_fast(pilot, "slash", *"text", "enter")
        await wait_for(pilot, lambda: pane(app, "alerts").spec.text == "text")
        type_fast(pilot, "escape")
        await wait_for(pilot, lambda: pane(app, "alerts").spec.text == "")
        await pilot.pause(0.2)
        assert bar.changes == changes

        # the Orders pane cannot dismiss: the footer says so
        type_fast(pilot, "2")
        await wait_for(pilot, lambda: ("r", "Resend") in shown(app))
        assert ("d", "Dismiss") not in shown(app)
        type_fast(pilot, "1")
        await wait_for(pilot, lambda: ("d", "Dismiss") in shown(app))


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
async def test_a_click_on_a_key_in_the_footer_presses_it(db, sandbox, world, engine, size):
    """One line, not a widget per key, and still as Textual's footer: a click on "? Help" opens
    the help; a click between keys does nothing."""
    from imtui.tui.screens.help import HelpScreen
    from tests.tui_support import screen_text

    app = DashboardApp(Backend(db, engine, actor=ACTOR), keymap={}, live=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        bottom = screen_text(app).splitlines()[-1]
        assert "? Help" in bottom and "q Quit" in bottom
        if size[0] < 80:  # narrow: the keys a person must always find come first, a space apart
            assert bottom.index("? Help") < bottom.index("r Resend")
            gap = bottom.index("q Quit") - 1
        else:
            gap = len(bottom.rstrip()) + 2  # past the last key
        assert await pilot.click(KeyBar, offset=(gap, 0))
        await pilot.pause(0.1)
        assert app.screen is app.dashboard
        assert await pilot.click(KeyBar, offset=(bottom.index("? Help") + 1, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
