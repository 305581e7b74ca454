"""With email off (no IMTUI_SMTP_HOST), nothing in the outbox or the contacts list is "late":
their time cells say "email off"; with email not known to be off, they still count down. And
the contact form asks how often to email *them*, the daily digest's hour (UTC) in its words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from imtui.engine.clock import FakeClock
from imtui.notify.settings import EmailSettings
from imtui.service import Service
from imtui.store.database import Database
from imtui.store.models import AlertContact
from imtui.tui.app import DashboardApp
from imtui.tui.backend import Backend
from imtui.tui.screens.lists import ContactsScreen
from tests.conftest import ACTOR
from tests.test_tui_email import add_contact, add_emails
from tests.tui_support import (
    make_app,
    open_list,
    screen_text,
    settle,
    wait_contact_form,
    wait_for,
)


def email_off_app(db: Database, engine: Any, **settings: Any) -> DashboardApp:
    """The dashboard running the email jobs itself, with no SMTP host: email is off."""
    service = Service(engine, email=EmailSettings(host=None, **settings))
    return DashboardApp(Backend(db, engine, service=service, actor=ACTOR), keymap={}, live=False)


def seed_late(db: Database, clock: FakeClock, account: int, contact: int) -> dict[str, int]:
    """A queued email 42 minutes past its time and a failing one 5 minutes past its retry."""
    now = clock.now()
    rows = {
        "queued": {"next_attempt_at": now - timedelta(minutes=42)},
        "failing": {
            "attempts": 2,
            "last_error": "421 4.7.0 Too many connections",
            "last_attempt_at": now - timedelta(minutes=15),
            "next_attempt_at": now - timedelta(minutes=5),
        },
    }
    return add_emails(db, now, account, contact, rows, subject="[imtui] {name}", body="text")


def digest_due(db: Database, contact: int, when: Any) -> None:
    with db.write() as session:
        row = session.exec(select(AlertContact).where(AlertContact.id == contact)).one()
        row.next_digest_at = when
        session.add(row)


def table_lines(screen: Any) -> list[str]:
    table = screen.pane.table
    return [table.render_line(y).text for y in range(table.size.height)]


async def open_painted(pilot: Any, key: str, rows: int) -> Any:
    """The list ``key`` opens (c: the contacts, o: the outbox), its ``rows`` rows painted."""
    screen = await open_list(pilot, key, rows)
    await pilot.pause(0.05)
    return screen


async def test_outbox_with_email_off_says_email_off_not_late(db, world, engine, clock):
    contact = add_contact(db, clock, world.account_id, "dana@example.com", "immediately")
    seed_late(db, clock, world.account_id, contact)
    app = email_off_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_painted(pilot, "o", 2)
        title = screen.query_one(".pane-title")
        await wait_for(pilot, lambda: "email off: set IMTUI_SMTP_HOST" in str(title.render()))
        lines = table_lines(screen)
        assert not any("late" in line for line in lines), lines
        for state in ("queued", "failing"):
            line = next(line for line in lines if f" {state} " in line)
            assert "email off" in line, line  # whole, not cut to "email o…"
            assert "dana@example.com" in line, line


async def test_outbox_with_email_not_known_off_still_counts_down(db, world, engine, clock):
    contact = add_contact(db, clock, world.account_id, "dana@example.com", "immediately")
    seed_late(db, clock, world.account_id, contact)
    app = make_app(db, engine, live=False)  # a separate worker sends: its settings unknown
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_painted(pilot, "o", 2)
        lines = table_lines(screen)
        assert not any("email off" in line for line in lines), lines
        assert any("42m late" in line for line in lines), lines
        assert any("5m late" in line for line in lines), lines


async def test_contacts_digest_with_email_off_says_email_off(db, world, engine, clock):
    contact = add_contact(db, clock, world.account_id, "lee@example.com", "hourly")
    digest_due(db, contact, clock.now() + timedelta(minutes=12))
    app = email_off_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_painted(pilot, "c", 1)
        lines = table_lines(screen)
        assert "DIGEST" in lines[0]
        row = next(line for line in lines if "lee@example.com" in line)
        assert row.rstrip().endswith("email off"), row
        assert "in 12m" not in row and "late" not in row
        title = str(screen.query_one(".pane-title").render())
        assert "email off: set IMTUI_SMTP_HOST" in title


async def test_contacts_digest_with_email_not_known_off_counts_down(db, world, engine, clock):
    contact = add_contact(db, clock, world.account_id, "lee@example.com", "hourly")
    digest_due(db, contact, clock.now() - timedelta(minutes=6))
    app = make_app(db, engine, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_painted(pilot, "c", 1)
        row = next(line for line in table_lines(screen) if "lee@example.com" in line)
        assert row.rstrip().endswith("6m late"), row
        assert "email off" not in str(screen.query_one(".pane-title").render())


async def test_contact_form_asks_how_often_to_email_them_and_says_the_digest_hour(
    db, world, engine
):
    app = email_off_app(db, engine, digest_hour=5)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("n")
        form = await wait_contact_form(pilot)
        shown = screen_text(app)
        assert "Email them" in shown and "Email me" not in shown
        form.query_one("#field-frequency").value = "daily"
        await wait_for(pilot, lambda: "daily digest at 05:00 UTC" in screen_text(app))
