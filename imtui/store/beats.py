"""Engine beats: each engine notes, at most every :data:`BEAT_EVERY`, that it runs, so a
dashboard running no engine itself can say whether one runs elsewhere — or has stopped — and
so that the claims of an engine that went silent, on any host, are taken over by the others.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from imtui.store.connections import release_polls_of
from imtui.store.models import EngineBeat, OutboxEmail, RetryItem
from imtui.store.queue import release_leases_of

BEAT_EVERY = timedelta(seconds=30)
"""How often a beat is written: rarely enough that an idle engine's beats cost next to nothing
(each one is a commit every watching dashboard notices)."""

SILENT_AFTER = timedelta(seconds=90)
"""No beat for this long: no engine is running (three beats missed). An engine that beat and
then fell silent this long is taken for dead: its leases and poll claims are freed."""


def beat(session: Session, owner: str, now: datetime, started_at: datetime) -> None:
    """This engine ran a cycle ``now`` (how often to say so is the scheduler's to decide)."""
    row = session.get(EngineBeat, owner)
    if row is None:
        session.add(EngineBeat(owner=owner, started_at=started_at, beat_at=now))
    else:
        row.beat_at = now
        session.add(row)


def beat_and_sweep(
    session: Session,
    owner: str,
    now: datetime,
    started_at: datetime,
    *,
    silent_after: timedelta = SILENT_AFTER,
) -> int:
    """:func:`beat`, then :func:`release_silent_engines`, in one transaction."""
    beat(session, owner, now, started_at)
    return release_silent_engines(session, me=owner, now=now, silent_after=silent_after)


def last_beat(session: Session) -> datetime | None:
    """When any engine last ran a cycle (None: none ever did here)."""
    return session.exec(select(func.max(col(EngineBeat.beat_at)))).one()


def forget(session: Session, owner: str) -> None:
    """An engine stopped cleanly: it runs no more (watchers need not wait for it to go silent)."""
    row = session.get(EngineBeat, owner)
    if row is not None:
        session.delete(row)


def running_elsewhere(last: datetime | None, now: datetime) -> bool:
    """Whether the last beat says an engine runs (False: none ever did, or it went silent)."""
    return last is not None and now - last <= SILENT_AFTER


def release_silent_engines(
    session: Session, *, me: str, now: datetime, silent_after: timedelta = SILENT_AFTER
) -> int:
    """Free the retry leases, outbox leases and poll claims of every other engine whose last
    beat is older than ``silent_after`` by this engine's clock (killed, or its host gone), and
    forget those beats: each silent engine is swept once. Returns how many claims were freed.

    An owner that never beat (a one-shot ``resend``) keeps its leases until they expire. Cheap
    when nobody is silent: one look at the beats (``ix_engine_beat_beat_at``)."""
    cutoff = now - silent_after
    silent = list(
        session.exec(
            select(EngineBeat.owner).where(col(EngineBeat.beat_at) < cutoff, EngineBeat.owner != me)
        )
    )
    if not silent:
        return 0
    freed = release_claims_of(session, silent, now)
    # Another engine may be sweeping the same ones; one that beat again meanwhile stays.
    session.execute(
        delete(EngineBeat)
        .where(col(EngineBeat.owner).in_(silent), col(EngineBeat.beat_at) < cutoff)
        .execution_options(synchronize_session=False)
    )
    return freed


def release_claims_of(session: Session, owners: list[str], now: datetime) -> int:
    """Everything these engines hold, given back: their rows go to whoever claims next (rows
    left in flight are looked up first), their unfinished polls are due at once."""
    return (
        release_leases_of(session, owners, table=RetryItem)
        + release_leases_of(session, owners, table=OutboxEmail)
        + release_polls_of(session, owners, now)
    )


def sign_off(session: Session, owner: str, now: datetime) -> int:
    """A clean stop: give back this engine's claims, then say it runs no more."""
    freed = release_claims_of(session, [owner], now)
    forget(session, owner)
    return freed
