"""The read queries for alerts: pages of alert rows and the rows of some alerts — and the alerts'
one filter (:func:`alert_conditions`), which :mod:`imtui.store.windows` reads the dashboard's
windows with too. The details behind one alert are :mod:`imtui.store.alert_details`.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from imtui.domain.failures import AlertKind
from imtui.store.models import Account, Alert, Connection
from imtui.store.pages import clamp, id_cursor
from imtui.store.rows import AlertFilter, AlertRow, Page


def list_alerts(
    session: Session,
    where: AlertFilter = AlertFilter(),
    *,
    after: str | None = None,
    limit: int = 50,
) -> Page[AlertRow]:
    """Newest first; state and account use ``ix_alert_account_state``."""
    limit = clamp(limit)
    conditions = alert_conditions(where)
    cursor = id_cursor(after)
    if cursor is not None:
        conditions.append(col(Alert.id) < cursor)
    rows = alert_rows_where(session, and_(*conditions) if conditions else None, limit=limit + 1)
    return Page(rows[:limit], str(rows[limit - 1].id) if len(rows) > limit else None)


def alert_conditions(where: AlertFilter, search: str | None = None) -> list[ColumnElement[bool]]:
    """The one filter of alerts, for a CLI page, a dashboard window and a bulk action: states,
    account and kind (``ix_alert_account_state``), and text in what the alert names."""
    conditions: list[ColumnElement[bool]] = []
    if where.states:
        conditions.append(col(Alert.state).in_(list(where.states)))
    if where.account_id is not None:
        conditions.append(col(Alert.account_id) == where.account_id)
    if where.kind:
        conditions.append(col(Alert.kind) == where.kind)
    text = (search or "").strip().lower()
    if text:
        conditions.append(
            or_(
                func.lower(Alert.order_number).contains(text, autoescape=True),
                func.lower(Alert.sku).contains(text, autoescape=True),
                func.lower(Alert.subject).contains(text, autoescape=True),
                func.lower(Alert.message).contains(text, autoescape=True),
            )
        )
    return conditions


def alert_rows(session: Session, alert_ids: list[int]) -> list[AlertRow]:
    """These alerts as rows (the ones that exist), in pages of 500 ids."""
    rows: list[AlertRow] = []
    for start in range(0, len(alert_ids), 500):
        chunk = alert_ids[start : start + 500]
        rows += alert_rows_where(session, col(Alert.id).in_(chunk), limit=len(chunk))
    return rows


def alert_rows_where(
    session: Session, condition: ColumnElement[bool] | None, *, limit: int
) -> list[AlertRow]:
    query = (
        select(Alert, Account.name, Connection.name)
        .join(Account, col(Account.id) == Alert.account_id)
        .outerjoin(Connection, col(Connection.id) == Alert.connection_id)
    )
    if condition is not None:
        query = query.where(condition)
    found = session.exec(query.order_by(col(Alert.id).desc()).limit(limit))
    return [as_alert_row(alert, account, connection) for alert, account, connection in found]


def as_alert_row(alert: Alert, account: str, connection: str | None) -> AlertRow:
    try:
        headline = AlertKind(alert.kind).headline
    except ValueError:
        headline = alert.kind
    return AlertRow(
        id=alert.id or 0,
        account_id=alert.account_id,
        account=account,
        connection_id=alert.connection_id,
        connection=connection,
        kind=alert.kind,
        headline=headline,
        state=alert.state,
        needs_person=alert.needs_person,
        message=alert.message,
        order_id=alert.order_id,
        order_number=alert.order_number,
        sku=alert.sku,
        subject=alert.subject,
        http_status=alert.http_status,
        count=alert.count,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
    )
