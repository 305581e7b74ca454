"""A new outbox row, as alert emails, summaries and digests all open one. Kept apart from
:mod:`imtui.store.outbox` (the claims and the listing), which the alert store imports through
its listing: this module needs only the table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from imtui.domain.outbox import EmailKind, OutboxState
from imtui.store.models import OutboxEmail


def queue_email(
    session: Session,
    *,
    account_id: int,
    contact_id: int | None,
    kind: EmailKind,
    recipient: str,
    recipient_name: str,
    due: datetime,
    now: datetime,
    **fields: Any,
) -> OutboxEmail:
    """A new ``queued`` row, added and flushed (its id is needed at once: notices point at it)."""
    email = OutboxEmail(
        account_id=account_id,
        contact_id=contact_id,
        kind=kind,
        recipient=recipient,
        recipient_name=recipient_name,
        state=OutboxState.QUEUED,
        next_attempt_at=due,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(email)
    session.flush()
    return email
