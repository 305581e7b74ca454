"""Alert emails by cause in the database (B7, B8): an alert that needs a person joins the email
its cause already has waiting for the contact, or opens one — the first of a thread, or an
answer in the thread of the same cause while that one still has an open alert. Each alert an
email tells is an :class:`AlertNotice` pointing at it, so folding never loses one: a notice
moves with its alert, from a cause email into the contact's summary when over the cap.

An email takes new alerts only while nobody has claimed it and its content is not composed
(``lease_owner`` and ``rendered_at`` empty); on PostgreSQL the row is locked while an alert
joins it, so a worker claiming it (``FOR UPDATE SKIP LOCKED``) composes it with that alert or
the alert opens a new email — never neither.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, inspect, update
from sqlmodel import Session, col, select

from imtui.domain.alerts import AlertState
from imtui.domain.causes import CauseFacts, Told, cause_of
from imtui.domain.emails import AlertFacts, alert_fix, natural_key
from imtui.domain.outbox import GATHER, UPDATE_EVERY, EmailKind, OutboxState
from imtui.store.models import Alert, AlertContact, AlertNotice, OutboxEmail
from imtui.store.outbox_rows import queue_email

TOLD_MAX = 500
"""Alerts read to compose one email (the rest are counted)."""


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name != "sqlite"


def _waiting(
    session: Session, contact_id: int, kind: EmailKind, cause: str | None
) -> OutboxEmail | None:
    """The contact's email of this kind (and cause) that nobody has claimed or composed yet."""
    query = (
        select(OutboxEmail)
        .where(
            OutboxEmail.contact_id == contact_id,
            OutboxEmail.kind == kind,
            OutboxEmail.state == OutboxState.QUEUED,
            col(OutboxEmail.lease_owner).is_(None),
            col(OutboxEmail.rendered_at).is_(None),
        )
        .order_by(col(OutboxEmail.id).desc())
        .limit(1)
    )
    if cause is not None:
        query = query.where(OutboxEmail.cause == cause)
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return session.exec(query).first()


WAITING = "imtui.waiting_cause_emails"
"""(contact, cause) → the email that takes its alerts, as found or opened in this transaction:
the 199 other alerts of a batch join it without asking again. The email stays this
transaction's (locked on PostgreSQL, the writer's on SQLite) until it commits."""


def _still_waiting(session: Session, email: OutboxEmail | None) -> OutboxEmail | None:
    """The email this transaction found or opened, if it still takes alerts (a savepoint that
    rolled back may have taken it away)."""
    if email is None or not inspect(email).persistent or email not in session:
        return None
    if email.state != OutboxState.QUEUED or email.rendered_at is not None:
        return None
    return email if email.lease_owner is None else None


def _latest_told(session: Session, contact_id: int, cause: str) -> OutboxEmail | None:
    """The contact's newest email of this cause that went out or is going out."""
    return session.exec(
        select(OutboxEmail)
        .where(
            OutboxEmail.contact_id == contact_id,
            OutboxEmail.cause == cause,
            OutboxEmail.kind == EmailKind.ALERT,
            col(OutboxEmail.state).in_([OutboxState.SENT, OutboxState.SENDING, OutboxState.QUEUED]),
        )
        .order_by(col(OutboxEmail.id).desc())
        .limit(1)
    ).first()


def _goes_out(email: OutboxEmail) -> datetime:
    """When an email went out (its last attempt), or is due to."""
    return email.last_attempt_at or email.next_attempt_at or email.created_at


def _thread_is_open(session: Session, contact_id: int, root_id: int, alert_id: int) -> bool:
    """Whether an alert the thread told this contact about is still open: the incident goes on,
    and a new alert of its cause answers in it rather than starting another."""
    in_thread = select(OutboxEmail.id).where(
        (col(OutboxEmail.id) == root_id) | (col(OutboxEmail.thread_id) == root_id)
    )
    found = session.exec(
        select(AlertNotice.id)
        .join(Alert, col(Alert.id) == AlertNotice.alert_id)
        .where(
            AlertNotice.contact_id == contact_id,
            col(AlertNotice.outbox_id).in_(in_thread),
            Alert.state == AlertState.OPEN,
            Alert.id != alert_id,
        )
        .limit(1)
    ).first()
    return found is not None


def email_for_cause(
    session: Session,
    contact: AlertContact,
    alert: Alert,
    facts: AlertFacts,
    now: datetime,
    *,
    subject: str,
) -> tuple[OutboxEmail, bool]:
    """The email that will tell ``contact`` about ``alert``: the one its cause has waiting, or
    a new one. Returns it and whether it is new (then it is added to the session, unflushed)."""
    cause = cause_of(facts).key
    contact_id = contact.id or 0
    known: dict[tuple[int, str], OutboxEmail] = session.info.setdefault(WAITING, {})
    waiting = _still_waiting(session, known.get((contact_id, cause)))
    if waiting is None:
        waiting = _waiting(session, contact_id, EmailKind.ALERT, cause)
    if waiting is not None:
        known[(contact_id, cause)] = waiting
        return waiting, False
    due = now + GATHER
    thread_id: int | None = None
    latest = _latest_told(session, contact_id, cause)
    if latest is not None:
        root_id = latest.thread_id or latest.id or 0
        if _thread_is_open(session, contact_id, root_id, alert.id or 0):
            thread_id = root_id
            due = max(due, _goes_out(latest) + UPDATE_EVERY)
    email = queue_email(
        session,
        account_id=alert.account_id,
        contact_id=contact.id,
        kind=EmailKind.ALERT,
        recipient=contact.email,
        recipient_name=contact.name,
        due=due,
        now=now,
        alert_id=alert.id,
        subject=subject,
        cause=cause,
        thread_id=thread_id,
    )
    known[(contact_id, cause)] = email
    return email, True


# -- composing ---------------------------------------------------------------------------------


def told_alerts(session: Session, email_id: int) -> tuple[list[Alert], int]:
    """The open alerts an email tells (oldest first, at most :data:`TOLD_MAX`) and how many."""
    condition = (
        col(AlertNotice.outbox_id) == email_id,
        Alert.state == AlertState.OPEN,
    )
    alerts = list(
        session.exec(
            select(Alert)
            .join(AlertNotice, col(AlertNotice.alert_id) == Alert.id)
            .where(*condition)
            .order_by(col(Alert.id))
            .limit(TOLD_MAX)
        )
    )
    total = session.exec(
        select(func.count(col(Alert.id)))
        .join(AlertNotice, col(AlertNotice.alert_id) == Alert.id)
        .where(*condition)
    ).one()
    return alerts, int(total)


def cause_facts(
    session: Session,
    email: OutboxEmail,
    facts_of: Callable[[Alert], AlertFacts],
) -> CauseFacts | None:
    """What a cause email tells, as of now; None when all its alerts have closed."""
    alerts, total = told_alerts(session, email.id or 0)
    if not alerts:
        return None
    told = tuple(
        sorted(
            (Told(facts, alert_fix(facts)) for facts in map(facts_of, alerts)),
            key=lambda t: (t.alert.first_seen, natural_key(t.alert.order_number or "")),
        )
    )
    thread_subject: str | None = None
    open_total = total
    if email.thread_id is not None:
        root = session.get(OutboxEmail, email.thread_id)
        thread_subject = root.subject if root is not None else None
        open_total = _open_in_thread(session, email)
    return CauseFacts(
        told=told, told_total=total, open_total=open_total, thread_subject=thread_subject
    )


def _open_in_thread(session: Session, email: OutboxEmail) -> int:
    root_id = email.thread_id or email.id
    in_thread = select(OutboxEmail.id).where(
        (col(OutboxEmail.id) == root_id) | (col(OutboxEmail.thread_id) == root_id)
    )
    count = session.exec(
        select(func.count(col(AlertNotice.id)))
        .join(Alert, col(Alert.id) == AlertNotice.alert_id)
        .where(col(AlertNotice.outbox_id).in_(in_thread), Alert.state == AlertState.OPEN)
    ).one()
    return int(count)


def thread_message_id(session: Session, email: OutboxEmail) -> str | None:
    """The Message-ID of the thread's first email (sent before any answer goes), for
    In-Reply-To and References."""
    if email.thread_id is None:
        return None
    return session.exec(
        select(OutboxEmail.message_id).where(OutboxEmail.id == email.thread_id)
    ).first()


# -- the cap -----------------------------------------------------------------------------------


def sent_within(session: Session, contact_id: int, since: datetime) -> tuple[int, datetime | None]:
    """Alert emails and summaries handed to the server for this contact since ``since``, and
    the first of them."""
    count, first = session.exec(
        select(func.count(col(OutboxEmail.id)), func.min(OutboxEmail.last_attempt_at)).where(
            OutboxEmail.contact_id == contact_id,
            col(OutboxEmail.kind).in_([EmailKind.ALERT, EmailKind.SUMMARY]),
            col(OutboxEmail.state).in_([OutboxState.SENT, OutboxState.SENDING]),
            col(OutboxEmail.last_attempt_at) >= since,
        )
    ).one()
    return int(count), first


def fold_into_summary(
    session: Session, email: OutboxEmail, *, due: datetime, now: datetime
) -> OutboxEmail:
    """Move what ``email`` tells into the contact's waiting summary (opened, due at ``due``,
    if there is none) and return the summary; the caller cancels ``email``."""
    assert email.contact_id is not None
    summary = _waiting(session, email.contact_id, EmailKind.SUMMARY, None)
    if summary is None:
        summary = queue_email(
            session,
            account_id=email.account_id,
            contact_id=email.contact_id,
            kind=EmailKind.SUMMARY,
            recipient=email.recipient,
            recipient_name=email.recipient_name,
            due=due,
            now=now,
        )
    session.execute(
        update(AlertNotice)
        .where(col(AlertNotice.outbox_id) == email.id)
        .values(outbox_id=summary.id, via=EmailKind.SUMMARY)
        .execution_options(synchronize_session=False)
    )
    return summary


def summary_causes(
    session: Session,
    email: OutboxEmail,
    facts_of: Callable[[Alert], AlertFacts],
) -> tuple[tuple[CauseFacts, ...], int]:
    """A summary's open alerts by cause, biggest cause first (the first :data:`TOLD_MAX` of
    them), and how many it tells in all."""
    alerts, total = told_alerts(session, email.id or 0)
    by_cause: dict[str, list[Told]] = {}
    for facts in map(facts_of, alerts):
        by_cause.setdefault(cause_of(facts).key, []).append(Told(facts, alert_fix(facts)))
    causes = tuple(
        CauseFacts(told=tuple(told), told_total=len(told), open_total=len(told))
        for told in sorted(by_cause.values(), key=len, reverse=True)
    )
    return causes, total
