"""A contact whose address the mail server refused for good (a 5xx to RCPT): its emails are
``failed`` and it has one open alert (subject ``contact:<id>``). A person closes it by
correcting the address — what was refused goes again, to the new one — or by deleting the
contact. Called by :mod:`imtui.engine.contact_actions` in the transaction of that change."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from imtui.domain.contacts import Frequency
from imtui.domain.failures import AlertKind
from imtui.domain.outbox import OutboxState
from imtui.store.alert_emails import refused_subject
from imtui.store.alerts import resolve_alerts_for
from imtui.store.models import AlertContact, OutboxEmail
from imtui.store.outbox import cancel_email, forget_notices


def settle_refused_address(
    session: Session, contact: AlertContact, *, now: datetime, actor: str, deleted: bool
) -> int:
    """Close the contact's refused-address alert. The emails it refused are set aside
    (``cancelled``, their alerts no longer counted as told), so that what is still open reaches
    a corrected address as the next email would tell it — for an "immediately" contact one
    summary now, for a digest contact its next digest — rather than as a burst of stale copies.
    Returns how many emails were set aside."""
    refused = list(
        session.exec(
            select(OutboxEmail).where(
                OutboxEmail.contact_id == contact.id, OutboxEmail.state == OutboxState.FAILED
            )
        )
    )
    reason = "the contact was deleted" if deleted else "its open alerts go to the corrected address"
    for email in refused:
        cancel_email(email, reason=f"refused; {reason}", now=now)
        session.add(email)
    forget_notices(session, [email.id or 0 for email in refused])
    if not deleted and contact.frequency == Frequency.IMMEDIATELY:
        contact.next_digest_at = now  # one summary of what it missed (see notify/digests.py)
        session.add(contact)
    resolve_alerts_for(
        session,
        connection_id=None,
        subject=refused_subject(contact.id or 0),
        kinds=[AlertKind.EMAIL_REFUSED],
        include_connection_alerts=False,
        now=now,
        detail="contact deleted"
        if deleted
        else f"address changed; {len(refused)} refused email(s) set aside",
        actor=actor,
    )
    return len(refused)
