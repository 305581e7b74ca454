"""``imtui contacts …`` and ``imtui outbox …`` as a person or a script drives them: one line and a
non-zero exit for bad input (and nothing changed), JSON for scripts, the password never shown,
and ``imtui outbox send`` delivering to a real SMTP server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from imtui.domain.failures import AlertKind
from imtui.engine.clock import SystemClock
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.database import Database
from imtui.store.models import AuditEntry, OutboxEmail
from tests.mail_server import MailServer
from tests.test_cli import assert_one_line_error, dump, imtui, ok

SMTP_PASSWORD = "smtp-hunter2-secret"


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "imtui.db")
    ok(path, "account", "add", "Acme")
    yield path


def smtp_env(server: MailServer) -> dict[str, str]:
    return {
        "IMTUI_SMTP_HOST": "127.0.0.1",
        "IMTUI_SMTP_PORT": str(server.port),
        "IMTUI_SMTP_SECURITY": "none",
        "IMTUI_SMTP_SENDER": "imtui@alerts.example.com",
    }


def raise_person_alert(db_path: str, order_number: str = "#1001") -> None:
    database = Database(db_path)
    try:
        with database.write() as session:
            raise_alert(
                session,
                account_id=1,
                connection_id=None,
                kind=AlertKind.ADDRESS_REJECTED,
                message="ShipTo.Zip is required",
                now=SystemClock().now(),
                about=AlertSubject(order_number=order_number, subject="deliver:1"),
            )
    finally:
        database.dispose()


def test_contacts_are_added_listed_edited_and_deleted(db_path: str) -> None:
    added = ok(db_path, "contacts", "add", "Ops Team", "ops@example.com")
    assert added.stdout.strip() == (
        "added contact 1: Ops Team <ops@example.com> (every alert immediately) for account Acme"
    )
    ok(db_path, "contacts", "add", "Lead", "lead@example.com", "--frequency", "hourly")

    rows = json.loads(ok(db_path, "contacts", "list", "--json").stdout)
    assert [(r["id"], r["email"], r["frequency"]) for r in rows] == [
        (2, "lead@example.com", "hourly"),
        (1, "ops@example.com", "immediately"),
    ]
    table = ok(db_path, "contacts", "list").stdout
    assert "ops@example.com" in table and "immediately" in table

    edited = ok(db_path, "contacts", "edit", "2", "--frequency", "daily", "--email", "L@Ex.com")
    assert edited.stdout.strip() == "contact 2: Lead <L@ex.com> (daily digest)"

    ok(db_path, "contacts", "delete", "1", "--yes")
    rows = json.loads(ok(db_path, "contacts", "list", "--json").stdout)
    assert [r["id"] for r in rows] == [2]
    database = Database(db_path)
    with database.read() as session:
        actions = [e.action for e in session.exec(select(AuditEntry))]
    database.dispose()
    assert actions[-4:] == ["contact.add", "contact.add", "contact.edit", "contact.delete"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("add", "Lead", "Lead <lead@example.com>"), "give the bare address"),
        (("add", "Lead", "lead@example"), "needs a dot"),
        (("add", "Lead", "lead@example.com\r\nBcc: x@example.net"), "control characters"),
        (("add", "Lead", "a@example.com,b@example.com"), "give the bare address"),
        (("add", " ", "lead@example.com"), "name: a name is required"),
        (("add", "Dup", "OPS@example.com"), "already has contact 1"),
        (("add", "Lead", "lead@example.com", "--account", "Nope"), "no account 'Nope'"),
        (("edit", "1", "--email", "nope"), "not an email address"),
        (("edit", "99", "--name", "X"), "no contact 99"),
        (("delete", "1", "99", "--yes"), "no contact 99"),
    ],
)
def test_bad_contact_input_gets_one_line_and_changes_nothing(
    db_path: str, args: tuple[str, ...], says: str
) -> None:
    ok(db_path, "contacts", "add", "Ops", "ops@example.com")
    before = dump(db_path)
    line = assert_one_line_error(imtui(db_path, "contacts", *args))
    assert says in line
    assert dump(db_path) == before


def test_an_edit_without_changes_is_a_usage_error(db_path: str) -> None:
    ok(db_path, "contacts", "add", "Ops", "ops@example.com")
    assert "nothing to change" in assert_one_line_error(
        imtui(db_path, "contacts", "edit", "1"), code=2
    )


def test_switching_a_contact_off_or_deleting_it_cancels_its_unsent_email(db_path: str) -> None:
    ok(db_path, "contacts", "add", "Ops", "ops@example.com")
    ok(db_path, "contacts", "add", "Lead", "lead@example.com")
    raise_person_alert(db_path)
    assert len(json.loads(ok(db_path, "outbox", "list", "--json").stdout)) == 2

    ok(db_path, "contacts", "edit", "1", "--frequency", "off")
    deleted = ok(db_path, "contacts", "delete", "2", "--yes")

    assert deleted.stdout.strip() == "deleted contact 2; cancelled 1 unsent email(s)"
    rows = json.loads(ok(db_path, "outbox", "list", "--json").stdout)
    assert {(r["recipient"], r["state"]) for r in rows} == {
        ("ops@example.com", "cancelled"),
        ("lead@example.com", "cancelled"),
    }


def test_outbox_send_delivers_and_the_listing_shows_the_server_reply(
    db_path: str, smtp: MailServer
) -> None:
    ok(db_path, "contacts", "add", "Ops", "ops@example.com")
    raise_person_alert(db_path)
    queued = json.loads(ok(db_path, "outbox", "list", "--json").stdout)
    assert [(r["state"], r["kind"], r["alert_id"]) for r in queued] == [("queued", "alert", 1)]

    smtp.sink.refuse_data_with = "452 4.3.1 Insufficient system storage"
    # (an alert email gathers its cause's burst for 10 s; naming it makes it due at once)
    refused = imtui(db_path, "outbox", "send", "1", env=smtp_env(smtp))
    assert refused.exit_code == 3
    assert refused.stdout.strip() == (
        "sent 0, failed 1 — last reply: 452 4.3.1 Insufficient system storage"
    )
    assert "failing" in ok(db_path, "outbox", "list").stdout
    [failing] = json.loads(ok(db_path, "outbox", "list", "--state", "failing", "--json").stdout)
    assert failing["last_error"] == "452 4.3.1 Insufficient system storage"

    smtp.sink.refuse_data_with = None
    sent = ok(db_path, "outbox", "send", "1", env=smtp_env(smtp))
    assert sent.stdout.strip() == "sent 1, failed 0"
    assert [r.rcpt_tos for r in smtp.received] == [["ops@example.com"]]
    shown = ok(db_path, "outbox", "show", "1").stdout
    assert "sent" in shown and "250 2.0.0 Ok" in shown and "imtui open alert/1" in shown
    assert ok(db_path, "outbox", "send", env=smtp_env(smtp)).stdout.strip() == "sent 0, failed 0"


def test_outbox_send_with_the_server_down_says_so_in_one_line(db_path: str) -> None:
    ok(db_path, "contacts", "add", "Ops", "ops@example.com")
    raise_person_alert(db_path)
    env = {
        "IMTUI_SMTP_HOST": "127.0.0.1",
        "IMTUI_SMTP_PORT": "9",
        "IMTUI_SMTP_SECURITY": "none",
        "IMTUI_SMTP_SENDER": "imtui@alerts.example.com",
        "IMTUI_SMTP_USERNAME": "imtui",
        "IMTUI_SMTP_PASSWORD": SMTP_PASSWORD,
    }
    result = imtui(db_path, "outbox", "send", "1", env=env)
    assert result.exit_code == 3
    assert "cannot connect to 127.0.0.1:9" in result.stdout
    assert SMTP_PASSWORD not in result.output
    database = Database(db_path)
    with database.read() as session:
        [email] = session.exec(select(OutboxEmail)).all()
    database.dispose()
    assert email.state == "queued" and SMTP_PASSWORD not in (email.last_error or "")


def test_outbox_settings_never_show_the_password(db_path: str) -> None:
    env = {
        "IMTUI_SMTP_HOST": "smtp.example.com",
        "IMTUI_SMTP_SENDER": "imtui@example.com",
        "IMTUI_SMTP_USERNAME": "imtui",
        "IMTUI_SMTP_PASSWORD": SMTP_PASSWORD,
        "IMTUI_PUBLIC_URL": "https://imtui.example.com/",
    }
    shown = ok(db_path, "outbox", "settings", env=env).stdout
    assert SMTP_PASSWORD not in shown
    assert "password        ••••" in shown
    assert "port            587" in shown and "https://imtui.example.com" in shown
    del env["IMTUI_SMTP_USERNAME"]  # a password with no one to log in as goes unused
    shown = ok(db_path, "outbox", "settings", env=env).stdout
    assert SMTP_PASSWORD not in shown and "unused: no IMTUI_SMTP_USERNAME" in shown


def test_bad_smtp_settings_get_one_line_naming_the_variable(db_path: str) -> None:
    env = {"IMTUI_SMTP_HOST": "smtp.example.com", "IMTUI_SMTP_PASSWORD": SMTP_PASSWORD}
    line = assert_one_line_error(imtui(db_path, "outbox", "settings", env=env))
    assert "IMTUI_SMTP_SENDER" in line and SMTP_PASSWORD not in line
    line = assert_one_line_error(imtui(db_path, "outbox", "send", env={"IMTUI_SMTP_PORT": "smtp"}))
    assert line.startswith("imtui: error: IMTUI_SMTP_PORT:")


def test_outbox_cancel_and_unknown_ids(db_path: str) -> None:
    ok(db_path, "contacts", "add", "Ops", "ops@example.com")
    raise_person_alert(db_path)
    assert "no email 7" in assert_one_line_error(imtui(db_path, "outbox", "show", "7"))
    ok(db_path, "outbox", "cancel", "1")
    again = assert_one_line_error(imtui(db_path, "outbox", "cancel", "1"))
    assert "email 1 is cancelled" in again


def test_a_contact_name_with_an_address_in_it_is_refused(tmp_path) -> None:
    from click.testing import CliRunner

    from imtui.cli import cli

    db = str(tmp_path / "c.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "account", "add", "Acme"]).exit_code == 0
    result = runner.invoke(cli, ["--db", db, "contacts", "add", "Ops <x@y.com>", "ops@example.com"])
    assert result.exit_code == 1
    assert "no < or >" in result.stderr and "Traceback" not in result.output
