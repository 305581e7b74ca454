"""Pausing, resuming and editing a connection (issue 14), and the per-field check a form shows:
the engine actions the CLI and the dashboard share — one path, one audit. On SQLite and on
PostgreSQL where they touch the database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from sqlmodel import Session, col, select

from imtui.cli import cli
from imtui.domain.people import Access, Role
from imtui.domain.records import Address, OrderLine, SourceOrder
from imtui.domain.retry import Operation, RetryState
from imtui.engine import account_actions, connection_actions
from imtui.engine.action_rules import ActionError, account_for
from imtui.engine.connection_actions import connection_field_problems
from imtui.engine.ingest import store_source_orders
from imtui.store.connections import WMS, due_connections
from imtui.store.database import Database
from imtui.store.models import AuditEntry, Connection, RetryItem
from imtui.store.queue import ClaimRequest, claim_due
from imtui.store.secrets import Unreadable
from tests.conftest import dump

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACTOR = "tester"
WMS_SECRET = "wms-client-secret-xyz"
SHOP_TOKEN = "shpat_super_secret_token_1"
WMS_CREDENTIALS = {"client_id": "wms-id-abc", "client_secret": WMS_SECRET, "user_login_id": "1"}


@dataclass
class Merchant:
    db: Database
    acme: int
    bravo: int
    shop: int
    wms: int


@pytest.fixture
def merchant(db_url: str) -> Iterator[Merchant]:
    """Acme: a shop and a WMS (on a port nothing listens on) and three orders queued for the
    WMS; Bravo: a connection called "Legacy"."""
    database = Database(db_url)
    try:
        with database.write() as session:
            acme = account_actions.add_account(
                session, name="Acme", kind="merchant", actor=ACTOR, now=NOW
            )
            bravo = account_actions.add_account(
                session, name="Bravo", kind="merchant", actor=ACTOR, now=NOW
            )
            shop = add(session, acme.id, "Shop", "shopify", {"access_token": SHOP_TOKEN}, {})
            wms = add(
                session,
                acme.id,
                "3PL",
                "wms_3pl",
                WMS_CREDENTIALS,
                {"customer_id": "1", "facility_id": "1"},
            )
            add(session, bravo.id, "Legacy", "shopify", {"access_token": SHOP_TOKEN}, {})
            store_source_orders(session, shop.id or 0, [order(n) for n in (1, 2, 3)], NOW)
            ids = Merchant(database, acme.id or 0, bravo.id or 0, shop.id or 0, wms.id or 0)
        yield ids
    finally:
        database.dispose()


def add(
    session: Session,
    account_id: int | None,
    name: str,
    platform: str,
    credentials: dict[str, str],
    settings: dict[str, Any],
) -> Connection:
    account = account_for(session, str(account_id))
    return account_actions.add_connection(
        session,
        account=account,
        name=name,
        platform=platform,
        base_url="http://127.0.0.1:9",
        credentials=credentials,
        settings=settings,
        poll_interval_s=300,
        actor=ACTOR,
        now=NOW,
    )


def order(n: int) -> SourceOrder:
    return SourceOrder(
        remote_id=str(4500000 + n),
        number=f"#{1000 + n}",
        ship_to=Address(name="Ada", address1="1 Main St", city="Austin", state="TX", zip="78701"),
        ship_method_code="UPS_GROUND",
        ship_method_title="UPS Ground",
        lines=(OrderLine("SKU-1", 1),),
    )


def act(db: Database, work: Callable[[Session], Any], access: Access | None = None) -> Any:
    with db.write() as session:
        if access is not None:
            session.info["imtui.access"] = access  # as store.people.access_of caches it
        return work(session)


def connection_row(db: Database, connection_id: int) -> dict[str, Any]:
    with db.read() as session:
        found = session.get(Connection, connection_id)
        assert found is not None
        credentials = found.credentials
        if isinstance(credentials, Unreadable):
            credentials = {"unreadable": credentials.stored}
        return {**found.model_dump(exclude={"credentials"}), "credentials": credentials}


def audit(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as session:
        entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))
        return [(entry.action, entry.target, entry.detail) for entry in entries]


def queued(db: Database, connection_id: int) -> list[RetryItem]:
    with db.read() as session:
        return list(session.exec(select(RetryItem).where(RetryItem.connection_id == connection_id)))


def claim(db: Database, now: datetime) -> list[int]:
    with db.write() as session:
        request = ClaimRequest(
            owner="worker-1",
            now=now,
            lease=timedelta(minutes=5),
            limit=10,
            for_update=session.get_bind().dialect.name == "postgresql",
        )
        return [item.id or 0 for item in claim_due(session, [Operation.DELIVER_ORDER], request)]


def pause(db: Database, key: str, reason: str | None = "maintenance", **kw: Any) -> Connection:
    return act(  # type: ignore[no-any-return]
        db,
        lambda s: connection_actions.pause_connection(
            s, connection_key=key, reason=reason, actor=ACTOR, now=NOW
        ),
        **kw,
    )


def resume(db: Database, key: str, now: datetime = NOW, **kw: Any) -> Connection:
    return act(  # type: ignore[no-any-return]
        db,
        lambda s: connection_actions.resume_connection(s, connection_key=key, actor=ACTOR, now=now),
        **kw,
    )


def edit(db: Database, key: str, now: datetime = NOW, **changes: Any) -> Connection:
    return act(  # type: ignore[no-any-return]
        db,
        lambda s: connection_actions.edit_connection(
            s, connection_key=key, actor=ACTOR, now=now, **changes
        ),
    )


# -- pause and resume -------------------------------------------------------------------------


def test_a_paused_connection_holds_its_records_and_resuming_makes_them_due(
    merchant: Merchant,
) -> None:
    db = merchant.db
    later = NOW + timedelta(minutes=30)
    with db.write() as session:  # as after a failed try: due again in an hour
        for item in session.exec(select(RetryItem)):
            item.next_attempt_at = NOW + timedelta(hours=1)
            session.add(item)

    paused = pause(db, "3PL", reason="night maintenance")
    assert paused.paused and paused.paused_reason == f"paused by {ACTOR}: night maintenance"
    assert claim(db, NOW + timedelta(hours=2)) == []  # due, but its connection is paused
    with db.read() as session:
        assert due_connections(session, WMS, NOW + timedelta(days=1)) == []
    assert {item.state for item in queued(db, merchant.wms)} == {RetryState.DUE}
    assert all(item.attempts == 0 for item in queued(db, merchant.wms))

    resumed = resume(db, "3PL", now=later)
    assert not resumed.paused and resumed.paused_reason is None
    items = queued(db, merchant.wms)
    assert len(items) == 3
    assert {item.next_attempt_at.replace(tzinfo=UTC) for item in items} == {later}  # type: ignore[union-attr]
    assert len(claim(db, later)) == 3
    with db.read() as session:
        assert [c.id for c in due_connections(session, WMS, later)] == [merchant.wms]
    assert audit(db)[-2:] == [
        ("connection.pause", f"connection:{merchant.wms}", "night maintenance"),
        ("connection.resume", f"connection:{merchant.wms}", "3 waiting records due now"),
    ]


def test_pausing_twice_or_resuming_an_active_connection_is_refused(merchant: Merchant) -> None:
    db = merchant.db
    with pytest.raises(ActionError, match=r"^connection \d+ \(3PL\) is not paused$"):
        resume(db, "3PL")
    pause(db, "3PL", reason=None)
    before = connection_row(db, merchant.wms)
    assert before["paused_reason"] == f"paused by {ACTOR}"
    with pytest.raises(ActionError) as refused:
        pause(db, "3PL")
    assert str(refused.value) == (
        f"connection {merchant.wms} (3PL) is already paused: paused by {ACTOR}"
    )
    assert connection_row(db, merchant.wms) == before
    assert [a for a, _, _ in audit(db)].count("connection.pause") == 1


def test_resuming_is_refused_while_the_credentials_would_only_stop_it_again(
    merchant: Merchant,
) -> None:
    db = merchant.db
    pause(db, "3PL")
    with db.write() as session:
        wms = session.get(Connection, merchant.wms)
        assert wms is not None
        wms.credentials = {"client_id": "wms-id-abc"}
    with pytest.raises(ActionError) as lacking:
        resume(db, "3PL")
    assert str(lacking.value) == (
        f"connection {merchant.wms} (3PL) has no client_secret, user_login_id: replace its "
        "credentials before resuming it"
    )

    sealed = Fernet(Fernet.generate_key()).encrypt(json.dumps(WMS_CREDENTIALS).encode())
    with db.write() as session:
        wms = session.get(Connection, merchant.wms)
        assert wms is not None
        wms.credentials = Unreadable("?", {"sealed": sealed.decode()})  # a key we do not have
    before = connection_row(db, merchant.wms)
    with pytest.raises(ActionError) as unreadable:
        resume(db, "3PL")
    assert str(unreadable.value).startswith(
        f"the credentials of connection {merchant.wms} (3PL) cannot be opened ("
    )
    assert str(unreadable.value).endswith(
        "): replace them (client_id, client_secret, user_login_id) before resuming it"
    )
    assert connection_row(db, merchant.wms) == before
    assert "connection.resume" not in [a for a, _, _ in audit(db)]


# -- edit -----------------------------------------------------------------------------------


def test_an_edit_changes_what_is_given_and_audits_it_without_secrets(merchant: Merchant) -> None:
    db = merchant.db
    with db.write() as session:
        wms = session.get(Connection, merchant.wms)
        assert wms is not None
        wms.next_poll_at = NOW + timedelta(days=6)

    edited = edit(
        db,
        "3PL",
        name="3PL East",
        base_url="https://east:pa55word@wms.example.com/",
        poll_interval_s=60,
        settings={"facility_id": "2", "read_timeout": "5", "reference_prefix": "ACME"},
    )
    assert (edited.name, edited.base_url, edited.poll_interval_s) == (
        "3PL East",
        "https://east:pa55word@wms.example.com",
        60,
    )
    row = connection_row(db, merchant.wms)
    assert row["settings"] == {
        "customer_id": "1",
        "facility_id": "2",
        "read_timeout": "5",
        "reference_prefix": "ACME",
    }
    assert row["next_poll_at"].replace(tzinfo=UTC) == NOW + timedelta(seconds=60)
    assert row["credentials"] == WMS_CREDENTIALS and row["platform"] == "wms_3pl"

    edit(db, str(merchant.wms), settings={"read_timeout": "", "api_version": None})
    assert "read_timeout" not in connection_row(db, merchant.wms)["settings"]
    edit(db, str(merchant.wms), name="3PL East", poll_interval_s=60)  # nothing new: no entry

    entries = [entry for entry in audit(db) if entry[0] == "connection.edit"]
    assert entries == [
        (
            "connection.edit",
            f"connection:{merchant.wms}",
            "name 3PL East; url https://east:••••@wms.example.com; poll 60 s; "
            "setting facility_id; setting read_timeout; setting reference_prefix",
        ),
        ("connection.edit", f"connection:{merchant.wms}", "setting read_timeout removed"),
    ]
    for _, _, detail in audit(db):
        for secret in ("pa55word", WMS_SECRET, SHOP_TOKEN):
            assert secret not in detail


def test_a_name_another_account_uses_is_free_to_take(merchant: Merchant) -> None:
    edited = edit(merchant.db, str(merchant.wms), name="Legacy")
    assert edited.name == "Legacy"


EDIT_REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "bad URL": ({"base_url": "http://x y"}, "a URL has no spaces or control characters"),
    "not http": ({"base_url": "ftp://wms"}, "not an http(s) URL: 'ftp://wms'"),
    "unknown setting": (
        {"settings": {"location_id": "7"}},
        "wms_3pl has no setting location_id (its settings: customer_id, facility_id, ",
    ),
    "required setting removed": (
        {"settings": {"customer_id": ""}},
        "missing settings: customer_id",
    ),
    "bad deadline": (
        {"settings": {"deadline": "-1"}},
        "setting deadline must be a positive number",
    ),
    "poll 5": ({"poll_interval_s": 5}, "poll interval must be between 10 seconds and 7 days"),
    "empty name": ({"name": "  "}, "connection name must not be empty"),
    "duplicate name": ({"name": "Shop"}, "account 'Acme' already has a connection 'Shop'"),
}


@pytest.mark.parametrize("case", list(EDIT_REFUSALS), ids=list(EDIT_REFUSALS))
def test_a_refused_edit_changes_nothing(merchant: Merchant, case: str) -> None:
    changes, words = EDIT_REFUSALS[case]
    before = connection_row(merchant.db, merchant.wms), audit(merchant.db)
    with pytest.raises(ActionError) as refused:
        edit(merchant.db, "3PL", **changes)
    assert words in str(refused.value)
    assert "\n" not in str(refused.value)
    assert (connection_row(merchant.db, merchant.wms), audit(merchant.db)) == before


# -- who may ----------------------------------------------------------------------------------


def test_a_viewer_or_an_admin_of_another_account_may_not_change_a_connection(
    merchant: Merchant,
) -> None:
    db = merchant.db
    pause(db, "Shop")
    viewer = Access("vera", Role.VIEWER, frozenset({merchant.acme}))
    stranger = Access("bob", Role.ADMIN, frozenset({merchant.bravo}))
    attempts: dict[str, Callable[[Session], object]] = {
        "pause": lambda s: connection_actions.pause_connection(
            s, connection_key="3PL", reason="x", actor="vera", now=NOW
        ),
        "resume": lambda s: connection_actions.resume_connection(
            s, connection_key="Shop", actor="vera", now=NOW
        ),
        "edit": lambda s: connection_actions.edit_connection(
            s, connection_key="3PL", poll_interval_s=60, actor="vera", now=NOW
        ),
        "credentials": lambda s: account_actions.update_credentials(
            s, connection_key="Shop", credentials={"access_token": "shpat_new"}, actor="vera",
            now=NOW,
        ),
    }  # fmt: skip
    before = [connection_row(db, merchant.shop), connection_row(db, merchant.wms), audit(db)]
    for name, attempt in attempts.items():
        with pytest.raises(ActionError) as as_viewer:
            act(db, attempt, viewer)
        assert str(as_viewer.value) == (
            "vera is a viewer: to change connections and credentials needs an admin"
        ), name
        with pytest.raises(ActionError) as as_stranger:
            act(db, attempt, stranger)
        assert str(as_stranger.value) == (
            "bob may not change connections and credentials for that account: "
            "it is not among theirs"
        ), name
    assert [
        connection_row(db, merchant.shop),
        connection_row(db, merchant.wms),
        audit(db),
    ] == before


# -- the form's per-field check ------------------------------------------------------------------


GOOD_WMS: dict[str, Any] = {
    "name": "3PL",
    "base_url": "https://wms.example.com",
    "credentials": dict(WMS_CREDENTIALS),
    "settings": {"customer_id": "1", "facility_id": "1"},
    "poll_interval_s": "300",
}


def wms_form(**changes: Any) -> dict[str, list[str]]:
    return connection_field_problems("wms_3pl", **{**GOOD_WMS, **changes})


def test_a_good_form_has_no_problems() -> None:
    assert wms_form() == {}
    assert wms_form(settings={**GOOD_WMS["settings"], "read_timeout": "", "deadline": "30"}) == {}
    assert (
        connection_field_problems(
            "shopify",
            name="Shop",
            base_url="https://acme.myshopify.com",
            credentials={"access_token": "shpat_x"},
            settings={"api_version": "2026-10", "reference_prefix": "ACME"},
            poll_interval_s=60,
        )
        == {}
    )


FIELD_CASES: dict[str, tuple[dict[str, Any], dict[str, list[str]]]] = {
    "name": ({"name": " "}, {"name": ["connection name must not be empty"]}),
    "name with controls": (
        {"name": "3PL\x1b[31m"},
        {"name": ["connection name contains control characters"]},
    ),
    "url": (
        {"base_url": "http://wms example"},
        {"url": ["a URL has no spaces or control characters: 'http://wms example'"]},
    ),
    "url scheme": ({"base_url": "ftp://wms"}, {"url": ["not an http(s) URL: 'ftp://wms'"]}),
    "missing credential": (
        {"credentials": {"client_id": "c", "client_secret": "", "user_login_id": "1"}},
        {"credential.client_secret": ["missing credentials: client_secret"]},
    ),
    "unknown credential": (
        {"credentials": {**WMS_CREDENTIALS, "api_key": "k"}},
        {
            "credential.api_key": [
                "wms_3pl has no credential api_key "
                "(its credentials: client_id, client_secret, user_login_id)"
            ]
        },
    ),
    "missing setting": (
        {"settings": {"customer_id": "1"}},
        {"setting.facility_id": ["missing settings: facility_id"]},
    ),
    "bad setting": (
        {"settings": {**GOOD_WMS["settings"], "max_body_mb": "lots"}},
        {"setting.max_body_mb": ["setting max_body_mb must be a positive number"]},
    ),
    "poll": (
        {"poll_interval_s": "5"},
        {"poll": ["poll interval must be between 10 seconds and 7 days"]},
    ),
    "poll not a number": (
        {"poll_interval_s": "soon"},
        {"poll": ["poll interval must be a whole number of seconds"]},
    ),
}


@pytest.mark.parametrize("case", list(FIELD_CASES), ids=list(FIELD_CASES))
def test_each_problem_is_shown_beside_its_field(case: str) -> None:
    changes, expected = FIELD_CASES[case]
    assert wms_form(**changes) == expected


@pytest.mark.parametrize(
    "case", [c for c in FIELD_CASES if c != "poll not a number"], ids=lambda c: str(c)
)
def test_a_field_says_what_adding_the_connection_refuses_with(db: Database, case: str) -> None:
    changes, expected = FIELD_CASES[case]
    form = {**GOOD_WMS, **changes}
    ((words,),) = expected.values()
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme", kind="merchant", actor=ACTOR, now=NOW
        )
    with pytest.raises(ActionError) as refused, db.write() as session:
        account_actions.add_connection(
            session,
            account=account,
            name=form["name"],
            platform="wms_3pl",
            base_url=form["base_url"],
            credentials=form["credentials"],
            settings=form["settings"],
            poll_interval_s=int(form["poll_interval_s"]),
            actor=ACTOR,
            now=NOW,
        )
    assert str(refused.value) == words


def test_several_problems_and_an_unknown_platform() -> None:
    problems = wms_form(
        name="",
        base_url="notaurl",
        credentials={},
        settings={"customer_id": "1", "facility_id": "1", "colour": "red"},
        poll_interval_s=0,
    )
    assert problems == {
        "name": ["connection name must not be empty"],
        "url": ["not an http(s) URL: 'notaurl'"],
        "credential.client_id": ["missing credentials: client_id"],
        "credential.client_secret": ["missing credentials: client_secret"],
        "credential.user_login_id": ["missing credentials: user_login_id"],
        "setting.colour": [
            "wms_3pl has no setting colour (its settings: customer_id, facility_id, "
            "read_timeout, connect_timeout, deadline, max_body_mb, max_connections)"
        ],
        "poll": ["poll interval must be between 10 seconds and 7 days"],
    }
    unknown = connection_field_problems(
        "ftp", name="x", base_url="https://x", credentials={}, settings={}, poll_interval_s=60
    )
    assert list(unknown) == ["platform"]
    assert unknown["platform"][0].startswith("unknown platform 'ftp' (known: shopify, ")


def test_an_edit_form_keeps_blank_credentials() -> None:
    blank = {"client_id": "", "client_secret": " ", "user_login_id": ""}
    assert wms_form(credentials=blank, credentials_required=False) == {}
    assert set(wms_form(credentials=blank)) == {
        "credential.client_id",
        "credential.client_secret",
        "credential.user_login_id",
    }


# -- the CLI ---------------------------------------------------------------------------------


def imtui(db_path: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", db_path, *args], env=env)


@pytest.fixture
def cli_db(tmp_path: Path) -> str:
    db_path = str(tmp_path / "imtui.db")
    env = {"TEST_SHOP_TOKEN": SHOP_TOKEN, "TEST_WMS_SECRET": WMS_SECRET}
    for args in (
        ["account", "add", "acme"],
        ["connection", "add", "--name", "shop", "--platform", "shopify",
         "--url", "http://127.0.0.1:9", "--credential", "access_token=@TEST_SHOP_TOKEN"],
        ["connection", "add", "--name", "wms", "--platform", "wms_3pl",
         "--url", "http://127.0.0.1:9", "--credential", "client_id=wms-id-abc",
         "--credential", "client_secret=@TEST_WMS_SECRET", "--credential", "user_login_id=1",
         "--setting", "customer_id=1", "--setting", "facility_id=1"],
    ):  # fmt: skip
        result = imtui(db_path, *args, env=env)
        assert result.exit_code == 0, result.output
    return db_path


def test_the_cli_pauses_edits_and_resumes_a_connection(cli_db: str) -> None:
    outputs = []

    def ok(*args: str) -> str:
        result = imtui(cli_db, *args)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        outputs.append(result.output)
        return result.stdout

    assert ok("connection", "pause", "wms", "--reason", "night maintenance") == (
        "connection 2 (wms): paused; its records wait until 'imtui connection resume 2'\n"
    )
    shown = ok("connection", "show", "wms")
    assert ": night maintenance" in shown and "PAUSED: paused by " in shown
    assert "imtui connection test 2, then imtui connection resume 2" in shown
    edited = ok(
        "connection", "edit", "wms", "--url", "https://east:pa55word@wms.example.com",
        "--poll", "60", "--setting", "read_timeout=5", "--name", "wms-east",
    )  # fmt: skip
    assert edited == (
        "connection 2 (wms-east): changed name wms-east, url https://east:••••@wms.example.com, "
        "poll 60 s, setting read_timeout; still paused: 'imtui connection test 2', then "
        "'imtui connection resume 2'\n"
    )
    assert ok("connection", "edit", "2", "--setting", "read_timeout=") == (
        "connection 2 (wms-east): changed setting read_timeout removed; still paused: "
        "'imtui connection test 2', then 'imtui connection resume 2'\n"
    )
    assert (
        ok("connection", "edit", "2", "--poll", "60")
        == "connection 2 (wms-east): nothing changed\n"
    )
    assert ok("connection", "resume", "wms-east") == (
        "connection 2 (wms-east): resumed; waiting records are due now\n"
    )
    actions = [entry["action"] for entry in json.loads(ok("audit", "list", "--json"))]
    assert actions[:4] == [
        "connection.resume",
        "connection.edit",
        "connection.edit",
        "connection.pause",
    ]
    for output in outputs:
        for secret in (SHOP_TOKEN, WMS_SECRET, "pa55word"):
            assert secret not in output


CLI_REFUSALS: dict[str, tuple[list[str], int, str]] = {
    "resume an active one": (
        ["connection", "resume", "wms"],
        1,
        "connection 2 (wms) is not paused",
    ),
    "unknown setting": (
        ["connection", "edit", "wms", "--setting", "location_id=7"],
        1,
        "wms_3pl has no setting location_id",
    ),
    "required setting removed": (
        ["connection", "edit", "wms", "--setting", "customer_id="],
        1,
        "missing settings: customer_id",
    ),
    "bad URL": (["connection", "edit", "wms", "--url", "http://x y"], 1, "no spaces"),
    "taken name": (
        ["connection", "edit", "wms", "--name", "shop"],
        1,
        "account 'acme' already has a connection 'shop'",
    ),
    "nothing to change": (["connection", "edit", "wms"], 2, "nothing to change"),
    "poll 5": (["connection", "edit", "wms", "--poll", "5"], 2, "not in the range 10<=x<=604800"),
    "unknown connection": (["connection", "pause", "nope"], 1, "no connection 'nope'"),
}


@pytest.mark.parametrize("case", list(CLI_REFUSALS), ids=list(CLI_REFUSALS))
def test_a_refusal_is_one_line_and_changes_nothing(cli_db: str, case: str) -> None:
    args, code, words = CLI_REFUSALS[case]
    before = dump(cli_db)
    result = imtui(cli_db, *args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imtui: error: "), result.stderr
    assert words in lines[0]
    assert dump(cli_db) == before
