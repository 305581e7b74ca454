"""Engine beats: each engine notes, at most every :data:`BEAT_EVERY`, that it ran a cycle, so a
dashboard running no engine itself can say whether one runs elsewhere — or has stopped."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from imtui.store.models import EngineBeat

BEAT_EVERY = timedelta(seconds=30)
"""How often a beat is written: rarely enough that an idle engine's beats cost next to nothing
(each one is a commit every watching dashboard notices)."""

SILENT_AFTER = timedelta(seconds=90)
"""No beat for this long: no engine is running (three beats missed)."""


def beat(session: Session, owner: str, now: datetime, started_at: datetime) -> None:
    """This engine ran a cycle ``now`` (how often to say so is the scheduler's to decide)."""
    row = session.get(EngineBeat, owner)
    if row is None:
        session.add(EngineBeat(owner=owner, started_at=started_at, beat_at=now))
    else:
        row.beat_at = now
        session.add(row)


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
