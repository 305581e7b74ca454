"""The steps of sending one outbox row, each inside the caller's write transaction.

``prepare_email`` runs just before the SMTP transaction and commits on its own: it composes an
alert email that is not composed yet (or cancels it if its alert has closed meanwhile), fixes
its Message-ID and marks it ``sending``. Only then is it handed to the server; the outcome is
recorded in a second transaction. A crash between the two leaves the row ``sending``, and the
next claim sends the same bytes again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session

from imtui.domain.causes import SummaryFacts, cause_email, summary_email
from imtui.domain.contacts import Frequency
from imtui.domain.emails import AlertFacts, EmailContent, Recipient
from imtui.domain.failures import AlertKind
from imtui.domain.outbox import EmailKind, OutboxState, next_email_attempt
from imtui.notify.links import links_served, with_links
from imtui.notify.message import Outgoing, new_message_id
from imtui.notify.settings import EmailSettings
from imtui.store.alert_emails import alert_facts, refused_subject
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.cause_emails import (
    cause_facts,
    fold_into_summary,
    sent_within,
    summary_causes,
    thread_message_id,
)
from imtui.store.models import Alert, AlertContact, OutboxEmail
from imtui.store.outbox import (
    cancel_email,
    defer_email,
    leased_email,
    mark_sending,
    record_failure,
    record_refusal,
    set_content,
)
from imtui.store.queue import UNSENT

ALERT_CLOSED = "not sent: its alerts were closed before a first attempt"
CONTACT_GONE = "not sent: the contact was deleted or switched off"


class NotSent(StrEnum):
    """Why :func:`prepare_email` hands nothing to the server this time."""

    NOT_OURS = "not ours"
    CANCELLED = "cancelled"
    """Its alerts closed, or its contact went: it never will be."""
    FOLDED = "folded"
    """Over the cap: what it tells went into the contact's summary."""
    DEFERRED = "deferred"
    """An answer whose thread's first email is still on its way: it goes after it."""


def prepare_email(
    session: Session,
    email_id: int,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    settings: EmailSettings,
) -> Outgoing | NotSent:
    """Make the row ready and mark it ``sending``, or say why it is not sent now."""
    email = leased_email(session, email_id, owner, now=now)
    if email is None:
        return NotSent.NOT_OURS
    if email.rendered_at is None:
        if not _thread_ready(session, email, now):
            return NotSent.DEFERRED
        if _over_cap(session, email, now, settings):
            return NotSent.FOLDED
        content, why_not = compose_email(session, email, settings, now)
        if content is None:
            cancel_email(email, reason=why_not, now=now)
            session.add(email)
            return NotSent.CANCELLED
        set_content(email, content, now)
    resend = mark_sending(
        email, now=now, lease=lease, message_id=lambda: new_message_id(email_id, settings)
    )
    session.add(email)
    assert email.message_id is not None and email.rendered_at is not None
    return Outgoing(
        email_id=email_id,
        recipient=email.recipient,
        recipient_name=email.recipient_name,
        subject=email.subject,
        body=with_links(session, email, settings),
        message_id=email.message_id,
        date=email.rendered_at,
        resend=resend,
        in_reply_to=thread_message_id(session, email),
    )


THREAD_WAIT = timedelta(minutes=1)


def _thread_ready(session: Session, email: OutboxEmail, now: datetime) -> bool:
    """An answer goes after its thread's first email: while that one is on its way, the answer
    waits (and takes what opens meanwhile); if it failed, was refused or cancelled, the answer
    stands alone, with a subject of its own."""
    if email.thread_id is None:
        return True
    root = session.get(OutboxEmail, email.thread_id)
    state = root.state if root is not None else None
    if state == OutboxState.SENT:
        return True
    if root is not None and state in UNSENT and root.last_error is None:
        defer_email(email, until=now + THREAD_WAIT, now=now)
        session.add(email)
        return False
    email.thread_id = None
    return True


def _over_cap(session: Session, email: OutboxEmail, now: datetime, settings: EmailSettings) -> bool:
    """Past the cap, an alert email is not sent: what it tells joins the contact's one summary,
    due when the window has room again. Returns whether it was folded so."""
    if email.kind != EmailKind.ALERT or not settings.cap or email.contact_id is None:
        return False
    window = timedelta(minutes=settings.cap_minutes)
    sent, first = sent_within(session, email.contact_id, now - window)
    if sent < settings.cap or first is None:
        return False
    summary = fold_into_summary(session, email, due=max(now, first + window), now=now)
    cancel_email(
        email,
        reason=f"folded into summary email {summary.id}: over {settings.cap_words()}",
        now=now,
    )
    session.add(email)
    return True


def compose_email(
    session: Session, email: OutboxEmail, settings: EmailSettings, now: datetime
) -> tuple[EmailContent | None, str]:
    """An alert email's or a summary's content as of now, or (None, why it is not sent)."""
    if email.kind not in (EmailKind.ALERT, EmailKind.SUMMARY):
        return None, "not sent: nothing to compose it from"
    contact = session.get(AlertContact, email.contact_id) if email.contact_id else None
    if contact is None or contact.frequency == Frequency.OFF:
        return None, CONTACT_GONE
    # Composed now, so addressed now: an address corrected since it was queued is used.
    email.recipient, email.recipient_name = contact.email, contact.name
    recipient = Recipient(
        contact_id=contact.id or 0,
        name=contact.name,
        frequency=contact.frequency,
        links=links_served(session, settings, now),
    )

    def facts_of(alert: Alert) -> AlertFacts:
        return alert_facts(session, alert)

    if email.kind == EmailKind.SUMMARY:
        causes, total = summary_causes(session, email, facts_of)
        if not causes:
            return None, ALERT_CLOSED
        summary = SummaryFacts(
            causes=causes, total=total, cap=settings.cap, cap_minutes=settings.cap_minutes
        )
        return summary_email(summary, recipient), ""
    facts = cause_facts(session, email, facts_of)
    if facts is None:
        return None, ALERT_CLOSED
    return cause_email(facts, recipient), ""


def record_failures(
    session: Session,
    email_ids: list[int],
    *,
    owner: str,
    error: str,
    now: datetime,
    attempted: bool,
    server_down: bool = False,
) -> None:
    for email_id in email_ids:
        record_failure(
            session,
            email_id,
            owner=owner,
            error=error,
            now=now,
            retry_at=lambda attempts: next_email_attempt(attempts, now),
            attempted=attempted,
            server_down=server_down,
        )


def record_refused_address(
    session: Session, email_id: int, *, owner: str, reply: str, now: datetime
) -> None:
    """A 5xx to RCPT: the email fails for good, and its contact gets an alert that a person
    closes by correcting the address (which sends what it missed again) or deleting it."""
    email = record_refusal(session, email_id, owner=owner, reply=reply, now=now)
    if email is None or email.contact_id is None:
        return
    contact = session.get(AlertContact, email.contact_id)
    name = contact.name if contact is not None else email.recipient_name
    raise_alert(
        session,
        account_id=email.account_id,
        connection_id=None,
        kind=AlertKind.EMAIL_REFUSED,
        message=f"The mail server refused {email.recipient} (contact {name!r}, "
        f"id {email.contact_id}): {reply}",
        now=now,
        about=AlertSubject(subject=refused_subject(email.contact_id)),
    )
