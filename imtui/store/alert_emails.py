"""The emails an alert change writes (B7, B8), in the transaction that changes the alert: the
one hook :func:`imtui.store.alerts.raise_alert` calls, and the facts an alert email is composed
from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from imtui.domain.contacts import emails_alert_at_once
from imtui.domain.emails import AlertFacts, alert_subject
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.domain.outbox import EmailKind, OutboxState
from imtui.store.contacts import contacts_to_email
from imtui.store.models import Account, Alert, AlertNotice, Connection, Order, OutboxEmail

HELD_SHOWN = 20
"""Order numbers gathered for an unmapped-ship-method email (the rest are counted)."""


def queue_alert_emails(session: Session, alert: Alert, now: datetime) -> list[OutboxEmail]:
    """A new alert that needs a person opened: queue its email for every contact that gets it at
    once (B7, B8), in the caller's transaction, and note that they were told about it.

    The subject is composed now; the body just before the first attempt (in the notify
    layer), so that an unmapped-method email names every order held by the time it goes out.
    """
    assert alert.id is not None
    contacts = [
        contact
        for contact in contacts_to_email(session, alert.account_id)
        if emails_alert_at_once(contact.frequency, alert.kind)
    ]
    if not contacts:
        return []
    subject = alert_subject(alert_facts(session, alert, with_held=False))
    emails = [
        OutboxEmail(
            account_id=alert.account_id,
            contact_id=contact.id,
            alert_id=alert.id,
            kind=EmailKind.ALERT,
            recipient=contact.email,
            recipient_name=contact.name,
            subject=subject,
            state=OutboxState.QUEUED,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for contact in contacts
    ]
    session.add_all(emails)
    session.flush()
    session.add_all(
        AlertNotice(
            contact_id=contact.id,  # type: ignore[arg-type]
            alert_id=alert.id,
            outbox_id=email.id,
            via=EmailKind.ALERT,
            noticed_at=now,
        )
        for contact, email in zip(contacts, emails, strict=True)
    )
    return emails


def alert_facts(session: Session, alert: Alert, *, with_held: bool = True) -> AlertFacts:
    """An alert as an email tells it: names instead of ids, and for an unmapped ship method
    the orders it holds."""
    account = session.get(Account, alert.account_id)
    connection = session.get(Connection, alert.connection_id) if alert.connection_id else None
    code = ship_method_of(alert)
    held: tuple[str, ...] = ()
    total = 0
    if with_held and code is not None:
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
    )


def ship_method_of(alert: Alert) -> str | None:
    """The code of an unmapped-ship-method alert (its subject is ``method:<account>:<code>``)."""
    if alert.kind != AlertKind.UNMAPPED_SHIP_METHOD:
        return None
    subject = alert.subject or ""
    if subject.startswith("method:") and subject.count(":") >= 2:
        return subject.split(":", 2)[2]
    return None


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
