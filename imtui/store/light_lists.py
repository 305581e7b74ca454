"""The CLI's alert list read with :mod:`sqlite3` alone: ``imtui alerts list`` on an SQLite file
answers without loading SQLAlchemy, the ORM and the models (~0.35 s of a 0.6 s command on a
million orders; issue 15). The same statement :func:`imtui.store.alert_reads.list_alerts` runs,
as plain SQL on a read-only connection — a test holds the two to each other, page by page.

Only for a file at the newest schema and a list without ``--account`` (an account's name is
looked up the store's way); anything else, or any error here, goes the usual way (which also
migrates an older file).
"""

from __future__ import annotations

from pathlib import Path

from imtui.store.first_screen import ALERT_COLUMNS, alert_row_of, open_read_only
from imtui.store.migrate import head_revision
from imtui.store.pages import clamp, id_cursor
from imtui.store.rows import AlertRow, Page


def alert_page_sqlite(
    path: Path, states: tuple[str, ...], kind: str | None, *, after: str | None, limit: int
) -> Page[AlertRow] | None:
    """Newest first, as :func:`~imtui.store.alert_reads.list_alerts` with no account; None if
    the file is not at the newest schema. An invalid ``after`` raises as there."""
    limit = clamp(limit)
    cursor = id_cursor(after)
    conditions: list[str] = []
    values: list[object] = []
    if states:
        conditions.append(f"alert.state IN ({', '.join('?' for _ in states)})")
        values += states
    if kind:
        conditions.append("alert.kind = ?")
        values.append(kind)
    if cursor is not None:
        conditions.append("alert.id < ?")
        values.append(cursor)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    connection = open_read_only(path)
    try:
        found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if found is None or found[0] != head_revision():
            return None
        rows = connection.execute(
            f"SELECT {ALERT_COLUMNS} FROM alert"
            " JOIN account ON account.id = alert.account_id"
            " LEFT OUTER JOIN connection ON connection.id = alert.connection_id"
            f"{where} ORDER BY alert.id DESC LIMIT ?",
            (*values, limit + 1),
        ).fetchall()
    finally:
        connection.close()
    page = [alert_row_of(row) for row in rows[:limit]]
    return Page(page, str(page[-1].id) if len(rows) > limit else None)
