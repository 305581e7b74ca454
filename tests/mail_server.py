"""A real SMTP server on loopback for the email tests (aiosmtpd, in its own thread), that records
what it accepted and can be told to refuse, to go away, or to hold a transaction at RCPT or
before answering DATA — the moments a sender can be killed at."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        # Unfolded as a mail program shows it: Python folds a subject that fits a line of its
        # own onto the next line, and its parser keeps the folding space.
        return str(self.message["Subject"]).strip()

    @property
    def text(self) -> str:
        message = self.message
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()


@dataclass
class MailSink:
    """The aiosmtpd handler."""

    received: list[Received] = field(default_factory=list)
    refuse_data_with: str | None = None
    """e.g. "451 4.3.0 Try again later": DATA is answered with this instead of 250."""
    refuse_rcpt_with: str | None = None
    refuse_rcpt_for: dict[str, str] = field(default_factory=dict)
    drop_at_data_for: set[str] = field(default_factory=set)
    """Recipients whose DATA breaks the connection instead of an answer."""
    """address → reply: RCPT TO that address is answered with it ("550 5.1.1 … User unknown")."""
    rcpt_seen: threading.Event = field(default_factory=threading.Event)
    data_seen: threading.Event = field(default_factory=threading.Event)
    release_rcpt: threading.Event = field(default_factory=threading.Event)
    release_data: threading.Event = field(default_factory=threading.Event)
    transactions: int = 0
    held_at_rcpt: tuple[str, int] | None = None
    """The client (address, port) whose RCPT is being held."""
    closed: list[tuple[str, int]] = field(default_factory=list)
    """Clients (address, port) whose connection has ended: nothing more arrives from them."""

    def __post_init__(self) -> None:
        self.release_rcpt.set()
        self.release_data.set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if not self.release_rcpt.is_set():
            self.held_at_rcpt = session.peer
        self.rcpt_seen.set()
        while not self.release_rcpt.is_set():
            await asyncio.sleep(0.01)
        if self.refuse_rcpt_with:
            return self.refuse_rcpt_with
        if address in self.refuse_rcpt_for:
            return self.refuse_rcpt_for[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.transactions += 1
        if set(envelope.rcpt_tos) & self.drop_at_data_for:
            # The connection breaks before the server answers DATA (did it arrive?).
            server.transport.close()
            return "421 4.4.2 closing"
        if self.refuse_data_with:
            return self.refuse_data_with
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or envelope.content),
            )
        )
        self.data_seen.set()
        while not self.release_data.is_set():
            await asyncio.sleep(0.01)
        return f"250 2.0.0 Ok: queued as M{len(self.received)}"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


class WatchedSMTP(SMTP):
    """aiosmtpd's SMTP that tells the sink when a client connection has ended: once it has,
    nothing more can arrive on it."""

    def connection_lost(self, error: Exception | None) -> None:
        peer = self.session.peer if self.session is not None else None
        super().connection_lost(error)
        self.event_handler.closed.append(peer)


class LoopbackController(Controller):
    """Controller on 127.0.0.1 that may be given port 0 (any free port)."""

    def factory(self) -> SMTP:
        return WatchedSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailServer:
    """Start, stop and start again on the same port (an outage, then back). ``ssl_context``
    makes it implicit TLS; ``smtp_parameters`` go to aiosmtpd's SMTP (STARTTLS, AUTH …)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, **smtp_parameters: Any) -> None:
        self.sink = MailSink()
        self.port = 0
        self.ssl_context = ssl_context
        self.smtp_parameters = smtp_parameters
        self._controller: LoopbackController | None = None

    def start(self) -> None:
        controller = LoopbackController(
            self.sink,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=self.ssl_context,
            **self.smtp_parameters,
        )
        controller.start()
        self.port = controller.port
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[Received]:
        return self.sink.received


@contextmanager
def mail_server(
    ssl_context: ssl.SSLContext | None = None, **smtp_parameters: Any
) -> Iterator[MailServer]:
    server = MailServer(ssl_context, **smtp_parameters)
    server.start()
    try:
        yield server
    finally:
        server.sink.release_rcpt.set()
        server.sink.release_data.set()
        server.stop()


def wait_until(predicate: Any, timeout: float = 10.0, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
