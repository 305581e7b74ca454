"""The steps of sending one outbox row, each inside the caller's write transaction.

``prepare_email`` runs just before the SMTP transaction and commits on its own: it composes an
alert email that is not composed yet (or cancels it if its alert has closed meanwhile), fixes
its Message-ID and marks it ``sending``. Only then is it handed to the server; the outcome is
recorded in a second transaction. A crash between the two leaves the row ``sending``, and the
next claim sends the same bytes again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from imtui.domain.emails import EmailContent, Recipient, alert_email
from imtui.domain.outbox import EmailKind, next_email_attempt
from imtui.notify.message import Outgoing, new_message_id
from imtui.notify.settings import EmailSettings
from imtui.store.alert_emails import alert_facts
from imtui.store.models import AlertContact, OutboxEmail
from imtui.store.outbox import (
    alert_is_open,
    cancel_email,
    leased_email,
    mark_sending,
    record_failure,
    set_content,
)

ALERT_CLOSED = "not sent: its alert was closed before a first attempt"
CONTACT_GONE = "not sent: the contact was deleted or switched off"


def prepare_email(
    session: Session,
    email_id: int,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    settings: EmailSettings,
) -> Outgoing | None:
    """Make the row ready and mark it ``sending``; None if it is not ours or not to be sent."""
    email = leased_email(session, email_id, owner)
    if email is None:
        return None
    if email.rendered_at is None:
        content, why_not = compose_alert_email(session, email, settings)
        if content is None:
            cancel_email(email, reason=why_not, now=now)
            session.add(email)
            return None
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
        body=email.body,
        message_id=email.message_id,
        date=email.rendered_at,
        resend=resend,
    )


def compose_alert_email(
    session: Session, email: OutboxEmail, settings: EmailSettings
) -> tuple[EmailContent | None, str]:
    """An alert email's content as of now, or (None, why it is not to be sent)."""
    if email.kind != EmailKind.ALERT:
        return None, "not sent: nothing to compose it from"
    alert = alert_is_open(session, email.alert_id)
    if alert is None:
        return None, ALERT_CLOSED
    contact = session.get(AlertContact, email.contact_id) if email.contact_id else None
    if contact is None:
        return None, CONTACT_GONE
    recipient = Recipient(
        contact_id=contact.id or 0, name=contact.name, frequency=contact.frequency
    )
    facts = alert_facts(session, alert)
    return alert_email(facts, recipient, public_url=settings.public_url), ""


def record_failures(
    session: Session,
    email_ids: list[int],
    *,
    owner: str,
    error: str,
    now: datetime,
    attempted: bool,
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
        )
