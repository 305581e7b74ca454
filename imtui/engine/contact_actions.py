"""What a person can do about alert email — from the CLI or the dashboard, the same functions:
add, edit and delete alert contacts (B7), and send an outbox email now or cancel it.

Like every action (:mod:`imtui.engine.action_rules`), every function runs inside the caller's
write transaction, writes the audit log, and raises :class:`ActionError` with one line for a
person when the input is wrong; nothing is changed then. :func:`contact_errors` gives a form the
same checks per field.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlmodel import Session

from imtui.domain.contacts import Frequency, schedule_after_change
from imtui.domain.email_address import InvalidEmailAddress, check_email_address
from imtui.domain.outbox import OutboxState
from imtui.domain.people import Act
from imtui.engine.action_rules import ActionError, FieldError, require
from imtui.store.audit import record_action
from imtui.store.contacts import find_contact_by_email
from imtui.store.digests import compose_digest, record_digest, reschedule
from imtui.store.models import Account, AlertContact, OutboxEmail
from imtui.store.outbox import cancel_email as cancel_outbox_email
from imtui.store.outbox import forget_contact, forget_notices, unsent_for_contact
from imtui.store.refusals import settle_refused_address

MAX_NAME = 200
FREQUENCIES = tuple(f.value for f in Frequency)


# -- checks -----------------------------------------------------------------------------------


def contact_errors(*, name: str, email: str, frequency: str) -> list[FieldError]:
    """Every problem with a contact's fields, per field, for a form or one CLI line."""
    errors: list[FieldError] = []
    problem = _name_problem(name)
    if problem:
        errors.append(FieldError("name", problem))
    try:
        check_email_address(email)
    except InvalidEmailAddress as exc:
        errors.append(FieldError("email", str(exc)))
    if frequency not in FREQUENCIES:
        errors.append(FieldError("frequency", f"one of {', '.join(FREQUENCIES)}"))
    return errors


def _name_problem(name: str) -> str | None:
    text = name.strip()
    if not text:
        return "a name is required"
    if len(text) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        return "contains control characters or line breaks"
    if "<" in text or ">" in text:
        # "Ops <x@y.com>" would read as another address next to the real one
        return "a name only: the address goes in its own field (no < or >)"
    return None


def _checked(name: str, email: str, frequency: str) -> tuple[str, str, Frequency]:
    errors = contact_errors(name=name, email=email, frequency=frequency)
    if errors:
        # The address check's own words are a sentence; the others read "field: problem".
        raise ActionError(
            "; ".join(
                e.message if e.field == "email" else f"{e.field}: {e.message}" for e in errors
            )
        )
    return name.strip(), check_email_address(email), Frequency(frequency)


# -- contacts ---------------------------------------------------------------------------------


def contact_for(session: Session, contact_id: int) -> AlertContact:
    contact = session.get(AlertContact, contact_id)
    if contact is None:
        raise ActionError(f"no contact {contact_id}")
    return contact


def add_contact(
    session: Session,
    *,
    account: Account,
    name: str,
    email: str,
    frequency: str,
    actor: str,
    now: datetime,
) -> AlertContact:
    """A new alert contact. It hears about alerts that open from now on; an "immediately"
    contact also gets one summary of what is open already, a digest contact finds it in its
    first digest."""
    require(session, Act.CHANGE_CONTACTS, account.id)
    name, email, chosen = _checked(name, email, frequency)
    _refuse_duplicate(session, account, email, None)
    assert account.id is not None  # read from the table
    contact = AlertContact(
        account_id=account.id,
        name=name,
        email=email,
        frequency=chosen,
        next_digest_at=schedule_after_change(None, chosen, None, now),
        created_at=now,
        updated_at=now,
    )
    session.add(contact)
    session.flush()
    record_action(
        session,
        actor=actor,
        action="contact.add",
        target=f"contact:{contact.id}",
        now=now,
        detail=f"{name} <{email}> ({chosen.description}) for account {account.name}",
    )
    return contact


def edit_contact(
    session: Session,
    *,
    contact_id: int,
    name: str | None = None,
    email: str | None = None,
    frequency: str | None = None,
    actor: str,
    now: datetime,
) -> AlertContact:
    """Change what is given. Emails not yet handed to a server follow a new name and address;
    switching to "off" cancels them."""
    contact = contact_for(session, contact_id)
    require(session, Act.CHANGE_CONTACTS, contact.account_id)
    new_name, new_email, chosen = _checked(
        contact.name if name is None else name,
        contact.email if email is None else email,
        contact.frequency if frequency is None else frequency,
    )
    account = session.get(Account, contact.account_id)
    assert account is not None
    _refuse_duplicate(session, account, new_email, contact.id)
    changes = [
        f"{label}: {old!r} → {new!r}"
        for label, old, new in (
            ("name", contact.name, new_name),
            ("email", contact.email, new_email),
            ("frequency", contact.frequency, str(chosen)),
        )
        if old != new
    ]
    if not changes:
        return contact
    contact.next_digest_at = schedule_after_change(
        contact.frequency, chosen, contact.next_digest_at, now
    )
    old_email = contact.email
    contact.name, contact.email, contact.frequency = new_name, new_email, chosen
    contact.updated_at = now
    session.add(contact)
    switched_off: list[int] = []
    for waiting in unsent_for_contact(session, contact_id):
        if chosen is Frequency.OFF:
            cancel_outbox_email(waiting, reason="not sent: the contact was switched off", now=now)
            switched_off.append(waiting.id or 0)
        else:
            waiting.recipient, waiting.recipient_name = new_email, new_name
            waiting.updated_at = now
        session.add(waiting)
    # Switched on again later, the contact's summary tells what these would have.
    forget_notices(session, switched_off)
    if new_email != old_email and chosen is not Frequency.OFF:
        # A new address closes the alert that the old one was refused; what is open reaches
        # the new one in one summary (or the next digest).
        settle_refused_address(session, contact, now=now, actor=actor, deleted=False)
    record_action(
        session,
        actor=actor,
        action="contact.edit",
        target=f"contact:{contact.id}",
        now=now,
        detail="; ".join(changes),
    )
    return contact


def delete_contact(session: Session, *, contact_id: int, actor: str, now: datetime) -> int:
    """Delete a contact; its emails not yet sent are cancelled. Returns how many were."""
    contact = contact_for(session, contact_id)
    require(session, Act.CHANGE_CONTACTS, contact.account_id)
    settle_refused_address(session, contact, now=now, actor=actor, deleted=True)
    cancelled = forget_contact(session, contact, now)
    session.delete(contact)
    record_action(
        session,
        actor=actor,
        action="contact.delete",
        target=f"contact:{contact_id}",
        now=now,
        detail=f"{contact.name} <{contact.email}>; cancelled {cancelled} unsent email(s)",
    )
    return cancelled


def digest_contact(session: Session, contact_id: int) -> AlertContact:
    """The contact whose digest is asked for; one that is off gets none."""
    contact = contact_for(session, contact_id)
    if contact.frequency == Frequency.OFF:
        raise ActionError(
            f"contact {contact_id} is off: it gets no digest "
            f"(imtui contacts edit {contact_id} --frequency hourly|daily)"
        )
    return contact


def send_digest_now(
    session: Session, *, contact_id: int, actor: str, now: datetime
) -> OutboxEmail | None:
    """Compose the contact's digest now and queue it, as its digest job would: the alerts it
    lists are noted as told and its next digest says "since" now; the next digest time stays.
    None (and nothing changed) when there is nothing new or closed to tell."""
    contact = digest_contact(session, contact_id)
    require(session, Act.CHANGE_CONTACTS, contact.account_id)
    composed = compose_digest(session, contact, at=now)
    if composed.content is None:
        return None
    email = record_digest(session, contact, composed.pending, composed.content, now)
    reschedule(contact, now=now, next_at=contact.next_digest_at, composed=True)
    session.add(contact)
    pending = composed.pending
    record_action(
        session,
        actor=actor,
        action="contact.digest",
        target=f"contact:{contact.id}",
        now=now,
        detail=(
            f"sent now as email {email.id}: {len(pending.new_alert_ids)} new, "
            f"{len(pending.closed_notice_ids)} closed"
        ),
    )
    return email


def _refuse_duplicate(
    session: Session, account: Account, email: str, contact_id: int | None
) -> None:
    existing = find_contact_by_email(session, account.id or 0, email)
    if existing is not None and existing.id != contact_id:
        raise ActionError(
            f"account {account.name!r} already has contact {existing.id} with address {email}"
        )


# -- the outbox -------------------------------------------------------------------------------


def email_for(session: Session, email_id: int) -> OutboxEmail:
    email = session.get(OutboxEmail, email_id)
    if email is None:
        raise ActionError(f"no email {email_id} in the outbox")
    return email


def send_email_now(session: Session, *, email_id: int, actor: str, now: datetime) -> OutboxEmail:
    """A queued or failing email is due at once (the outbox job sends it on its next tick)."""
    email = email_for(session, email_id)
    require(session, Act.SEND_EMAIL, email.account_id)
    if email.state != OutboxState.QUEUED:
        raise ActionError(f"email {email_id} is {email.state}: only a queued one can be sent now")
    email.next_attempt_at = now
    email.updated_at = now
    session.add(email)
    record_action(
        session, actor=actor, action="email.send_now", target=f"email:{email_id}", now=now
    )
    return email


def cancel_email(session: Session, *, email_id: int, actor: str, now: datetime) -> OutboxEmail:
    """Never send this email. Not possible while a worker is handing it to the server."""
    email = email_for(session, email_id)
    require(session, Act.SEND_EMAIL, email.account_id)
    if email.state != OutboxState.QUEUED:
        raise ActionError(f"email {email_id} is {email.state}: only a queued one can be cancelled")
    if email.lease_owner is not None and email.lease_expires_at and email.lease_expires_at > now:
        raise ActionError(f"email {email_id} is being sent right now")
    cancel_outbox_email(email, reason=f"cancelled by {actor}", now=now)
    session.add(email)
    record_action(session, actor=actor, action="email.cancel", target=f"email:{email_id}", now=now)
    return email
