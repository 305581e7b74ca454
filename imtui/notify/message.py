"""One outbox row as an RFC 5322 message: ``email.message.EmailMessage`` with the SMTP policy.

Every header value goes through :func:`imtui.domain.emails.header_text` again here, however it
was composed: a subject can never carry a CR, an LF, a Unicode line separator or an encoded
word into the header block. Addresses are built as ``Address`` objects from checked addresses,
never parsed out of text, and the recipients of the SMTP transaction are passed to the server
explicitly (see :mod:`imtui.notify.smtp`) — nothing is read back from these headers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from imtui.domain.email_address import smtp_address
from imtui.domain.emails import body_text, header_text, html_version
from imtui.notify.settings import EmailSettings

MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An outbox row as it goes out, read in the transaction that marked it sending."""

    email_id: int
    recipient: str
    recipient_name: str
    subject: str
    body: str
    message_id: str
    date: datetime
    resend: bool
    """The previous attempt was interrupted: this is the same message again."""
    in_reply_to: str | None = None
    """The Message-ID of the first email of its cause's thread, for a later one."""


def new_message_id(email_id: int, settings: EmailSettings) -> str:
    """A globally unique Message-ID, fixed for the row at its first attempt: the outbox id
    (to find the row from a received copy) and 64 random bits, at the sender's domain."""
    domain = smtp_address(settings.sender).rpartition("@")[2] if settings.sender else "imtui"
    return f"<imtui.{email_id}.{secrets.token_hex(8)}@{domain}>"


def build_message(outgoing: Outgoing, settings: EmailSettings) -> EmailMessage:
    if not settings.sender:
        raise ValueError("no sender address configured")
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(
        display_name=header_text(settings.sender_name, MAX_NAME),
        addr_spec=smtp_address(settings.sender),
    )
    message["To"] = Address(
        display_name=header_text(outgoing.recipient_name, MAX_NAME),
        addr_spec=smtp_address(outgoing.recipient),
    )
    message["Subject"] = header_text(outgoing.subject)
    message["Date"] = format_datetime(outgoing.date)
    message["Message-ID"] = outgoing.message_id
    if outgoing.in_reply_to:
        # Every later email of a cause answers the first: one thread in any mail program.
        message["In-Reply-To"] = outgoing.in_reply_to
        message["References"] = outgoing.in_reply_to
    # RFC 3834: no vacation auto-replies to a machine's mail.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Imtui-Outbox-Id"] = str(outgoing.email_id)
    text = body_text(outgoing.body)
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    if settings.html:
        message.add_alternative(
            html_version(text), subtype="html", charset="utf-8", cte="quoted-printable"
        )
    return message


def message_bytes(message: EmailMessage) -> bytes:
    """CRLF line ends, 7-bit clean (quoted-printable bodies, encoded-word headers): any SMTP
    server takes it, with or without 8BITMIME or SMTPUTF8."""
    return message.as_bytes(policy=SMTP)
