"""The read queries of an overview: the counts for a header (the dashboard's, ``imtui status``)
and pages of the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from imtui.domain.alerts import AlertState
from imtui.domain.retry import RetryState
from imtui.domain.text import hide_url_passwords
from imtui.store.beats import last_beat
from imtui.store.models import Alert, AuditEntry, RetryItem
from imtui.store.pages import clamp, id_cursor
from imtui.store.rows import AuditRow, HeaderCounts, Page


def list_audit(session: Session, *, after: str | None = None, limit: int = 50) -> Page[AuditRow]:
    limit = clamp(limit)
    query = select(AuditEntry)
    cursor = id_cursor(after)
    if cursor is not None:
        query = query.where(col(AuditEntry.id) < cursor)
    found = list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)))
    rows = [
        AuditRow(
            id=entry.id or 0,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            detail=hide_url_passwords(entry.detail),
        )
        for entry in found[:limit]
    ]
    return Page(rows, str(rows[-1].id) if len(found) > limit else None)


def header_counts(
    session: Session, *, now: datetime, account_id: int | None = None
) -> HeaderCounts:
    """Five small indexed counts: open alerts (``ix_alert_account_state``), retry rows by state
    (``ix_retry_due``). Done rows, however many, are never touched."""

    def alerts(*conditions: ColumnElement[bool]) -> int:
        query = select(func.count(col(Alert.id))).where(Alert.state == AlertState.OPEN, *conditions)
        if account_id is not None:
            query = query.where(Alert.account_id == account_id)
        return int(session.exec(query).one())

    def retries(state: RetryState, *conditions: ColumnElement[bool]) -> int:
        query = select(func.count(col(RetryItem.id))).where(RetryItem.state == state, *conditions)
        if account_id is not None:
            query = query.where(RetryItem.account_id == account_id)
        return int(session.exec(query).one())

    return HeaderCounts(
        open_alerts=alerts(),
        needs_person=alerts(col(Alert.needs_person).is_(True)),
        due_now=retries(RetryState.DUE, col(RetryItem.next_attempt_at) <= now),
        held=retries(RetryState.HELD),
        skipped=retries(RetryState.SKIPPED),
        engine_beat=last_beat(session),
    )
