"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, event, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone and we never want local time."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class SealedJSON(TypeDecorator[Any]):
    """A JSON column whose value is stored sealed: ``{"sealed": "<Fernet token>"}``, so the
    database file, a backup or ``psql`` shows nothing of it (see :mod:`imtui.store.secrets`).

    Loads as the plain dict, or as :class:`~imtui.store.secrets.Unreadable` when this process
    has no key or not the right one: loading never fails, using the credentials does. A plain
    dict stored before sealing existed loads as it is (the next start seals it)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        from imtui.store.secrets import seal_for_storage

        return seal_for_storage(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        from imtui.store.secrets import open_stored

        return open_stored(value)


@event.listens_for(OrmSession, "before_flush")
def _key_before_sealing(session: OrmSession, _context: Any, _instances: Any) -> None:
    """The first credentials ever sealed create the default key file — but only if the database
    holds no sealed credentials (else a missing key is the error it is). Asked here, where the
    database can be, rather than in the column type, which sees only values."""
    for instance in (*session.new, *session.dirty):
        state = inspect(instance)
        for name in _sealed_attributes(state.mapper):
            if instance in session.new or state.attrs[name].history.has_changes():
                from imtui.store.secrets import holds_sealed, keyring_for_sealing

                keyring_for_sealing(lambda: holds_sealed(session.connection()))
                return


_sealed_by_mapper: dict[Mapper[Any], tuple[str, ...]] = {}
"""Which attributes of each mapped class are sealed: asked on every flush, worked out once."""


def _sealed_attributes(mapper: Mapper[Any]) -> tuple[str, ...]:
    known = _sealed_by_mapper.get(mapper)
    if known is None:
        known = _sealed_by_mapper[mapper] = tuple(
            attribute.key
            for attribute in mapper.column_attrs
            if any(isinstance(column.type, SealedJSON) for column in attribute.columns)
        )
    return known
