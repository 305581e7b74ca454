"""Versioned schema migrations (Alembic), run on every start.

Several processes may start at once on one database: SQLite serialises them through the
write engine's ``BEGIN IMMEDIATE``; PostgreSQL through an advisory lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

if TYPE_CHECKING:
    from imtui.store.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
ADVISORY_LOCK_ID = 0x1A7D1


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def is_current(database: Database, config: Config) -> bool:
    """True when the schema is at the newest revision: the usual start, which must not wait
    for the write lock another process holds."""
    head = ScriptDirectory.from_config(config).get_current_head()
    with database.read_engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def upgrade_to_head(database: Database) -> None:
    config = alembic_config(database)
    if is_current(database, config):
        return
    with database.write_engine.begin() as connection:
        if not database.is_sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
