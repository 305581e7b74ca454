"""A double-click on a row of the Contacts or the Outbox list opens that row, as enter does: the
contact's form, the email's detail (issue 13: the screen called ``run_action`` without awaiting
it, so the click did nothing)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from imtui.engine import action_rules, contact_actions
from imtui.engine.clock import FakeClock
from imtui.store.database import Database
from imtui.store.models import OutboxEmail
from imtui.tui.screens.detail import OutboxDetailScreen
from imtui.tui.widgets.record_table import RecordTable
from tests.conftest import ACTOR
from tests.tui_support import make_app, open_list, wait_contact_form, wait_for

SECOND_ROW = (4, 2)
"""Where a click lands on the list's second row: the table's header is line 0."""


def add_contact(db: Database, clock: FakeClock, account_id: int, email: str) -> int:
    with db.write() as session:
        contact = contact_actions.add_contact(
            session,
            account=action_rules.account_for(session, str(account_id)),
            name=email.split("@")[0].title(),
            email=email,
            frequency="immediately",
            actor=ACTOR,
            now=clock.now(),
        )
        assert contact.id is not None
        return contact.id


def add_email(db: Database, clock: FakeClock, account_id: int, contact_id: int, n: int) -> int:
    now = clock.now()
    with db.write() as session:
        email = OutboxEmail(
            account_id=account_id,
            contact_id=contact_id,
            kind="alert",
            recipient="dana@example.com",
            recipient_name="Dana",
            subject=f"[imtui] alert {n}",
            body=f"Alert {n}.",
            created_at=now - timedelta(hours=1),
            updated_at=now - timedelta(minutes=1),
            next_attempt_at=now + timedelta(minutes=5),
        )
        session.add(email)
        session.flush()
        assert email.id is not None
        return email.id


async def double_click_second_row(pilot: Any, screen: Any) -> int:
    """Double-click the list's second row; the id of the record shown there."""
    await pilot.click(screen.query_one(RecordTable), offset=SECOND_ROW, times=2)
    return int(screen.pane.records[1].id)


async def test_a_double_click_on_a_contact_opens_that_contacts_form(db, world, engine, clock):
    add_contact(db, clock, world.account_id, "dana@example.com")
    add_contact(db, clock, world.account_id, "erin@example.com")
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, "c", 2)
        clicked = await double_click_second_row(pilot, screen)
        form = await wait_contact_form(pilot)
        assert form.contact_id == clicked


async def test_a_double_click_on_an_email_opens_that_emails_detail(db, world, engine, clock):
    contact_id = add_contact(db, clock, world.account_id, "dana@example.com")
    for n in (1, 2):
        add_email(db, clock, world.account_id, contact_id, n)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, "o", 2)
        clicked = await double_click_second_row(pilot, screen)
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxDetailScreen))
        assert app.screen.key == clicked
