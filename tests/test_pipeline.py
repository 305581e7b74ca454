"""The send loop every operation shares (engine/pipeline.py): at most ``concurrency`` sends at
once, the next batch claimed before the senders run dry, each claimed work sent once, and a
stop that claims nothing more but finishes what it holds."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta

import pytest

from imtui.domain.failures import AlertKind, Failure, FailureClass
from imtui.domain.records import WmsOrder
from imtui.engine import pipeline
from imtui.engine.outcomes import Outcome, Routed
from imtui.engine.pipeline import Claimed, Work, run_pipeline
from imtui.engine.runtime import Engine, EngineSettings
from imtui.store.database import Database


@dataclass
class Remote:
    """Counts what is sent, and how much at once."""

    seconds: float = 0.01
    sent: list[int] = field(default_factory=list)
    now: int = 0
    peak: int = 0

    async def send(self, work: Work) -> Outcome:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.now -= 1
        self.sent.append(work.item_id)
        return Outcome(work.item_id)


@dataclass
class Queue:
    """Hands out ``total`` works in batches, noting how many sends were running at each
    claim."""

    remote: Remote
    total: int
    given: int = 0
    running_at_claim: list[int] = field(default_factory=list)

    async def claim(self, limit: int) -> Claimed[Work]:
        self.running_at_claim.append(self.remote.now)
        await asyncio.sleep(0.005)  # a claim takes its time in its thread
        first, self.given = self.given, min(self.total, self.given + limit)
        work = [Work(item_id) for item_id in range(first, self.given)]
        return Claimed(work=work, claimed=len(work))


async def test_sends_stay_within_the_concurrency_and_the_next_claim_comes_while_they_run(
    db: Database,
) -> None:
    engine = Engine(db, settings=EngineSettings(concurrency=4, claim_batch=6))
    remote = Remote()
    queue = Queue(remote, total=60)
    stats = await run_pipeline(engine, queue.claim, remote.send)
    await engine.aclose()
    assert sorted(remote.sent) == list(range(60))
    assert remote.peak == 4
    assert stats.sent == stats.claimed == 60
    # The first two claims fill the senders and the buffer behind them; every later one was
    # made with the senders busy: none sat idle waiting for it.
    assert queue.running_at_claim[:2] == [0, 0]
    assert all(running == 4 for running in queue.running_at_claim[2:]), queue.running_at_claim


async def test_a_stop_claims_nothing_more_and_sends_what_it_holds(db: Database) -> None:
    engine = Engine(db, settings=EngineSettings(concurrency=4, claim_batch=6))
    remote = Remote(seconds=0.02)
    queue = Queue(remote, total=1_000)
    asyncio.get_running_loop().call_later(0.05, setattr, engine, "stopping", True)
    stats = await run_pipeline(engine, queue.claim, remote.send)
    await engine.aclose()
    assert queue.given < 1_000
    assert sorted(remote.sent) == list(range(queue.given))
    assert stats.sent == queue.given


async def test_a_send_that_ends_the_batch_wakes_the_loop_at_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing to record yet and nothing to claim, the loop waits for the senders, not
    for the flush interval: a batch of quick sends ends when its last send does."""
    monkeypatch.setattr(pipeline, "FLUSH_EVERY_S", 5.0)
    engine = Engine(db, settings=EngineSettings(concurrency=4, claim_batch=3))
    remote = Remote(seconds=0.001)
    queue = Queue(remote, total=3)
    started = asyncio.get_running_loop().time()
    await run_pipeline(engine, queue.claim, remote.send)
    elapsed = asyncio.get_running_loop().time() - started
    await engine.aclose()
    assert sorted(remote.sent) == [0, 1, 2]
    assert elapsed < 2.0


async def test_work_that_waited_past_half_its_lease_is_left_for_the_next_claim(
    db: Database,
) -> None:
    """A remote that holds every sender (a long rate limit) must not have the rest sent after
    their lease ran out: another engine may hold them by then."""
    settings = EngineSettings(concurrency=1, claim_batch=3, lease=timedelta(seconds=0.2))
    engine = Engine(db, settings=settings)
    remote = Remote(seconds=0.15)
    queue = Queue(remote, total=3)
    stats = await run_pipeline(engine, queue.claim, remote.send, max_claims=1)
    await engine.aclose()
    assert remote.sent == [0]  # claimed with it, 1 waited 0.15 s of a 0.2 s lease, 2 longer
    assert stats.sent == 1


def test_a_timed_outcome_keeps_everything_else() -> None:
    """``Outcome.taking`` copies field by field: a field added to Outcome must be added there."""
    failure = Failure(FailureClass.TRANSIENT, AlertKind.REMOTE_ERROR, "busy")
    outcome = Outcome(
        7,
        failure=failure,
        label="linked",
        wms_order=WmsOrder(wms_id="W1", reference="R1", tracking_number="1Z"),
        pushed_available=3,
        duration_ms=1,
        still_in_flight=True,
        routed=Routed(2, "UPS", "03"),
    )
    assert outcome.taking(250) == replace(outcome, duration_ms=250)
    assert len(fields(Outcome)) == 8


async def test_outcomes_are_recorded_within_the_flush_interval_while_a_send_is_slow(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two quick sends and one slow: the quick ones are recorded at the next flush (0.2 s),
    not when the slow one ends — a stop's grace running out meanwhile would lose them."""
    engine = Engine(db, settings=EngineSettings(concurrency=3, claim_batch=3))
    recorded: list[tuple[float, list[int]]] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def record(outcomes: list[Outcome]) -> None:
        recorded.append((loop.time() - started, sorted(o.item_id for o in outcomes)))

    monkeypatch.setattr(engine, "record_outcomes", record)

    async def send(work: Work) -> Outcome:
        await asyncio.sleep(1.5 if work.item_id == 2 else 0.01)
        return Outcome(work.item_id)

    queue = Queue(Remote(), total=3)
    await run_pipeline(engine, queue.claim, send)
    await engine.aclose()
    first_at, first = recorded[0]
    assert first == [0, 1]
    assert first_at < 1.0
    assert recorded[-1][1] == [2]


async def test_work_claimed_as_the_last_sender_ends_still_gets_a_sender(db: Database) -> None:
    """A claim whose answer comes in the very turn the last sender finishes: its work is
    sent, not left waiting for a sender that has already gone."""
    engine = Engine(db, settings=EngineSettings(concurrency=1, claim_batch=1))
    answered = asyncio.Event()
    claims = 0
    sent: list[int] = []

    async def claim(limit: int) -> Claimed[Work]:
        nonlocal claims
        claims += 1
        if claims == 2:
            await answered.wait()  # comes back as the first send ends
        work = [Work(claims)] if claims <= 2 else []
        return Claimed(work=work, claimed=len(work))

    async def send(work: Work) -> Outcome:
        await asyncio.sleep(0.01)
        sent.append(work.item_id)
        answered.set()
        return Outcome(work.item_id)

    engine.stopping = False
    await asyncio.wait_for(run_pipeline(engine, claim, send), timeout=5)
    await engine.aclose()
    assert sent == [1, 2]
