"""A contact whose address the mail server refused for good (a 5xx to RCPT): its emails are
``failed`` and it has one open alert (subject ``contact:<id>``). A person closes it by
correcting the address — what was refused goes again, to the new one — or by deleting the
contact. Called by :mod:`imtui.engine.contact_actions` in the transaction of that change."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from imtui.domain.failures import AlertKind
from imtui.domain.outbox import OutboxState
from imtui.store.alert_emails import refused_subject
from imtui.store.alerts import resolve_alerts_for
from imtui.store.models import AlertContact, OutboxEmail


def settle_refused_address(
    session: Session, contact: AlertContact, *, now: datetime, actor: str, deleted: bool
) -> int:
    """Close the contact's refused-address alert; unless it is being deleted, queue its refused
    emails again to its (new) address. Returns how many go again."""
    again = 0 if deleted else _send_again(session, contact, now)
    resolve_alerts_for(
        session,
        connection_id=None,
        subject=refused_subject(contact.id or 0),
        kinds=[AlertKind.EMAIL_REFUSED],
        include_connection_alerts=False,
        now=now,
        detail="contact deleted" if deleted else f"address changed; {again} email(s) sent again",
        actor=actor,
    )
    return again


def _send_again(session: Session, contact: AlertContact, now: datetime) -> int:
    refused = list(
        session.exec(
            select(OutboxEmail).where(
                OutboxEmail.contact_id == contact.id, OutboxEmail.state == OutboxState.FAILED
            )
        )
    )
    for email in refused:
        email.state = OutboxState.QUEUED
        email.recipient, email.recipient_name = contact.email, contact.name
        email.last_error = None
        email.next_attempt_at = now
        email.updated_at = now
        session.add(email)
    return len(refused)
