"""Accounts and connections: lookups the engine, CLI and UI share."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from imtui.store.models import Account, Connection

SOURCE = "source"
WMS = "wms"


def due_connections(
    session: Session, role: str, now: datetime, account_id: int | None = None
) -> list[Connection]:
    """Unpaused connections of a role (of one account, if given) whose polling interval has come
    round."""
    query = select(Connection).where(
        Connection.role == role,
        col(Connection.paused).is_(False),
        or_(col(Connection.next_poll_at).is_(None), col(Connection.next_poll_at) <= now),
    )
    if account_id is not None:
        query = query.where(Connection.account_id == account_id)
    return list(session.exec(query.order_by(col(Connection.id))))


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


def claim_poll(session: Session, connection_id: int, now: datetime) -> Connection | None:
    """Take this connection's poll for this cycle, or None when another process took it first
    (or it is not due): moving ``next_poll_at`` on is the claim, so two processes never
    download the same orders at once."""
    connection = session.get(Connection, connection_id)
    if connection is None or connection.paused:
        return None
    result = session.execute(
        update(Connection)
        .where(
            col(Connection.id) == connection_id,
            or_(col(Connection.next_poll_at).is_(None), col(Connection.next_poll_at) <= now),
        )
        .values(next_poll_at=now + timedelta(seconds=connection.poll_interval_s))
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    session.refresh(connection)
    return connection


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
