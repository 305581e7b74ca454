"""Orders delivered per second: 10,000 due orders against the sandbox WMS with 50 ms added
latency per request, next to the sequential lower bound and the ideal for the concurrency.

Run:  python benchmarks/delivery_throughput.py [--orders 10000] [--latency 0.05] [--concurrency 64]
      [--db URL]  (default: a fresh SQLite file; a PostgreSQL URL works too)

The sandbox runs in its own process (as a real WMS would be elsewhere), so the figures are the
engine's own: claims, sends, outcome writes. Also reported: the worst event-loop lag seen
while delivering (target: never blocked for more than 100 ms) and a check that every order
arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from imtui.engine import account_actions, mapping_actions
from imtui.engine.clock import SystemClock
from imtui.engine.runtime import Engine, EngineSettings, settle_heap
from imtui.store.database import Database
from imtui.store.models import Order, OrderLine, RetryItem

TARGET_RATE = 500.0
TARGET_LAG_MS = 100.0


def sandbox_process(conn: Any, latency: float) -> None:
    """Child process: serve the sandbox until told to stop, answer count queries."""
    from imtui.sandbox import Sandbox

    with Sandbox(seed=1, latency=latency) as sb:
        conn.send((sb.wms_url, sb.shop_url, dict(sb.wms_credentials), sb.shop_token))
        while True:
            request = conn.recv()
            if request == "stop":
                break
            references = request
            created = [sb.wms.created(ref) for ref in references]
            posts = [sb.wms.posts(ref) for ref in references]
            conn.send((created, posts))


def wire(db: Database, urls: tuple[str, str, dict[str, str], str], now: datetime) -> int:
    wms_url, shop_url, credentials, token = urls
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Bench", kind="merchant", actor="bench", now=now
        )
        wms = account_actions.add_connection(
            session,
            account=account,
            name="WMS",
            platform="wms_3pl",
            base_url=wms_url,
            credentials=credentials,
            settings={"customer_id": "1", "facility_id": "1", "max_connections": 200},
            poll_interval_s=86400,
            actor="bench",
            now=now,
        )
        account_actions.add_connection(
            session,
            account=account,
            name="Shop",
            platform="shopify",
            base_url=shop_url,
            credentials={"access_token": token},
            settings={},
            poll_interval_s=86400,
            actor="bench",
            now=now,
        )
        mapping_actions.set_mapping(
            session,
            account=account,
            source_code="UPS_GROUND",
            carrier="UPS",
            mode="03",
            actor="bench",
            now=now,
        )
        return wms.id  # type: ignore[return-value]


def load_due_orders(db: Database, wms_id: int, count: int, start: int, now: datetime) -> list[str]:
    """Insert ``count`` complete orders, each with a due delivery row, in bulk."""
    with db.write() as session:
        account_id, source_id = 1, wms_id + 1
        orders = [
            {
                "account_id": account_id,
                "source_connection_id": source_id,
                "source_order_id": str(900000 + n),
                "number": f"#{n}",
                "reference": f"B-{n}",
                "ship_method_code": "UPS_GROUND",
                "ship_method_title": "UPS Ground",
                "ship_name": "Ada Okafor",
                "ship_company": "",
                "ship_address1": "1 Main St",
                "ship_address2": "",
                "ship_city": "Austin",
                "ship_state": "TX",
                "ship_zip": "78701",
                "ship_country": "US",
                "ship_phone": "",
                "status": "queued",
                "created_at": now,
                "updated_at": now,
            }
            for n in range(start, start + count)
        ]
        session.execute(insert(Order), orders)
        rows = session.execute(
            select(Order.id, Order.number, Order.reference).where(
                Order.number.in_(  # type: ignore[attr-defined]
                    [o["number"] for o in orders]
                )
            )
        ).all()
        session.execute(
            insert(OrderLine), [{"order_id": r.id, "sku": "SKU-1", "quantity": 1} for r in rows]
        )
        session.execute(
            insert(RetryItem),
            [
                {
                    "account_id": account_id,
                    "connection_id": wms_id,
                    "operation": "deliver_order",
                    "subject_id": r.id,
                    "subject_label": r.number,
                    "state": "due",
                    "attempts": 0,
                    "consecutive_failures": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for r in rows
            ],
        )
        return [r.reference for r in rows]


class LoopLag:
    """Samples how late a 10 ms timer fires: the longest the event loop was blocked."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.samples.append((time.perf_counter() - before - 0.01) * 1000)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def deliver(db_url: str, concurrency: int) -> tuple[float, int, LoopLag]:
    engine = Engine(
        Database(db_url, migrate=False),
        clock=SystemClock(),
        settings=EngineSettings(concurrency=concurrency, claim_batch=max(100, concurrency * 2)),
    )
    await engine.recover()
    settle_heap()  # as `imtui worker` does once it has started (imtui.service.Service.start)
    try:
        with LoopLag() as lag:
            started = time.perf_counter()
            stats = await engine.deliver_due()
            elapsed = time.perf_counter() - started
    finally:
        await engine.aclose()
    return elapsed, stats.succeeded, lag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=EngineSettings().concurrency)
    parser.add_argument("--baseline-orders", type=int, default=100)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=sandbox_process, args=(child, args.latency), daemon=True)
    server.start()
    urls = parent.recv()
    folder = Path(tempfile.mkdtemp(prefix="imtui-bench-"))
    db_url = args.db or f"sqlite:///{folder / 'bench.db'}"
    db = Database(db_url)
    now = datetime.now(UTC)
    wms_id = wire(db, urls, now)

    # Baseline, measured in this run: one order at a time.
    base_refs = load_due_orders(db, wms_id, args.baseline_orders, 1, now)
    base_elapsed, base_ok, _ = asyncio.run(deliver(db_url, 1))
    per_order = base_elapsed / max(base_ok, 1)

    refs = load_due_orders(db, wms_id, args.orders, 100_000, now)
    elapsed, delivered, lag = asyncio.run(deliver(db_url, args.concurrency))
    parent.send(refs + base_refs)
    created, posts = parent.recv()
    parent.send("stop")
    server.join(timeout=10)

    rate = delivered / elapsed
    ideal = args.concurrency / args.latency
    sequential_bound = args.orders * args.latency
    worst_lag = max(lag.samples) if lag.samples else 0.0
    p99_lag = statistics.quantiles(lag.samples, n=100)[98] if len(lag.samples) > 100 else worst_lag
    exactly_once = all(c == 1 for c in created) and all(p == 1 for p in posts)

    rows = [
        ("orders delivered", f"{delivered:,} of {args.orders:,}", f"{args.orders:,}"),
        ("wall time", f"{elapsed:.1f} s", f"<= {args.orders / TARGET_RATE:.0f} s"),
        ("orders/s", f"{rate:,.0f}", f">= {TARGET_RATE:.0f}"),
        ("ideal for concurrency", f"{ideal:,.0f} /s  ({args.concurrency} x 1/{args.latency}s)", ""),
        (
            "sequential lower bound",
            f"{sequential_bound:,.0f} s  ({args.orders:,} x "
            f"{args.latency * 1000:.0f} ms) = {1 / args.latency:.0f} /s",
            "",
        ),
        (
            "baseline, measured",
            f"{1 / per_order:,.1f} /s sequential "
            f"({args.baseline_orders} orders, {per_order * 1000:.1f} ms each)",
            "",
        ),
        ("speed-up vs baseline", f"{rate * per_order:,.0f}x", ""),
        (
            "worst event-loop lag",
            f"{worst_lag:.1f} ms (p99 {p99_lag:.1f} ms)",
            f"<= {TARGET_LAG_MS:.0f} ms",
        ),
        ("exactly once (created, posts)", "yes" if exactly_once else "NO", "yes"),
    ]
    print(
        f"\nimtui delivery benchmark — {db.url.split(':')[0]}, latency "
        f"{args.latency * 1000:.0f} ms, concurrency {args.concurrency}"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'figure'.ljust(width)}  {'measured':<58} target")
    for name, measured, target in rows:
        print(f"{name.ljust(width)}  {measured:<58} {target}")
    met = rate >= TARGET_RATE and worst_lag <= TARGET_LAG_MS and exactly_once
    print("\nall targets met" if met else "\nSOME TARGETS MISSED")
    return 0 if delivered == args.orders and exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
