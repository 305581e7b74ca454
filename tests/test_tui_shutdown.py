"""Quitting while the live timers run: the screens come apart under them, and nothing may
raise (CI once failed on a tick that found the dashboard's panes already gone)."""

from __future__ import annotations

import pytest

from tests.tui_support import make_app, settle


@pytest.mark.parametrize("attempt", range(3))
async def test_quitting_while_ticking_raises_nothing(db, world, engine, attempt):
    app = make_app(db, engine)
    app.TICK_SECONDS = 0.001  # a tick in every gap of the shutdown
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.05)
    # run_test re-raises whatever a timer raised while the app closed
