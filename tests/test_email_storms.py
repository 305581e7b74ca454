"""Alert email on a bad day (issue 11): a storm of one cause is one email and a thread of
answers, a contact over the cap gets one summary, an address the server refuses for good stops
and becomes an alert, and after an outage the oldest email goes first. The real engine against
the sandbox, the outbox job through aiosmtplib to aiosmtpd on loopback, and the injected clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.outbox import GATHER, UPDATE_EVERY, EmailKind, OutboxState
from imtui.engine import account_actions, alert_actions, contact_actions
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.notify.mailer import Mailer
from imtui.store import cause_emails
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.database import Database
from imtui.store.models import Alert, AlertNotice, OutboxEmail
from imtui.store.outbox import outbox_counts
from imtui.store.queue import worker_identity
from tests.conftest import ACTOR, World, add_shop_order
from tests.mail_server import MailServer
from tests.test_alert_email import add_contact, email_settings, send_gathered

STORM_SKU = "TENT-XL-GRN"
REFUSED = "550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"


@pytest.fixture
def mailer(db: Database, clock: FakeClock, smtp: MailServer) -> Mailer:
    return Mailer(db, clock=clock, owner=worker_identity(), settings=email_settings(smtp))


def emails(db: Database) -> list[OutboxEmail]:
    with db.read() as session:
        return list(session.exec(select(OutboxEmail).order_by(col(OutboxEmail.id))))


def open_alerts(db: Database, kind: AlertKind) -> list[Alert]:
    with db.read() as session:
        return list(
            session.exec(select(Alert).where(Alert.kind == kind, Alert.state == AlertState.OPEN))
        )


async def deliver(engine: Engine, db: Database, expected: int, kind: AlertKind) -> None:
    """Run cycles until ``expected`` alerts of ``kind`` are open (a cycle takes a batch)."""
    for _ in range(20):
        await engine.run_once()
        if len(open_alerts(db, kind)) >= expected:
            return
    raise AssertionError(f"{len(open_alerts(db, kind))} {kind} alerts, not {expected}")


# -- a storm of one cause ----------------------------------------------------------------------


@pytest.mark.slow
async def test_two_hundred_orders_of_one_unknown_sku_are_one_email_then_answers_in_its_thread(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    for number in range(1001, 1201):
        add_shop_order(sandbox, number, sku=STORM_SKU)
    await deliver(engine, db, 200, AlertKind.UNKNOWN_SKU)

    report = await send_gathered(clock, mailer)

    assert report.sent == 1
    [first] = smtp.received
    assert first.subject == f'[imtui] Acme: SKU "{STORM_SKU}" unknown to the WMS, 200 orders held'
    text = first.text
    assert "Orders:      #1001, #1002, #1003" in text
    assert "#1020 and 180 more" in " ".join(text.split())
    assert f"SKU:         {STORM_SKU}" in text
    assert f"Sku '{STORM_SKU}' not found" in text and "(to each of them)" in text
    resend = "imtui orders resend --account 1 " + " ".join(f"'#{n}'" for n in range(1001, 1006))
    assert resend in text
    assert "(the other 195: imtui alerts list --account 1 --kind unknown_sku)" in text
    assert first.message["In-Reply-To"] is None
    with db.read() as session:
        told = session.exec(
            select(AlertNotice).where(AlertNotice.outbox_id == emails(db)[0].id)
        ).all()
    assert len(told) == 200, "every order is told, by the one email"

    # Three more orders of the same SKU: an answer in the thread, after UPDATE_EVERY at most.
    for number in range(1201, 1204):
        add_shop_order(sandbox, number, sku=STORM_SKU)
    clock.advance(timedelta(seconds=301))
    await deliver(engine, db, 203, AlertKind.UNKNOWN_SKU)
    await send_gathered(clock, mailer)
    assert len(smtp.received) == 1 or smtp.received[1].subject.startswith("Re: ")
    clock.advance(UPDATE_EVERY)
    await mailer.send_due()

    [_, answer] = smtp.received
    assert answer.subject == "Re: " + first.subject
    assert answer.message["In-Reply-To"] == first.message_id
    assert answer.message["References"] == first.message_id
    assert "3 more orders since the last email about this; 203 open in all (200 told before)." in (
        answer.text
    )
    assert "imtui orders resend --account 1 '#1201' '#1202' '#1203'" in answer.text

    # Another SKU is another cause: its own email, not in the thread.
    add_shop_order(sandbox, 1300, sku="MUG-01")
    clock.advance(timedelta(seconds=301))
    await deliver(engine, db, 204, AlertKind.UNKNOWN_SKU)
    await send_gathered(clock, mailer)
    other = smtp.received[-1]
    assert other.subject == '[imtui] Acme: SKU "MUG-01" unknown to the WMS, order #1300 held'
    assert other.message["In-Reply-To"] is None


async def test_a_cause_whose_alerts_all_closed_starts_a_new_thread(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    add_shop_order(sandbox, 1001, sku=STORM_SKU)
    await deliver(engine, db, 1, AlertKind.UNKNOWN_SKU)
    await send_gathered(clock, mailer)
    [alert] = open_alerts(db, AlertKind.UNKNOWN_SKU)
    with db.write() as session:
        alert_actions.dismiss(session, alert_id=alert.id or 0, actor=ACTOR, now=clock.now())

    add_shop_order(sandbox, 1002, sku=STORM_SKU)
    clock.advance(timedelta(hours=2))
    await deliver(engine, db, 1, AlertKind.UNKNOWN_SKU)
    await send_gathered(clock, mailer)

    [_, again] = smtp.received
    assert again.message["In-Reply-To"] is None, "the incident was over: a new thread"
    assert "order #1002 held" in again.subject


# -- the cap -------------------------------------------------------------------------------------


def raise_sku_alerts(db: Database, clock: FakeClock, account_id: int, skus: range) -> None:
    with db.write() as session:
        for n in skus:
            raise_alert(
                session,
                account_id=account_id,
                connection_id=None,
                kind=AlertKind.UNKNOWN_SKU,
                message=f"Sku 'X{n}' not found",
                now=clock.now(),
                about=AlertSubject(order_number=f"#{2000 + n}", sku=f"X{n}", subject=f"d:{n}"),
            )


async def test_over_the_cap_what_opens_is_folded_into_one_summary_and_nothing_is_dropped(
    db_url: str, clock: FakeClock, smtp: MailServer
) -> None:
    db = Database(db_url)
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme", kind="merchant", actor=ACTOR, now=clock.now()
        )
        account_id = account.id or 0
    mailer = Mailer(
        db,
        clock=clock,
        owner=worker_identity(),
        settings=email_settings(smtp, cap=20, cap_minutes=10),
    )
    add_contact(db, clock, account_id, "ops@example.com", "immediately")
    raise_sku_alerts(db, clock, account_id, range(25))

    report = await send_gathered(clock, mailer)

    assert report.sent == 20 and len(smtp.received) == 20
    folded = [e for e in emails(db) if e.state == OutboxState.CANCELLED]
    [summary] = [e for e in emails(db) if e.kind == EmailKind.SUMMARY]
    assert len(folded) == 5
    assert all(
        f"folded into summary email {summary.id}: over 20 emails per contact in 10 minutes"
        in (e.last_error or "")
        for e in folded
    )
    # More of the storm while the window is full joins the same summary.
    raise_sku_alerts(db, clock, account_id, range(25, 28))
    clock.advance(GATHER)
    await mailer.send_due()
    assert len(smtp.received) == 20

    clock.advance(timedelta(minutes=10))
    await mailer.send_due()

    assert len(smtp.received) == 21
    last = smtp.received[-1]
    assert last.subject == (
        "[imtui] Acme: 8 alerts folded into one email (over 20 emails in 10 minutes)"
    )
    for n in range(20, 28):
        assert f'SKU "X{n}" unknown to the WMS — order #{2000 + n} held' in last.text
        assert f"imtui orders resend --account 1 '#{2000 + n}'" in last.text
    assert "Nothing is dropped" in last.text
    with db.read() as session:
        told = session.exec(
            select(AlertNotice.alert_id)
            .join(OutboxEmail, col(OutboxEmail.id) == AlertNotice.outbox_id)
            .where(OutboxEmail.state == OutboxState.SENT)
        ).all()
    assert len(set(told)) == 28, "every alert reached the contact, one way or the other"
    db.dispose()


async def test_a_summary_longer_than_it_can_list_counts_the_rest_and_says_where_they_are(
    db, clock, world: World, smtp: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cause_emails, "TOLD_MAX", 3)  # read at most 3 alerts per email
    mailer = Mailer(db, clock=clock, owner=worker_identity(), settings=email_settings(smtp, cap=1))
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    raise_sku_alerts(db, clock, world.account_id, range(6))

    await send_gathered(clock, mailer)
    clock.advance(timedelta(minutes=10))
    await mailer.send_due()

    summary = smtp.received[-1]
    assert summary.subject.startswith("[imtui] Acme: 5 alerts folded into one email")
    assert summary.text.count("unknown to the WMS") == 3
    assert "And 2 more alerts than fit here: imtui alerts list --account 1" in summary.text


async def test_an_answer_to_a_first_email_that_never_got_through_stands_alone(
    db, clock, world: World, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    smtp.sink.refuse_data_with = "451 4.3.0 Try again later"
    with db.write() as session:
        raise_alert(
            session,
            account_id=world.account_id,
            connection_id=None,
            kind=AlertKind.UNKNOWN_SKU,
            message="Sku 'A' not found",
            now=clock.now(),
            about=AlertSubject(order_number="#1", sku="A", subject="d:1"),
        )
    await send_gathered(clock, mailer)  # the first email fails: rendered, failing
    with db.write() as session:
        raise_alert(
            session,
            account_id=world.account_id,
            connection_id=None,
            kind=AlertKind.UNKNOWN_SKU,
            message="Sku 'A' not found",
            now=clock.now(),
            about=AlertSubject(order_number="#2", sku="A", subject="d:2"),
        )
    first, answer = emails(db)
    assert answer.thread_id == first.id

    clock.advance(UPDATE_EVERY + GATHER)
    await mailer.send_due()  # both fail again; the answer was composed on its own
    smtp.sink.refuse_data_with = None
    clock.advance(timedelta(hours=1))
    await mailer.send_due()

    by_order = {("#1" in r.subject): r for r in smtp.received}
    alone = by_order[False]
    assert alone.subject == '[imtui] Acme: SKU "A" unknown to the WMS, order #2 held'
    assert alone.message["In-Reply-To"] is None


# -- a permanent refusal ---------------------------------------------------------------------------


async def test_a_5xx_at_rcpt_stops_that_email_and_raises_an_alert_on_the_contact(
    db, clock, world: World, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    gone = add_contact(db, clock, world.account_id, "gone@example.com", "immediately")
    smtp.sink.refuse_rcpt_for["gone@example.com"] = REFUSED
    raise_sku_alerts(db, clock, world.account_id, range(1))

    report = await send_gathered(clock, mailer)

    assert (report.sent, report.refused) == (1, 1)
    refused = next(e for e in emails(db) if e.recipient == "gone@example.com")
    assert refused.state == OutboxState.FAILED and refused.last_error == REFUSED
    assert refused.next_attempt_at is None
    [alert] = open_alerts(db, AlertKind.EMAIL_REFUSED)
    assert "gone@example.com" in alert.message and "User unknown" in alert.message
    assert alert.subject == f"contact:{gone}"

    # The contact alert is emailed to the others, not to the address that bounces; the refused
    # email is never tried again.
    await send_gathered(clock, mailer)
    clock.advance(timedelta(hours=3))
    await mailer.send_due()
    to_gone = [r for r in smtp.received if "gone@example.com" in r.rcpt_tos]
    assert to_gone == []
    told_ops = [r.subject for r in smtp.received if r.rcpt_tos == ["ops@example.com"]]
    assert any("address refused by the mail server" in s.lower() for s in told_ops)
    assert smtp.sink.transactions == 2

    # While the address bounces, what opens waits for it, untold: no email is even tried.
    raise_sku_alerts(db, clock, world.account_id, range(1, 4))
    await send_gathered(clock, mailer)
    assert not [e for e in emails(db) if e.contact_id == gone and e.state == OutboxState.QUEUED]
    assert smtp.sink.transactions == 5  # ops got X1..X3; nothing went to gone@

    # Correcting the address closes the alert, sets the refused email aside (the refused count
    # goes back to 0) and tells the new address what is open in one summary, not a burst.
    with db.write() as session:
        contact_actions.edit_contact(
            session, contact_id=gone, email="back@example.com", actor=ACTOR, now=clock.now()
        )
        assert outbox_counts(session).failed == 0
    assert open_alerts(db, AlertKind.EMAIL_REFUSED) == []
    await mailer.compose_digests()
    await mailer.send_due()
    [again] = [r for r in smtp.received if r.rcpt_tos == ["back@example.com"]]
    assert again.subject == "[imtui] Acme: 4 new alerts need a person (summary of open alerts)"
    assert all(f'SKU "X{n}"' in again.text for n in range(4))


async def test_a_5xx_at_rcpt_that_is_about_the_relay_backs_off_and_blames_no_address(
    db, clock, world: World, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    smtp.sink.refuse_rcpt_with = "554 5.7.1 <ops@example.com>: Relay access denied"
    raise_sku_alerts(db, clock, world.account_id, range(1))

    report = await send_gathered(clock, mailer)

    assert (report.failed, report.refused) == (1, 0)
    [email] = emails(db)
    assert email.state == OutboxState.QUEUED and "Relay access denied" in (email.last_error or "")
    assert open_alerts(db, AlertKind.EMAIL_REFUSED) == []


async def test_a_4xx_at_rcpt_keeps_the_backoff(
    db, clock, world: World, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    smtp.sink.refuse_rcpt_with = "450 4.2.1 Mailbox busy, try later"
    raise_sku_alerts(db, clock, world.account_id, range(1))

    report = await send_gathered(clock, mailer)

    assert (report.failed, report.refused) == (1, 0)
    [email] = emails(db)
    assert email.state == OutboxState.QUEUED
    assert email.last_error == "450 4.2.1 Mailbox busy, try later"
    assert open_alerts(db, AlertKind.EMAIL_REFUSED) == []
    smtp.sink.refuse_rcpt_with = None
    clock.advance(timedelta(minutes=1))
    assert (await mailer.send_due()).sent == 1


async def test_an_email_that_breaks_the_connection_keeps_its_backoff_and_blocks_nobody(
    db, clock, world: World, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "bad@example.com", "immediately")
    add_contact(db, clock, world.account_id, "ok@example.com", "immediately")
    smtp.sink.drop_at_data_for.add("bad@example.com")
    for n in range(5):
        raise_sku_alerts(db, clock, world.account_id, range(n, n + 1))
        await send_gathered(clock, mailer)
        clock.advance(timedelta(seconds=1))

    to_ok = [r for r in smtp.received if r.rcpt_tos == ["ok@example.com"]]
    assert len(to_ok) == 5, "the others' email went out on every tick"
    first_to_bad = emails(db)[0]
    assert first_to_bad.recipient == "bad@example.com" and not first_to_bad.server_down
    assert first_to_bad.attempts <= 2, "its backoff held: not tried on every tick"


# -- after an outage ---------------------------------------------------------------------------


async def test_after_an_outage_what_waited_for_the_server_is_due_at_once_oldest_first(
    db, clock, world: World, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    smtp.stop()
    raise_sku_alerts(db, clock, world.account_id, range(1))
    clock.advance(GATHER)
    for _ in range(6):  # 1, 2, 4, 8, 16 minutes of backoff, then 32 to wait
        await mailer.send_due()
        [oldest] = emails(db)
        clock.advance(oldest.next_attempt_at - clock.now())  # type: ignore[operator]
    await mailer.send_due()
    [oldest] = emails(db)
    assert oldest.next_attempt_at - clock.now() >= timedelta(minutes=30)  # type: ignore[operator]
    assert oldest.server_down

    raise_sku_alerts(db, clock, world.account_id, range(1, 2))  # a newer alert, due first
    smtp.start()
    clock.advance(GATHER)

    report = await mailer.send_due()

    assert report.sent == 2
    assert [r.message["X-Imtui-Outbox-Id"] for r in smtp.received] == ["1", "2"]
    assert all(not e.server_down and e.state == OutboxState.SENT for e in emails(db))
