"""The email layer in the dashboard: the alert contacts (``c``) — add, change, delete, with the
address check's own words next to the field — and the outbox (``o``): waiting, failing with
the mail server's reply, sent; send now, cancel. Pinned at 80x24 as pictures too."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from imtui.engine import account_actions, action_rules, contact_actions
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.store.database import Database
from imtui.store.models import Account, AlertContact, OutboxEmail
from imtui.tui.screens.confirm import ConfirmScreen
from imtui.tui.screens.contact_form import ContactFormScreen
from imtui.tui.screens.detail import OutboxDetailScreen
from imtui.tui.screens.lists import ContactsScreen, OutboxScreen
from imtui.tui.widgets.record_table import RecordTable
from tests.conftest import ACTOR
from tests.tui_support import (
    audit,
    make_app,
    notices,
    open_list,
    settle,
    type_fast,
    wait_contact_form,
    wait_for,
)

REFUSED = "451 4.3.0 Mailbox temporarily unavailable"


def account_id(db: Database, name: str = "Acme Outdoors") -> int:
    with db.read() as session:
        account = session.exec(select(Account).where(Account.name == name)).one()
        return account.id or 0


def contacts(db: Database) -> list[AlertContact]:
    with db.read() as session:
        return list(session.exec(select(AlertContact).order_by(col(AlertContact.id))))


def emails(db: Database) -> dict[int, OutboxEmail]:
    with db.read() as session:
        return {e.id or 0: e for e in session.exec(select(OutboxEmail))}


def add_contact(db: Database, clock: FakeClock, account: int, email: str, frequency: str) -> int:
    with db.write() as session:
        contact = contact_actions.add_contact(
            session,
            account=action_rules.account_for(session, str(account)),
            name=email.split("@")[0].title(),
            email=email,
            frequency=frequency,
            actor=ACTOR,
            now=clock.now(),
        )
        return contact.id or 0


def seed_outbox(db: Database, clock: FakeClock, account: int, contact: int) -> dict[str, int]:
    """One email in each state a person sees."""
    now = clock.now()
    rows = {
        "queued": {"next_attempt_at": now + timedelta(seconds=30)},
        "failing": {
            "attempts": 3,
            "last_error": REFUSED,
            "last_attempt_at": now - timedelta(minutes=2),
            "next_attempt_at": now + timedelta(minutes=8),
        },
        "sent": {
            "state": "sent",
            "attempts": 1,
            "sent_at": now - timedelta(minutes=30),
            "smtp_reply": "250 2.0.0 Ok: queued as 4Xyz",
            "message_id": "<m1@imtui>",
        },
    }
    subject = "[imtui] {name}: Sku SKU-999 does not exist"
    body = "The WMS said: Sku SKU-999 does not exist ({name})."
    return add_emails(db, now, account, contact, rows, subject=subject, body=body)


def add_emails(
    db: Database,
    now: datetime,
    account: int,
    contact: int,
    rows: dict[str, dict[str, Any]],
    *,
    subject: str,
    body: str,
) -> dict[str, int]:
    """One alert email to Dana, made an hour before ``now``, for each of ``rows`` (its name: the
    columns it sets; ``subject`` and ``body`` may say ``{name}``). Their ids, by name."""
    ids: dict[str, int] = {}
    with db.write() as session:
        for name, extra in rows.items():
            email = OutboxEmail(
                account_id=account,
                contact_id=contact,
                kind="alert",
                recipient="dana@example.com",
                recipient_name="Dana",
                subject=subject.format(name=name),
                body=body.format(name=name),
                created_at=now - timedelta(hours=1),
                updated_at=now - timedelta(minutes=1),
                **extra,
            )
            session.add(email)
            session.flush()
            ids[name] = email.id or 0
    return ids


async def test_add_a_contact_the_address_check_shows_next_to_the_field(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("n")
        form = await wait_contact_form(pilot)

        type_fast(pilot, *"Dana Ops", "tab", *"Dana <dana@example.com>", "ctrl+s")
        await wait_for(
            pilot, lambda: "bare address" in str(form.query_one("#error-email").render())
        )
        assert form.query_one("#field-email").has_class("-invalid")
        assert str(form.query_one("#error-name").render()).strip() == ""
        assert isinstance(app.screen, ContactFormScreen) and contacts(db) == []

        type_fast(pilot, "ctrl+u", *"dana@Example.COM", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await wait_for(pilot, lambda: len(app.screen.pane.records) == 1)

    [contact] = contacts(db)
    assert (contact.name, contact.email, contact.frequency) == (
        "Dana Ops",
        "dana@example.com",
        "immediately",
    )
    assert [(e.actor, e.action) for e in audit(db) if e.action.startswith("contact.")] == [
        (ACTOR, "contact.add")
    ]


async def test_edit_and_delete_a_contact(db, world, engine, clock):
    contact_id = add_contact(db, clock, world.account_id, "dana@example.com", "immediately")
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, "c", 1)
        await pilot.press("e")
        form = await wait_contact_form(pilot)
        assert form.query_one("#field-email").value == "dana@example.com"
        form.query_one("#field-frequency").value = "daily"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: contacts(db)[0].frequency == "daily")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: screen.pane.records[0].frequency == "daily")

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen)
        assert len(contacts(db)) == 1
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: contacts(db) == [])
        await wait_for(pilot, lambda: screen.pane.records == [])

    actions_done = [e.action for e in audit(db) if e.target == f"contact:{contact_id}"]
    assert actions_done == ["contact.add", "contact.edit", "contact.delete"]


async def test_outbox_shows_the_servers_reply_and_sends_now_or_cancels(db, world, engine, clock):
    contact_id = add_contact(db, clock, world.account_id, "dana@example.com", "immediately")
    ids = seed_outbox(db, clock, world.account_id, contact_id)
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, "o", 3)
        pane = screen.pane
        lines = [pane.table.render_line(y).text for y in range(1, 4)]
        failing = next(line for line in lines if "failing" in line)
        assert REFUSED[:20] in failing
        assert any("250 2.0.0 Ok" in line for line in lines)

        # r on the failing email: due now (the outbox job sends it on its next tick)
        pane.table.move_cursor([r.id for r in pane.records].index(ids["failing"]))
        await pilot.press("r")
        await wait_for(pilot, lambda: emails(db)[ids["failing"]].next_attempt_at == clock.now())

        # enter: the detail, with the server's words verbatim and the text
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxDetailScreen))
        await wait_for(pilot, lambda: app.screen.data is not None)
        from tests.tui_support import screen_text

        shown = screen_text(app)
        assert REFUSED in shown and "does not exist (failing)" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)

        # d on the queued one, after asking
        pane.table.move_cursor([r.id for r in pane.records].index(ids["queued"]))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: emails(db)[ids["queued"]].state == "cancelled")

        # f: which emails — all, then only those waiting
        await pilot.press("f")
        await wait_for(pilot, lambda: [r.id for r in pane.records] == [ids["failing"]])

    done = [(e.action, e.target) for e in audit(db) if e.action.startswith("email.")]
    assert done == [
        ("email.send_now", f"email:{ids['failing']}"),
        ("email.cancel", f"email:{ids['queued']}"),
    ]


async def test_c_and_o_are_in_the_tab_strip_help_and_palette(db, world, engine):
    app = make_app(db, engine)
    async with app.run_test(size=(80, 60)) as pilot:
        await settle(pilot)
        tabs = str(app.dashboard.query_one("#tabs").render())
        assert "c Contacts" in tabs and "o Outbox" in tabs
        await pilot.press("question_mark")
        from tests.tui_support import screen_text

        await wait_for(pilot, lambda: "Alert contacts: who is emailed" in screen_text(app))
        await pilot.press("escape")
        from imtui.tui.commands import ActionCommands

        found = [str(hit.text) async for hit in ActionCommands(app.screen).discover()]
        assert any("Contacts" in t for t in found) and any("Outbox" in t for t in found)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen))
        await pilot.press("c")  # from one list to the other, not on top of it
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("question_mark")  # help names this screen's own keys first
        await wait_for(pilot, lambda: "On this screen: Alert contacts" in screen_text(app))
        assert "Add" in screen_text(app) and "Delete" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen))
        stack = [type(screen).__name__ for screen in app.screen_stack]
        assert stack == ["DashboardScreen", "OutboxScreen"]
        await pilot.press("2")  # straight back to a dashboard pane
        await wait_for(pilot, lambda: app.screen is app.dashboard)
        assert app.dashboard.active == "orders"


# -- pictures ---------------------------------------------------------------------------------


@pytest.fixture
def email_app(tmp_path: Path) -> Any:
    clock = FakeClock()
    db = Database(f"sqlite:///{tmp_path / 'email.db'}")
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme Outdoors", kind="merchant", actor="t", now=clock.now()
        )
        account_key = account.id or 0
    first = add_contact(db, clock, account_key, "dana@example.com", "immediately")
    add_contact(db, clock, account_key, "lee@example.com", "hourly")
    add_contact(db, clock, account_key, "night.shift@example.com", "off")
    seed_outbox(db, clock, account_key, first)

    def build() -> Any:
        return make_app(db, Engine(db, clock=clock), live=False)

    yield build
    db.dispose()


@pytest.mark.parametrize("key", ["c", "o"], ids=["contacts", "outbox"])
def test_email_screen_snapshot(snap_compare: Any, email_app: Any, key: str) -> None:
    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: len(pilot.app.screen.pane.records) == 3)
        await pilot.pause(0.1)

    assert snap_compare(email_app(), terminal_size=(80, 24), run_before=ready)


async def test_the_outbox_says_when_email_is_off_and_why(db, world, engine, clock):
    from imtui.notify.settings import EmailSettings
    from imtui.service import Service
    from imtui.tui.app import DashboardApp
    from imtui.tui.backend import Backend

    contact_id = add_contact(db, clock, world.account_id, "dana@example.com", "immediately")
    ids = seed_outbox(db, clock, world.account_id, contact_id)
    service = Service(engine, email=EmailSettings(host=None))
    app = DashboardApp(Backend(db, engine, service=service, actor=ACTOR), keymap={}, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen))
        screen = app.screen
        title = screen.query_one(".pane-title")
        await wait_for(pilot, lambda: "email off: set IMTUI_SMTP_HOST" in str(title.render()))
        await wait_for(pilot, lambda: len(screen.pane.records) == 3)
        before = emails(db)[ids["queued"]].next_attempt_at
        screen.pane.table.move_cursor([r.id for r in screen.pane.records].index(ids["queued"]))
        await pilot.press("r")
        await wait_for(pilot, lambda: any("email is off" in text for text in notices(app)))
        assert emails(db)[ids["queued"]].next_attempt_at == before  # nothing pretended


async def test_adding_a_contact_with_no_account_yet_is_refused_at_once(tmp_path):
    from imtui.tui.screens.contact_form import ContactFormScreen as Form

    clock = FakeClock()
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    app = make_app(empty, Engine(empty, clock=clock), live=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
            await pilot.press("n")
            await wait_for(pilot, lambda: any("no account yet" in text for text in notices(app)))
            assert not isinstance(app.screen, Form)
    finally:
        empty.dispose()


async def test_a_double_click_on_a_contact_opens_its_form(db, world, engine, clock):
    add_contact(db, clock, world.account_id, "dana@example.com", "immediately")
    app = make_app(db, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, "c", 1)
        table = screen.query_one(RecordTable)
        await pilot.click(table, offset=(4, 1), times=2)  # the first row, under the header
        form = await wait_contact_form(pilot)
        assert form.query_one("#field-email").value == "dana@example.com"
