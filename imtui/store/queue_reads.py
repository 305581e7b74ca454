"""The read queries for the retry queue: pages of queue rows, one row, its newest attempt, and
the rows still waiting among some — and the queue's one filter (:func:`queue_conditions`),
which :mod:`imtui.store.windows` reads the dashboard's windows with too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from imtui.domain.retry import RetryState
from imtui.store.models import Attempt, RetryItem
from imtui.store.pages import clamp, id_cursor, time_id_cursor
from imtui.store.rows import AttemptRow, Page, QueueFilter, RetryRow


def list_queue(
    session: Session,
    where: QueueFilter = QueueFilter(),
    *,
    after: str | None = None,
    limit: int = 50,
) -> Page[RetryRow]:
    """Only due rows: soonest next attempt first (``ix_retry_due``), cursor ``<time>|<id>``.
    Any other mix of states: newest first, cursor ``<id>``."""
    limit = clamp(limit)
    query = select(RetryItem).where(*queue_conditions(where))
    if tuple(where.states) == (RetryState.DUE,):
        return _due_page(session, query, after, limit)
    cursor = id_cursor(after)
    if cursor is not None:
        query = query.where(col(RetryItem.id) < cursor)
    found = list(session.exec(query.order_by(col(RetryItem.id).desc()).limit(limit + 1)))
    rows = [as_retry_row(item) for item in found[:limit]]
    return Page(rows, str(rows[-1].id) if len(found) > limit else None)


def queue_conditions(where: QueueFilter, search: str | None = None) -> list[ColumnElement[bool]]:
    """The one filter of the retry queue, for a CLI page, a dashboard window and a bulk action:
    states, operation and account (``ix_retry_due``), and text in the label or last error."""
    conditions: list[ColumnElement[bool]] = []
    if where.states:
        conditions.append(col(RetryItem.state).in_(list(where.states)))
    if where.operation:
        conditions.append(col(RetryItem.operation) == where.operation)
    if where.account_id is not None:
        conditions.append(col(RetryItem.account_id) == where.account_id)
    text = (search or "").strip().lower()
    if text:
        conditions.append(
            or_(
                func.lower(RetryItem.subject_label).contains(text, autoescape=True),
                func.lower(RetryItem.last_error).contains(text, autoescape=True),
            )
        )
    return conditions


def _due_page(session: Session, query: Any, after: str | None, limit: int) -> Page[RetryRow]:
    if after:
        when, item_id = time_id_cursor(after)
        query = query.where(
            or_(
                col(RetryItem.next_attempt_at) > when,
                and_(col(RetryItem.next_attempt_at) == when, col(RetryItem.id) > item_id),
            )
        )
    query = query.order_by(col(RetryItem.next_attempt_at), col(RetryItem.id)).limit(limit + 1)
    found = list(session.exec(query))
    rows = [as_retry_row(item) for item in found[:limit]]
    last = rows[-1] if rows and len(found) > limit else None
    cursor = None
    if last is not None and last.next_attempt_at is not None:
        cursor = f"{last.next_attempt_at.isoformat()}|{last.id}"
    return Page(rows, cursor)


def retry_row(session: Session, item_id: int) -> RetryRow | None:
    item = session.get(RetryItem, item_id)
    return None if item is None else as_retry_row(item)


def waiting_rows(
    session: Session, item_ids: list[int], limit: int
) -> tuple[list[RetryRow], dict[str, int]]:
    """Of these queue rows, the ones not done: the first ``limit`` (by id), and how many are
    in each state ("held" waits for a person, "due" for its next try)."""
    rows: list[RetryRow] = []
    states: dict[str, int] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        condition = col(RetryItem.id).in_(chunk) & (RetryItem.state != RetryState.DONE)
        counted = session.exec(
            select(RetryItem.state, func.count(col(RetryItem.id)))
            .where(condition)
            .group_by(RetryItem.state)
        )
        for state, count in counted:
            states[str(state)] = states.get(str(state), 0) + int(count)
        if len(rows) < limit:
            found = session.exec(
                select(RetryItem).where(condition).order_by(col(RetryItem.id)).limit(limit)
            )
            rows += [as_retry_row(item) for item in found][: limit - len(rows)]
    return rows, states


def as_retry_row(item: RetryItem) -> RetryRow:
    return RetryRow(
        id=item.id or 0,
        account_id=item.account_id,
        connection_id=item.connection_id,
        operation=item.operation,
        subject_id=item.subject_id,
        subject_label=item.subject_label,
        state=item.state,
        attempts=item.attempts,
        consecutive_failures=item.consecutive_failures,
        last_error=item.last_error,
        last_failure_class=item.last_failure_class,
        next_attempt_at=item.next_attempt_at,
        deadline_at=item.deadline_at,
        first_failure_at=item.first_failure_at,
        in_flight_since=item.in_flight_since,
        lease_owner=item.lease_owner,
        lease_expires_at=item.lease_expires_at,
        updated_at=item.updated_at,
    )


def last_attempt(session: Session, retry_item_id: int) -> AttemptRow | None:
    """A retry item's newest attempt (``ix_attempt_retry_item_id``)."""
    attempt = session.exec(
        select(Attempt)
        .where(Attempt.retry_item_id == retry_item_id)
        .order_by(col(Attempt.id).desc())
        .limit(1)
    ).first()
    return None if attempt is None else attempt_row(attempt)


def attempt_row(attempt: Attempt, subject_label: str = "") -> AttemptRow:
    return AttemptRow(
        id=attempt.id or 0,
        retry_item_id=attempt.retry_item_id,
        operation=attempt.operation,
        at=attempt.at,
        ok=attempt.ok,
        outcome=attempt.outcome,
        http_status=attempt.http_status,
        message=attempt.message,
        duration_ms=attempt.duration_ms,
        worker=attempt.worker,
        subject_label=subject_label,
    )
