"""The read queries for accounts, their connections and their ship-method mappings (small
tables, read whole): rows for the CLI and the dashboard.

Nothing here ever returns a credential's value: connections carry their credential keys only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from imtui.domain.alerts import AlertScope, AlertState, scope_of
from imtui.domain.failures import AlertKind
from imtui.domain.fixes import CREDENTIAL_KINDS
from imtui.domain.text import hide_url_passwords
from imtui.store.connections import SOURCE, WMS
from imtui.store.models import Account, Alert, Connection, ShipMethodMapping
from imtui.store.rows import (
    AccountRow,
    ConnectionRow,
    MappingRow,
    PausedConnection,
    SetupLine,
    SetupState,
)
from imtui.store.secrets import Unreadable


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
    stored = connection.credentials
    unreadable = stored.reason if isinstance(stored, Unreadable) else None
    return ConnectionRow(
        id=connection.id or 0,
        account_id=connection.account_id,
        account=account,
        name=connection.name,
        role=connection.role,
        platform=connection.platform,
        base_url=hide_url_passwords(connection.base_url),
        credential_keys=()
        if isinstance(stored, Unreadable)
        else tuple(sorted(key for key, value in stored.items() if value)),
        settings=dict(connection.settings),
        poll_interval_s=connection.poll_interval_s,
        paused=connection.paused,
        paused_reason=connection.paused_reason,
        last_polled_at=connection.last_polled_at,
        next_poll_at=connection.next_poll_at,
        watermark=connection.watermark,
        updated_at=connection.updated_at,
        credentials_unreadable=unreadable,
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
            delivered_at=mapping.delivered_at,
        )
        for mapping, name in session.exec(query)
    ]


# -- how far the accounts are set up ----------------------------------------------------------

CONNECTION_WIDE = sorted(
    kind.value for kind in AlertKind if scope_of(kind) is AlertScope.CONNECTION
)
REJECTED = sorted(kind.value for kind in CREDENTIAL_KINDS)
ROLES = (SOURCE, WMS)


def setup_lines(session: Session, *, account_id: int | None = None) -> list[SetupLine]:
    """Each account in view, then its connections, with their open connection-wide alerts and
    what the account still lacks: the Accounts & connections screen (small tables, read whole)."""
    accounts = session.exec(_accounts(account_id)).all()
    connections = list_connections(session, account_id=account_id)
    alerts = _open_connection_alerts(session, account_id)
    lines: list[SetupLine] = []
    for account in accounts:
        own = [c for c in connections if c.account_id == account.id]
        roles = {c.role for c in own}
        lines.append(
            SetupLine(
                id=-(account.id or 0),
                account_id=account.id or 0,
                account=account.name,
                account_kind=account.kind,
                connection=None,
                open_alerts=sum(alerts.get(c.id, 0) for c in own),
                missing=tuple(role for role in ROLES if role not in roles),
            )
        )
        lines += [
            SetupLine(
                id=c.id,
                account_id=c.account_id,
                account=account.name,
                account_kind=account.kind,
                connection=c,
                open_alerts=alerts.get(c.id, 0),
            )
            for c in own
        ]
    return lines


def setup_state(session: Session, *, account_id: int | None = None) -> SetupState:
    """The accounts in view without a shop or a WMS, and their paused connections: three small
    statements, no credentials opened (read with every header count)."""
    name_query = select(Account.id, Account.name).order_by(col(Account.id))
    if account_id is not None:
        name_query = name_query.where(Account.id == account_id)
    names: dict[int, str] = {int(i or 0): n for i, n in session.exec(name_query)}
    roles: dict[int, set[str]] = {}
    query = select(Connection.account_id, Connection.role).distinct()
    if account_id is not None:
        query = query.where(Connection.account_id == account_id)
    for owner, role in session.exec(query):
        roles.setdefault(owner, set()).add(role)
    paused_query = (
        select(Connection.id, Connection.name, Connection.account_id, Connection.paused_reason)
        .where(col(Connection.paused).is_(True))
        .order_by(col(Connection.id))
    )
    if account_id is not None:
        paused_query = paused_query.where(Connection.account_id == account_id)
    paused = session.exec(paused_query).all()
    rejected = _rejected(session, [row[0] or 0 for row in paused])
    return SetupState(
        accounts=len(names),
        without_source=tuple(n for i, n in names.items() if SOURCE not in roles.get(i, ())),
        without_wms=tuple(n for i, n in names.items() if WMS not in roles.get(i, ())),
        paused=tuple(
            PausedConnection(
                id=cid or 0,
                name=name,
                account=names.get(owner, "?"),
                reason=reason,
                rejected=cid in rejected,
            )
            for cid, name, owner, reason in paused
        ),
    )


def _accounts(account_id: int | None) -> Any:
    query = select(Account).order_by(col(Account.id))
    return query if account_id is None else query.where(Account.id == account_id)


def _open_connection_alerts(session: Session, account_id: int | None) -> dict[int, int]:
    query = (
        select(Alert.connection_id, func.count(col(Alert.id)))
        .where(
            Alert.state == AlertState.OPEN,
            col(Alert.kind).in_(CONNECTION_WIDE),
            col(Alert.connection_id).is_not(None),
        )
        .group_by(col(Alert.connection_id))
    )
    if account_id is not None:
        query = query.where(Alert.account_id == account_id)
    return {int(cid): int(n) for cid, n in session.exec(query) if cid is not None}


def _rejected(session: Session, connection_ids: list[int]) -> set[int]:
    if not connection_ids:
        return set()
    query = select(Alert.connection_id).where(
        Alert.state == AlertState.OPEN,
        col(Alert.kind).in_(REJECTED),
        col(Alert.connection_id).in_(connection_ids),
    )
    return {int(cid) for cid in session.exec(query) if cid is not None}
