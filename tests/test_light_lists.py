"""``imtui alerts list`` on an SQLite file reads with sqlite3 alone (imtui/store/light_lists.py):
page for page the store's rows, its cursors, its filters — and a file it cannot read that way
(an older schema, a file that is not a database) goes the store's way, which migrates or says why in
one line. The command does not load SQLAlchemy to do it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.store import alert_reads
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.database import Database
from imtui.store.light_lists import alert_page_sqlite
from imtui.store.models import Account, Connection
from imtui.store.rows import AlertFilter, InvalidCursor

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
KINDS = (AlertKind.UNKNOWN_SKU, AlertKind.REMOTE_ERROR, AlertKind.INCOMPLETE_ADDRESS)


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Database, Path]:
    """Two accounts, 37 alerts of three kinds, some resolved, one without a connection, one
    whose text a shop chose."""
    path = tmp_path / "imtui.db"
    db = Database(f"sqlite:///{path}")
    with db.write() as session:
        for name in ("Acme", "Globex"):
            account = Account(name=name, created_at=NOW)
            session.add(account)
            session.flush()
            session.add(
                Connection(
                    account_id=account.id,
                    name="3PL",
                    role="wms",
                    platform="wms_3pl",
                    base_url="https://wms.example",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        session.flush()
        for n in range(37):
            alert, _ = raise_alert(
                session,
                account_id=1 + n % 2,
                connection_id=None if n == 5 else 1 + n % 2,
                kind=KINDS[n % 3],
                message=f"alert {n} \x1b[31m<b>[bold]\u202e" if n == 7 else f"alert {n}",
                now=NOW + timedelta(minutes=n),
                about=AlertSubject(subject=f"deliver:{n}", order_number=f"#{1000 + n}"),
            )
            if n % 4 == 0:
                alert.state = AlertState.RESOLVED
                alert.resolved_at = NOW + timedelta(hours=1)
                alert.resolved_by = "auto"
                session.add(alert)
    yield db, path
    db.dispose()


def store_pages(db: Database, states: tuple[str, ...], kind: str | None, limit: int) -> list:
    pages, after = [], None
    while True:
        with db.read() as session:
            page = alert_reads.list_alerts(
                session, AlertFilter(states=states, kind=kind), after=after, limit=limit
            )
        pages.append(page)
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


def light_pages(path: Path, states: tuple[str, ...], kind: str | None, limit: int) -> list:
    pages, after = [], None
    while True:
        page = alert_page_sqlite(path, states, kind, after=after, limit=limit)
        assert page is not None
        pages.append(page)
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


@pytest.mark.parametrize("states", [("open",), ("resolved",), (), ("open", "dismissed")])
@pytest.mark.parametrize("kind", [None, "unknown_sku"])
@pytest.mark.parametrize("limit", [1, 5, 50])
def test_each_page_is_the_stores(filled, states, kind, limit):
    db, path = filled
    assert light_pages(path, states, kind, limit) == store_pages(db, states, kind, limit)


def test_a_cursor_not_from_the_list_is_refused_as_the_store_refuses_it(filled):
    _, path = filled
    with pytest.raises(InvalidCursor):
        alert_page_sqlite(path, ("open",), None, after="12abc", limit=5)


def test_an_older_schema_is_left_to_the_store(filled):
    _, path = filled
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0013'")
    assert alert_page_sqlite(path, ("open",), None, after=None, limit=5) is None


def imtui(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imtui.cli", "--db", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_lists_without_sqlalchemy_and_the_same_rows(filled):
    db, path = filled
    probe = (
        "import sys, runpy; sys.argv = ['imtui', '--db', sys.argv[1], 'alerts', 'list',"
        " '--json', '--limit', '5']\n"
        "try:\n    runpy.run_module('imtui.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'LIGHT', file=sys.stderr)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip().splitlines()[-1] == "LIGHT"
    listed = json.loads(run.stdout.split("\nmore:")[0] if "\nmore:" in run.stdout else run.stdout)
    [first] = store_pages(db, ("open",), None, 1000)[:1]
    assert [row["id"] for row in listed] == [row.id for row in first.rows[:5]]
    assert listed[0]["message"] == first.rows[0].message  # stored text, escaped only on print


def test_an_older_file_is_migrated_by_the_usual_way_and_listed(filled):
    _, path = filled
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0013'")
        connection.execute("ALTER TABLE ship_method_mapping DROP COLUMN delivered_at")
    run = imtui(path, "alerts", "list", "--limit", "3")
    assert run.returncode == 0, run.stderr
    assert "alert 35" in run.stdout  # the newest open one (36 is resolved)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone()[0] != "0013"


def test_a_file_that_is_not_a_database_gets_the_stores_one_line(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    run = imtui(path, "alerts", "list")
    assert run.returncode != 0
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert path.read_bytes().startswith(b"these are my notes")  # untouched


@pytest.mark.parametrize("name", ["a#b.db", "c?d.db", "e%41f.db"])
def test_a_file_whose_name_has_uri_characters_is_the_file_read(filled, name):
    """The name is the file's, not a URI's: nothing beside it is opened or created."""
    db, path = filled
    db.dispose()
    odd = path.with_name(name)
    path.rename(odd)
    before = sorted(p.name for p in odd.parent.iterdir())
    page = alert_page_sqlite(odd, ("open",), None, after=None, limit=5)
    assert page is not None and len(page.rows) == 5
    after = sorted(p.name for p in odd.parent.iterdir() if not p.name.startswith(name))
    assert after == [n for n in before if not n.startswith(name)]  # its -wal/-shm aside
