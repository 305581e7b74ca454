"""Composing the digests that are due (B7), each written to the outbox in the transaction that
composed it. Times come from the caller's clock: with a fake clock a day of hourly digests is
24 calls, not 24 hours."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from imtui.domain.contacts import next_digest_at
from imtui.notify.settings import EmailSettings
from imtui.store.alert_emails import has_refused_address
from imtui.store.digests import (
    compose_digest,
    digest_due_at,
    due_digest_contacts,
    record_digest,
    reschedule,
)


def compose_due_digests(
    session: Session, *, now: datetime, settings: EmailSettings, for_update: bool
) -> list[int]:
    """Write the digest of every contact whose time has come; returns the new outbox ids.

    A digest contact not scheduled yet (just added, or switched to a digest) gets the first
    digest time after that change: the next full hour, or the next daily hour. A digest with
    nothing new and nothing resolved is not sent, but still moves the contact's "since" on.
    """
    written: list[int] = []
    for contact in due_digest_contacts(session, now=now, for_update=for_update):
        if contact.next_digest_at is None:
            first = digest_due_at(contact, daily_hour=settings.digest_hour)
            reschedule(contact, now=now, next_at=first, composed=False)
            session.add(contact)
            if first is None or first > now:
                continue
        following = next_digest_at(contact.frequency, now, daily_hour=settings.digest_hour)
        if has_refused_address(session, contact.id or 0):
            # Its address bounces: what it would list waits, untold, for the correction.
            reschedule(contact, now=now, next_at=following, composed=False)
            session.add(contact)
            continue
        composed = compose_digest(session, contact, at=now)
        if composed.content is not None:
            email = record_digest(session, contact, composed.pending, composed.content, now)
            written.append(email.id or 0)
        reschedule(contact, now=now, next_at=following, composed=True)
        session.add(contact)
    return written
