"""The email outbox's states and its retry rule. Pure: no clock is read here."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class OutboxState(StrEnum):
    QUEUED = "queued"
    """Waiting for its next attempt (its first, or a retry after the server was down or said
    no: then ``last_error`` holds the server's reply)."""
    SENDING = "sending"
    """Handed to the SMTP server, outcome not yet recorded. A row claimed again in this state
    was interrupted (the process stopped mid-send): it is sent again with the same Message-ID."""
    SENT = "sent"
    """The server accepted it (its reply is kept)."""
    FAILED = "failed"
    """Refused for good: the server answered a 5xx to the recipient (550 user unknown). Not
    retried; ``last_error`` holds the reply, and the contact has an alert until a person edits
    or deletes it. Editing the address sends it again to the new one."""
    CANCELLED = "cancelled"
    """Never sent on purpose: its alert closed before a first attempt, or its contact was
    deleted or switched off."""


class EmailKind(StrEnum):
    ALERT = "alert"
    """One alert, as it opens (B8, and every alert for "immediately" contacts)."""
    DIGEST = "digest"
    """The new alerts of an hour or a day, grouped; or a summary when a contact switches to
    "immediately"."""
    SUMMARY = "summary"
    """What a contact over the cap (IMTUI_EMAIL_CAP) was not sent one by one, in one email."""


GATHER = timedelta(seconds=10)
"""A cause's first email waits this long after its first alert, so that the alerts of one
burst (a cycle delivering 200 orders with one unknown SKU) go out as one email."""
UPDATE_EVERY = timedelta(minutes=5)
"""A thread gets at most one answer this often: the alerts of its cause in between are told in
one."""

FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after each failed attempt, never more than an hour: a short outage
    is caught up quickly, a long one costs one try an hour. Mail is never given up on."""
    if attempts <= 1:
        return FIRST_RETRY
    factor: int = 2 ** min(attempts - 1, 16)
    return min(MAX_RETRY, FIRST_RETRY * factor)


def next_email_attempt(attempts: int, now: datetime) -> datetime:
    return now + retry_delay(attempts)


def shown_state(state: str, last_error: str | None) -> str:
    """What a person sees: "failing" is a queued email whose last attempt did not get through."""
    if state == OutboxState.QUEUED and last_error:
        return "failing"
    return state
