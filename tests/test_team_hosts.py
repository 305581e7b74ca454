"""Several workers on several hosts sharing one database: one open alert per identity and one
email per alert and contact, held by the database itself; and the claims of an engine that was
killed on another host — its deliveries, its poll — taken over once its beat has gone silent,
never before, each order created once in the WMS.

"Another host" is an engine whose owner name has a host part other than ours, so the same-host
check (is that pid still running?) cannot free what it holds: only its silence can.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind, Failure, FailureClass
from imtui.domain.orders import OrderStatus
from imtui.domain.retry import Operation
from imtui.engine import account_actions
from imtui.engine.clock import FakeClock, SystemClock
from imtui.engine.connections import IN_FLIGHT_MARGIN
from imtui.engine.outcomes import Outcome
from imtui.engine.runtime import CycleReport, Engine, EngineSettings
from imtui.engine.scheduler import EngineScheduler
from imtui.sandbox import FaultRule, Sandbox
from imtui.store import alerts as alert_store
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.beats import SILENT_AFTER, beat, last_beat
from imtui.store.connections import claim_poll
from imtui.store.database import Database
from imtui.store.models import (
    Account,
    Alert,
    AlertContact,
    AlertEvent,
    AlertNotice,
    Connection,
    EngineBeat,
    Order,
    OutboxEmail,
    RetryItem,
)
from imtui.store.queue import HOST_VARIABLE, ClaimRequest, claim_due
from tests.conftest import ACTOR, add_shop_order, set_wms_deadline, wire_world

OTHER_HOST = "host-b"


# -- one open alert per identity, one email per alert and contact ------------------------------


def add_account_with_contacts(db: Database, now: datetime, contacts: int = 2) -> int:
    with db.write() as session:
        account = Account(name="Acme", created_at=now)
        session.add(account)
        session.flush()
        for n in range(contacts):
            session.add(
                AlertContact(
                    account_id=account.id,  # type: ignore[arg-type]
                    name=f"Desk {n}",
                    email=f"desk{n}@acme.example",
                    frequency="immediately",
                    created_at=now,
                    updated_at=now,
                )
            )
        return account.id  # type: ignore[return-value]


def raise_unmapped(session: Session, account_id: int, now: datetime) -> tuple[Alert, bool]:
    """The alert every worker raises when it meets an order with the unmapped method."""
    return raise_alert(
        session,
        account_id=account_id,
        connection_id=None,
        kind=AlertKind.UNMAPPED_SHIP_METHOD,
        message="Ship method 'SAME_DAY' has no mapping to a WMS carrier",
        now=now,
        about=AlertSubject(subject=f"method:{account_id}:SAME_DAY"),
    )


def test_the_database_refuses_a_second_open_alert_and_a_second_alert_email(db_url: str) -> None:
    db = Database(db_url)
    now = FakeClock().now()
    account_id = add_account_with_contacts(db, now, contacts=1)
    with db.write() as session:
        alert, new = raise_unmapped(session, account_id, now)
        assert new
        alert_id = alert.id
    copy_alert = text(
        "INSERT INTO alert (account_id, connection_id, kind, scope, fingerprint, state,"
        " needs_person, message, subject, count, first_seen, last_seen)"
        " SELECT account_id, connection_id, kind, scope, fingerprint, :state, needs_person,"
        " message, subject, count, first_seen, last_seen FROM alert WHERE id = :id"
    )
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(copy_alert, {"state": "open", "id": alert_id})
    with db.write() as session:  # closed alerts of the same identity are history: any number
        session.execute(copy_alert, {"state": "resolved", "id": alert_id})
        session.execute(copy_alert, {"state": "dismissed", "id": alert_id})
    copy_email = text(
        "INSERT INTO outbox_email (account_id, contact_id, alert_id, kind, recipient,"
        " recipient_name, subject, body, state, attempts, created_at, updated_at)"
        " SELECT account_id, contact_id, alert_id, kind, recipient, recipient_name, subject,"
        " body, state, attempts, created_at, updated_at FROM outbox_email WHERE alert_id = :id"
    )
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(copy_email, {"id": alert_id})
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(OutboxEmail)).one() == 1
        states = sorted(session.exec(select(Alert.state)))
    assert states == ["dismissed", "open", "resolved"]
    db.dispose()


def test_four_workers_raising_one_alert_at_once_make_one_alert_counted_four_times(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four workers, each its own database handle and transaction, all look for the open alert
    and find none before any of them inserts: the race the index settles. Three inserts wait
    on the first worker's transaction, fail when it commits, and count a repeat instead."""
    Database(postgres_url).dispose()  # migrated once
    now = FakeClock().now()
    workers = [Database(postgres_url, migrate=False) for _ in range(4)]
    account_id = add_account_with_contacts(workers[0], now, contacts=2)
    everyone_looked = threading.Barrier(4)
    looked_up = alert_store._open_alert

    def look_then_wait(session: Session, key: str, *, lock: bool = False) -> Alert | None:
        found = looked_up(session, key, lock=lock)
        if not lock:
            everyone_looked.wait(timeout=20)
        return found

    monkeypatch.setattr(alert_store, "_open_alert", look_then_wait)
    results: list[bool] = []
    errors: list[BaseException] = []

    def work(db: Database) -> None:
        try:
            with db.write() as session:
                results.append(raise_unmapped(session, account_id, now)[1])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(db,)) for db in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == [False, False, False, True]
    with workers[0].read() as session:
        (alert,) = session.exec(select(Alert)).all()
        assert alert.state == AlertState.OPEN
        assert alert.count == 4
        emails = session.exec(select(OutboxEmail.recipient).order_by(OutboxEmail.recipient))
        assert list(emails) == ["desk0@acme.example", "desk1@acme.example"]
        assert session.exec(select(func.count()).select_from(AlertNotice)).one() == 2
        events = list(session.exec(select(AlertEvent.event)))
        assert events == ["raised"]
    for db in workers:
        db.dispose()


# -- the claims of a silent engine ---------------------------------------------------------------


def silent_owner() -> str:
    """A worker on another host: no pid check here can say it died."""
    return f"{OTHER_HOST}:4242:dead"


def leased_to(db: Database, owner: str) -> int:
    with db.read() as session:
        return session.exec(
            select(func.count()).select_from(RetryItem).where(RetryItem.lease_owner == owner)
        ).one()


def poll_owner(db: Database, connection_id: int) -> str | None:
    with db.read() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        return connection.poll_owner


def order_numbers(db: Database) -> set[str]:
    with db.read() as session:
        return set(session.exec(select(Order.number)))


def write_beat(db: Database, owner: str, now: datetime) -> None:
    with db.write() as session:
        beat(session, owner, now, now)


async def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
async def test_a_silent_engine_on_another_host_is_taken_over_once_its_beat_is_stale(
    db_url: str, sandbox
) -> None:
    """The engine on host-b beats, leases deliveries and sends them (the WMS takes its time),
    then claims the shop's poll and starts downloading — and dies. The survivor on this host
    takes nothing while that beat is fresh, and everything once it is stale: the poll at once,
    not a whole interval later; each order created once, though the WMS would take a repeat."""
    clock = FakeClock()
    db = Database(db_url)
    world = wire_world(db, sandbox, clock, poll=60)
    set_wms_deadline(db, world.wms_id, 2.0)
    sandbox.wms.accept_repeated_references = True  # only imtui's care prevents a double
    sandbox.wms.create_seconds = 1.0
    for number in range(1001, 1006):
        add_shop_order(sandbox, number)
    loader = Engine(db, clock=clock, owner="loader:1:x")
    await loader.poll_sources(CycleReport())  # the five orders, due for delivery
    await loader.aclose()
    references = [f"ACME-{number}" for number in range(1001, 1006)]

    dead_owner = silent_owner()
    dead = Engine(db, clock=clock, owner=dead_owner, settings=EngineSettings(concurrency=8))
    write_beat(db, dead_owner, clock.now())
    sending = asyncio.create_task(dead.deliver_due())
    await wait_until(lambda: sum(sandbox.wms.posts(r) for r in references) == 5, 10, "posts")
    sending.cancel()  # killed with its five POSTs in the WMS's hands
    await asyncio.gather(sending, return_exceptions=True)
    assert leased_to(db, dead_owner) == 5

    clock.advance(timedelta(seconds=61))  # the shop's poll comes round: the dead engine has it
    write_beat(db, dead_owner, clock.now())
    last_heard = clock.now()
    hang = sandbox.faults.add(FaultRule("shop.orders", "timeout"))
    polling = asyncio.create_task(dead.poll_sources(CycleReport()))
    await wait_until(lambda: hang.fired, 10, "the dead engine's download")
    polling.cancel()  # killed mid-download
    await asyncio.gather(polling, return_exceptions=True)
    await dead.aclose()
    sandbox.faults.remove(hang)
    assert poll_owner(db, world.shop_id) == dead_owner
    add_shop_order(sandbox, 1006)  # placed after the dead engine's download began
    await wait_until(lambda: all(sandbox.wms.created(r) == 1 for r in references), 10, "creates")

    survivor = Engine(db, clock=clock, settings=EngineSettings(concurrency=8))
    try:
        clock.set(last_heard + SILENT_AFTER - timedelta(seconds=1))  # silent, not for long
        assert await survivor.recover() == 0, "another host's pid says nothing here"
        await survivor.run_once()
        assert leased_to(db, dead_owner) == 5
        assert poll_owner(db, world.shop_id) == dead_owner
        assert "#1006" not in order_numbers(db), "the poll was taken before the beat was stale"
        assert all(sandbox.wms.posts(r) == 1 for r in references)

        clock.set(last_heard + SILENT_AFTER + timedelta(seconds=1))
        assert await survivor.recover() == 6  # five leases and the poll
        with db.read() as session:
            assert session.get(EngineBeat, dead_owner) is None, "swept once, then forgotten"
        await survivor.run_once()  # the poll at once; the rows in flight looked up, not resent
        assert "#1006" in order_numbers(db)
        await survivor.run_once()
    finally:
        await survivor.aclose()
    with db.read() as session:
        statuses = {row[0]: row[1] for row in session.exec(select(Order.number, Order.status))}
    assert set(statuses.values()) == {OrderStatus.DELIVERED}, statuses
    assert all(sandbox.wms.created(r) == 1 for r in [*references, "ACME-1006"])
    assert all(sandbox.wms.posts(r) == 1 for r in [*references, "ACME-1006"])
    assert poll_owner(db, world.shop_id) is None

    # The dead engine was only stopped (SIGSTOP) and now resumes with its old answers: they
    # are not written over rows it no longer holds.
    with db.read() as session:
        deliveries = list(
            session.exec(select(RetryItem.id).where(RetryItem.operation == Operation.DELIVER_ORDER))
        )
        alerts_before = session.exec(select(func.count()).select_from(Alert)).one()
    zombie = Engine(db, clock=clock, owner=dead_owner)
    lost = Failure(FailureClass.OUTCOME_UNKNOWN, AlertKind.REMOTE_ERROR, "read timed out")
    await zombie.record_outcomes([Outcome(item_id, failure=lost) for item_id in deliveries])
    await zombie.aclose()
    with db.read() as session:
        states = session.exec(select(RetryItem.state).where(col(RetryItem.id).in_(deliveries)))
        assert set(states) == {"done"}
        assert session.exec(select(func.count()).select_from(Alert)).one() == alerts_before
    db.dispose()


async def test_an_owner_that_never_beat_keeps_its_leases_until_they_expire(
    db: Database, sandbox, clock: FakeClock
) -> None:
    """A one-shot ``resend`` on another host runs no beat: silence says nothing about it."""
    wire_world(db, sandbox, clock)
    add_shop_order(sandbox, 1001)
    loader = Engine(db, clock=clock, owner="loader:1:x")
    await loader.poll_sources(CycleReport())
    await loader.aclose()
    one_shot = silent_owner()
    request = ClaimRequest(
        owner=one_shot, now=clock.now(), lease=timedelta(minutes=5), limit=10, for_update=False
    )
    with db.write() as session:
        assert len(claim_due(session, [Operation.DELIVER_ORDER], request)) == 1
    survivor = Engine(db, clock=clock)
    try:
        clock.advance(timedelta(minutes=4))
        assert await survivor.recover() == 0
        assert (await survivor.deliver_due()).claimed == 0
        clock.advance(timedelta(minutes=1, seconds=1))  # the lease ran out
        assert (await survivor.deliver_due()).succeeded == 1
    finally:
        await survivor.aclose()
    assert sandbox.wms.created("ACME-1001") == 1


async def test_a_clean_stop_gives_back_its_claims_before_it_forgets_its_beat(
    db: Database, sandbox, clock: FakeClock
) -> None:
    world = wire_world(db, sandbox, clock)
    add_shop_order(sandbox, 1001)
    loader = Engine(db, clock=clock, owner="loader:1:x")
    await loader.poll_sources(CycleReport())
    await loader.aclose()
    clock.advance(timedelta(minutes=6))
    engine = Engine(db, clock=clock)
    scheduler = EngineScheduler(engine, tick_seconds=3600)
    await scheduler.beat()
    request = ClaimRequest(
        owner=engine.owner, now=clock.now(), lease=timedelta(minutes=5), limit=10, for_update=False
    )
    with db.write() as session:  # as a cycle cut short by the stop leaves them
        assert len(claim_due(session, [Operation.DELIVER_ORDER], request)) == 1
        hold = timedelta(minutes=6)
        assert claim_poll(session, world.shop_id, clock.now(), owner=engine.owner, hold=hold)
    await scheduler.stop(grace=1)
    await engine.aclose()
    assert leased_to(db, engine.owner) == 0
    assert poll_owner(db, world.shop_id) is None
    with db.read() as session:
        shop = session.get(Connection, world.shop_id)
        assert shop is not None and shop.next_poll_at == clock.now()  # unfinished: due now
        assert last_beat(session) is None


async def test_an_engine_beats_before_it_claims_and_while_a_long_poll_runs(
    db: Database, sandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire_world(db, sandbox, clock)
    engine = Engine(db, clock=clock)
    seen_at_first_claim: list[datetime | None] = []
    start_cycles = engine.start_due_cycles

    async def first_claims() -> list[asyncio.Task[CycleReport]]:
        with db.read() as session:
            seen_at_first_claim.append(last_beat(session))
        return await start_cycles()

    monkeypatch.setattr(engine, "start_due_cycles", first_claims)
    monkeypatch.setattr("imtui.engine.scheduler.BEAT_CHECK_S", 0.05)
    hang = sandbox.faults.add(FaultRule("shop.orders", "timeout"))  # a poll that takes long
    scheduler = EngineScheduler(engine, tick_seconds=3600)  # one tick, then an hour of none
    scheduler.start()
    try:
        await wait_until(lambda: hang.fired, 10, "the long poll")
        assert seen_at_first_claim == [clock.now()]
        clock.advance(timedelta(seconds=31))  # the poll still runs; the beat goes on
        await wait_until(lambda: beat_of(db, engine.owner) == clock.now(), 5, "a second beat")
    finally:
        sandbox.network.release_hangs()
        await scheduler.stop(grace=1)
        await engine.aclose()


def beat_of(db: Database, owner: str) -> datetime | None:
    with db.read() as session:
        row = session.get(EngineBeat, owner)
        return row.beat_at if row is not None else None


# -- a real worker process on "another host", killed --------------------------------------------


def worker_process(url: str, host: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", HOST_VARIABLE: host}
    return subprocess.Popen(
        [sys.executable, "-m", "imtui.cli", "--db", url, "worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def add_polled_shop(db: Database, other: Sandbox, now: datetime) -> int:
    """A second account whose only connection is a shop on its own sandbox."""
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Beta", kind="merchant", actor=ACTOR, now=now
        )
        shop = account_actions.add_connection(
            session,
            account=account,
            name="Shop",
            platform="shopify",
            base_url=other.shop_url,
            credentials={"access_token": other.shop_token},
            settings={"reference_prefix": "BETA", "read_timeout": 30},
            poll_interval_s=3600,
            actor=ACTOR,
            now=now,
        )
        return shop.id  # type: ignore[return-value]


@pytest.mark.slow
async def test_a_worker_killed_on_another_host_is_taken_over_after_its_beat_goes_silent(
    db_url: str, sandbox
) -> None:
    """A worker process named for host-b delivers one account's orders to a slow WMS while its
    other lane downloads a shop that hangs; SIGKILL. Nothing of it is taken while its beat is
    fresh; after, its download is redone at once and every order is created once."""
    silent_after = timedelta(seconds=8)
    db = Database(db_url)
    clock = SystemClock()
    world = wire_world(db, sandbox, clock)
    set_wms_deadline(db, world.wms_id, 2.0)
    sandbox.wms.accept_repeated_references = True
    for number in range(1001, 1021):
        add_shop_order(sandbox, number)
    loader = Engine(db, clock=clock, owner="loader:1:x")
    await loader.poll_sources(CycleReport())
    await loader.aclose()
    references = [f"ACME-{number}" for number in range(1001, 1021)]
    sandbox.wms.create_seconds = 1.5

    with Sandbox(seed=2, hang_seconds=60) as other:
        other.shop.add_order(other_order())
        beta_shop = add_polled_shop(db, other, clock.now())
        hang = other.faults.add(FaultRule("shop.orders", "timeout"))
        killed = worker_process(db_url, OTHER_HOST, "--tick", "0.5", "--concurrency", "20")
        try:
            await wait_until(
                lambda: hang.fired and sum(sandbox.wms.posts(r) for r in references) >= 20,
                60,
                "the worker's sends and download",
            )
        finally:
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=10)
        other.faults.remove(hang)
        with db.read() as session:
            (owner, heard) = session.exec(select(EngineBeat.owner, EngineBeat.beat_at)).one()
        assert owner.startswith(f"{OTHER_HOST}:")
        assert poll_owner(db, beta_shop) == owner
        assert leased_to(db, owner) == 20

        survivor = Engine(db, clock=clock, settings=EngineSettings(silent_after=silent_after))
        try:
            if clock.now() < heard + silent_after - timedelta(seconds=2):
                assert await survivor.recover() == 0
                await survivor.run_once()
                assert poll_owner(db, beta_shop) == owner
                assert leased_to(db, owner) == 20
                assert other.requests["shop.orders"] == 1
            await asyncio.sleep(max(0.0, (heard + silent_after - clock.now()).total_seconds()))
            assert await survivor.recover() == 21  # twenty leases and the poll
            await survivor.run_once()
            assert other.requests["shop.orders"] == 2, "redone at once, not an hour later"
            assert orders_of_connection(db, beta_shop) == 1
            # The killed worker's sends settle (their deadline and the margin), then are looked
            # up — not sent again.
            with db.read() as session:
                marked = session.exec(select(func.max(RetryItem.in_flight_since))).one()
            assert marked is not None
            settled = marked + timedelta(seconds=2.0 + IN_FLIGHT_MARGIN + 0.5)
            await asyncio.sleep(max(0.0, (settled - clock.now()).total_seconds()))
            await survivor.run_once()
        finally:
            await survivor.aclose()
    assert all(sandbox.wms.created(r) == 1 for r in references)
    assert all(sandbox.wms.posts(r) == 1 for r in references)
    with db.read() as session:
        acme = session.exec(select(Order.status).where(Order.account_id == world.account_id))
        assert set(acme) == {OrderStatus.DELIVERED}
    db.dispose()


def orders_of_connection(db: Database, connection_id: int) -> int:
    with db.read() as session:
        return session.exec(
            select(func.count())
            .select_from(Order)
            .where(Order.source_connection_id == connection_id)
        ).one()


def other_order() -> dict:
    from imtui.sandbox.seed import make_order

    return make_order(1, sku="SKU-1", ship_method="UPS_GROUND")
