"""The email jobs of one process: send what the outbox has due, and compose the digests that
are due. :class:`imtui.service.Service` runs both on its scheduler; tests call them directly
with a fake clock.

The database decides who sends what, as for the retry queue: a job claims due rows with a
lease, so several workers on one PostgreSQL never send one email twice at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from imtui.domain.clock import Clock
from imtui.domain.text import printable
from imtui.notify.digests import compose_due_digests
from imtui.notify.message import Outgoing, build_message, message_bytes
from imtui.notify.outbox import (
    NotSent,
    prepare_email,
    record_failures,
    record_refused_address,
)
from imtui.notify.settings import EmailSettings, EmailSettingsError, load_email_settings
from imtui.notify.smtp import SmtpOutcome, SmtpSession, SmtpUnavailable
from imtui.store.database import Database, DatabaseError
from imtui.store.models import OutboxEmail
from imtui.store.outbox import (
    claim_due_emails,
    due_after_reconnect,
    record_sent,
    release_emails,
)
from imtui.store.queue import process_is_alive, release_dead_leases, worker_host

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE = timedelta(minutes=10)
"""How long a claimed email stays ours; each one is re-leased as it is marked sending, so this
only has to outlast one SMTP transaction (a few timeouts at most)."""
BATCH = 20
MAX_BATCHES = 25
"""Per run of the job: at most 500 emails, then the next tick carries on."""
STOP_WAIT = 5.0
"""How long a stop waits for a cancelled send to unwind."""


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    resent: int = 0
    """Emails whose previous attempt was interrupted, sent again with the same Message-ID."""
    refused: int = 0
    """Emails whose recipient the server refused for good (a 5xx to RCPT): not tried again."""
    folded: int = 0
    """Alert emails over the cap, folded into the contact's summary."""
    deferred: int = 0
    """Answers waiting for their thread's first email."""
    unavailable: str | None = None
    """Why no connection could be made, if none could."""
    replies: list[str] = field(default_factory=list)

    def count(self, why: NotSent) -> None:
        if why is NotSent.CANCELLED:
            self.cancelled += 1
        elif why is NotSent.FOLDED:
            self.folded += 1
        elif why is NotSent.DEFERRED:
            self.deferred += 1


class Mailer:
    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        owner: str,
        settings: EmailSettings | None = None,
        lease: timedelta = LEASE,
        batch: int = BATCH,
    ) -> None:
        self.db = database
        self.clock = clock
        self.owner = owner
        self.lease = lease
        self.batch = batch
        self.problem: str | None = None
        """Why sending is off (bad settings), for the log and the dashboard."""
        if settings is None:
            try:
                settings = load_email_settings()
            except EmailSettingsError as exc:
                self.problem = str(exc)
                settings = EmailSettings.model_construct()
        self.settings = settings
        self._sending = asyncio.Lock()
        self._composing = asyncio.Lock()
        self._told_off = False
        self._task: asyncio.Task[Any] | None = None
        self._session: SmtpSession | None = None

    @property
    def can_send(self) -> bool:
        return self.problem is None and self.settings.enabled

    # -- database access, off the event loop ----------------------------------------------

    async def _write(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.db.write_in_thread(work, *args, **kwargs)

    # -- the jobs -----------------------------------------------------------------------------

    async def recover(self) -> int:
        """Free outbox leases held by dead processes on this host (their emails go again)."""
        return await self._write(
            partial(
                release_dead_leases,
                host=worker_host(),
                is_alive=process_is_alive,
                now=self.clock.now(),
                table=OutboxEmail,
            )
        )

    async def compose_digests(self) -> list[int]:
        """Write the digests that are due to the outbox; returns their ids."""
        async with self._composing:
            return await self._write(
                partial(
                    compose_due_digests,
                    now=self.clock.now(),
                    settings=self.settings,
                    for_update=not self.db.is_sqlite,
                )
            )

    async def send_due(self) -> SendReport:
        """Send every email that is due, a batch per SMTP connection."""
        report = SendReport()
        if not self.can_send:
            self._say_why_not()
            return report
        async with self._sending:
            self._task = asyncio.current_task()
            try:
                await self._send_batches(report)
            finally:
                self._task = None
        return report

    async def _send_batches(self, report: SendReport) -> None:
        for _ in range(MAX_BATCHES):
            ids = await self._claim()
            if not ids:
                break
            if not await self._send_batch(ids, report):
                break

    async def _claim(self) -> list[int]:
        return await self._write(
            partial(
                claim_due_emails,
                owner=self.owner,
                now=self.clock.now(),
                lease=self.lease,
                limit=self.batch,
                for_update=not self.db.is_sqlite,
            )
        )

    async def _after_reconnect(self, ids: list[int]) -> list[int]:
        """The server answers: what waited only for it is due now, and the batch is claimed
        again oldest first, so the first alert of an outage is not the last one told."""
        made_due = await self._write(partial(due_after_reconnect, now=self.clock.now()))
        if not made_due:
            return ids
        log.info("email: the server answers again; %d waiting email(s) are due now", made_due)
        await self._write(release_emails, ids, owner=self.owner)
        return await self._claim()

    async def idle(self) -> None:
        """Wait until no job is running."""
        async with self._sending, self._composing:
            return

    async def stop(self, grace: float) -> None:
        """Let the email being sent get its answer (up to ``grace`` seconds); then cut the
        connection and cancel the job, and wait for it to be gone. Whatever was cut off is
        "sending" or back in the queue, and goes again (same Message-ID)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), grace)
            return
        if self._session is not None:
            # Closing the socket first: a cancellation can be lost in a read that completes
            # at the same moment (asyncio.wait_for on 3.11), a closed connection cannot.
            self._session.abort()
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), STOP_WAIT)

    async def send_job(self) -> None:
        """The scheduler's outbox job: never raises, one line per problem."""
        try:
            report = await self.send_due()
        except asyncio.CancelledError:
            # The service is stopping and its grace ran out mid-send: the email stays
            # "sending" and goes again (same Message-ID) once a worker claims it.
            log.warning("outbox job stopped in the middle of a send")
            return
        except DatabaseError as exc:
            log.warning("outbox skipped: %s", exc)
            return
        except Exception as exc:
            log.error(
                "outbox failed: %s: %s", type(exc).__name__, exc, exc_info=log.isEnabledFor(10)
            )
            return
        if report.unavailable:
            log.warning(
                "email: %s; %d email(s) wait in the outbox", report.unavailable, report.failed
            )

    async def digest_job(self) -> None:
        try:
            written = await self.compose_digests()
        except DatabaseError as exc:
            log.warning("digests skipped: %s", exc)
            return
        except Exception as exc:
            log.error(
                "digests failed: %s: %s", type(exc).__name__, exc, exc_info=log.isEnabledFor(10)
            )
            return
        if written:
            log.info("composed %d digest email(s)", len(written))

    # -- one batch ----------------------------------------------------------------------------

    async def _send_batch(self, ids: list[int], report: SendReport) -> bool:
        """Returns False when the server could not be reached (stop for this run). A connection
        that breaks in one email's transaction is opened again for the rest: one email that
        breaks it (a recipient the server chokes on) must not hold up everyone else's."""
        session = await self._open(ids, report)
        if session is None:
            return False
        try:
            remaining = await self._after_reconnect(ids)
            while remaining:
                email_id = remaining.pop(0)
                delivery = await self._send_one(session, email_id, report)
                if delivery is not None and delivery.connection_lost and remaining:
                    session.abort()
                    reopened = await self._open(remaining, report)
                    if reopened is None:
                        return False
                    session = reopened
        except BaseException:
            # Cancelled (the process is stopping) or a bug: drop the connection without a
            # QUIT that could wait on the server. A row left "sending" goes again later.
            session.abort()
            raise
        finally:
            self._session = None
        await session.close()
        return True

    async def _open(self, ids: list[int], report: SendReport) -> SmtpSession | None:
        """A connection for these emails, or None (recorded as "the server did not answer")."""
        session = SmtpSession(self.settings)
        self._session = session
        try:
            await session.open()
        except SmtpUnavailable as exc:
            self._session = None
            await self._record_failures(ids, str(exc), attempted=False, server_down=True)
            report.failed += len(ids)
            report.unavailable = str(exc)
            return None
        return session

    async def _send_one(
        self, session: SmtpSession, email_id: int, report: SendReport
    ) -> SmtpOutcome | None:
        outgoing: Outgoing | NotSent = await self._write(
            prepare_email,
            email_id,
            owner=self.owner,
            now=self.clock.now(),
            lease=self.lease,
            settings=self.settings,
        )
        if isinstance(outgoing, NotSent):
            report.count(outgoing)
            return None
        if outgoing.resend:
            report.resent += 1
            log.warning(
                "email %d: the last attempt was interrupted; sending it again as %s",
                email_id,
                outgoing.message_id,
            )
        assert self.settings.sender is not None
        data = message_bytes(build_message(outgoing, self.settings))
        delivery = await session.send(self.settings.sender, outgoing.recipient, data)
        report.replies.append(delivery.reply)
        if delivery.accepted:
            await self._write(record_sent, email_id, reply=delivery.reply, now=self.clock.now())
            report.sent += 1
            log.info("email %d sent to %s", email_id, printable(outgoing.recipient))
        elif delivery.refused_recipient:
            await self._write(
                record_refused_address,
                email_id,
                owner=self.owner,
                reply=delivery.reply,
                now=self.clock.now(),
            )
            report.refused += 1
            log.warning(
                "email %d refused for good: %s: %s",
                email_id,
                printable(outgoing.recipient),
                printable(delivery.reply),
            )
        else:
            # (a connection lost mid-transaction keeps the backoff: the server answered, and
            # this email may be the one that breaks it)
            await self._record_failures([email_id], delivery.reply, attempted=True)
            report.failed += 1
            log.warning("email %d not sent: %s", email_id, printable(delivery.reply))
        return delivery

    async def _record_failures(
        self, ids: list[int], error: str, *, attempted: bool, server_down: bool = False
    ) -> None:
        await self._write(
            record_failures,
            ids,
            owner=self.owner,
            error=error,
            now=self.clock.now(),
            attempted=attempted,
            server_down=server_down,
        )

    def why_off(self) -> str | None:
        """Why no email goes out (None when it does): the settings' problem, or no host."""
        if self.problem:
            return self.problem
        return None if self.settings.enabled else "set IMTUI_SMTP_HOST"

    def _say_why_not(self) -> None:
        if self._told_off:
            return
        self._told_off = True
        reason = self.why_off()
        if self.problem:
            log.error("email is off: %s", reason)
        else:
            log.info("email is off: %s", reason)
