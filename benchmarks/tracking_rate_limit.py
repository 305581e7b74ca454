"""Tracking drains under Shopify's rate limit: ``python benchmarks/tracking_rate_limit.py``.

300 orders are delivered, then shipped in the sandbox WMS; with the sandbox shop metering
Shopify's standard bucket (40 calls, draining 2 a second; 429 past it), one engine cycle pushes
their tracking: a look at each order's fulfillment orders, then the fulfilment. Printed next to
the targets: the wall time against the bucket's own bound (calls needed ÷ 2 per second, plus one
cycle), how many were fulfilled in that one cycle, and the 429 answers met.

Run:  python benchmarks/tracking_rate_limit.py [--orders 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imtui.domain.orders import OrderStatus
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine, EngineSettings
from imtui.sandbox import Sandbox
from imtui.store.database import Database
from imtui.store.models import Order
from tests.conftest import add_shop_order, wire_world

CYCLE_S = 5.0
"""One tick of the scheduler: the allowance past the bucket's own pace."""
TARGET_429 = 5


async def run(orders: int, folder: Path) -> tuple[float, int, int, int]:
    clock = FakeClock()
    with Sandbox(seed=1) as sandbox:
        db = Database(f"sqlite:///{folder / 'tracking.db'}")
        engine = Engine(db, clock=clock, settings=EngineSettings(concurrency=64))
        try:
            wire_world(db, sandbox, clock)
            for number in range(1001, 1001 + orders):
                add_shop_order(sandbox, number)
            await engine.run_once()
            with db.read() as session:
                references = [order.reference for order in session.exec(select(Order))]
            for n, reference in enumerate(references):
                sandbox.wms.ship(reference, tracking=f"1Z{n:06d}", carrier="UPS")
            sandbox.shop.rate_limit = True
            clock.advance(timedelta(minutes=6))
            started = time.monotonic()
            await engine.run_once()
            took = time.monotonic() - started
            with db.read() as session:
                fulfilled = sum(
                    1 for o in session.exec(select(Order)) if o.status == OrderStatus.FULFILLED
                )
            return took, fulfilled, sandbox.shop.rate_limited_calls, len(references)
        finally:
            await engine.aclose()
            db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        took, fulfilled, limited, shipped = asyncio.run(run(args.orders, Path(folder)))
    calls = 2 * shipped + 1  # a look and a fulfilment each, and the shop's poll
    bound = calls / 2 + CYCLE_S
    rows = [
        ("shipped orders", f"{shipped:,}", "", True),
        ("fulfilled in one cycle", f"{fulfilled:,}", f"{shipped:,}", fulfilled == shipped),
        (
            "wall time",
            f"{took:.1f} s",
            f"<= {bound:.1f} s ({calls} calls / 2 per s + {CYCLE_S:g} s)",
            took <= bound,
        ),
        ("429 answers", f"{limited}", f"<= {TARGET_429}", limited <= TARGET_429),
        ("before this change", "about 1 fulfilment per 5-minute cycle", "(issue 17)", True),
    ]
    for name, measured, target, ok in rows:
        print(f"{name:<24} {measured:<40} {target}{'' if ok else '  MISSED'}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    met = all(row[3] for row in rows)
    print("all targets met" if met else "SOME TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
