"""The emails an alert change writes (B7, B8), in the transaction that changes the alert: the
one hook :func:`imtui.store.alerts.raise_alert` calls, and the facts an alert email is composed
from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from imtui.domain.alerts import AlertState, fingerprint
from imtui.domain.causes import CauseFacts, Told, cause_subject
from imtui.domain.contacts import emails_alert_at_once
from imtui.domain.emails import AlertFacts
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.domain.outbox import EmailKind
from imtui.store.cause_emails import email_for_cause
from imtui.store.contacts import contacts_to_email
from imtui.store.models import (
    Account,
    Alert,
    AlertContact,
    AlertNotice,
    Connection,
    Order,
    OutboxEmail,
)

HELD_SHOWN = 20
"""Order numbers gathered for an unmapped-ship-method email (the rest are counted)."""


def queue_alert_emails(session: Session, alert: Alert, now: datetime) -> list[OutboxEmail]:
    """A new alert that needs a person opened: tell every contact that gets it at once (B7,
    B8), in the caller's transaction — by the email its cause has waiting for the contact, or
    a new one (:func:`imtui.store.cause_emails.email_for_cause`). Returns the new emails.

    The content is composed just before the first attempt (in the notify layer), so that an
    email names every alert of its cause that opened by then.
    """
    assert alert.id is not None
    contacts = [
        contact
        for contact in reachable_contacts(session, alert.account_id)
        if emails_alert_at_once(contact.frequency, alert.kind)
        and alert.subject != refused_subject(contact.id or 0)
    ]
    if not contacts:
        return []
    facts = alert_facts(session, alert, with_held=False)
    subject = cause_subject(CauseFacts(told=(Told(facts, None),), told_total=1, open_total=1))
    opened: list[OutboxEmail] = []
    for contact in contacts:
        assert contact.id is not None  # read from the table
        email, new = email_for_cause(session, contact, alert, facts, now, subject=subject)
        if new:
            opened.append(email)
        session.add(
            AlertNotice(
                contact_id=contact.id,
                alert_id=alert.id,
                outbox_id=email.id,
                via=EmailKind.ALERT,
                noticed_at=now,
            )
        )
    return opened


def refused_subject(contact_id: int) -> str:
    """The subject of the alert that a contact's address was refused (one per contact)."""
    return f"contact:{contact_id}"


REACHABLE = "imtui.reachable_contacts"


def reachable_contacts(session: Session, account_id: int) -> list[AlertContact]:
    """The account's contacts that get email and whose address is not refused. Read once per
    transaction: a batch of 200 alerts asks 200 times."""
    cache: dict[int, list[AlertContact]] = session.info.setdefault(REACHABLE, {})
    if account_id not in cache:
        cache[account_id] = [
            contact
            for contact in contacts_to_email(session, account_id)
            if not has_refused_address(session, contact.id or 0)
        ]
    return cache[account_id]


def has_refused_address(session: Session, contact_id: int) -> bool:
    """Whether the mail server refused the contact's address and nobody has corrected it: its
    alerts wait, untold, for the correction (``ux_alert_open_fingerprint``)."""
    key = fingerprint(AlertKind.EMAIL_REFUSED, None, refused_subject(contact_id))
    found = session.exec(
        select(Alert.id).where(Alert.fingerprint == key, Alert.state == AlertState.OPEN)
    ).first()
    return found is not None


def alert_facts(session: Session, alert: Alert, *, with_held: bool = True) -> AlertFacts:
    """An alert as an email tells it: names instead of ids, and for an unmapped ship method
    the orders it holds."""
    account = session.get(Account, alert.account_id)
    connection = session.get(Connection, alert.connection_id) if alert.connection_id else None
    code = ship_method_of(alert) or carrier_method_of(session, alert)
    held: tuple[str, ...] = ()
    total = 0
    if with_held and code is not None and alert.kind == AlertKind.UNMAPPED_SHIP_METHOD:
        held, total = held_for_method(session, alert.account_id, code)
    return AlertFacts(
        alert_id=alert.id or 0,
        kind=alert.kind,
        account_id=alert.account_id,
        account=account.name if account is not None else f"account {alert.account_id}",
        connection_id=alert.connection_id,
        connection=connection.name if connection is not None else None,
        state=alert.state,
        message=alert.message,
        order_number=alert.order_number,
        sku=alert.sku,
        ship_method_code=code,
        count=alert.count,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        resolved_by=alert.resolved_by,
        held_orders=held,
        held_total=total,
        platform=connection.platform if connection is not None else None,
        **refused_contact(session, alert),
    )


def refused_contact(session: Session, alert: Alert) -> dict[str, Any]:
    """For a refused address: the contact, named, and its id."""
    if alert.kind != AlertKind.EMAIL_REFUSED:
        return {}
    prefix, _, key = (alert.subject or "").partition(":")
    contact = session.get(AlertContact, int(key)) if prefix == "contact" and key.isdigit() else None
    if contact is None:
        return {}
    return {"about": f"{contact.name} <{contact.email}>", "contact_id": contact.id}


def ship_method_of(alert: Alert) -> str | None:
    """The code of an unmapped-ship-method alert (its subject is ``method:<account>:<code>``)."""
    if alert.kind != AlertKind.UNMAPPED_SHIP_METHOD:
        return None
    subject = alert.subject or ""
    if subject.startswith("method:") and subject.count(":") >= 2:
        return subject.split(":", 2)[2]
    return None


def carrier_method_of(session: Session, alert: Alert) -> str | None:
    """The ship method of an order whose carrier the WMS does not know."""
    if alert.kind != AlertKind.UNKNOWN_CARRIER or alert.order_id is None:
        return None
    order = session.get(Order, alert.order_id)
    return order.ship_method_code if order is not None else None


def held_for_method(
    session: Session, account_id: int, code: str, *, shown: int = HELD_SHOWN
) -> tuple[tuple[str, ...], int]:
    """The first ``shown`` order numbers held for want of a mapping for ``code``, and how many
    there are (``ix_order_ship_method_code``)."""
    condition = and_(
        col(Order.ship_method_code) == code,
        col(Order.account_id) == account_id,
        col(Order.status) == OrderStatus.HELD,
        col(Order.hold_reason) == AlertKind.UNMAPPED_SHIP_METHOD,
    )
    numbers = tuple(
        session.exec(select(Order.number).where(condition).order_by(col(Order.id)).limit(shown))
    )
    total = session.exec(select(func.count(col(Order.id))).where(condition)).one()
    return numbers, int(total)
