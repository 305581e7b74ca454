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
