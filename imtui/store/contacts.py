"""Alert contacts: the read queries the CLI and the dashboard share, as plain frozen rows.

Contacts are a small table (a handful per account), so these read whole lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from imtui.domain.contacts import Frequency
from imtui.domain.outbox import OutboxState
from imtui.store.models import Account, AlertContact, OutboxEmail


@dataclass(frozen=True, slots=True)
class ContactRow:
    id: int
    account_id: int
    account: str
    name: str
    email: str
    frequency: str
    """"immediately", "hourly", "daily" or "off"."""
    frequency_text: str
    """The frequency in words: "hourly digest"."""
    next_digest_at: datetime | None
    last_digest_at: datetime | None
    waiting: int
    """Emails to this contact in the outbox not yet sent (queued or failing)."""
    created_at: datetime
    updated_at: datetime


def list_contacts(session: Session, *, account_id: int | None = None) -> list[ContactRow]:
    """Every contact (or one account's), by account then name."""
    query = (
        select(AlertContact, Account.name)
        .join(Account, col(Account.id) == AlertContact.account_id)
        .order_by(col(AlertContact.account_id), func.lower(AlertContact.name), col(AlertContact.id))
    )
    if account_id is not None:
        query = query.where(AlertContact.account_id == account_id)
    found = list(session.exec(query))
    waiting = _waiting(session, [contact.id or 0 for contact, _ in found])
    return [_row(contact, account, waiting.get(contact.id or 0, 0)) for contact, account in found]


def contact_row(session: Session, contact_id: int) -> ContactRow | None:
    found = session.exec(
        select(AlertContact, Account.name)
        .join(Account, col(Account.id) == AlertContact.account_id)
        .where(AlertContact.id == contact_id)
    ).first()
    if found is None:
        return None
    contact, account = found
    return _row(contact, account, _waiting(session, [contact_id]).get(contact_id, 0))


def find_contact_by_email(session: Session, account_id: int, email: str) -> AlertContact | None:
    return session.exec(
        select(AlertContact).where(
            AlertContact.account_id == account_id,
            func.lower(AlertContact.email) == email.lower(),
        )
    ).first()


def contacts_to_email(session: Session, account_id: int) -> list[AlertContact]:
    """The account's contacts whose frequency is not "off"."""
    return list(
        session.exec(
            select(AlertContact)
            .where(AlertContact.account_id == account_id, AlertContact.frequency != Frequency.OFF)
            .order_by(col(AlertContact.id))
        )
    )


def _waiting(session: Session, contact_ids: list[int]) -> dict[int, int]:
    if not contact_ids:
        return {}
    rows = session.exec(
        select(OutboxEmail.contact_id, func.count(col(OutboxEmail.id)))
        .where(
            col(OutboxEmail.contact_id).in_(contact_ids),
            col(OutboxEmail.state).in_([OutboxState.QUEUED, OutboxState.SENDING]),
        )
        .group_by(col(OutboxEmail.contact_id))
    )
    return {int(contact_id): int(count) for contact_id, count in rows if contact_id is not None}


def _row(contact: AlertContact, account: str, waiting: int) -> ContactRow:
    try:
        frequency_text = Frequency(contact.frequency).description
    except ValueError:
        frequency_text = contact.frequency
    return ContactRow(
        id=contact.id or 0,
        account_id=contact.account_id,
        account=account,
        name=contact.name,
        email=contact.email,
        frequency=contact.frequency,
        frequency_text=frequency_text,
        next_digest_at=contact.next_digest_at,
        last_digest_at=contact.last_digest_at,
        waiting=waiting,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
    )
