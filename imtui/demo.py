"""``imtui demo``: the product against its own sandbox, with a throw-away database, a seeded
stream of orders and faults, and time running fast enough to watch hourly retries heal.

The demo is the same engine, scheduler and store as production; only the remote systems are
the loopback sandbox and the clock is scaled (see :class:`ScaledClock`). As in production, the
engine runs on a thread of its own (:class:`ServiceThread`) and the sandbox on another: the
dashboard's event loop only paints and answers keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from sqlmodel import col, select

from imtui.domain.text import printable
from imtui.engine import account_actions, mapping_actions
from imtui.engine.clock import ScaledClock
from imtui.engine.runtime import Engine, EngineSettings
from imtui.sandbox import FaultRule, Sandbox, make_order, order_stream
from imtui.sandbox.seed import BAD_ADDRESSES, SANDBOX_MAPPINGS, UNUSUAL_SHIP_METHOD
from imtui.service import Service, ServiceThread
from imtui.store.database import Database
from imtui.store.models import Alert, AlertEvent, Attempt, RetryItem

DEMO_ACTOR = "demo"
SPEED = 240.0
"""Demo seconds per real second: an hour of retries passes in 15 s."""
OUTAGE_EVERY = 12
"""A short WMS outage every this many new orders (36 s at the default pace)."""


@dataclass
class Demo:
    """A running demo: sandbox, database, engine and scheduler, plus the live order feed."""

    db_url: str | None = None
    speed: float = SPEED
    feed_every: float = 3.0
    outage_every: int = OUTAGE_EVERY
    seed: int = 7
    folder: Path | None = None
    """Where demo.db goes; None: a new temporary folder, removed by :meth:`stop` (with the
    database in it) unless ``keep``."""
    keep: bool = False
    sandbox: Sandbox = field(init=False)
    db: Database = field(init=False)
    engine: Engine = field(init=False)
    service: Service = field(init=False)
    runner: ServiceThread = field(init=False)
    """The thread the engine and its service run on."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _temporary: Path | None = field(default=None, init=False)

    async def start(self) -> None:
        """Start everything; if this fails part way, :meth:`stop` still undoes what started."""
        if self.folder is None and self.db_url is None:
            self.folder = self._temporary = Path(tempfile.mkdtemp(prefix="imtui-demo-"))
        self.sandbox = Sandbox(seed=self.seed, latency=0.02, hang_seconds=4.0)
        # Its servers in a thread of their own, as a real WMS and shop are elsewhere.
        await asyncio.to_thread(self.sandbox.start)
        if self.db_url:
            url = self.db_url
        else:
            assert self.folder is not None  # made above when no URL was given
            url = f"sqlite:///{self.folder / 'demo.db'}"
        self.db = Database(url)
        clock = ScaledClock(self.speed)
        self.engine = Engine(
            self.db, clock=clock, settings=EngineSettings(concurrency=10, http_timeout=2.0)
        )
        self.service = Service(self.engine, tick_seconds=1.0)
        self.runner = ServiceThread(self.engine, self.service, name="imtui-demo-engine")
        await self.runner.run(partial(self.engine.write, self._wire, clock.now()))
        self._seed_first_orders()
        await self.runner.start()
        self._tasks.append(asyncio.create_task(self._feed()))

    def _wire(self, session: Any, now: datetime) -> None:
        sb = self.sandbox
        account = account_actions.add_account(
            session, name="Demo Merchant", kind="merchant", actor=DEMO_ACTOR, now=now
        )
        add_connection = partial(
            account_actions.add_connection,
            session,
            account=account,
            poll_interval_s=300,
            actor=DEMO_ACTOR,
            now=now,
        )
        add_connection(
            name="Demo 3PL",
            platform="wms_3pl",
            base_url=sb.wms_url,
            credentials=dict(sb.wms_credentials),
            settings={"customer_id": "1", "facility_id": "1", "read_timeout": 2},
        )
        add_connection(
            name="Demo Shop",
            platform="shopify",
            base_url=sb.shop_url,
            credentials={"access_token": sb.shop_token},
            settings={"reference_prefix": "DEMO", "read_timeout": 2},
        )
        for code, (carrier, mode) in SANDBOX_MAPPINGS.items():  # SAME_DAY_COURIER waits
            mapping_actions.set_mapping(
                session,
                account=account,
                source_code=code,
                carrier=carrier,
                mode=mode,
                actor=DEMO_ACTOR,
                now=now,
            )

    def _seed_first_orders(self) -> None:
        """A morning with something of everything: good orders, one the WMS refuses until an
        outage passes, one lost in transit, a bad address and an unmapped ship method."""
        shop, faults = self.sandbox.shop, self.sandbox.faults
        for n in range(1, 7):
            shop.add_order(make_order(n, ship_method="UPS_GROUND"))
        shop.add_order(make_order(7, ship_method=UNUSUAL_SHIP_METHOD))
        shop.add_order(make_order(8, ship_method=UNUSUAL_SHIP_METHOD))
        shop.add_order(make_order(9, address=BAD_ADDRESSES["missing_address1"]))
        faults.add(FaultRule("wms.create_order", "http_503", times=2, retry_after=1.0))
        faults.add(FaultRule("wms.create_order", "commit_then_drop", times=1))
        faults.add(FaultRule("shop.fulfill", "http_500", times=1))

    async def _feed(self) -> None:
        """New orders keep arriving; the warehouse ships what it has; and every so often the
        WMS has a short outage, so an alert is raised and heals itself while you watch."""
        stream = order_stream(self.seed, start=10, bad_rate=0.1)
        for fed in itertools.count(1):
            await asyncio.sleep(self.feed_every)
            if fed % self.outage_every == 0:
                self.sandbox.faults.add(FaultRule("wms.create_order", "http_503", times=2))
            self.sandbox.shop.add_order(next(stream))
            for reference, order in list(self.sandbox.wms.orders.items())[:3]:
                if not order.get("readOnly", {}).get("isClosed"):
                    self.sandbox.wms.ship(reference, tracking=f"1Z{abs(hash(reference)) % 10**10}")
                    break

    async def stop(self) -> None:
        """Stop what :meth:`start` started, and remove its temporary folder unless ``keep``."""
        try:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if hasattr(self, "runner"):
                await self.runner.stop(grace=5.0)
            if hasattr(self, "sandbox"):
                await asyncio.to_thread(self.sandbox.stop)
            if hasattr(self, "db"):
                self.db.dispose()
        finally:
            if self._temporary is not None and not self.keep:
                shutil.rmtree(self._temporary, ignore_errors=True)

    @property
    def kept_folder(self) -> Path | None:
        """The temporary folder left behind by :meth:`stop` (``keep``), if any."""
        return self._temporary if self.keep else None


class EventPrinter:
    """Prints what happened since the last look: attempts and alert events, one line each."""

    def __init__(self, db: Database, out: TextIO) -> None:
        self.db = db
        self.out = out
        self.last_attempt = 0
        self.last_event = 0

    def print_new(self) -> None:
        for line in self._new_lines():
            print(line, file=self.out, flush=True)

    def _new_lines(self) -> Iterator[str]:
        with self.db.read() as session:
            attempts = session.exec(
                select(Attempt, RetryItem)
                .join(RetryItem, col(RetryItem.id) == Attempt.retry_item_id)
                .where(col(Attempt.id) > self.last_attempt)
                .order_by(col(Attempt.id))
            ).all()
            events = session.exec(
                select(AlertEvent, Alert)
                .join(Alert, col(Alert.id) == AlertEvent.alert_id)
                .where(col(AlertEvent.id) > self.last_event)
                .order_by(col(AlertEvent.id))
            ).all()
        for attempt, item in attempts:
            self.last_attempt = attempt.id or self.last_attempt
            what = f"{item.operation.replace('_', ' ')} {item.subject_label}"
            if attempt.ok:
                yield f"  ok    {printable(what)}: {attempt.outcome}"
            else:
                yield f"  fail  {printable(what)}: {attempt.outcome} — {printable(attempt.message)}"
        for event, alert in events:
            self.last_event = event.id or self.last_event
            about = alert.order_number or alert.sku or ""
            yield (
                f"  alert #{alert.id} {event.event}: {alert.kind} {printable(about)}"
                f" — {printable(alert.message)[:120]}"
            )


async def run_headless(out: TextIO | None = None, *, seconds: float | None = None) -> None:
    """The demo without the dashboard: the engine's work printed as it happens. Its database
    is kept (the lines printed at the start and the end use it); the last line says where.
    ``out`` is standard output as it is when called (not when this module was imported)."""
    out = out or sys.stdout
    demo = Demo(keep=True)
    try:
        await demo.start()
    except BaseException:
        demo.keep = False  # nothing to look at: leave nothing behind
        await demo.stop()
        raise
    print(
        f"imtui demo: sandbox WMS {demo.sandbox.wms_url}, shop {demo.sandbox.shop_url}\n"
        f"  database {demo.db.url}\n"
        f"  demo time runs {demo.speed:.0f}x: hourly retries every {3600 / demo.speed:.0f} s."
        " Ctrl-C stops.",
        file=out,
        flush=True,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stopping.set)
    printer = EventPrinter(demo.db, out)
    try:
        started = loop.time()
        while not stopping.is_set():
            await asyncio.to_thread(printer.print_new)
            if seconds is not None and loop.time() - started >= seconds:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 0.5)
        held = await demo.db.read_in_thread(_held_for_unusual)
        if held:
            print(
                f"\n{held} orders wait for ship method {UNUSUAL_SHIP_METHOD}: fix with\n"
                f"  imtui --db {demo.db.url} mapping set {UNUSUAL_SHIP_METHOD} "
                "--carrier UPS --mode 92",
                file=out,
            )
    finally:
        await demo.stop()
        if demo.kept_folder is not None:
            print(
                f"\nThe demo database stays in {demo.kept_folder} (delete the folder when done).",
                file=out,
                flush=True,
            )


def _held_for_unusual(session: Any) -> int:
    from imtui.store.models import Order

    return len(
        session.exec(
            select(Order.id).where(
                Order.ship_method_code == UNUSUAL_SHIP_METHOD, Order.status == "held"
            )
        ).all()
    )
