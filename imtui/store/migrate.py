"""Versioned schema migrations (Alembic), run on every start.

Several processes may start at once on one database: SQLite serialises them through the
write engine's ``BEGIN IMMEDIATE``; PostgreSQL through an advisory lock.

The usual start finds the schema current. That is decided by reading ``alembic_version`` and the
revision lines of the version files — without importing Alembic, which costs a tenth of a second
or more a dashboard should spend painting (``benchmarks/schema_check.py`` measures both ways in
fresh processes: Alembic's own answer added 837 ms on a loaded 2-core machine, these lines
none measurable). Alembic is loaded only when there is something to do.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

    from imtui.store.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
ADVISORY_LOCK_ID = 0x1A7D1
_REVISION = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision(?:\s*:[^=]+)?\s*=\s*(?:['\"]([^'\"]+)['\"]|None)", re.M)


@cache
def head_revision() -> str | None:
    """The newest revision, from the version files' ``revision``/``down_revision`` lines; None
    if they do not make one straight line (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revision(database: Database) -> str | None:
    """The revision the database says it is at; None for a new (or foreign) database."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with database.read_engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def alembic_config(database: Database) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def is_current(database: Database, config: Config) -> bool:
    """True when the schema is at the newest revision: the usual start, which must not wait
    for the write lock another process holds."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(config).get_current_head()
    with database.read_engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def upgrade_to_head(database: Database) -> None:
    head = head_revision()
    if head is not None and stored_revision(database) == head:
        return  # the usual start: nothing to do, and Alembic never loaded
    from alembic import command

    config = alembic_config(database)
    if is_current(database, config):
        return
    from sqlalchemy import text

    with database.write_engine.begin() as connection:
        if not database.is_sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
