"""What ``imtui`` loads before the dashboard is on screen: the command line and the screens only.
The database layer, the engine and HTTP are imported afterwards, in workers, and Alembic only
when a migration is due. Run in fresh interpreters: this process has long imported everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from imtui.store.database import Database
from imtui.store.migrate import MIGRATIONS, head_revision

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "apscheduler", "starlette", "pydantic")


def loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return {name.split(".")[0] for name in json.loads(out.strip().splitlines()[-1])}


def test_the_dashboard_command_and_its_screens_load_without_the_database_layer():
    loaded = loaded_after(
        "import imtui.cli\n"
        "from imtui.cli.app import load_command\n"
        "load_command('dashboard')\n"
        "import imtui.tui.app"
    )
    assert "textual" in loaded
    assert not loaded & set(HEAVY)


def test_head_revision_read_from_the_files_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_a_current_database_opens_without_loading_alembic(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'current.db'}"
    Database(url).dispose()  # created and migrated here
    loaded = loaded_after(f"from imtui.store.database import Database\nDatabase({url!r}).dispose()")
    assert "sqlalchemy" in loaded and "alembic" not in loaded


def test_the_first_screen_read_with_sqlite3_is_the_stores(tmp_path: Path):
    """The helper's two plain statements give exactly what the store's queries give."""
    import os
    import pickle
    from datetime import timedelta

    from imtui.engine.clock import FakeClock
    from imtui.store.first_screen import read_first_screen, read_first_screen_sqlite
    from tests.test_tui_snapshots import seed

    path = tmp_path / "first.db"
    database = Database(f"sqlite:///{path}")
    clock = FakeClock()
    seed(database, clock)
    now = clock.now() + timedelta(minutes=30)  # some retry rows are due by then
    try:
        for rows in (5, 24, 200):
            by_store = read_first_screen(database, rows, now)
            by_sqlite3 = read_first_screen_sqlite(path, rows, now)
            assert by_sqlite3 == by_store
        assert by_store.counts.due_now > 0  # the time comparison was exercised
    finally:
        database.dispose()

    helper = subprocess.run(
        [sys.executable, "-m", "imtui.store.first_screen", "24"],
        capture_output=True,
        check=True,
        timeout=60,
        env={**os.environ, "IMTUI_DB": str(path)},
    )
    shown = pickle.loads(helper.stdout)
    assert [r.id for r in shown.alerts.rows] == [r.id for r in by_store.alerts.rows[:24]]


def test_the_helper_reads_nothing_from_a_database_a_migration_is_due_for(tmp_path: Path):
    import os
    import sqlite3

    path = tmp_path / "old.db"
    Database(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as con:
        con.execute("UPDATE alembic_version SET version_num = '0001'")
    helper = subprocess.run(
        [sys.executable, "-m", "imtui.store.first_screen", "24"],
        capture_output=True,
        timeout=60,
        env={**os.environ, "IMTUI_DB": str(path)},
    )
    assert helper.returncode == 3 and helper.stdout == b""
