"""Orders download under Shopify's GraphQL cost limit: ``python benchmarks/shop_download.py``.

10,000 orders sit in a sandbox shop metering Shopify's default bucket (1,000 points, restoring
50 a second; THROTTLED past it). The Shopify connector lists them all, page by page, paced
from each answer's ``extensions.cost.throttleStatus``. Printed next to the targets: the wall
time against the bucket's own lower bound for what the queries actually cost ((points − the
first full bucket) ÷ the restore rate), and the THROTTLED answers met after the first second.
The REST connector this replaced had no bound of this kind to meet: it paged 250 orders a call
under the 2-calls-a-second REST bucket and is legacy since 2024-10-01.

Run:  python benchmarks/shop_download.py [--orders 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imtui.connectors.shopify import ShopifySource
from imtui.sandbox import Sandbox, realistic_orders

WITHIN = 0.15
"""The wall time may exceed the bucket's bound by this fraction."""


async def run(orders: int) -> tuple[float, int, float, int, int, float, float]:
    async with Sandbox(seed=3) as sandbox:
        sandbox.shop.add_orders(realistic_orders(orders, seed=3))
        sandbox.shop.rate_limit = True  # Shopify's default bucket: 1,000 points at 50/s
        bucket = sandbox.shop.cost_bucket
        bucket.reset()
        async with ShopifySource(sandbox.shop_url, sandbox.shop_token, timeout=30.0) as shop:
            started = time.monotonic()
            listed = await shop.list_unfulfilled_orders(None)
            took = time.monotonic() - started
        late_throttles = sum(1 for at in sandbox.shop.throttled_at if at > started + 1.0)
        return (
            took,
            len(listed),
            sandbox.shop.points_spent,
            sandbox.requests["shop.orders"],
            late_throttles,
            bucket.maximum,
            bucket.restore_rate,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    took, listed, points, calls, late, maximum, rate = asyncio.run(run(args.orders))
    bound = max(0.0, (points - maximum) / rate)
    limit = bound * (1 + WITHIN)
    rows = [
        ("orders listed", f"{listed:,}", f"{args.orders:,}", listed == args.orders),
        ("queries", f"{calls:,}", "", True),
        (
            "points spent (actual)",
            f"{points:,.0f}",
            f"{points / max(listed, 1):.1f} an order",
            True,
        ),
        (
            "wall time",
            f"{took:.1f} s",
            f"<= {limit:.1f} s (bound {bound:.1f} s = ({points:,.0f} - {maximum:,.0f}) / "
            f"{rate:g} per s, + {WITHIN:.0%})",
            took <= limit,
        ),
        ("THROTTLED after 1 s", f"{late}", "0", late == 0),
        ("REST before (legacy)", "250 orders a call, 2 calls/s", "(not comparable: points)", True),
    ]
    for name, measured, target, ok in rows:
        print(f"{name:<24} {measured:<32} {target}{'' if ok else '  MISSED'}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    met = all(row[3] for row in rows)
    print("all targets met" if met else "SOME TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
