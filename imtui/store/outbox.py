"""The email outbox in the database (B7, B8): rows written in the same transaction as the alert
change that causes them, claimed with a lease by the job that sends them, and the listing the
CLI and the dashboard show.

An email's life: ``queued`` → (claimed, leased) → ``sending`` (committed before the SMTP
transaction starts) → ``sent`` with the server's reply, or back to ``queued`` with the reply
and a later ``next_attempt_at``. A row claimed while still ``sending`` was interrupted — the
process died or was stopped between handing it to the server and recording the answer — and
is sent again, byte for byte, with the same Message-ID. See README "Alert email" for the window
this leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, update
from sqlmodel import Session, col, select

from imtui.domain.emails import EmailContent
from imtui.domain.links import shown_without_links
from imtui.domain.outbox import OutboxState, shown_state
from imtui.store.models import (
    UNSENT_EMAILS_ONLY,
    Account,
    AlertContact,
    AlertNotice,
    OutboxEmail,
)
from imtui.store.queue import UNSENT
from imtui.store.rows import InvalidCursor, Page


def set_content(email: OutboxEmail, content: EmailContent, now: datetime) -> None:
    email.subject = content.subject
    email.body = content.text
    email.rendered_at = now
    email.updated_at = now


# -- claiming and recording -------------------------------------------------------------------


def claim_due_emails(
    session: Session,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    for_update: bool,
) -> list[int]:
    """Lease up to ``limit`` due emails to ``owner``, oldest first (by id, not by due time: after
    an outage the first alert goes first). Rows left ``sending`` by a stopped worker come back
    once their lease has expired (or been freed)."""
    query = (
        select(OutboxEmail.id)
        .where(
            UNSENT_EMAILS_ONLY,  # literally the partial index's own condition (ix_outbox_unsent_id)
            col(OutboxEmail.next_attempt_at) <= now,
            or_(
                col(OutboxEmail.lease_expires_at).is_(None),
                col(OutboxEmail.lease_expires_at) < now,
            ),
        )
        .order_by(col(OutboxEmail.id))
        .limit(limit)
    )
    if for_update:
        query = query.with_for_update(skip_locked=True)
    ids = [int(email_id) for email_id in session.exec(query) if email_id is not None]
    if ids:
        session.execute(
            update(OutboxEmail)
            .where(col(OutboxEmail.id).in_(ids))
            .values(lease_owner=owner, lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    return ids


def leased_email(
    session: Session, email_id: int, owner: str, *, now: datetime
) -> OutboxEmail | None:
    """The row, if it is still ours to send: leased to us, and the lease not run out (a slow
    batch's last rows may have been claimed by another worker meanwhile). Locked on
    PostgreSQL, so that worker cannot claim it while we compose and mark it."""
    query = (
        select(OutboxEmail)
        .where(OutboxEmail.id == email_id)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    email = session.exec(query).first()
    if email is None or email.lease_owner != owner or email.state not in UNSENT:
        return None
    if email.lease_expires_at is not None and email.lease_expires_at < now:
        return None
    return email


def mark_sending(
    email: OutboxEmail, *, now: datetime, lease: timedelta, message_id: Callable[[], str]
) -> bool:
    """Committed before the SMTP transaction starts. Returns whether the row was already
    ``sending`` (an interrupted attempt: this one is a resend)."""
    interrupted = email.state == OutboxState.SENDING
    if email.message_id is None:
        email.message_id = message_id()
    email.state = OutboxState.SENDING
    email.server_down = False
    email.sending_since = now
    email.attempts += 1
    email.last_attempt_at = now
    email.lease_expires_at = now + lease
    email.updated_at = now
    return interrupted


def record_sent(session: Session, email_id: int, *, reply: str, now: datetime) -> None:
    """The server accepted it. Recorded even if our lease ran out meanwhile: it is sent."""
    email = session.get(OutboxEmail, email_id)
    if email is None or email.state == OutboxState.SENT:
        return
    _settle(email, OutboxState.SENT, error=None, next_attempt_at=None, now=now)
    email.sent_at = now
    email.smtp_reply = reply
    session.add(email)


def record_failure(
    session: Session,
    email_id: int,
    *,
    owner: str,
    error: str,
    now: datetime,
    retry_at: Callable[[int], datetime],
    attempted: bool,
    server_down: bool = False,
) -> None:
    """The server was unreachable, refused, or the connection broke: try again at
    ``retry_at(attempts)``. ``attempted`` is False when the row never reached
    :func:`mark_sending` (the connection failed first); the try still counts. ``server_down``
    when the server did not answer at all (see :func:`due_after_reconnect`)."""
    email = session.get(OutboxEmail, email_id)
    if email is None or email.lease_owner != owner or email.state not in UNSENT:
        return
    if not attempted:
        email.attempts += 1
        email.last_attempt_at = now
    _settle(
        email, OutboxState.QUEUED, error=error, next_attempt_at=retry_at(email.attempts), now=now
    )
    email.server_down = server_down
    session.add(email)


def record_refusal(
    session: Session, email_id: int, *, owner: str, reply: str, now: datetime
) -> OutboxEmail | None:
    """The server refused the recipient for good (a 5xx to RCPT): the email is ``failed`` with
    its reply and not tried again. Returns it, or None if it was not ours."""
    email = session.get(OutboxEmail, email_id)
    if email is None or email.lease_owner != owner or email.state not in UNSENT:
        return None
    _settle(email, OutboxState.FAILED, error=reply, next_attempt_at=None, now=now)
    session.add(email)
    return email


def due_after_reconnect(session: Session, *, now: datetime) -> int:
    """The server answers again: every email that waits only because it did not answer is due
    now, rather than at the end of a backoff that grew through the outage. Returns how many."""
    result = session.execute(
        update(OutboxEmail)
        .where(
            col(OutboxEmail.state) == OutboxState.QUEUED,
            col(OutboxEmail.server_down).is_(True),
            col(OutboxEmail.next_attempt_at) > now,
        )
        .values(next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def release_emails(session: Session, email_ids: list[int], *, owner: str) -> None:
    """Give back claimed emails not yet started, for a new claim in a better order."""
    session.execute(
        update(OutboxEmail)
        .where(
            col(OutboxEmail.id).in_(email_ids),
            col(OutboxEmail.lease_owner) == owner,
            col(OutboxEmail.state) == OutboxState.QUEUED,
        )
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def defer_email(email: OutboxEmail, *, until: datetime, now: datetime) -> None:
    """Not now, and not an attempt: back in the queue, due at ``until``."""
    email.next_attempt_at = until
    email.lease_owner = None
    email.lease_expires_at = None
    email.updated_at = now


def cancel_email(email: OutboxEmail, *, reason: str, now: datetime) -> None:
    _settle(email, OutboxState.CANCELLED, error=reason, next_attempt_at=None, now=now)


def _settle(
    email: OutboxEmail,
    state: OutboxState,
    *,
    error: str | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    """An attempt's end (or the email's): its new state and the reason, and nobody's lease."""
    email.state = state
    email.last_error = error
    email.next_attempt_at = next_attempt_at
    email.server_down = False
    email.sending_since = None
    email.lease_owner = None
    email.lease_expires_at = None
    email.updated_at = now


def forget_notices(session: Session, email_ids: list[int]) -> None:
    """These emails will never tell their alerts: the alerts are no longer noted as told to the
    contact, so a later email or digest tells them (a cancel by a person, a contact switched
    off, an address refused)."""
    if email_ids:
        session.execute(
            delete(AlertNotice)
            .where(col(AlertNotice.outbox_id).in_(email_ids))
            .execution_options(synchronize_session=False)
        )


# -- when a contact changes -------------------------------------------------------------------


def unsent_for_contact(session: Session, contact_id: int) -> list[OutboxEmail]:
    """The contact's emails that no attempt has handed to a server yet."""
    return list(
        session.exec(
            select(OutboxEmail).where(
                OutboxEmail.contact_id == contact_id,
                OutboxEmail.state == OutboxState.QUEUED,
                col(OutboxEmail.lease_owner).is_(None),
            )
        )
    )


def forget_contact(session: Session, contact: AlertContact, now: datetime) -> int:
    """Before a contact is deleted: its unsent emails are cancelled, its sent ones keep their
    recipient but lose the link, its notices go. Returns how many emails were cancelled."""
    cancelled = 0
    for email in unsent_for_contact(session, contact.id or 0):
        cancel_email(email, reason="the contact was deleted", now=now)
        session.add(email)
        cancelled += 1
    session.flush()
    session.execute(
        update(OutboxEmail)
        .where(col(OutboxEmail.contact_id) == contact.id)
        .values(contact_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(AlertNotice)
        .where(col(AlertNotice.contact_id) == contact.id)
        .execution_options(synchronize_session=False)
    )
    return cancelled


# -- the listing (CLI and dashboard) ----------------------------------------------------------


SHOWN_STATES = ("queued", "failing", "sending", "sent", "failed", "cancelled")
"""The states a person sees: "failing" is a queued email whose last attempt did not get
through (``last_error`` holds the server's reply)."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    account_id: int
    account: str
    contact_id: int | None
    kind: str
    """"alert" or "digest"."""
    alert_id: int | None
    recipient: str
    recipient_name: str
    subject: str
    state: str
    """queued, failing, sending, sent or cancelled."""
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    """The server's reply (or the connection error) of the last failed attempt."""
    sent_at: datetime | None
    smtp_reply: str | None
    message_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxDetail:
    email: OutboxRow
    body: str
    """Empty until an alert email is composed, just before its first attempt."""
    alert_ids: tuple[int, ...]
    """The alerts it tells about (one for an alert email, the listed ones for a digest)."""


@dataclass(frozen=True, slots=True)
class OutboxFilter:
    states: tuple[str, ...] = ()
    """Any of SHOWN_STATES; empty for all."""
    account_id: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    waiting: int
    """Queued or sending, failing included."""
    failing: int
    oldest_waiting_since: datetime | None
    failed: int = 0
    """Refused for good (a 5xx to the recipient), not retried: a person has to act."""


def list_outbox(
    session: Session,
    where: OutboxFilter = OutboxFilter(),
    *,
    after: str | None = None,
    limit: int = 50,
) -> Page[OutboxRow]:
    """Newest first, keyset pages on the id (``ix_outbox_state_id``, ``ix_outbox_account_id``)."""
    limit = max(1, min(int(limit), 1000))
    query = select(OutboxEmail, Account.name).join(
        Account, col(Account.id) == OutboxEmail.account_id
    )
    if where.states:
        query = query.where(or_(*(state_condition(state) for state in where.states)))
    if where.account_id is not None:
        query = query.where(OutboxEmail.account_id == where.account_id)
    if after:
        if not after.isdigit():
            raise InvalidCursor(f"not a cursor from this list: {after!r}")
        query = query.where(col(OutboxEmail.id) < int(after))
    found = list(session.exec(query.order_by(col(OutboxEmail.id).desc()).limit(limit + 1)))
    rows = [as_outbox_row(email, account) for email, account in found[:limit]]
    return Page(rows, str(rows[-1].id) if len(found) > limit else None)


def outbox_detail(session: Session, email_id: int) -> OutboxDetail | None:
    found = session.exec(
        select(OutboxEmail, Account.name)
        .join(Account, col(Account.id) == OutboxEmail.account_id)
        .where(OutboxEmail.id == email_id)
    ).first()
    if found is None:
        return None
    email, account = found
    alert_ids = tuple(
        int(alert_id)
        for alert_id in session.exec(
            select(AlertNotice.alert_id)
            .where(AlertNotice.outbox_id == email_id)
            .order_by(col(AlertNotice.alert_id))
        )
    )
    if not alert_ids and email.alert_id is not None:
        alert_ids = (email.alert_id,)
    # Where the sent email carried a link, the stored body holds a mark: shown as words.
    body = shown_without_links(email.body)
    return OutboxDetail(email=as_outbox_row(email, account), body=body, alert_ids=alert_ids)


def outbox_counts(session: Session, *, account_id: int | None = None) -> OutboxCounts:
    """What the header needs: emails waiting, failing, and since when (``ix_outbox_due``)."""
    waiting = select(
        func.count(col(OutboxEmail.id)),
        func.count(col(OutboxEmail.last_error)),
        func.min(OutboxEmail.created_at),
    ).where(col(OutboxEmail.state).in_(list(UNSENT)))
    if account_id is not None:
        waiting = waiting.where(OutboxEmail.account_id == account_id)
    total, failing, oldest = session.exec(waiting).one()
    refused = select(func.count(col(OutboxEmail.id))).where(OutboxEmail.state == OutboxState.FAILED)
    if account_id is not None:
        refused = refused.where(OutboxEmail.account_id == account_id)
    return OutboxCounts(
        waiting=int(total),
        failing=int(failing),
        oldest_waiting_since=oldest,
        failed=int(session.exec(refused).one()),
    )


def state_condition(state: str) -> ColumnElement[bool]:
    if state == "failing":
        return and_(
            col(OutboxEmail.state) == OutboxState.QUEUED, col(OutboxEmail.last_error).is_not(None)
        )
    if state == OutboxState.QUEUED:
        return and_(
            col(OutboxEmail.state) == OutboxState.QUEUED, col(OutboxEmail.last_error).is_(None)
        )
    if state not in SHOWN_STATES:
        raise ValueError(f"unknown outbox state {state!r}: one of {', '.join(SHOWN_STATES)}")
    return col(OutboxEmail.state) == state


def as_outbox_row(email: OutboxEmail, account: str) -> OutboxRow:
    return OutboxRow(
        id=email.id or 0,
        account_id=email.account_id,
        account=account,
        contact_id=email.contact_id,
        kind=email.kind,
        alert_id=email.alert_id,
        recipient=email.recipient,
        recipient_name=email.recipient_name,
        subject=email.subject,
        state=shown_state(email.state, email.last_error),
        attempts=email.attempts,
        next_attempt_at=email.next_attempt_at,
        last_attempt_at=email.last_attempt_at,
        last_error=email.last_error,
        sent_at=email.sent_at,
        smtp_reply=email.smtp_reply,
        message_id=email.message_id,
        created_at=email.created_at,
        updated_at=email.updated_at,
    )
