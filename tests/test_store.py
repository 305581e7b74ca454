"""The store's own promises: the schema the migrations build is the schema the models
describe, on SQLite and PostgreSQL; starting again migrates nothing; readers are not blocked by
a writer."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from imtui.store.database import Database
from imtui.store.models import SQLModel


def test_migrations_build_exactly_the_models(db_url: str) -> None:
    db = Database(db_url)
    with db.read_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    db.dispose()
    assert differences == []


def test_a_current_schema_is_not_migrated_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    Database(url).dispose()
    holder = Database(url, migrate=False)
    with holder.write_engine.connect() as writer:
        writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: now we hold the write lock
        again = Database(url)  # would wait for the lock if it tried to migrate
        with again.read() as session:
            assert session.exec(text("SELECT count(*) FROM account")).one()[0] == 0
        writer.rollback()
    again.dispose()
    holder.dispose()
