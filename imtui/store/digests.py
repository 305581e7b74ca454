"""Digest emails in the database (B7): which contacts are due, what their digest lists, and
writing it to the outbox in the transaction that composed it.

A digest lists the account's open alerts that need a person and were never sent to this
contact — an alert that closed before the digest went out is simply not there — and the
alerts an earlier digest listed that have closed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from imtui.domain.alerts import AlertState
from imtui.domain.contacts import DIGEST_FREQUENCIES, Frequency, next_digest_at
from imtui.domain.digest_email import DigestFacts, digest_email
from imtui.domain.emails import EmailContent, Recipient
from imtui.domain.outbox import EmailKind
from imtui.store.alert_emails import alert_facts
from imtui.store.models import Account, Alert, AlertContact, AlertNotice, OutboxEmail
from imtui.store.outbox_rows import queue_email

MAX_LISTED = 2000
"""New alerts per digest; any beyond wait for the next one."""


@dataclass(frozen=True, slots=True)
class PendingDigest:
    """A contact's digest as gathered: the facts to compose it from, and what to mark once
    it is written."""

    facts: DigestFacts
    new_alert_ids: tuple[int, ...]
    closed_notice_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ComposedDigest:
    """A contact's digest as it would go out now: what was gathered, and its text (None when
    there is nothing new and nothing closed: no email)."""

    pending: PendingDigest
    content: EmailContent | None


def compose_digest(session: Session, contact: AlertContact, *, at: datetime) -> ComposedDigest:
    """Gather and compose ``contact``'s digest as of ``at``: the one function behind the
    digest job, ``imtui contacts digest --preview`` and ``--send``, so a preview reads exactly
    as the digest sent at that time (when nothing changed in between)."""
    pending = gather_digest(session, contact, at)
    if pending.facts.is_empty:
        return ComposedDigest(pending=pending, content=None)
    return ComposedDigest(pending=pending, content=digest_email(pending.facts))


def preview_digest(
    session: Session,
    contact: AlertContact,
    *,
    now: datetime,
    daily_hour: int,
) -> ComposedDigest:
    """What ``contact``'s next digest would say if nothing changed until it is composed:
    composed as of its digest time (now, if that has passed or it gets none). Writes nothing."""
    due = digest_due_at(contact, daily_hour=daily_hour)
    at = due if due is not None and due > now else now
    return compose_digest(session, contact, at=at)


def digest_due_at(contact: AlertContact, *, daily_hour: int) -> datetime | None:
    """When the digest job composes ``contact``'s next digest: its scheduled time, or for a
    digest contact not scheduled yet the first digest time after it was added or changed (as
    :func:`imtui.notify.digests.compose_due_digests` schedules it). None for no digest."""
    if contact.frequency == Frequency.OFF:
        return None
    if contact.next_digest_at is not None:
        return contact.next_digest_at
    return next_digest_at(contact.frequency, contact.updated_at, daily_hour=daily_hour)


def due_digest_contacts(session: Session, *, now: datetime, for_update: bool) -> list[AlertContact]:
    """Contacts whose digest time has come, and digest contacts not scheduled yet."""
    query = (
        select(AlertContact)
        .where(
            AlertContact.frequency != Frequency.OFF,
            or_(
                col(AlertContact.next_digest_at) <= now,
                and_(
                    col(AlertContact.next_digest_at).is_(None),
                    col(AlertContact.frequency).in_(sorted(DIGEST_FREQUENCIES)),
                ),
            ),
        )
        .order_by(col(AlertContact.id))
    )
    if for_update:
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query))


def gather_digest(session: Session, contact: AlertContact, now: datetime) -> PendingDigest:
    account = session.get(Account, contact.account_id)
    noticed = select(AlertNotice.alert_id).where(AlertNotice.contact_id == contact.id)
    new = list(
        session.exec(
            select(Alert)
            .where(
                Alert.account_id == contact.account_id,
                Alert.state == AlertState.OPEN,
                col(Alert.needs_person).is_(True),
                col(Alert.first_seen) <= now,
                col(Alert.id).not_in(noticed),
            )
            .order_by(col(Alert.id))
            .limit(MAX_LISTED)
        )
    )
    closed = list(
        session.exec(
            select(AlertNotice, Alert)
            .join(Alert, col(Alert.id) == AlertNotice.alert_id)
            .where(
                AlertNotice.contact_id == contact.id,
                AlertNotice.via == EmailKind.DIGEST,
                col(AlertNotice.closure_reported_at).is_(None),
                Alert.state != AlertState.OPEN,
            )
            .order_by(col(Alert.id))
        )
    )
    still_open = session.exec(
        select(func.count(col(AlertNotice.id)))
        .join(Alert, col(Alert.id) == AlertNotice.alert_id)
        .where(AlertNotice.contact_id == contact.id, Alert.state == AlertState.OPEN)
    ).one()
    facts = DigestFacts(
        account_id=contact.account_id,
        account=account.name if account is not None else f"account {contact.account_id}",
        recipient=Recipient(
            contact_id=contact.id or 0, name=contact.name, frequency=contact.frequency
        ),
        at=now,
        since=contact.last_digest_at,
        new=tuple(alert_facts(session, alert) for alert in new),
        resolved=tuple(alert_facts(session, alert, with_held=False) for _, alert in closed),
        still_open=int(still_open),
    )
    return PendingDigest(
        facts=facts,
        new_alert_ids=tuple(alert.id or 0 for alert in new),
        closed_notice_ids=tuple(notice.id or 0 for notice, _ in closed),
    )


def record_digest(
    session: Session,
    contact: AlertContact,
    pending: PendingDigest,
    content: EmailContent,
    now: datetime,
) -> OutboxEmail:
    """Write the composed digest to the outbox and note what it told, in the caller's
    transaction."""
    assert contact.id is not None  # read from the table
    email = queue_email(
        session,
        account_id=contact.account_id,
        contact_id=contact.id,
        kind=EmailKind.DIGEST,
        recipient=contact.email,
        recipient_name=contact.name,
        due=now,
        now=now,
        subject=content.subject,
        body=content.text,
        rendered_at=now,
    )
    session.add_all(
        AlertNotice(
            contact_id=contact.id,
            alert_id=alert_id,
            outbox_id=email.id,
            via=EmailKind.DIGEST,
            noticed_at=now,
        )
        for alert_id in pending.new_alert_ids
    )
    if pending.closed_notice_ids:
        for notice in session.exec(
            select(AlertNotice).where(col(AlertNotice.id).in_(list(pending.closed_notice_ids)))
        ):
            notice.closure_reported_at = now
            session.add(notice)
    return email


def reschedule(
    contact: AlertContact, *, now: datetime, next_at: datetime | None, composed: bool
) -> None:
    """Set the contact's next digest time; ``composed`` when this run looked for news (so the
    next digest says "since" now)."""
    if composed:
        contact.last_digest_at = now
    contact.next_digest_at = next_at
    contact.updated_at = now
