"""People and roles: each engineer sees and changes only their accounts — through the CLI, the
dashboard's backend and plain SQL — and a viewer's resend is refused in one line.

On PostgreSQL each engineer is a database role of their own; row-level security holds their
scope in the database itself. On SQLite the person is the process's OS login, never $USER.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from imtui.domain.people import Access, Act, Role
from imtui.domain.records import Address, OrderLine, SourceOrder
from imtui.engine import account_actions
from imtui.engine.clock import FakeClock
from imtui.engine.ingest import store_source_orders
from imtui.store.database import Database
from imtui.store.people import access_of, process_login
from imtui.store.rows import Position
from imtui.tui.backend import Backend
from imtui.tui.filters import OrderQuery
from tests.conftest import ACTOR


def run_imtui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imtui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def as_login(url: str, login: str) -> str:
    """The same database and schema, logged in as ``login``."""
    parts = urlsplit(url)
    host = parts.netloc.split("@")[-1]
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


@dataclass
class Merchants:
    acme: int
    bravo: int
    orders: dict[str, list[int]]
    """Order ids by account name."""


def two_merchants(db: Database, clock: FakeClock) -> Merchants:
    orders: dict[str, list[int]] = {}
    ids = {}
    with db.write() as session:
        for name in ("Acme", "Bravo"):
            account = account_actions.add_account(
                session, name=name, kind="merchant", actor=ACTOR, now=clock.now()
            )
            shop = account_actions.add_connection(
                session,
                account=account,
                name="Shop",
                platform="shopify",
                base_url="http://127.0.0.1:9",
                credentials={"access_token": f"shpat_{name}"},
                settings={"reference_prefix": name.upper()},
                poll_interval_s=300,
                actor=ACTOR,
                now=clock.now(),
            )
            account_actions.add_connection(
                session,
                account=account,
                name="3PL",
                platform="wms_3pl",
                base_url="http://127.0.0.1:9",
                credentials={"client_id": "c", "client_secret": "s", "user_login_id": "1"},
                settings={"customer_id": "1", "facility_id": "1"},
                poll_interval_s=300,
                actor=ACTOR,
                now=clock.now(),
            )
            placed = [
                SourceOrder(
                    remote_id=f"{name}-{n}",
                    number=f"#{name[0]}{n}",
                    ship_to=Address(name="Ada", address1="1 Main", city="Austin", zip="78701"),
                    ship_method_code="UPS_GROUND",
                    ship_method_title="UPS Ground",
                    lines=(OrderLine(sku="SKU-1", quantity=1),),
                )
                for n in range(1, 4)
            ]
            store_source_orders(session, shop.id, placed, clock.now())  # type: ignore[arg-type]
            ids[name] = account.id
        for order in session.exec(text('SELECT id, account_id FROM "order" ORDER BY id')):
            name = "Acme" if order[1] == ids["Acme"] else "Bravo"
            orders.setdefault(name, []).append(order[0])
    return Merchants(ids["Acme"], ids["Bravo"], orders)


@dataclass
class Team:
    url: str
    merchants: Merchants
    alice: str
    """Operator of Acme."""
    bob: str
    """Viewer of Bravo."""

    def url_of(self, login: str) -> str:
        return as_login(self.url, login)


@pytest.fixture
def team(postgres_url: str) -> Iterator[Team]:
    clock = FakeClock()
    owner = Database(postgres_url)
    merchants = two_merchants(owner, clock)
    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice_{tag}", f"bob_{tag}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for login in (alice, bob):
            conn.execute(text(f"CREATE ROLE {login} LOGIN IN ROLE imtui_engineer"))
    try:
        added = run_imtui(
            "--db", postgres_url, "people", "add", alice, "--role", "operator", "--account", "Acme"
        )
        assert added.returncode == 0, added.stderr
        added = run_imtui(
            "--db", postgres_url, "people", "add", bob, "--role", "viewer", "--account", "Bravo"
        )
        assert added.returncode == 0, added.stderr
        yield Team(postgres_url, merchants, alice, bob)
    finally:
        owner.dispose()
        with admin.connect() as conn:
            for login in (alice, bob):
                conn.execute(text(f"DROP OWNED BY {login}"))
                conn.execute(text(f"DROP ROLE {login}"))
        admin.dispose()


@pytest.mark.slow
def test_each_engineer_lists_only_their_accounts_orders_in_the_cli(team: Team) -> None:
    for login, mine, theirs in (
        (team.alice, "#A", "#B"),
        (team.bob, "#B", "#A"),
    ):
        listed = run_imtui("--db", team.url_of(login), "orders", "list")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count(mine) == 3
        assert theirs not in listed.stdout
        accounts = run_imtui("--db", team.url_of(login), "account", "list")
        assert accounts.returncode == 0, accounts.stderr
        assert ("Acme" in accounts.stdout) is (login == team.alice)
        assert ("Bravo" in accounts.stdout) is (login == team.bob)


@pytest.mark.slow
def test_plain_sql_shows_and_changes_only_ones_own_accounts(team: Team) -> None:
    acme, bravo = team.merchants.acme, team.merchants.bravo
    engine = create_engine(team.url_of(team.alice), isolation_level="AUTOCOMMIT")
    with engine.connect() as alice:
        seen = set(alice.execute(text('SELECT DISTINCT account_id FROM "order"')).scalars())
        assert seen == {acme}
        assert alice.execute(text("SELECT count(*) FROM connection")).scalar() == 2  # shop, WMS
        changed = alice.execute(
            text('UPDATE "order" SET ship_name = :n WHERE account_id = :a'),
            {"n": "Mallory", "a": bravo},
        )
        assert changed.rowcount == 0
        changed = alice.execute(
            text('UPDATE "order" SET ship_name = :n WHERE account_id = :a'),
            {"n": "Ada L.", "a": acme},
        )
        assert changed.rowcount == 3  # an operator changes their own orders
        with pytest.raises(ProgrammingError, match="row-level security"):
            alice.execute(  # an operator adds no connections, not even to their account
                text(
                    "INSERT INTO connection (account_id, name, role, platform, base_url,"
                    " credentials, settings, poll_interval_s, paused, created_at, updated_at)"
                    " VALUES (:a, 'x', 'source', 'shopify', 'http://x', '{}', '{}', 300,"
                    " false, now(), now())"
                ),
                {"a": acme},
            )
    engine.dispose()
    engine = create_engine(team.url_of(team.bob), isolation_level="AUTOCOMMIT")
    with engine.connect() as bob:
        assert bob.execute(text('SELECT count(*) FROM "order"')).scalar() == 3
        changed = bob.execute(
            text('UPDATE "order" SET ship_name = :n WHERE account_id = :a'),
            {"n": "Mallory", "a": bravo},
        )
        assert changed.rowcount == 0  # a viewer changes nothing, even in their own account
        assert bob.execute(text("SELECT count(*) FROM person")).scalar() == 1  # only himself
    engine.dispose()
    owner = Database(team.url)
    with owner.read() as session:
        names = {o.ship_name for o in session.exec(text('SELECT * FROM "order"'))}  # type: ignore[call-overload]
    owner.dispose()
    assert "Mallory" not in names


@pytest.mark.slow
def test_a_viewers_resend_is_refused_in_one_line(team: Team) -> None:
    order = str(team.merchants.orders["Bravo"][0])
    refused = run_imtui("--db", team.url_of(team.bob), "orders", "resend", order)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert f"{team.bob} is a viewer" in lines[0] and "needs an operator" in lines[0]
    assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_an_operator_resends_their_own_order_but_cannot_reach_another_account(
    team: Team,
) -> None:
    own = str(team.merchants.orders["Acme"][0])
    other = str(team.merchants.orders["Bravo"][0])
    done = run_imtui("--db", team.url_of(team.alice), "orders", "resend", own)
    assert done.returncode == 0, done.stderr
    # an engineer's session sends nothing itself: the workers do (it may hold no secret key)
    assert "queued; the worker sends it" in done.stdout
    refused = run_imtui("--db", team.url_of(team.alice), "orders", "resend", other, "--queue-only")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and f"no order {other!r}" in refused.stderr
    owner = Database(team.url)
    with owner.read() as session:
        audit = [(a.actor, a.target) for a in session.exec(text("SELECT * FROM audit_entry"))]  # type: ignore[call-overload]
    owner.dispose()
    assert (team.alice, f"order:{own}") in audit  # recorded as the database role, not $USER


@pytest.mark.slow
def test_the_dashboard_backend_sees_and_acts_within_the_scope(team: Team) -> None:
    database = Database(team.url_of(team.alice))
    backend = Backend(database)
    try:
        assert backend.access.role is Role.OPERATOR
        assert backend.access.may(Act.RESEND, team.merchants.acme)
        assert not backend.access.may(Act.RESEND, team.merchants.bravo)
        assert not backend.access.may(Act.CHANGE_CONNECTIONS, team.merchants.acme)
        window = backend.orders(OrderQuery(), Position(), 50)
        assert {row.number[:2] for row in window.rows} == {"#A"}
        report = backend.resend_orders(team.merchants.orders["Bravo"])
        assert report.done == 0 and len(report.errors) == 3
    finally:
        backend.close()
        database.dispose()
    viewer_db = Database(team.url_of(team.bob))
    viewer = Backend(viewer_db)
    try:
        assert viewer.access.role is Role.VIEWER
        report = viewer.resend_orders(team.merchants.orders["Bravo"])
        assert report.done == 0
        assert report.errors[0] == f"{team.bob} is a viewer: to resend needs an operator"
    finally:
        viewer.close()
        viewer_db.dispose()


@pytest.mark.slow
def test_someone_not_in_the_person_table_sees_nothing_and_may_do_nothing(team: Team) -> None:
    tag = uuid.uuid4().hex[:8]
    carol = f"carol_{tag}"
    admin = create_engine(team.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {carol} LOGIN IN ROLE imtui_engineer"))
    try:
        listed = run_imtui("--db", as_login(team.url, carol), "orders", "list")
        assert listed.returncode == 0 and "#A" not in listed.stdout and "#B" not in listed.stdout
        who = run_imtui("--db", as_login(team.url, carol), "whoami")
        assert "not an imtui user of this database" in who.stdout
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {carol}"))
            conn.execute(text(f"DROP ROLE {carol}"))
        admin.dispose()


# -- SQLite: the single-person default ---------------------------------------------------------


@pytest.mark.slow
def test_the_audit_user_is_the_os_login_whatever_user_says(tmp_path: os.PathLike[str]) -> None:
    path = f"{tmp_path}/imtui.db"
    added = run_imtui(
        "--db", path, "account", "add", "Acme", env={"USER": "alice", "LOGNAME": "alice"}
    )
    assert added.returncode == 0, added.stderr
    who = run_imtui("--db", path, "whoami", env={"USER": "alice", "LOGNAME": "alice"})
    assert who.stdout.startswith(f"{process_login()}: admin of every account")
    database = Database(path)
    with database.read() as session:
        actors = [a.actor for a in session.exec(text("SELECT * FROM audit_entry"))]  # type: ignore[call-overload]
        assert access_of(session).owner
    database.dispose()
    assert actors == [process_login()]
    assert "alice" not in process_login()


@pytest.mark.slow
def test_a_spoofed_ssh_client_adds_nothing_but_an_address(tmp_path: os.PathLike[str]) -> None:
    path = f"{tmp_path}/imtui.db"
    spoofed = run_imtui(
        "--db", path, "account", "add", "Acme", env={"SSH_CLIENT": "alice\x1b[2J 22 22"}
    )
    assert spoofed.returncode == 0, spoofed.stderr
    real = run_imtui("--db", path, "account", "add", "Bravo", env={"SSH_CLIENT": "10.1.2.3 5 22"})
    assert real.returncode == 0, real.stderr
    database = Database(path)
    with database.read() as session:
        actors = [a.actor for a in session.exec(text("SELECT * FROM audit_entry ORDER BY id"))]  # type: ignore[call-overload]
    database.dispose()
    assert actors == [process_login(), f"{process_login()}@10.1.2.3"]


def test_each_role_may_do_what_it_includes_and_only_in_its_accounts() -> None:
    viewer = Access("v", Role.VIEWER, frozenset({1}))
    operator = Access("o", Role.OPERATOR, frozenset({1}))
    admin_of_one = Access("a", Role.ADMIN, frozenset({1}))
    admin = Access("A", Role.ADMIN, None)
    stranger = Access("s", None)
    assert viewer.sees(1) and not viewer.sees(2)
    assert not viewer.may(Act.RESEND, 1) and not viewer.may(Act.DISMISS, 1)
    assert operator.may(Act.RESEND, 1) and operator.may(Act.EDIT_ORDER, 1)
    assert not operator.may(Act.RESEND, 2)
    assert not operator.may(Act.CHANGE_CONNECTIONS, 1) and not operator.may(Act.CHANGE_CONTACTS, 1)
    assert admin_of_one.may(Act.CHANGE_CONNECTIONS, 1)
    assert not admin_of_one.may(Act.CHANGE_ACCOUNTS) and not admin_of_one.may(Act.CHANGE_PEOPLE)
    assert admin.may(Act.CHANGE_PEOPLE) and admin.may(Act.RESEND, 99)
    assert not stranger.sees(1)
    assert stranger.refusal(Act.RESEND, 1) == (
        "s is not an imtui user of this database: an admin adds people with `imtui people add`"
    )
    assert (
        operator.refusal(Act.CHANGE_CONTACTS, 1)
        == "o is an operator: to change contacts needs an admin"
    )


@pytest.mark.slow
def test_people_are_managed_by_an_admin_of_every_account_only(tmp_path: os.PathLike[str]) -> None:
    path = f"{tmp_path}/imtui.db"
    assert run_imtui("--db", path, "account", "add", "Acme").returncode == 0
    added = run_imtui(
        "--db", path, "people", "add", "dana", "--role", "operator", "--account", "Acme"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "dana: operator of Acme"
    bad = run_imtui("--db", path, "people", "add", "x;drop", "--role", "viewer")
    assert bad.returncode == 1 and bad.stderr.strip() == "imtui: error: not a login name: 'x;drop'"
    listed = run_imtui("--db", path, "people", "list")
    assert "dana" in listed.stdout and "Acme" in listed.stdout
    assert run_imtui("--db", path, "people", "remove", "dana").returncode == 0
    gone = run_imtui("--db", path, "people", "remove", "dana")
    assert gone.returncode == 1 and "no person 'dana'" in gone.stderr


@pytest.mark.slow
async def test_a_viewers_dashboard_hides_what_they_may_not_do_and_help_says_why(
    team: Team,
) -> None:
    from imtui.engine.runtime import Engine
    from imtui.tui.app import DashboardApp
    from imtui.tui.screens.help import HelpScreen
    from imtui.tui.widgets.keybar import KeyBar
    from tests.tui_support import footer_keys, screen_text, settle, wait_for

    database = Database(team.url_of(team.bob))
    engine = Engine(database)
    app = DashboardApp(Backend(database, engine), keymap={}, live=False)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("2")
            await wait_for(pilot, lambda: app.dashboard.active == "orders")
            await pilot.pause(0.1)
            shown = {key for key, _ in footer_keys(app.dashboard.query_one(KeyBar))}
            assert "r" not in shown and "e" not in shown  # a viewer is not offered them
            assert "slash" in shown  # filtering (reading) is theirs
            await pilot.press("r")  # pressed anyway: nothing is sent, nothing changes
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            on_screen = screen_text(app)
            assert "Not yours to do" in on_screen
            assert f"{team.bob} is a viewer: to resend needs an operator" in on_screen
    finally:
        await engine.aclose()
        database.dispose()
    owner = Database(team.url)
    with owner.read() as session:
        assert (
            session.exec(text("SELECT count(*) FROM audit_entry WHERE actor LIKE 'bob%'")).one()[0]
            == 0
        )  # type: ignore[call-overload]
    owner.dispose()
