"""Alert email end to end (B7, B8): the real engine against the sandbox raises alerts from real
failures, the outbox job sends through aiosmtplib to a real SMTP server on loopback (aiosmtpd),
and the injected clock drives retries and digest times — a day of digests runs in seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import col, select

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.orders import OrderStatus
from imtui.domain.outbox import GATHER
from imtui.engine import account_actions, contact_actions, mapping_actions, order_actions
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine, EngineSettings
from imtui.notify.mailer import Mailer, SendReport
from imtui.notify.settings import EmailSettings
from imtui.service import Service
from imtui.store import outbox as outbox_store
from imtui.store.database import Database
from imtui.store.models import Account, Alert, Order, OutboxEmail
from imtui.store.queue import worker_identity
from tests.conftest import ACTOR, World, add_shop_order
from tests.mail_server import MailServer, mail_server

SENDER = "imtui@alerts.example.com"
PUBLIC_URL = "https://imtui.example.com"
POLL = timedelta(seconds=301)
"""Just over the sandbox connections' polling interval: the next cycle polls the shop again."""


def email_settings(server: MailServer, **extra: object) -> EmailSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "sender": SENDER,
        "timeout": 5.0,
        "public_url": PUBLIC_URL,
        "digest_hour": 7,
        **extra,
    }
    return EmailSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def mailer(db: Database, clock: FakeClock, smtp: MailServer) -> Mailer:
    return Mailer(db, clock=clock, owner=worker_identity(), settings=email_settings(smtp))


def add_contact(db: Database, clock: FakeClock, account_id: int, email: str, frequency: str) -> int:
    with db.write() as session:
        account = session.get(Account, account_id)
        assert account is not None
        contact = contact_actions.add_contact(
            session,
            account=account,
            name=email.split("@")[0].title(),
            email=email,
            frequency=frequency,
            actor=ACTOR,
            now=clock.now(),
        )
        return contact.id or 0


async def until(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Wait for ``condition`` (met by a server or a job on another thread), at most ``within``
    seconds; the loop keeps running meanwhile."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {within} s for {what}")
        await asyncio.sleep(0.02)


def alert_of_kind(db: Database, kind: AlertKind) -> Alert:
    with db.read() as session:
        alert = session.exec(select(Alert).where(Alert.kind == kind)).first()
    assert alert is not None, f"no {kind} alert"
    return alert


def outbox(db: Database) -> list[OutboxEmail]:
    with db.read() as session:
        return list(session.exec(select(OutboxEmail).order_by(col(OutboxEmail.id))))


async def send_gathered(clock: FakeClock, mailer: Mailer) -> SendReport:
    """Send what is due once a cause's first email has gathered its burst (GATHER)."""
    clock.advance(GATHER)
    return await mailer.send_due()


async def run_hours(clock: FakeClock, mailer: Mailer, hours: int) -> None:
    """Let ``hours`` pass an hour at a time, composing and sending what falls due."""
    for _ in range(hours):
        clock.advance(timedelta(hours=1))
        await mailer.compose_digests()
        await mailer.send_due()


# -- immediate emails (B8) --------------------------------------------------------------------


async def test_unmapped_ship_method_holds_orders_and_emails_every_contact_once(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    for email, frequency in [
        ("ops@example.com", "immediately"),
        ("lead@example.com", "hourly"),
        ("owner@example.com", "daily"),
        ("intern@example.com", "off"),
    ]:
        add_contact(db, clock, world.account_id, email, frequency)
    for number in (1001, 1002, 1003):
        add_shop_order(sandbox, number, method="NOPE")

    await engine.run_once()
    report = await send_gathered(clock, mailer)

    alert = alert_of_kind(db, AlertKind.UNMAPPED_SHIP_METHOD)
    assert report.sent == 3
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == [
        "lead@example.com",
        "ops@example.com",
        "owner@example.com",
    ]
    for received in smtp.received:
        assert len(received.rcpt_tos) == 1 and received.mail_from == SENDER
        assert received.subject == (
            '[imtui] Acme: ship method "NOPE" has no mapping, 3 orders held'
        )
        text = received.text
        assert "Ship method:  NOPE" in text
        assert "Orders held:  3 — #1001, #1002, #1003" in text
        assert f"imtui open alert/{alert.id}" in text
        assert PUBLIC_URL not in text, "no link to a page nothing serves"
        assert "imtui mapping set NOPE --carrier CARRIER --mode MODE" in text
    with db.read() as session:
        held = session.exec(select(Order).where(Order.ship_method_code == "NOPE")).all()
    assert {(o.status, o.hold_reason) for o in held} == {
        (OrderStatus.HELD, AlertKind.UNMAPPED_SHIP_METHOD)
    }

    # A fourth order held for the same method counts on the same alert; nobody hears twice,
    # not at once and not in a digest over the next two days.
    add_shop_order(sandbox, 1004, method="NOPE")
    clock.advance(POLL)
    await engine.run_once()
    assert alert_of_kind(db, AlertKind.UNMAPPED_SHIP_METHOD).count == 4
    await mailer.send_due()
    await run_hours(clock, mailer, 48)
    assert len(smtp.received) == 3


async def test_an_immediately_contact_gets_each_person_alert_at_once_digest_contacts_wait(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    add_shop_order(sandbox, 1001, sku="NO-SUCH-SKU")

    await engine.run_once()
    await send_gathered(clock, mailer)

    alert = alert_of_kind(db, AlertKind.UNKNOWN_SKU)
    assert [r.rcpt_tos for r in smtp.received] == [["ops@example.com"]]
    received = smtp.received[0]
    assert received.subject == (
        '[imtui] Acme: SKU "NO-SUCH-SKU" unknown to the WMS, order #1001 held'
    )
    assert "imtui orders resend --account 1 '#1001'" in received.text
    assert "Sku 'NO-SUCH-SKU' not found" in received.text
    assert f"imtui open alert/{alert.id}" in received.text

    await run_hours(clock, mailer, 1)
    assert [r.rcpt_tos for r in smtp.received] == [["ops@example.com"], ["lead@example.com"]]
    assert "1 order: Unknown SKU — 3PL" in smtp.received[1].text


async def test_an_alert_email_is_not_sent_if_its_alert_closed_before_any_attempt(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    add_shop_order(sandbox, 1001, method="NOPE")
    await engine.run_once()
    with db.write() as session:
        account = session.get(Account, world.account_id)
        mapping_actions.set_mapping(
            session,
            account=account,  # type: ignore[arg-type]
            source_code="NOPE",
            carrier="UPS",
            mode="03",
            actor=ACTOR,
            now=clock.now(),
        )

    report = await send_gathered(clock, mailer)

    assert report.cancelled == 1 and smtp.received == []
    [email] = outbox(db)
    assert email.state == "cancelled" and "alerts were closed" in (email.last_error or "")


# -- digests (B7) ------------------------------------------------------------------------------


async def test_hourly_digest_groups_by_kind_and_connection_with_and_n_more(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    for number in range(1001, 1013):
        add_shop_order(sandbox, number, sku="NO-SUCH-SKU")
    for number in (1013, 1014):
        add_shop_order(sandbox, number, address={"address1": "", "city": ""})
    await engine.run_once()
    await mailer.send_due()
    assert smtp.received == [], "digest contacts are not emailed at once"

    await run_hours(clock, mailer, 1)

    [digest] = smtp.received
    assert digest.rcpt_tos == ["lead@example.com"]
    assert digest.subject == "[imtui] Acme: 14 new alerts need a person (hourly digest)"
    text = digest.text
    assert "Hourly digest for Acme — 2026-11-02 10:00 UTC" in text
    assert "12 orders: Unknown SKU — 3PL\n    #1001, #1002, #1003 and 9 more\n" in text
    assert "imtui alerts list --account 1 --kind unknown_sku" in text
    assert "2 orders: Incomplete ship-to address — 3PL\n    #1013, #1014\n" in text
    assert text.index("12 orders") < text.index("2 orders: Incomplete")

    # Nothing new the next hours: no more email.
    await run_hours(clock, mailer, 5)
    assert len(smtp.received) == 1


async def test_a_day_of_daily_digests_runs_on_the_injected_clock(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "owner@example.com", "daily")
    add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    add_shop_order(sandbox, 1001, sku="NO-SUCH-SKU")
    await engine.run_once()  # Monday 09:00

    await run_hours(clock, mailer, 6)  # to 15:00
    add_shop_order(sandbox, 1002, sku="NO-SUCH-SKU")
    await engine.run_once()
    await run_hours(clock, mailer, 21)  # to Tuesday 12:00
    add_shop_order(sandbox, 1003, sku="NO-SUCH-SKU")
    await engine.run_once()
    await run_hours(clock, mailer, 24)  # to Wednesday 12:00

    daily = [r for r in smtp.received if r.rcpt_tos == ["owner@example.com"]]
    assert [r.text.splitlines()[0] for r in daily] == [
        "Daily digest for Acme — 2026-11-03 07:00 UTC",
        "Daily digest for Acme — 2026-11-04 07:00 UTC",
    ]
    assert "2 orders: Unknown SKU — 3PL\n    #1001, #1002\n" in daily[0].text
    assert "1 order: Unknown SKU — 3PL\n    #1003\n" in daily[1].text
    assert "new since 2026-11-03 07:00 UTC" in daily[1].text
    hourly = [r for r in smtp.received if r.rcpt_tos == ["lead@example.com"]]
    assert [r.text.splitlines()[0].rsplit("— ", 1)[1] for r in hourly] == [
        "2026-11-02 10:00 UTC",
        "2026-11-02 16:00 UTC",
        "2026-11-03 13:00 UTC",
    ]


async def test_an_alert_resolved_before_the_digest_is_not_emailed_and_resolved_since_is_said(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    add_shop_order(sandbox, 1001, sku="NO-SUCH-SKU")
    add_shop_order(sandbox, 1002, address={"address1": ""})
    await engine.run_once()
    # Someone completes #1002's address before the digest: it is delivered, its alert resolves.
    with db.write() as session:
        order_actions.edit_order(
            session,
            order_key="#1002",
            changes={"address1": "1 Main St"},
            actor=ACTOR,
            now=clock.now(),
        )
    await engine.run_once()
    assert alert_of_kind(db, AlertKind.INCOMPLETE_ADDRESS).state == AlertState.RESOLVED

    await run_hours(clock, mailer, 1)
    [first] = smtp.received
    assert "1 order: Unknown SKU — 3PL\n    #1001\n" in first.text
    assert "#1002" not in first.text and "Incomplete" not in first.text

    # The SKU appears in the WMS and #1001 is resent: the next digest says it closed.
    sandbox.wms.set_stock("NO-SUCH-SKU", 5)
    with db.write() as session:
        order_actions.resend_order(session, order_key="#1001", actor=ACTOR, now=clock.now())
    await engine.run_once()
    assert alert_of_kind(db, AlertKind.UNKNOWN_SKU).state == AlertState.RESOLVED
    await run_hours(clock, mailer, 1)

    assert len(smtp.received) == 2
    second = smtp.received[1]
    assert second.subject == "[imtui] Acme: 1 alert resolved (hourly digest)"
    assert "Resolved since an earlier digest listed them:" in second.text
    assert "1 order: Unknown SKU — #1001" in second.text
    await run_hours(clock, mailer, 3)
    assert len(smtp.received) == 2, "a closure is reported once"


async def test_switching_to_immediately_sends_one_summary_of_what_is_open(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    contact_id = add_contact(db, clock, world.account_id, "lead@example.com", "daily")
    add_shop_order(sandbox, 1001, sku="NO-SUCH-SKU")
    await engine.run_once()
    with db.write() as session:
        contact_actions.edit_contact(
            session, contact_id=contact_id, frequency="immediately", actor=ACTOR, now=clock.now()
        )

    await mailer.compose_digests()
    await mailer.send_due()
    await run_hours(clock, mailer, 30)

    [summary] = smtp.received
    assert summary.subject == "[imtui] Acme: 1 new alert needs a person (summary of open alerts)"
    assert "#1001" in summary.text


# -- the outbox: outages, refusals, restarts ------------------------------------------------


async def queue_three_alert_emails(db, clock, world, sandbox, engine) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    add_shop_order(sandbox, 1001, method="NOPE")
    add_shop_order(sandbox, 1002, sku="NO-SUCH-SKU")
    add_shop_order(sandbox, 1003, address={"zip": ""})
    await engine.run_once()
    assert len(outbox(db)) == 3
    clock.advance(GATHER)


async def test_server_down_for_a_while_then_back_delivers_every_email_exactly_once(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    smtp.stop()
    await queue_three_alert_emails(db, clock, world, sandbox, engine)

    waits = []
    for _ in range(4):
        report = await mailer.send_due()
        assert report.sent == 0 and "cannot connect to 127.0.0.1" in (report.unavailable or "")
        emails = outbox(db)
        assert {e.state for e in emails} == {"queued"}
        assert all("cannot connect" in (e.last_error or "") for e in emails)
        waits.append(emails[0].next_attempt_at - clock.now())  # type: ignore[operator]
        clock.advance(waits[-1])
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    with db.read() as session:
        page = outbox_store.list_outbox(session, outbox_store.OutboxFilter(states=("failing",)))
    assert len(page.rows) == 3 and page.rows[0].state == "failing"

    smtp.start()  # back, on the same port
    clock.advance(timedelta(minutes=16))
    report = await mailer.send_due()
    assert report.sent == 3
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        await mailer.send_due()

    assert sorted(r.message.get("X-Imtui-Outbox-Id") for r in smtp.received) == ["1", "2", "3"]
    assert len({r.message_id for r in smtp.received}) == 3
    assert {(e.state, e.attempts) for e in outbox(db)} == {("sent", 5)}


async def test_a_refusing_server_keeps_mail_queued_with_its_reply(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    smtp.sink.refuse_data_with = "451 4.3.0 Mailbox temporarily unavailable"
    await queue_three_alert_emails(db, clock, world, sandbox, engine)

    report = await mailer.send_due()

    assert report.failed == 3 and smtp.received == []
    with db.read() as session:
        rows = outbox_store.list_outbox(session).rows
    assert {(r.state, r.last_error) for r in rows} == {
        ("failing", "451 4.3.0 Mailbox temporarily unavailable")
    }
    await mailer.send_due()
    assert smtp.sink.transactions == 3, "not retried before its backoff"

    smtp.sink.refuse_data_with = None
    clock.advance(timedelta(minutes=1))
    await mailer.send_due()
    clock.advance(timedelta(hours=2))
    await mailer.send_due()
    assert len(smtp.received) == 3
    assert {e.state for e in outbox(db)} == {"sent"}
    assert all(e.smtp_reply and e.smtp_reply.startswith("250") for e in outbox(db))


async def test_a_service_stopped_mid_send_and_a_new_one_started_sends_once(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    add_shop_order(sandbox, 1001, method="NOPE")
    await engine.run_once()
    smtp.sink.release_rcpt.clear()  # the server sits on RCPT: the email is mid-send
    clock.advance(GATHER)

    first = Service(
        Engine(db, clock=clock, settings=EngineSettings(concurrency=2)),
        tick_seconds=3600,
        email=email_settings(smtp),
        mail_tick_seconds=0.05,
    )
    await first.start()
    assert await asyncio.to_thread(smtp.sink.rcpt_seen.wait, 10)
    await first.stop(grace=0.2)
    [email] = outbox(db)
    assert email.state in ("sending", "queued") and email.sent_at is None
    # the stopped worker is gone: its job has ended and the server saw its connection close,
    # so nothing more can come from it, however long we wait
    await asyncio.wait_for(first.mailer.idle(), 1)
    held = smtp.sink.held_at_rcpt
    assert held is not None
    await until(lambda: held in smtp.sink.closed, "the server to see the held send cut")
    smtp.sink.release_rcpt.set()
    assert smtp.received == [] and smtp.sink.transactions == 0, "the stopped worker sent"

    second = Service(
        Engine(db, clock=clock, settings=EngineSettings(concurrency=2)),
        tick_seconds=3600,
        email=email_settings(smtp),
        mail_tick_seconds=0.05,
    )
    await second.start()
    try:
        clock.advance(timedelta(minutes=11))  # past the first worker's lease and backoff
        await until(lambda: outbox(db)[0].state == "sent", "the new worker to send it")
    finally:
        await second.stop(grace=5)  # waits for its job: nothing is in flight after this

    [email] = outbox(db)
    assert (email.state, email.attempts) == ("sent", 2)
    assert len(smtp.received) == 1
    assert smtp.received[0].message_id == email.message_id


async def test_two_mailers_on_one_database_send_each_email_once(
    db_url: str, clock: FakeClock
) -> None:
    db = Database(db_url)
    with mail_server() as smtp:
        with db.write() as session:
            account = account_actions.add_account(
                session, name="Acme", kind="merchant", actor=ACTOR, now=clock.now()
            )
            account_id = account.id or 0
        add_contact(db, clock, account_id, "ops@example.com", "immediately")
        with db.write() as session:
            from imtui.store.alerts import AlertSubject, raise_alert

            for n in range(40):
                raise_alert(
                    session,
                    account_id=account_id,
                    connection_id=None,
                    kind=AlertKind.UNKNOWN_SKU,
                    message=f"Sku 'X{n}' not found",
                    now=clock.now(),
                    about=AlertSubject(
                        order_number=f"#{2000 + n}", sku=f"X{n}", subject=f"deliver:{n}"
                    ),
                )
        clock.advance(GATHER)
        mailers = [
            Mailer(
                Database(db_url, migrate=False),
                clock=clock,
                owner=worker_identity(),
                settings=email_settings(smtp, cap=0),  # 40 causes: 40 emails, no summary
                batch=5,
            )
            for _ in range(2)
        ]
        reports = await asyncio.gather(*(m.send_due() for m in mailers))
        for m in mailers:
            m.db.dispose()
    assert sum(r.sent for r in reports) == 40
    assert sorted(r.message.get("X-Imtui-Outbox-Id") for r in smtp.received) == sorted(
        str(n) for n in range(1, 41)
    )
    db.dispose()


# -- safety -----------------------------------------------------------------------------------


HOSTILE_METHOD = "NOPE\r\nBcc: evil@example.net\u2028=?utf-8?q?=0D=0ABcc:_evil2@example.net?="


async def test_a_hostile_subject_yields_one_header_and_no_extra_recipient(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, mailer: Mailer
) -> None:
    add_contact(db, clock, world.account_id, "ops@example.com", "immediately")
    add_shop_order(sandbox, 1001, method=HOSTILE_METHOD)
    await engine.run_once()
    assert alert_of_kind(db, AlertKind.UNMAPPED_SHIP_METHOD)

    await send_gathered(clock, mailer)

    [received] = smtp.received
    assert received.rcpt_tos == ["ops@example.com"]
    message = received.message
    assert len(message.get_all("Subject") or []) == 1
    assert message.get_all("Bcc") is None
    assert [a.addr_spec for a in message["To"].addresses] == ["ops@example.com"]
    assert "\n" not in str(message["Subject"]) and "=?" not in str(message["Subject"])
    assert b"\r\nBcc:" not in received.data
    assert "evil@example.net" in received.text  # shown, harmlessly, as text


async def test_two_mailers_compose_each_contacts_digest_once(db_url: str, clock: FakeClock) -> None:
    db = Database(db_url)
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme", kind="merchant", actor=ACTOR, now=clock.now()
        )
        account_id = account.id or 0
    for n in range(5):
        add_contact(db, clock, account_id, f"lead{n}@example.com", "hourly")
    with db.write() as session:
        from imtui.store.alerts import AlertSubject, raise_alert

        for n in range(3):
            raise_alert(
                session,
                account_id=account_id,
                connection_id=None,
                kind=AlertKind.UNKNOWN_SKU,
                message=f"Sku 'X{n}' not found",
                now=clock.now(),
                about=AlertSubject(order_number=f"#{2000 + n}", subject=f"deliver:{n}"),
            )
    mailers = [
        Mailer(Database(db_url, migrate=False), clock=clock, owner=worker_identity())
        for _ in range(2)
    ]
    clock.advance(timedelta(hours=1))
    for _ in range(3):
        await asyncio.gather(*(m.compose_digests() for m in mailers))
    for m in mailers:
        m.db.dispose()
    digests = [e for e in outbox(db) if e.kind == "digest"]
    assert sorted(e.recipient for e in digests) == [f"lead{n}@example.com" for n in range(5)]
    assert all("3 orders: Unknown SKU" in e.body for e in digests)
    db.dispose()
