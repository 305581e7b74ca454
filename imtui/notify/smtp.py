"""Talking to the SMTP server through aiosmtplib: one connection per batch, one SMTP
transaction (MAIL, RCPT, DATA) per outbox row, and every way it can go wrong turned into one
line — the server's own reply when it gave one.

The envelope recipient is the outbox row's address, passed explicitly to RCPT; the message's
headers are never parsed for recipients.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPResponseException,
    SMTPTimeoutError,
)

from imtui.domain.email_address import smtp_address
from imtui.notify.settings import EmailSettings, SmtpSecurity


class SmtpUnavailable(Exception):
    """No usable connection (refused, timed out, TLS or login failed); one line, no secrets."""


@dataclass(frozen=True, slots=True)
class SmtpOutcome:
    accepted: bool
    reply: str
    """The server's reply: "250 2.0.0 Ok: queued as …", "451 4.3.0 Try again later" …"""
    connection_lost: bool = False
    """The connection broke: the batch stops and the rest is tried later."""
    refused_recipient: bool = False
    """A 5xx to RCPT: the server will never take mail for this address (550 user unknown)."""


class SmtpSession:
    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self.client: aiosmtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.effective_port}"

    async def open(self) -> None:
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.effective_port,
            use_tls=settings.security is SmtpSecurity.TLS,
            start_tls=settings.security is SmtpSecurity.STARTTLS,
            timeout=settings.timeout,
            validate_certs=settings.validate_certs,
            cert_bundle=settings.ca_file,
        )
        try:
            await client.connect()
            if settings.username:
                secret = settings.password.get_secret_value() if settings.password else ""
                await client.login(settings.username, secret)
        except SMTPAuthenticationError as exc:
            await _close(client)
            raise SmtpUnavailable(f"{self.where} refused the login: {reply_of(exc)}") from None
        except SMTPResponseException as exc:
            await _close(client)
            raise SmtpUnavailable(f"{self.where} said {reply_of(exc)}") from None
        except (SMTPException, OSError) as exc:
            await _close(client)
            raise SmtpUnavailable(f"cannot connect to {self.where}: {_reason(exc)}") from None
        self.client = client

    async def send(self, sender: str, recipient: str, data: bytes) -> SmtpOutcome:
        """One SMTP transaction. A refusal resets the session so the next row can go."""
        client = self.client
        if client is None:
            return SmtpOutcome(False, "not connected", connection_lost=True)
        phase = "MAIL"
        try:
            await client.mail(smtp_address(sender))
            phase = "RCPT"
            await client.rcpt(smtp_address(recipient))
            phase = "DATA"
            response = await client.data(data)
        except SMTPResponseException as exc:
            # MAIL, RCPT or DATA refused, with the server's reply (a 4xx or 5xx)
            await self._reset()
            refused = phase == "RCPT" and refuses_the_address(exc.code, exc.message)
            return SmtpOutcome(False, reply_of(exc), refused_recipient=refused)
        except (SMTPException, OSError) as exc:
            self.client = None
            if phase == "DATA":
                # It may have broken after the server took the message: the resend carries the
                # same Message-ID, so a duplicate can be told apart.
                return SmtpOutcome(
                    False,
                    f"connection lost during DATA ({_reason(exc)}); it may have arrived",
                    connection_lost=True,
                )
            return SmtpOutcome(False, f"connection lost at {phase}: {_reason(exc)}", True)
        return SmtpOutcome(True, f"{response.code} {response.message}".strip())

    async def _reset(self) -> None:
        if self.client is not None:
            try:
                await self.client.rset()
            except (SMTPException, OSError):
                await _close(self.client)
                self.client = None

    async def close(self) -> None:
        """QUIT politely."""
        if self.client is not None:
            await _close(self.client)
            self.client = None

    def abort(self) -> None:
        """Drop the connection at once, without waiting for the server."""
        if self.client is not None:
            self.client.close()
            self.client = None


async def _close(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        with contextlib.suppress(SMTPException, OSError):
            await client.quit()
    client.close()


ADDRESS_CODES = frozenset({550, 551, 553})
"""RCPT replies that can mean "no such mailbox" (RFC 5321 4.2.2): 550 unavailable, 551 not
local, 553 name not allowed. 552 at RCPT is to be taken as temporary (RFC 5321 4.5.3.1.10);
554 and 530 are about the sender or the relay, not this address."""
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def refuses_the_address(code: int, message: str) -> bool:
    """Whether a 5xx to RCPT says the address itself is bad, for good: 550/551/553 and, when
    the server gives an enhanced status code (RFC 3463), one of class 5.1 (addressing). "550
    5.7.1 Relaying denied" is the relay's policy: it backs off and the outbox shows it."""
    if code not in ADDRESS_CODES:
        return False
    enhanced = _ENHANCED.match(message or "")
    return enhanced is None or (enhanced.group(1) == "5" and enhanced.group(2) == "1")


def reply_of(exc: SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        return "timed out"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
