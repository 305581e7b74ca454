"""The dashboard's "has anything been committed?" (imtui.store.changes.ChangeProbe): on
PostgreSQL it listens for migration 0009's notifications, so it wakes for this schema's commits
only and asks the server nothing while idle; on SQLite it reads PRAGMA data_version."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, make_url, text

from imtui.engine import account_actions
from imtui.store.changes import ChangeProbe
from imtui.store.database import Database
from tests.conftest import POSTGRES_URL

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def add_account(db: Database, name: str) -> None:
    with db.write() as session:
        account_actions.add_account(session, name=name, kind="merchant", actor="tester", now=NOW)


def settle(probe: ChangeProbe) -> None:
    """The probe's first answer is "changed" (it has not looked before): take it."""
    assert probe.changed()
    assert not probe.changed()


def wait_changed(probe: ChangeProbe, seconds: float = 5.0) -> bool:
    """Whether the probe says "changed" within ``seconds`` (a notification crosses a socket)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe.changed():
            return True
        time.sleep(0.01)
    return False


def stays_quiet(probe: ChangeProbe, seconds: float = 0.5) -> bool:
    return not wait_changed(probe, seconds)


def probe_pid(probe: ChangeProbe) -> int:
    connection = probe._connection
    assert connection is not None, "the probe is not listening"
    return connection.info.backend_pid


def plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def db(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    yield database
    database.dispose()


@pytest.fixture
def writer(postgres_url: str) -> Iterator[Database]:
    """The same schema through connections of its own, as another process would write."""
    database = Database(postgres_url, migrate=False)
    yield database
    database.dispose()


@pytest.fixture
def probe(db: Database) -> Iterator[ChangeProbe]:
    change_probe = ChangeProbe(db)
    yield change_probe
    change_probe.close()


@pytest.fixture
def other_database(postgres_url: str) -> Iterator[str]:
    """A scratch database on the same server with an imtui schema of the same name as this
    test's, so only the database tells their notifications apart."""
    name = f"imtui_other_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_url)
    admin = create_engine(url.set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    other = url.set(database=name)
    schema = url.query["options"].split("=")[-1]  # type: ignore[union-attr]
    scratch = create_engine(other.set(query={}), isolation_level="AUTOCOMMIT")
    with scratch.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    scratch.dispose()
    try:
        yield other.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="IMTUI_TEST_POSTGRES_URL is not set")
class TestPostgres:
    def test_commit_in_this_schema_from_another_connection_says_changed(
        self, probe: ChangeProbe, writer: Database
    ) -> None:
        settle(probe)
        add_account(writer, "Acme")
        assert wait_changed(probe)
        assert stays_quiet(probe)

    def test_uncommitted_write_is_silent_and_its_commit_is_heard(
        self, probe: ChangeProbe, writer: Database
    ) -> None:
        settle(probe)
        with writer.write() as session:
            account_actions.add_account(
                session, name="Acme", kind="merchant", actor="tester", now=NOW
            )
            session.flush()  # the row is written, not committed
            assert stays_quiet(probe)
        assert wait_changed(probe)

    def test_rolled_back_write_is_never_heard(self, probe: ChangeProbe, writer: Database) -> None:
        settle(probe)
        with writer.read() as session:
            account_actions.add_account(
                session, name="Acme", kind="merchant", actor="tester", now=NOW
            )
            session.flush()
            session.rollback()
        assert stays_quiet(probe)

    def test_update_that_matches_no_row_is_not_a_change(
        self, probe: ChangeProbe, writer: Database
    ) -> None:
        """A claim that finds nothing due runs an UPDATE of no row every tick: an idle engine
        must not wake the dashboards."""
        settle(probe)
        with writer.write() as session:
            session.execute(text("UPDATE retry_item SET attempts = attempts + 1 WHERE id < 0"))
            session.execute(text("DELETE FROM alert_notice WHERE id < 0"))
        assert stays_quiet(probe)

    def test_every_imtui_table_but_alembics_has_the_triggers(self, writer: Database) -> None:
        with writer.read() as session:
            tables = session.execute(
                text(
                    "SELECT c.relname FROM pg_class AS c WHERE c.relkind = 'r'"
                    " AND c.relnamespace = current_schema()::regnamespace"
                    " AND c.relname <> 'alembic_version'"
                    " AND NOT EXISTS (SELECT 1 FROM pg_trigger AS t WHERE t.tgrelid = c.oid"
                    "   AND t.tgname = 'imtui_changes_insert')"
                )
            ).all()
        assert tables == [], "a table added after migration 0009 needs its change triggers too"

    def test_an_engines_beat_is_not_a_change_but_a_new_engine_is(
        self, probe: ChangeProbe, writer: Database
    ) -> None:
        """Every running engine moves its beat every 30 s, which changes nothing on screen."""
        from datetime import timedelta

        from imtui.store import beats

        settle(probe)
        with writer.write() as session:
            beats.beat(session, "engine-a", NOW, NOW)
        assert wait_changed(probe)
        with writer.write() as session:
            beats.beat(session, "engine-a", NOW + timedelta(seconds=30), NOW)
        assert stays_quiet(probe)
        with writer.write() as session:
            beats.forget(session, "engine-a")
        assert wait_changed(probe)

    def test_writes_in_another_schema_of_the_database_leave_it_quiet(
        self, probe: ChangeProbe
    ) -> None:
        from tests.conftest import postgres_schema_url

        settle(probe)
        schemas = postgres_schema_url(POSTGRES_URL)
        other = Database(next(schemas))
        try:
            for n in range(5):
                add_account(other, f"Elsewhere {n}")
            assert stays_quiet(probe)
        finally:
            other.dispose()
            next(schemas, None)

    def test_writes_in_another_database_of_the_server_leave_it_quiet(
        self, probe: ChangeProbe, other_database: str
    ) -> None:
        settle(probe)
        other = Database(other_database)
        try:
            for n in range(5):
                add_account(other, f"Elsewhere {n}")
            assert stays_quiet(probe)
        finally:
            other.dispose()

    def test_probe_survives_its_connection_being_killed(
        self, probe: ChangeProbe, writer: Database, postgres_url: str
    ) -> None:
        settle(probe)
        pid = probe_pid(probe)
        with psycopg.connect(plain_url(POSTGRES_URL), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
        assert wait_changed(probe), "what was committed while it was away went unheard"
        assert probe_pid(probe) != pid, "listening again on a new connection"
        assert stays_quiet(probe)
        add_account(writer, "After the break")
        assert wait_changed(probe)

    def test_idle_probe_asks_the_server_nothing(
        self, probe: ChangeProbe, writer: Database, other_database: str
    ) -> None:
        """Counted on both sides: the probe's own count of statements, and the server's record
        of the listening connection's last statement and when it began."""
        settle(probe)
        pid = probe_pid(probe)
        sent = probe.queries
        with psycopg.connect(plain_url(POSTGRES_URL), autocommit=True) as admin:
            last = admin.execute(
                "SELECT query, query_start FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            assert last is not None and last[0] == "LISTEN imtui_changes"
            other = Database(other_database)
            try:
                for n in range(200):
                    assert not probe.changed()
                    if n % 20 == 0:
                        add_account(other, f"Elsewhere {n}")  # the server is busy elsewhere
            finally:
                other.dispose()
            assert probe.queries == sent
            assert (
                admin.execute(
                    "SELECT query, query_start FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                == last
            )
        add_account(writer, "Acme")
        assert wait_changed(probe)
        assert probe.queries == sent  # hearing a change costs no query either

    def test_tables_without_the_signal_make_it_say_changed_every_time(
        self, probe: ChangeProbe, db: Database
    ) -> None:
        """A database still before migration 0009 (no triggers): re-read every time."""
        with db.write() as session:
            for event in ("insert", "update", "delete", "truncate"):
                session.execute(text(f"DROP TRIGGER imtui_changes_{event} ON alert"))
        assert probe.changed()
        assert probe.changed()


def test_sqlite_commit_from_another_connection_says_changed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'imtui.db'}"
    db, writer = Database(url), Database(url, migrate=False)
    probe = ChangeProbe(db)
    try:
        settle(probe)
        add_account(writer, "Acme")
        assert probe.changed()
        assert not probe.changed()
    finally:
        probe.close()
        db.dispose()
        writer.dispose()
