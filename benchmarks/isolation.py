"""One merchant's bad remote costs the others nothing (B10): ``python benchmarks/isolation.py``.

Seven healthy accounts share one database with four hostile ones — a shop that trickles its
answer at 1 byte/s, a WMS that never answers, a shop serving a gzip bomb (1 MB on the wire,
1 GB decoded), and a shop whose orders collide (two names, one WMS reference; a name longer
than its column) — and the engine runs them all in this process, as ``imtui worker`` does.

Printed, with the targets beside them:

- the healthy accounts' delivery rate with the hostile ones beside them, next to the same seven
  accounts alone on a fresh database, measured in the same run (target: ratio ≥ 0.9);
- this process's peak memory (target ≤ 300 MB);
- for each hostile account, how long until its alert was on the database, next to its poll
  interval plus its deadline (the target).

The remotes — the sandbox (WMS and shop, 50 ms latency) and the hostile servers — run in a child
process, as they would elsewhere, so the engine's CPU and memory are its own.

Run:  python benchmarks/isolation.py [--orders 1000] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select

from imtui.domain.alerts import AlertState
from imtui.domain.orders import OrderStatus
from imtui.engine import account_actions, mapping_actions
from imtui.engine.clock import SystemClock
from imtui.engine.runtime import Engine, EngineSettings, settle_heap
from imtui.engine.scheduler import EngineScheduler
from imtui.store.database import Database
from imtui.store.models import Alert, Order, RetryItem

HEALTHY = 7
TARGET_RATIO = 0.9
TARGET_PEAK_MB = 300
DEADLINE_S = 10.0
"""The hostile accounts' request deadline (their connection setting), so the run stays short."""
POLL_S = 60
TICK_S = 0.5
METHODS = {"UPS_GROUND": ("UPS", "03"), "FEDEX_2DAY": ("FedEx", "FEDEX_GROUND")}
SHOP_ORDERS = "/admin/api/2024-10/orders.json"


def remotes_process(conn: Any, latency: float, orders: int) -> None:
    """Child process: the sandbox and the hostile servers, until told to stop."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from imtui.sandbox import Sandbox
    from imtui.sandbox.seed import make_order
    from tests.hostile_remote import (
        HostileRemote,
        gzip_bomb,
        json_reply,
        never_answers,
        trickle,
    )

    def page(first: int, count: int) -> list[dict[str, Any]]:
        orders = [make_order(n) for n in range(first, first + count)]
        for order in orders:
            order["id"] = 100_000 + first * 1000 + len(orders)
            order["updated_at"] = "2026-01-01T00:00:00Z"
        for n, order in enumerate(orders):
            order["id"] = 100_000 + first * 1000 + n
        return orders

    colliding = page(1, 50)
    colliding[0]["name"], colliding[1]["name"] = "#9001", "9001"
    colliding[2]["name"] = "#" + "9" * 300
    servers = {
        "trickle": {("GET", SHOP_ORDERS): trickle(b'{"orders": []}' * 4096, every=1.0)},
        "silent": {
            ("POST", "/AuthServer/api/Token"): json_reply(200, {"access_token": "t" * 20}),
            ("POST", "/orders"): never_answers(),
            ("GET", "/orders"): never_answers(),
            ("GET", "/inventory/stocksummaries"): never_answers(),
        },
        "bomb": {("GET", SHOP_ORDERS): gzip_bomb(1024**3)},
        "collide": {("GET", SHOP_ORDERS): json_reply(200, {"orders": colliding})},
        # the silent WMS's own shop: 50 orders that will hang on their way out
        "silent_shop": {("GET", SHOP_ORDERS): json_reply(200, {"orders": page(100, 50)})},
    }
    with Sandbox(seed=1, latency=latency) as sandbox:
        sandbox.shop.add_orders([make_order(n) for n in range(1, orders + 1)])
        hostile = {name: HostileRemote(routes).__enter__() for name, routes in servers.items()}
        conn.send(
            {
                "wms": sandbox.wms_url,
                "shop": sandbox.shop_url,
                "wms_credentials": dict(sandbox.wms_credentials),
                "shop_token": sandbox.shop_token,
                **{name: server.url for name, server in hostile.items()},
            }
        )
        conn.recv()  # "stop"
        for server in hostile.values():
            server.__exit__(None, None, None)


@dataclass
class Remotes:
    urls: dict[str, Any]
    process: Any
    conn: Any

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(30)


def start_remotes(latency: float, orders: int) -> Remotes:
    parent, child = mp.Pipe()
    process = mp.get_context("spawn").Process(
        target=remotes_process, args=(child, latency, orders), daemon=True
    )
    process.start()
    return Remotes(parent.recv(), process, parent)


def add_account(
    db: Database,
    name: str,
    *,
    shop: tuple[str, dict[str, str]],
    wms: tuple[str, dict[str, str]],
    settings: dict[str, Any] | None = None,
) -> int:
    now = datetime.now(UTC)
    extra = settings or {}
    with db.write() as session:
        account = account_actions.add_account(
            session, name=name, kind="merchant", actor="bench", now=now
        )
        account_actions.add_connection(
            session,
            account=account,
            name=f"{name} WMS",
            platform="wms_3pl",
            base_url=wms[0],
            credentials=wms[1],
            settings={"customer_id": "1", "facility_id": "1", **extra},
            poll_interval_s=POLL_S,
            actor="bench",
            now=now,
        )
        account_actions.add_connection(
            session,
            account=account,
            name=f"{name} shop",
            platform="shopify",
            base_url=shop[0],
            credentials=shop[1],
            settings={"reference_prefix": name.replace(" ", ""), **extra},
            poll_interval_s=POLL_S,
            actor="bench",
            now=now,
        )
        for code, (carrier, mode) in METHODS.items():
            mapping_actions.set_mapping(
                session,
                account=account,
                source_code=code,
                carrier=carrier,
                mode=mode,
                actor="bench",
                now=now,
            )
        assert account.id is not None
        return account.id


@dataclass
class Run:
    rate: float = 0.0
    delivered: int = 0
    seconds: float = 0.0
    alert_after: dict[str, float | None] = field(default_factory=dict)


def count_delivered(db: Database, accounts: list[int]) -> int:
    with db.read() as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Order)
                .where(
                    col(Order.account_id).in_(accounts),
                    Order.status == OrderStatus.DELIVERED,
                )
            ).one()
        )


def waiting_reasons(db: Database, accounts: list[int]) -> list[tuple[str, int]]:
    """Why the healthy accounts' undelivered orders wait (their retry rows' last errors)."""
    with db.read() as session:
        rows = session.exec(
            select(RetryItem.last_error, func.count())
            .where(col(RetryItem.account_id).in_(accounts), RetryItem.state != "done")
            .group_by(RetryItem.last_error)
        )
        return [(str(reason or "not tried yet")[:120], int(count)) for reason, count in rows]


def alerted(db: Database, account_id: int) -> bool:
    with db.read() as session:
        return (
            session.exec(
                select(Alert.id).where(
                    Alert.account_id == account_id, Alert.state == AlertState.OPEN
                )
            ).first()
            is not None
        )


async def run(remotes: Remotes, orders: int, *, hostile: bool, folder: Path, limit_s: float) -> Run:
    urls = remotes.urls
    db = Database(f"sqlite:///{folder / ('with-hostile.db' if hostile else 'alone.db')}")
    wms = (urls["wms"], urls["wms_credentials"])
    shop = (urls["shop"], {"access_token": urls["shop_token"]})
    healthy = [add_account(db, f"Good {n}", shop=shop, wms=wms) for n in range(1, HEALTHY + 1)]
    bad: dict[str, int] = {}
    if hostile:
        limits = {"deadline": DEADLINE_S}
        silent = (urls["silent"], {"client_id": "c", "client_secret": "s", "user_login_id": "u"})
        token = {"access_token": "x" * 10}
        hostile_accounts = [  # what goes wrong, the account, its shop, its WMS
            ("shop trickles 1 byte/s", "Trickle", (urls["trickle"], token), wms),
            ("WMS never answers", "Silent", (urls["silent_shop"], token), silent),
            ("shop sends a gzip bomb", "Bomb", (urls["bomb"], token), wms),
            ("orders collide", "Collide", (urls["collide"], token), wms),
        ]
        bad = {
            trouble: add_account(db, name, shop=its_shop, wms=its_wms, settings=limits)
            for trouble, name, its_shop, its_wms in hostile_accounts
        }
    engine = Engine(db, clock=SystemClock(), settings=EngineSettings(concurrency=64))
    settle_heap()
    scheduler = EngineScheduler(engine, tick_seconds=TICK_S)
    result = Run(alert_after={name: None for name in bad})
    goal = orders * HEALTHY
    started = time.monotonic()
    scheduler.start()
    try:
        while time.monotonic() - started < limit_s:
            await asyncio.sleep(0.25)
            elapsed = time.monotonic() - started
            for name, account_id in bad.items():
                if result.alert_after[name] is None and await asyncio.to_thread(
                    alerted, db, account_id
                ):
                    result.alert_after[name] = elapsed
            if not result.seconds:
                delivered = await asyncio.to_thread(count_delivered, db, healthy)
                if delivered >= goal:
                    result.seconds, result.delivered = elapsed, delivered
            if result.seconds and all(value is not None for value in result.alert_after.values()):
                break
        if not result.seconds:
            result.seconds = time.monotonic() - started
            result.delivered = await asyncio.to_thread(count_delivered, db, healthy)
            for reason, count in await asyncio.to_thread(waiting_reasons, db, healthy):
                print(f"  not delivered: {count} waiting after '{reason}'")
    finally:
        await scheduler.stop(grace=1.0)
        await engine.aclose()
        db.dispose()
    result.rate = result.delivered / result.seconds
    return result


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders per healthy account")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--limit", type=float, default=180.0, help="seconds a run may take")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        remotes = start_remotes(args.latency, args.orders)
        try:
            alone = asyncio.run(
                run(remotes, args.orders, hostile=False, folder=Path(folder), limit_s=args.limit)
            )
        finally:
            remotes.stop()
        remotes = start_remotes(args.latency, args.orders)
        try:
            beside = asyncio.run(
                run(remotes, args.orders, hostile=True, folder=Path(folder), limit_s=args.limit)
            )
        finally:
            remotes.stop()
    ratio = beside.rate / alone.rate if alone.rate else 0.0
    peak = peak_mb()
    rows: list[tuple[str, str, str, bool]] = [
        (
            f"{HEALTHY} healthy accounts alone",
            f"{alone.delivered:,} orders in {alone.seconds:.1f} s = {alone.rate:,.0f}/s",
            "(baseline, same run)",
            alone.delivered == args.orders * HEALTHY,
        ),
        (
            "the same beside 4 hostile",
            f"{beside.delivered:,} orders in {beside.seconds:.1f} s = {beside.rate:,.0f}/s",
            "",
            beside.delivered == args.orders * HEALTHY,
        ),
        ("ratio", f"{ratio:.2f}", f">= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        (
            "peak memory (this process)",
            f"{peak:.0f} MB",
            f"<= {TARGET_PEAK_MB} MB",
            peak <= TARGET_PEAK_MB,
        ),
    ]
    for name, seconds in beside.alert_after.items():
        bound = POLL_S + DEADLINE_S
        rows.append(
            (
                f"alert: {name}",
                "none" if seconds is None else f"after {seconds:.1f} s",
                f"<= {bound:g} s (poll {POLL_S} s + deadline {DEADLINE_S:g} s)",
                seconds is not None and seconds <= bound,
            )
        )
    width = max(len(row[0]) for row in rows)
    print(f"\n{'figure'.ljust(width)}  {'measured':<46} target")
    for name, measured, target, ok in rows:
        print(f"{name.ljust(width)}  {measured:<46} {target}{'' if ok else '  MISSED'}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    met = all(row[3] for row in rows)
    print("all targets met" if met else "SOME TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
