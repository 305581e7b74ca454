"""The read queries for accounts, their connections and their ship-method mappings (small
tables, read whole): rows for the CLI and the dashboard.

Nothing here ever returns a credential's value: connections carry their credential keys only.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from imtui.domain.text import hide_url_passwords
from imtui.store.models import Account, Connection, ShipMethodMapping
from imtui.store.rows import AccountRow, ConnectionRow, MappingRow


def list_accounts(session: Session) -> list[AccountRow]:
    counts = dict(
        session.exec(
            select(Connection.account_id, func.count(col(Connection.id))).group_by(
                col(Connection.account_id)
            )
        ).all()
    )
    return [
        AccountRow(
            id=account.id or 0,
            name=account.name,
            kind=account.kind,
            connections=int(counts.get(account.id or 0, 0)),
            created_at=account.created_at,
        )
        for account in session.exec(select(Account).order_by(col(Account.id)))
    ]


def list_connections(session: Session, *, account_id: int | None = None) -> list[ConnectionRow]:
    query = (
        select(Connection, Account.name)
        .join(Account, col(Account.id) == Connection.account_id)
        .order_by(col(Connection.id))
    )
    if account_id is not None:
        query = query.where(Connection.account_id == account_id)
    return [_connection_row(connection, name) for connection, name in session.exec(query)]


def connection_row(session: Session, connection_id: int) -> ConnectionRow | None:
    found = session.exec(
        select(Connection, Account.name)
        .join(Account, col(Account.id) == Connection.account_id)
        .where(Connection.id == connection_id)
    ).first()
    return None if found is None else _connection_row(*found)


def _connection_row(connection: Connection, account: str) -> ConnectionRow:
    return ConnectionRow(
        id=connection.id or 0,
        account_id=connection.account_id,
        account=account,
        name=connection.name,
        role=connection.role,
        platform=connection.platform,
        base_url=hide_url_passwords(connection.base_url),
        credential_keys=tuple(
            sorted(key for key, value in connection.credentials.items() if value)
        ),
        settings=dict(connection.settings),
        poll_interval_s=connection.poll_interval_s,
        paused=connection.paused,
        paused_reason=connection.paused_reason,
        last_polled_at=connection.last_polled_at,
        next_poll_at=connection.next_poll_at,
        watermark=connection.watermark,
        updated_at=connection.updated_at,
    )


def list_mappings(session: Session, *, account_id: int | None = None) -> list[MappingRow]:
    query = (
        select(ShipMethodMapping, Account.name)
        .join(Account, col(Account.id) == ShipMethodMapping.account_id)
        .order_by(col(ShipMethodMapping.account_id), col(ShipMethodMapping.source_code))
    )
    if account_id is not None:
        query = query.where(ShipMethodMapping.account_id == account_id)
    return [
        MappingRow(
            id=mapping.id or 0,
            account_id=mapping.account_id,
            account=name,
            source_code=mapping.source_code,
            carrier=mapping.carrier,
            mode=mapping.mode,
            billing_code=mapping.billing_code,
            updated_at=mapping.updated_at,
        )
        for mapping, name in session.exec(query)
    ]
