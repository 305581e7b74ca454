"""The read queries of an overview: the counts for a header (the dashboard's, ``imtui status``)
and pages of the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from imtui.domain.alerts import AlertState
from imtui.domain.retry import RetryState
from imtui.domain.text import hide_url_passwords
from imtui.store.beats import last_beat
from imtui.store.models import Alert, AuditEntry, RetryItem
from imtui.store.pages import clamp, id_cursor
from imtui.store.rows import AuditFilter, AuditRow, HeaderCounts, Page


def list_audit(session: Session, *, after: str | None = None, limit: int = 50) -> Page[AuditRow]:
    limit = clamp(limit)
    query = select(AuditEntry)
    cursor = id_cursor(after)
    if cursor is not None:
        query = query.where(col(AuditEntry.id) < cursor)
    found = list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)))
    rows = [as_audit_row(entry) for entry in found[:limit]]
    return Page(rows, str(rows[-1].id) if len(found) > limit else None)


def as_audit_row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        id=entry.id or 0,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        detail=hide_url_passwords(entry.detail),
    )


def audit_conditions(where: AuditFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.actor:
        conditions.append(col(AuditEntry.actor) == where.actor)
    if where.action:
        action = where.action
        conditions.append(
            or_(col(AuditEntry.action) == action, col(AuditEntry.action).startswith(f"{action}."))
        )
    if where.target:
        conditions.append(col(AuditEntry.target) == where.target)
    if where.search:
        text = where.search
        conditions.append(
            or_(
                *(
                    col(column).contains(text, autoescape=True)
                    for column in (
                        AuditEntry.actor,
                        AuditEntry.action,
                        AuditEntry.target,
                        AuditEntry.detail,
                    )
                )
            )
        )
    return conditions


HISTORY_LIMIT = 20


def history_of(session: Session, target: str) -> tuple[AuditRow, ...]:
    """What people did to ``target`` ("order:12"), newest first (``ix_audit_entry_target``)."""
    found = session.exec(
        select(AuditEntry)
        .where(AuditEntry.target == target)
        .order_by(col(AuditEntry.id).desc())
        .limit(HISTORY_LIMIT)
    )
    return tuple(as_audit_row(entry) for entry in found)


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
