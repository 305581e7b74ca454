"""Accounts and connections: lookups the engine, CLI and UI share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, update
from sqlmodel import Session, col, or_, select

from imtui.store.models import Account, Connection

SOURCE = "source"
WMS = "wms"


def due_connections(
    session: Session, role: str, now: datetime, account_id: int | None = None
) -> list[Connection]:
    """Unpaused connections of a role (of one account, if given) whose poll nobody holds and
    whose polling interval has come round — or whose last poll was abandoned (see
    :func:`claim_poll`)."""
    query = select(Connection).where(
        Connection.role == role, col(Connection.paused).is_(False), _poll_free(now)
    )
    if account_id is not None:
        query = query.where(Connection.account_id == account_id)
    return list(session.exec(query.order_by(col(Connection.id))))


def _poll_free(now: datetime) -> ColumnElement[bool]:
    """Nobody polls it and it is due; or its poller's lease ran out (it died, or hangs past
    the poll's deadline): due at once, the interval has been waited already."""
    unclaimed = and_(
        col(Connection.poll_owner).is_(None),
        or_(col(Connection.next_poll_at).is_(None), col(Connection.next_poll_at) <= now),
    )
    abandoned = and_(
        col(Connection.poll_owner).is_not(None),
        or_(
            col(Connection.poll_lease_expires_at).is_(None),
            col(Connection.poll_lease_expires_at) < now,
        ),
    )
    return or_(unclaimed, abandoned)


def connections_of(
    session: Session, account_id: int | None = None, role: str | None = None
) -> list[Connection]:
    """Every connection (of one account, of one role, if given)."""
    query = select(Connection)
    if account_id is not None:
        query = query.where(Connection.account_id == account_id)
    if role is not None:
        query = query.where(Connection.role == role)
    return list(session.exec(query.order_by(col(Connection.id))))


def accounts_with_connections(session: Session) -> list[int]:
    """Every account that has a connection: the engine runs one cycle lane for each."""
    return list(
        session.exec(select(Connection.account_id).distinct().order_by(col(Connection.account_id)))
    )


def wms_of_account(session: Session, account_id: int) -> Connection | None:
    return session.exec(
        select(Connection)
        .where(Connection.account_id == account_id, Connection.role == WMS)
        .order_by(col(Connection.id))
    ).first()


def sources_of_account(session: Session, account_id: int) -> list[Connection]:
    return list(
        session.exec(
            select(Connection)
            .where(Connection.account_id == account_id, Connection.role == SOURCE)
            .order_by(col(Connection.id))
        )
    )


def claim_poll(
    session: Session, connection_id: int, now: datetime, *, owner: str, hold: timedelta
) -> Connection | None:
    """Take this connection's poll, or None when another engine took it first (or it is not
    due): two engines never download the same orders at once.

    The claim names its owner and holds for ``hold`` (the poll's deadline and a margin); the
    next poll is due one interval after this one started. A poll that ends, either way,
    gives the claim back (:func:`end_poll`). One that never ends — its engine was killed —
    is taken over when the lease runs out, or as soon as the engine's beat goes stale
    (:func:`imtui.store.beats.release_silent_engines`), without waiting out the interval.
    """
    connection = session.get(Connection, connection_id)
    if connection is None or connection.paused:
        return None
    result = session.execute(
        update(Connection)
        .where(col(Connection.id) == connection_id, _poll_free(now))
        .values(
            next_poll_at=now + timedelta(seconds=connection.poll_interval_s),
            poll_owner=owner,
            poll_lease_expires_at=now + hold,
        )
    )
    # session.execute types its result as Result; an UPDATE's is a CursorResult, with rowcount
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    session.refresh(connection)
    return connection


def end_poll(connection: Connection, owner: str) -> None:
    """This engine's poll of the connection is over (succeeded or failed): the claim goes —
    unless another engine took the poll over meanwhile (this one was stopped past its lease)."""
    if connection.poll_owner == owner:
        connection.poll_owner = None
        connection.poll_lease_expires_at = None


def release_polls_of(session: Session, owners: Sequence[str], now: datetime) -> int:
    """Give back the poll claims of these engines (stopped, or gone silent): each poll they
    had not finished is due at once."""
    if not owners:
        return 0
    result = session.execute(
        update(Connection)
        .where(col(Connection.poll_owner).in_(list(owners)))
        .values(poll_owner=None, poll_lease_expires_at=None, next_poll_at=now)
        .execution_options(synchronize_session=False)
    )
    # session.execute types its result as Result; an UPDATE's is a CursorResult, with rowcount
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_polled(connection: Connection, now: datetime) -> None:
    connection.last_polled_at = now


def find_account(session: Session, key: str) -> Account | None:
    if key.isdigit():
        account = session.get(Account, int(key))
        if account is not None:
            return account
    return session.exec(select(Account).where(Account.name == key)).first()


def find_connections(session: Session, key: str) -> list[Connection]:
    """The connection with this id, or every connection with this name (names are unique per
    account only: two accounts may each have a "Shop")."""
    if key.isdigit():
        connection = session.get(Connection, int(key))
        if connection is not None:
            return [connection]
    return list(
        session.exec(select(Connection).where(Connection.name == key).order_by(col(Connection.id)))
    )
