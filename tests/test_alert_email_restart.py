"""A worker process killed while it sends alert email (SIGKILL: no clean-up at all), and a new
one started: nothing is lost and nothing is sent twice — except in the one window no SMTP
client can close, which is pinned here as documented (README, "Alert email")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from imtui.domain.failures import AlertKind
from imtui.domain.outbox import GATHER
from imtui.engine import account_actions, contact_actions
from imtui.engine.clock import SystemClock
from imtui.notify.mailer import Mailer
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.database import Database
from imtui.store.models import OutboxEmail
from imtui.store.queue import worker_identity
from tests.conftest import ACTOR
from tests.mail_server import MailServer, wait_until
from tests.test_alert_email import SENDER, email_settings

pytestmark = pytest.mark.slow


def queue_alert_email(db: Database) -> None:
    """An unmapped-ship-method alert for an account with one "immediately" contact: one email
    in the outbox, due now by the system clock the worker process uses (raised a burst's
    gathering time ago)."""
    now = SystemClock().now() - GATHER
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme", kind="merchant", actor=ACTOR, now=now
        )
        contact_actions.add_contact(
            session,
            account=account,
            name="Ops",
            email="ops@example.com",
            frequency="immediately",
            actor=ACTOR,
            now=now,
        )
        raise_alert(
            session,
            account_id=account.id or 0,
            connection_id=None,
            kind=AlertKind.UNMAPPED_SHIP_METHOD,
            message="Ship method 'NOPE' has no mapping to a WMS carrier",
            now=now,
            about=AlertSubject(order_number="#1001", subject=f"method:{account.id}:NOPE"),
        )


def start_worker(db_path: Path, smtp: MailServer) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "IMTUI_SMTP_HOST": "127.0.0.1",
        "IMTUI_SMTP_PORT": str(smtp.port),
        "IMTUI_SMTP_SECURITY": "none",
        "IMTUI_SMTP_SENDER": SENDER,
        "IMTUI_SMTP_TIMEOUT": "30",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "imtui.cli", "--db", str(db_path), "worker", "--tick", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def the_email(db: Database) -> OutboxEmail:
    with db.read() as session:
        [email] = session.exec(select(OutboxEmail)).all()
    return email


async def send_with_a_new_worker(db: Database, smtp: MailServer) -> None:
    mailer = Mailer(db, clock=SystemClock(), owner=worker_identity(), settings=email_settings(smtp))
    assert await mailer.recover() == 1, "the dead worker's lease is taken back at start"
    report = await mailer.send_due()
    assert (report.sent, report.resent) == (1, 1)
    assert (await mailer.send_due()).sent == 0


async def test_a_worker_killed_mid_send_loses_and_duplicates_nothing(
    tmp_path: Path, smtp: MailServer
) -> None:
    db = Database(str(tmp_path / "imtui.db"))
    queue_alert_email(db)
    smtp.sink.release_rcpt.clear()  # hold the worker's transaction at RCPT
    worker = start_worker(tmp_path / "imtui.db", smtp)
    try:
        assert smtp.sink.rcpt_seen.wait(60), worker.stdout.read1().decode()  # type: ignore[union-attr]
        assert the_email(db).state == "sending", "marked before the SMTP transaction"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    smtp.sink.release_rcpt.set()

    await send_with_a_new_worker(db, smtp)

    email = the_email(db)
    assert (email.state, email.attempts) == ("sent", 2)
    assert len(smtp.received) == 1
    assert smtp.received[0].message_id == email.message_id
    db.dispose()


async def test_a_kill_after_the_server_took_the_message_resends_it_with_the_same_message_id(
    tmp_path: Path, smtp: MailServer
) -> None:
    """The window no SMTP client can close: the server has the message, the worker dies before
    it hears "250" and records it. The email goes again, and the copy carries the same
    Message-ID, so a mail system (or a person) can tell it is the same message."""
    db = Database(str(tmp_path / "imtui.db"))
    queue_alert_email(db)
    smtp.sink.release_data.clear()  # keep the message, hold back the "250"
    worker = start_worker(tmp_path / "imtui.db", smtp)
    try:
        assert smtp.sink.data_seen.wait(60), worker.stdout.read1().decode()  # type: ignore[union-attr]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    smtp.sink.release_data.set()
    wait_until(lambda: smtp.sink.transactions == 1, what="the first transaction")

    await send_with_a_new_worker(db, smtp)

    email = the_email(db)
    assert email.state == "sent"
    assert len(smtp.received) == 2
    assert {r.message_id for r in smtp.received} == {email.message_id}
    assert smtp.received[0].data == smtp.received[1].data, "byte for byte the same message"
    db.dispose()
