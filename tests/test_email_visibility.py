"""Failing email is visible where people look (issue 11): ``imtui status`` has an email line (and
its counts in ``--json``), the dashboard's header counts failing and refused emails, and an
``IMTUI_SMTP_CA_FILE`` naming a missing file is refused when the settings load — one line that
names the variable and the path."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from imtui.cli import cli
from imtui.engine import account_actions, action_rules
from imtui.engine.runtime import Engine
from imtui.notify.settings import EmailSettingsError, load_email_settings
from imtui.store.database import Database
from imtui.store.models import OutboxEmail
from imtui.store.outbox import OutboxCounts
from imtui.store.rows import HeaderCounts
from imtui.tui.widgets.status import StatusHeader, header_parts
from tests.tui_support import make_app, settle, wait_for

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TRY_LATER = "451 4.3.0 Try again later"
HOSTILE_REPLY = f"{TRY_LATER}\r\n\x1b[2J\x1b]0;pwned\x07 second line"
EMAIL_LINE = (
    f"email         3 failing (last: {TRY_LATER}), 1 refused for good (fix the contact),"
    " 1 more waiting: see 'imtui outbox list --state failing --state failed'"
)


@pytest.fixture(autouse=True)
def no_smtp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: none of the machine's own IMTUI_SMTP_* settings."""
    for name in list(os.environ):
        if name.startswith("IMTUI_SMTP_"):
            monkeypatch.delenv(name)


@pytest.fixture
def smtp_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMTUI_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("IMTUI_SMTP_SENDER", "imtui@example.com")


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "imtui.db")
    database = Database(path)
    try:
        with database.write() as session:
            account_actions.add_account(session, name="acme", kind="merchant", actor="t", now=NOW)
    finally:
        database.dispose()
    yield path


def add_email(db: Database, state: str = "queued", **columns: Any) -> None:
    with db.write() as session:
        account = action_rules.account_for(session, None)
        session.add(
            OutboxEmail(
                account_id=account.id or 0,
                kind="alert",
                recipient="dana@example.com",
                state=state,
                created_at=NOW - timedelta(hours=1),
                updated_at=NOW,
                **columns,
            )
        )


def add_trouble(db: Database) -> None:
    """Three failing emails (the latest reply hostile and two lines long), one refused for good,
    one waiting for its first try, one sent."""
    for minutes, reply in ((30, "421 4.7.0 Too many connections"), (20, "451 old"), (5, None)):
        add_email(
            db,
            last_error=reply or HOSTILE_REPLY,
            attempts=2,
            last_attempt_at=NOW - timedelta(minutes=minutes),
            next_attempt_at=NOW + timedelta(minutes=5),
        )
    add_email(db, "failed", last_error="550 5.1.1 User unknown", attempts=1)
    add_email(db, next_attempt_at=NOW)
    add_email(db, "sent", smtp_reply="250 2.0.0 Ok", sent_at=NOW)


def with_database(path: str, work: Any) -> None:
    database = Database(path)
    try:
        work(database)
    finally:
        database.dispose()


def status(db_path: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", db_path, "status", *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    return result


def email_line(result: Result) -> str:
    [line] = [line for line in result.stdout.splitlines() if line.startswith("email ")]
    return line


# -- imtui status -------------------------------------------------------------------------------


def test_status_counts_failing_and_refused_emails_with_the_last_reply(
    db_path: str, smtp_on: None
) -> None:
    with_database(db_path, add_trouble)
    result = status(db_path)
    assert email_line(result) == EMAIL_LINE
    assert "\x1b" not in result.stdout and "second line" not in result.stdout
    lines = result.stdout.splitlines()
    assert [line[:14].strip() for line in lines] == [
        "database",
        "alerts",
        "retry queue",
        "setup",  # its one account has no shop
        "setup",  # and no WMS: said before the rest
        "email",
        "links",
        "engine",
    ]


def test_status_json_has_the_email_counts(db_path: str, smtp_on: None) -> None:
    with_database(db_path, add_trouble)
    shown = json.loads(status(db_path, "--json").stdout)
    assert shown["email"] == {
        "waiting": 4,
        "failing": 3,
        "failed": 1,
        "oldest_waiting_since": "2026-11-02T08:00:00+00:00",
        "last_failure": HOSTILE_REPLY,
        "off": None,
    }
    assert shown["open_alerts"] == 0  # the header's counts are all still there


def test_status_when_all_is_well_and_when_email_is_off(db_path: str, smtp_on: None) -> None:
    assert email_line(status(db_path)) == "email         0 waiting"
    with_database(db_path, lambda db: add_email(db, next_attempt_at=NOW))
    assert email_line(status(db_path)) == (
        "email         1 waiting (oldest 2026-11-02 08:00:00 UTC)"
    )
    off = CliRunner().invoke(cli, ["--db", db_path, "status"], env={"IMTUI_SMTP_HOST": None})
    assert email_line(off).startswith("email         off: IMTUI_SMTP_HOST is not set; 1 waiting")


def test_status_of_another_account_counts_only_its_emails(db_path: str, smtp_on: None) -> None:
    def other_account(db: Database) -> None:
        add_trouble(db)
        with db.write() as session:
            account_actions.add_account(session, name="other", kind="merchant", actor="t", now=NOW)

    with_database(db_path, other_account)
    assert email_line(status(db_path, "--account", "other")) == "email         0 waiting"
    assert email_line(status(db_path, "--account", "acme")) == EMAIL_LINE


# -- the CA file --------------------------------------------------------------------------------


def test_a_missing_ca_file_is_refused_when_the_settings_load(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "ca.pem"
    with pytest.raises(EmailSettingsError) as refused:
        load_email_settings(ca_file=str(missing))
    assert str(refused.value) == f"IMTUI_SMTP_CA_FILE: no such file: {missing}"
    with pytest.raises(EmailSettingsError) as folder:
        load_email_settings(ca_file=str(tmp_path))
    assert str(folder.value) == f"IMTUI_SMTP_CA_FILE: not a file: {tmp_path}"
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert load_email_settings(ca_file=str(ca)).ca_file == str(ca)
    assert load_email_settings(ca_file="  ").ca_file is None


def test_a_missing_ca_file_is_one_line_in_the_cli(
    db_path: str, tmp_path: Path, smtp_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "ca.pem"
    monkeypatch.setenv("IMTUI_SMTP_CA_FILE", str(missing))
    said = f"IMTUI_SMTP_CA_FILE: no such file: {missing}"
    for command in (["outbox", "settings"], ["outbox", "send"]):
        result = CliRunner().invoke(cli, ["--db", db_path, *command])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.stderr.strip().splitlines() == [f"imtui: error: {said}"]
    assert email_line(status(db_path)) == f"email         off: {said}; 0 waiting"
    assert json.loads(status(db_path, "--json").stdout)["email"]["off"] == said


# -- the dashboard's header ---------------------------------------------------------------------


async def test_the_header_counts_failing_and_refused_emails(db: Database, engine: Engine) -> None:
    with db.write() as session:
        account_actions.add_account(session, name="acme", kind="merchant", actor="t", now=NOW)
    app = make_app(db, engine, live=False)
    async with app.run_test(size=(160, 24)) as pilot:
        await settle(pilot)
        header = app.dashboard.query_one(StatusHeader)
        assert "✉" not in header.text  # nothing failing: nothing said
        add_trouble(db)
        app.refresh_now()
        await wait_for(pilot, lambda: "✉ 3 failing · 1 refused · alerts 0" in header.text)
        add_email(db, "failed", last_error="550 5.1.1 User unknown")
        app.refresh_now()  # re-read as the other counts are
        await wait_for(pilot, lambda: "✉ 3 failing · 2 refused · alerts 0" in header.text)


def test_the_header_email_counts_are_a_warning_and_shorten_on_a_small_terminal() -> None:
    counts = HeaderCounts(open_alerts=2, needs_person=0, due_now=0, held=0, skipped=0)
    email = OutboxCounts(waiting=5, failing=3, oldest_waiting_since=NOW, failed=1)
    state: dict[str, Any] = {
        "account": "acme",
        "runs_worker": True,
        "next_run": None,
        "worker_error": None,
        "counts": counts,
    }
    _, _, wide = header_parts(width=160, email=email, **state)
    assert wide.plain == "✉ 3 failing · 1 refused · alerts 2 · act 0 · due 0 · held 0 · skip 0"
    styles = {wide.plain[s.start : s.end]: str(s.style) for s in wide.spans}
    assert styles["3 failing"] == "$warning" and styles["1 refused"] == "$warning bold"
    _, _, narrow = header_parts(width=80, email=email, **state)
    assert narrow.plain.startswith("✉ 3 fail · 1 ref · alr 2")  # short words: the time fits
    quiet = OutboxCounts(waiting=5, failing=0, oldest_waiting_since=NOW, failed=0)
    _, _, calm = header_parts(width=160, email=quiet, **state)
    assert calm.plain == "alerts 2 · act 0 · due 0 · held 0 · skip 0"
