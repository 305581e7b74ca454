"""See a digest without waiting (issue 11): ``imtui contacts digest ID --preview`` prints what the
next digest will say, and it is what the digest job sends at that hour; ``--send`` queues it now
(audited) and the next digest does not list those alerts again. The real engine against the
sandbox raises the alerts, a real SMTP server on loopback (aiosmtpd) receives the digests, and
one fake clock drives the engine, the CLI and the digest job."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlmodel import col, select

from imtui.cli.contacts import contacts_group
from imtui.cli.context import AppContext
from imtui.domain.alerts import AlertState
from imtui.engine import alert_actions
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.notify.mailer import Mailer
from imtui.notify.settings import EmailSettings
from imtui.store.database import Database
from imtui.store.models import Alert, AlertContact, AuditEntry, OutboxEmail
from imtui.store.queue import worker_identity
from tests.conftest import ACTOR, World, add_shop_order, map_ship_method
from tests.mail_server import MailServer
from tests.test_alert_email import add_contact
from tests.test_cli import assert_one_line_error, dump, imtui

DAY = datetime(2026, 11, 2, tzinfo=UTC)
PUBLIC_URL = "https://imtui.example.com"
ENV = {"IMTUI_PUBLIC_URL": PUBLIC_URL, "IMTUI_DIGEST_HOUR": "7", "IMTUI_SMTP_HOST": None}
"""What the CLI reads its email settings from: the same public URL and hour as the mailer's."""


@pytest.fixture
def mailer(db: Database, clock: FakeClock, smtp: MailServer) -> Mailer:
    settings = EmailSettings(
        host="127.0.0.1",
        port=smtp.port,
        security="none",  # type: ignore[arg-type]
        sender="imtui@alerts.example.com",
        timeout=5.0,
        public_url=PUBLIC_URL,
        digest_hour=7,
    )
    return Mailer(db, clock=clock, owner=worker_identity(), settings=settings)


@pytest.fixture
def db_path(tmp_path: Path, db: Database) -> str:
    """The file behind the ``db`` fixture, for the CLI."""
    return str(tmp_path / "imtui.db")


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def contacts_cli(db_path: str, clock: FakeClock, *args: str) -> Result:
    """``imtui contacts …`` on the test's database and clock."""
    app = AppContext(db_path, clock=clock)
    try:
        return CliRunner().invoke(contacts_group, list(args), obj=app, env=ENV)
    finally:
        app.close()


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def preview_parts(output: str) -> tuple[str, str]:
    """(subject, body) of a preview: ``Subject: …``, a blank line, the body."""
    head, body = output.split("\n\n", 1)
    assert head.startswith("Subject: ")
    return head.removeprefix("Subject: "), body


async def raise_mixed_alerts(
    db: Database, clock: FakeClock, sandbox: object, engine: Engine
) -> None:
    """Five orders for one unknown SKU, one for another, two for a carrier the WMS refuses."""
    map_ship_method(db, clock, "DHL_EXPRESS", "DHL", "EXP")
    for number in range(1004, 1009):
        add_shop_order(sandbox, number, sku="TENT-XL-GRN")
    add_shop_order(sandbox, 1010, sku="MUG-01")
    for number in (1011, 1012):
        add_shop_order(sandbox, number, method="DHL_EXPRESS")
    await engine.run_once()


def digest_rows(db: Database) -> list[OutboxEmail]:
    with db.read() as session:
        return list(
            session.exec(
                select(OutboxEmail)
                .where(OutboxEmail.kind == "digest")
                .order_by(col(OutboxEmail.id))
            )
        )


async def test_the_preview_is_the_digest_sent_at_the_hour(
    db: Database,
    db_path: str,
    clock: FakeClock,
    world: World,
    sandbox: object,
    engine: Engine,
    smtp: MailServer,
    mailer: Mailer,
) -> None:
    clock.set(at(12, 10))
    contact_id = add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    await raise_mixed_alerts(db, clock, sandbox, engine)
    await mailer.compose_digests()  # schedules the contact's first digest: 13:00

    clock.set(at(12, 30))
    before = dump(db_path)
    subject, body = preview_parts(
        ok(contacts_cli(db_path, clock, "digest", str(contact_id), "--preview"))
    )
    assert dump(db_path) == before, "a preview changes nothing"

    clock.set(at(13))
    assert await mailer.compose_digests()
    await mailer.send_due()

    [digest] = smtp.received
    assert digest.subject == subject
    assert digest.text == body
    assert body.startswith("Hourly digest for Acme — 2026-11-02 13:00 UTC\n")
    assert (
        "6 orders: Unknown SKU — 3PL\n"
        '    SKU "TENT-XL-GRN" — 5 orders: #1004, #1005, #1006 and 2 more\n'
        '    SKU "MUG-01" — 1 order: #1010\n'
    ) in body
    assert "2 orders: Unknown carrier or service — 3PL\n    #1011, #1012\n" in body
    assert '    Cause: Ship method "DHL_EXPRESS"\n' in body


async def test_send_now_queues_the_digest_audited_and_the_next_one_does_not_repeat_it(
    db: Database,
    db_path: str,
    clock: FakeClock,
    world: World,
    sandbox: object,
    engine: Engine,
    smtp: MailServer,
    mailer: Mailer,
) -> None:
    clock.set(at(12, 10))
    contact_id = add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    await raise_mixed_alerts(db, clock, sandbox, engine)
    await mailer.compose_digests()

    clock.set(at(12, 20))
    output = ok(contacts_cli(db_path, clock, "digest", str(contact_id), "--send"))
    [queued] = digest_rows(db)
    assert output.startswith(f"queued digest for contact {contact_id} as email {queued.id} ")
    report = await mailer.send_due()

    assert report.sent == 1
    [sent] = smtp.received
    assert sent.rcpt_tos == ["lead@example.com"]
    assert sent.subject == "[imtui] Acme: 8 new alerts need a person (hourly digest)"
    assert "Hourly digest for Acme — 2026-11-02 12:20 UTC" in sent.text
    assert 'SKU "TENT-XL-GRN" — 5 orders' in sent.text
    with db.read() as session:
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "contact.digest"))
        contact = session.get(AlertContact, contact_id)
    assert audit.target == f"contact:{contact_id}" and audit.at == at(12, 20)
    assert f"email {queued.id}: 8 new, 0 closed" in audit.detail
    assert contact is not None
    assert contact.next_digest_at == at(13), "the hourly schedule stays"
    assert contact.last_digest_at == at(12, 20)

    # Nothing new: the preview says so in one line, and 13:00 sends nothing.
    nothing = ok(contacts_cli(db_path, clock, "digest", str(contact_id), "--preview"))
    assert nothing == (
        f"nothing new for contact {contact_id} since 2026-11-02 12:20 UTC: "
        "no digest at 2026-11-02 13:00 UTC\n"
    )
    # One more order fails before 13:00: that digest lists it alone.
    clock.set(at(12, 40))
    add_shop_order(sandbox, 1020, sku="MUG-01")
    await engine.run_once()
    clock.set(at(13))
    await mailer.compose_digests()
    await mailer.send_due()

    assert len(smtp.received) == 2
    following = smtp.received[1].text
    assert "1 alert needs a person, new since 2026-11-02 12:20 UTC." in following
    assert "1 order: Unknown SKU — 3PL\n    #1020\n" in following
    for earlier in ("#1004", "#1010", "#1011", "TENT-XL-GRN"):
        assert earlier not in following


async def test_a_digest_of_dismissals_says_dismissed(
    db: Database,
    db_path: str,
    clock: FakeClock,
    world: World,
    sandbox: object,
    engine: Engine,
    smtp: MailServer,
    mailer: Mailer,
) -> None:
    clock.set(at(12, 10))
    contact_id = add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    for number in (1004, 1005):
        add_shop_order(sandbox, number, sku="TENT-XL-GRN")
    await engine.run_once()
    ok(contacts_cli(db_path, clock, "digest", str(contact_id), "--send"))
    clock.set(at(12, 40))
    with db.write() as session:
        for alert in session.exec(select(Alert).where(Alert.state == AlertState.OPEN)):
            alert_actions.dismiss(session, alert_id=alert.id or 0, actor=ACTOR, now=clock.now())

    subject, body = preview_parts(
        ok(contacts_cli(db_path, clock, "digest", str(contact_id), "--preview"))
    )
    clock.set(at(13))
    await mailer.compose_digests()
    await mailer.send_due()

    closure = smtp.received[-1]
    assert closure.subject == subject == "[imtui] Acme: 2 alerts dismissed (hourly digest)"
    assert closure.text == body
    assert "Dismissed since an earlier digest listed them:\n" in body
    assert "2 orders: Unknown SKU — #1004, #1005" in body


def test_send_now_with_nothing_to_tell_writes_nothing(
    db: Database, db_path: str, clock: FakeClock, world: World
) -> None:
    contact_id = add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    before = dump(db_path)

    output = ok(contacts_cli(db_path, clock, "digest", str(contact_id), "--send"))

    assert output == f"nothing new for contact {contact_id}: no digest sent\n"
    assert dump(db_path) == before


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["99", "--preview"], 1, "no contact 99"),
        (["99", "--send"], 1, "no contact 99"),
        (["1"], 2, "give one of --preview or --send"),
        (["1", "--preview", "--send"], 2, "give one of --preview or --send"),
        (["2", "--preview"], 1, "contact 2 is off: it gets no digest"),
        (["2", "--send"], 1, "contact 2 is off: it gets no digest"),
    ],
)
def test_a_wrong_digest_request_is_one_line_and_changes_nothing(
    db: Database,
    db_path: str,
    clock: FakeClock,
    world: World,
    args: list[str],
    code: int,
    says: str,
) -> None:
    add_contact(db, clock, world.account_id, "lead@example.com", "hourly")
    add_contact(db, clock, world.account_id, "intern@example.com", "off")
    before = dump(db_path)

    line = assert_one_line_error(imtui(db_path, "contacts", "digest", *args), code=code)

    assert says in line
    assert dump(db_path) == before
