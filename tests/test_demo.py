"""``imtui demo`` as a newcomer meets it: the real sandbox, engine and scheduler in one process,
time running fast, the dashboard on top. Within seconds alerts are raised, retries heal some of
them (they stay in view, marked resolved), and the unmapped ship method waits for the mapping
form — which, filled in, sends the held orders."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from imtui.cli.demo import demo_dashboard
from imtui.demo import Demo
from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.engine.clock import ScaledClock, reading_at
from imtui.store.models import Order
from imtui.tui.screens.mapping_form import MappingFormScreen
from imtui.tui.widgets.status import StatusHeader
from tests.tui_support import pane, screen_lines, type_fast, wait_for


def statuses(demo: Demo, *numbers: str) -> list[str]:
    with demo.db.read() as session:
        found = session.exec(select(Order).where(col(Order.number).in_(numbers))).all()
        return sorted(order.status for order in found)


@pytest.mark.slow
async def test_the_demo_shows_alerts_healing_and_the_unmapped_ship_method_fixed_in_the_form(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    demo = Demo(folder=tmp_path, feed_every=0.5, outage_every=4)
    await demo.start()
    try:
        app = demo_dashboard(demo)
        async with app.run_test(size=(80, 24)) as pilot:
            alerts = pane(app, "alerts")
            begun = time.monotonic()
            await wait_for(
                pilot,
                lambda: any(r.state == AlertState.RESOLVED for r in alerts.records),
                timeout=30,
            )
            healed = time.monotonic() - begun
            assert healed < 30, f"no alert healed in view within 30 s ({healed:.1f} s)"
            # every time on screen reads the demo's fast clock, and the header says it runs fast
            header = app.dashboard.query_one(StatusHeader)
            await wait_for(pilot, lambda: f"time ×{demo.speed:g}" in header.text)
            assert any("✓" in line for line in screen_lines(app, "alerts"))

            def unmapped() -> bool:
                current = alerts.current
                return current is not None and current.kind == AlertKind.UNMAPPED_SHIP_METHOD

            await wait_for(
                pilot,
                lambda: any(r.kind == AlertKind.UNMAPPED_SHIP_METHOD for r in alerts.records),
            )
            for _ in range(len(alerts.records)):
                if unmapped():
                    break
                await pilot.press("j")
            assert unmapped()
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, MappingFormScreen))
            form = app.screen
            await wait_for(pilot, lambda: "held" in str(form.query_one("#form-about").render()))
            type_fast(pilot, *"UPS", "tab", *"92", "ctrl+s")
            await wait_for(pilot, lambda: not isinstance(app.screen, MappingFormScreen))

            in_the_wms = {OrderStatus.DELIVERED, OrderStatus.SHIPPED, OrderStatus.FULFILLED}
            await wait_for(
                pilot,
                lambda: (
                    set(statuses(demo, "#1007", "#1008")) <= in_the_wms
                    and len(statuses(demo, "#1007", "#1008")) == 2
                ),
                timeout=30,
            )
            await wait_for(
                pilot,
                lambda: any(
                    r.kind == AlertKind.UNMAPPED_SHIP_METHOD and r.state != AlertState.OPEN
                    for r in alerts.records
                ),
                timeout=10,
            )
    finally:
        await demo.stop()


def test_a_wall_clock_instant_reads_on_the_fast_clock_as_scaled():
    clock = ScaledClock(240)
    ahead = reading_at(clock, datetime.now(UTC) + timedelta(seconds=10)) - clock.now()
    assert timedelta(seconds=2390) < ahead <= timedelta(seconds=2400)


async def test_the_headers_next_cycle_reads_the_engines_fast_clock_not_the_wall(db):
    from imtui.engine.runtime import Engine
    from imtui.service import Service
    from imtui.tui.backend import Backend

    clock = ScaledClock(240, start=datetime(2020, 1, 1, tzinfo=UTC))
    engine = Engine(db, clock=clock)
    service = Service(engine, tick_seconds=1.0)
    await service.start()
    try:
        shown = Backend(db, engine, service=service).next_run()
        assert shown is not None
        assert abs(shown - clock.now()) < timedelta(minutes=30)  # not today, on the wall
    finally:
        await service.stop(grace=1)
        await engine.aclose()
