"""The dashboard's first screen read from PostgreSQL with psycopg alone: the same rows the store
gives — for the owner and, through row-level security, for an engineer — from the URL the store
would open, and nothing at all when anything is unusual (the dashboard then reads for itself)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlmodel import select

from imtui.engine.clock import FakeClock
from imtui.store.beats import beat
from imtui.store.database import Database
from imtui.store.first_screen import read_first_screen, read_first_screen_postgres
from imtui.store.first_screen_pg import connect_arguments
from imtui.store.models import Alert, Connection, RetryItem
from imtui.store.rows import FirstScreen
from tests.test_people import Team, team  # noqa: F401 - the fixture, used by name
from tests.test_tui_snapshots import seed


def run_helper(url: str, rows: int = 24) -> subprocess.CompletedProcess[bytes]:
    """``python -m imtui.store.first_screen`` as the dashboard starts it: the URL in
    ``IMTUI_DB``, never on the command line."""
    return subprocess.run(
        [sys.executable, "-m", "imtui.store.first_screen", str(rows)],
        capture_output=True,
        timeout=60,
        env={**os.environ, "IMTUI_DB": url},
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgresql+psycopg://us%40er:p%40ss%2Fw%3A@db.example:6543/te%20st?sslmode=require",
        "postgresql+psycopg://u@h/db?options=-csearch_path%3Dt_0a1b2c",
        "postgresql://u@h/db?options=-csearch_path%3Dt_1%20-cstatement_timeout%3D1&application_name=a+b",
        "postgres://U@HostName/db",
        "postgresql+psycopg:///test",
        "postgresql+psycopg://u@/db?host=/var/run/postgresql",
        "postgresql+psycopg://u@[::1]:5432/db",
        "postgresql://u:@h/db",
        "postgresql://u:p:q@h/db",
        "postgresql://h:5432",
    ],
)
def test_the_helper_connects_where_sqlalchemy_would(url: str):
    """The keywords psycopg gets are the ones SQLAlchemy's psycopg dialect passes it."""
    _, expected = PGDialect_psycopg().create_connect_args(make_url(url))
    expected.pop("context", None)
    assert connect_arguments(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h1:1,h2:2/db",
        "postgresql://u@h/db?host=a&host=b",
        "postgresql://u:p@ss@h/db",
        "postgresql://u@h/db#x",
        "sqlite:///x.db",
        "postgresql+psycopg2://u@h/db",
    ],
)
def test_a_url_the_helper_might_read_otherwise_is_not_tried(url: str):
    assert connect_arguments(url) is None


def both_ways(url: str, rows: int, now: datetime) -> tuple[FirstScreen, FirstScreen | None]:
    """The first screen through the store, and with psycopg alone, as the login ``url`` names."""
    database = Database(url, migrate=False)
    try:
        by_store = read_first_screen(database, rows, now)
    finally:
        database.dispose()
    return by_store, read_first_screen_postgres(url, rows, now)


@pytest.mark.slow
def test_the_first_screen_read_with_psycopg_is_the_stores(postgres_url: str):
    database = Database(postgres_url)
    clock = FakeClock()
    try:
        seed(database, clock)
        with database.write() as session:  # an engine elsewhere, a moment ago
            beat(session, "host:1:x", clock.now(), clock.now())
    finally:
        database.dispose()
    now = clock.now() + timedelta(minutes=30)  # some retry rows are due by then
    for rows in (5, 24, 200):
        by_store, by_psycopg = both_ways(postgres_url, rows, now)
        assert by_psycopg == by_store
    assert by_store.counts.due_now > 0  # the time comparison was exercised
    assert 0 < by_store.counts.needs_person < by_store.counts.open_alerts
    assert by_store.counts.engine_beat == clock.now()

    helper = run_helper(postgres_url)
    assert helper.returncode == 0, helper.stderr
    shown = pickle.loads(helper.stdout)
    assert [r.id for r in shown.alerts.rows] == [r.id for r in by_store.alerts.rows[:24]]


def add_alerts_and_retries(url: str, account_id: int, n: int, now: datetime) -> None:
    """``n`` open alerts (every other one for a person) and ``n`` held retry rows on the
    account's WMS connection, written as the owner."""
    database = Database(url)
    try:
        with database.write() as session:
            wms = session.exec(
                select(Connection).where(
                    Connection.account_id == account_id, Connection.role == "wms"
                )
            ).one()
            for i in range(n):
                session.add(
                    Alert(
                        account_id=account_id, connection_id=wms.id, kind="remote_error",
                        scope="record", fingerprint=f"a{account_id}:{i}", needs_person=i % 2 == 0,
                        message=f"HTTP 503 ({account_id}/{i})", first_seen=now, last_seen=now,
                    )
                )  # fmt: skip
                session.add(
                    RetryItem(
                        account_id=account_id, connection_id=wms.id or 0, operation="deliver_order",
                        subject_id=account_id * 1000 + i, state="held", created_at=now,
                        updated_at=now,
                    )
                )  # fmt: skip
    finally:
        database.dispose()


@pytest.mark.slow
def test_an_engineers_helper_sees_what_their_store_sees(team: Team):  # noqa: F811
    """Row-level security filters the helper's plain statements as it filters the store's:
    Alice (operator of Acme) counts and lists Acme's alerts only, the owner everyone's."""
    now = FakeClock().now()
    add_alerts_and_retries(team.url, team.merchants.acme, 3, now)
    add_alerts_and_retries(team.url, team.merchants.bravo, 5, now)
    owners, _ = both_ways(team.url, 24, now)
    assert owners.counts.open_alerts == 8 and owners.counts.held == 8

    by_store, by_psycopg = both_ways(team.url_of(team.alice), 24, now)
    assert by_psycopg == by_store
    assert by_store.counts.open_alerts == 3 and by_store.counts.held == 3
    assert by_store.counts.needs_person == 2
    assert {row.account for row in by_store.alerts.rows} == {"Acme"}

    helper = run_helper(team.url_of(team.alice))
    assert helper.returncode == 0, helper.stderr
    assert pickle.loads(helper.stdout) == by_store


@pytest.mark.slow
def test_the_helper_reads_nothing_from_a_database_a_migration_is_due_for(postgres_url: str):
    Database(postgres_url).dispose()
    database = Database(postgres_url, migrate=False)
    try:
        with database.write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    finally:
        database.dispose()
    helper = run_helper(postgres_url)
    assert helper.returncode == 3 and helper.stdout == b""


def test_the_helper_writes_nothing_when_the_server_is_away():
    """Nothing listens on port 1: the helper gives up at once, and the dashboard reads (and
    reports the failure) for itself."""
    helper = run_helper("postgresql://nobody@127.0.0.1:1/none")
    assert helper.returncode != 0 and helper.stdout == b""


@pytest.mark.slow
def test_the_helper_reads_postgresql_without_sqlalchemy(postgres_url: str):
    Database(postgres_url).dispose()
    script = (
        "import json, sys\n"
        "from datetime import UTC, datetime\n"
        "from imtui.store.first_screen import read_lightly\n"
        "assert read_lightly(24, datetime.now(UTC)) is not None\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "IMTUI_DB": postgres_url},
    ).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    assert "psycopg" in loaded
    assert not loaded & {"sqlalchemy", "sqlmodel", "alembic"}
