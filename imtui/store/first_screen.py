"""The first screen of the dashboard, read in a helper process: ``python -m
imtui.store.first_screen ROWS`` writes a pickled :class:`~imtui.store.rows.FirstScreen` to
stdout, for the database ``IMTUI_DB`` names (never on the command line, where ``ps`` would show
a password in it).

Why a process: most of the dashboard's start is importing — Textual on one side, SQLAlchemy and
the models on the other — and in one process imports take turns on one core however many
threads ask. Started first thing, this process reads the first rows on another core while the
dashboard loads Textual and paints its frame; the dashboard shows what it wrote, then opens the
database itself, behind the painted screen.

It does not even load SQLAlchemy: the header's five counts and the newest open alerts are plain
statements (:func:`read_screen`), read on an SQLite file with :mod:`sqlite3` on a read-only
connection, and on PostgreSQL with psycopg in a read-only transaction under the login the URL
names (:mod:`imtui.store.first_screen_pg`) — the same rows the store's queries give, row-level
security included (tests hold the two to each other). Any other database (an SQLite URL with
options) is read through the store as usual.

It only reads, and only a database already at the newest schema (the dashboard migrates, never
this); on anything unusual it writes nothing and exits non-zero, and the dashboard reads the rows
itself as it would have anyway. The pickle goes from this process to its parent over a pipe: it
never crosses a trust boundary.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from imtui.domain.alerts import AlertState
from imtui.domain.failures import AlertKind
from imtui.domain.retry import RetryState
from imtui.store.migrate import head_revision
from imtui.store.rows import AlertRow, FirstScreen, HeaderCounts, Window

if TYPE_CHECKING:
    from sqlmodel import Session

    from imtui.store.database import Database

ALERT_COLUMNS = (
    "alert.id, alert.account_id, account.name, alert.connection_id, connection.name, alert.kind,"
    " alert.state, alert.needs_person, alert.message, alert.order_id, alert.order_number,"
    " alert.sku, alert.subject, alert.http_status, alert.count, alert.first_seen,"
    " alert.last_seen, alert.resolved_at, alert.resolved_by"
)


def read_first_screen(database: Database, rows: int, now: datetime) -> FirstScreen:
    """The header's counts for all accounts and the newest open alerts: the dashboard's
    opening view (see :class:`imtui.tui.widgets.panes.AlertsPane`), through the store."""
    from imtui.store import overview_reads, windows
    from imtui.store.rows import TOP, AlertFilter

    with database.read() as session:
        counts = overview_reads.header_counts(session, now=now)
        alerts = windows.alerts_window(session, AlertFilter(), TOP, size=rows, sort="newest")
    return FirstScreen(counts, alerts)


class EmailSummary(NamedTuple):
    """The outbox as ``imtui status`` counts it (the same counts as
    :func:`imtui.store.outbox.outbox_counts`), with the reply to the last failing attempt."""

    waiting: int
    """Queued or sending, failing included."""
    failing: int
    """Waiting after an attempt that did not get through: retried."""
    failed: int
    """Refused for good (a 5xx to the recipient), not retried: a person must fix the contact."""
    oldest_waiting_since: datetime | None
    last_failure: str | None
    """The mail server's reply to the most recent failing attempt, untrusted and as stored (cut
    to ``REPLY_LIMIT`` characters)."""


REPLY_LIMIT = 500


def read_email_summary(session: Session, *, account_id: int | None = None) -> EmailSummary:
    """One statement over the unsent and refused rows (``ix_outbox_state_id``): ``imtui status``
    stays one count query slower for it."""
    from sqlalchemy import case, func, select
    from sqlmodel import col

    from imtui.domain.outbox import OutboxState
    from imtui.store.models import OutboxEmail
    from imtui.store.queue import UNSENT

    unsent = col(OutboxEmail.state).in_(list(UNSENT))
    failing = unsent & col(OutboxEmail.last_error).is_not(None)
    of_account = [] if account_id is None else [col(OutboxEmail.account_id) == account_id]
    last_failure = (
        select(func.substr(OutboxEmail.last_error, 1, REPLY_LIMIT))
        .where(failing, *of_account)
        .order_by(col(OutboxEmail.last_attempt_at).desc(), col(OutboxEmail.id).desc())
        .limit(1)
        .correlate(None)  # its own scan of the table, not the row of the query around it
        .scalar_subquery()
    )
    query = select(
        func.count(case((unsent, OutboxEmail.id))),
        func.count(case((failing, OutboxEmail.id))),
        func.count(case((col(OutboxEmail.state) == OutboxState.FAILED, OutboxEmail.id))),
        func.min(case((unsent, OutboxEmail.created_at))),
        last_failure,
    ).where(col(OutboxEmail.state).in_([*UNSENT, OutboxState.FAILED]), *of_account)
    waiting, failing_count, failed, oldest, reply = session.execute(query).one()
    return EmailSummary(
        waiting=int(waiting),
        failing=int(failing_count),
        failed=int(failed),
        oldest_waiting_since=oldest,
        last_failure=reply,
    )


class Rows(Protocol):
    """A cursor after a statement."""

    def fetchone(self) -> Any: ...
    def fetchall(self) -> Sequence[Any]: ...


class Queryable(Protocol):
    """What :func:`read_screen` needs of a connection: :mod:`sqlite3`'s and psycopg's both."""

    def execute(self, query: str, params: tuple[Any, ...], /) -> Rows: ...


def read_first_screen_sqlite(path: Path, rows: int, now: datetime) -> FirstScreen | None:
    """The same, from an SQLite file with :mod:`sqlite3` alone; None if its schema is not the
    newest (a migration is due: the dashboard does it, then reads for itself)."""
    connection = open_read_only(path)
    try:
        return read_screen(connection, rows, _stored(now))
    finally:
        connection.close()


def open_read_only(path: Path) -> sqlite3.Connection:
    """The SQLite file at ``path``, read-only. Named by a ``file:`` URI, percent-encoded: a
    ``#``, ``?`` or ``%`` in a file's name is part of the name (pasted into the URI, ``a#b.db``
    opened — and created — ``a``, read-write)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


def read_first_screen_postgres(url: str, rows: int, now: datetime) -> FirstScreen | None:
    """The same from PostgreSQL with psycopg alone (:mod:`imtui.store.first_screen_pg`), as the
    login ``url`` names: row-level security filters these statements as it does the store's."""
    from imtui.store.first_screen_pg import connect_read_only, stored

    connection = connect_read_only(url)
    try:
        return read_screen(connection, rows, stored(now), mark="%s")
    finally:
        connection.close()


def read_screen(
    connection: Queryable, rows: int, now: object, mark: str = "?"
) -> FirstScreen | None:
    """The schema check, the header's counts and the newest open alerts in plain SQL that
    SQLite and PostgreSQL read alike: ``mark`` is the driver's parameter mark, ``now`` the
    time as the driver binds one the store wrote. None if the schema is not the newest."""

    def one(sql: str, *values: Any) -> Any:
        return connection.execute(sql.replace("?", mark), values).fetchone()

    def count(table: str, where: str, *values: Any) -> int:
        return int(one(f"SELECT count(id) FROM {table} WHERE {where}", *values)[0])

    found = one("SELECT version_num FROM alembic_version")
    if found is None or found[0] != head_revision():
        return None
    counts = HeaderCounts(
        open_alerts=count("alert", "state = ?", AlertState.OPEN.value),
        needs_person=count("alert", "state = ? AND needs_person = ?", AlertState.OPEN.value, True),
        due_now=count(
            "retry_item", "state = ? AND next_attempt_at <= ?", RetryState.DUE.value, now
        ),
        held=count("retry_item", "state = ?", RetryState.HELD.value),
        skipped=count("retry_item", "state = ?", RetryState.SKIPPED.value),
        engine_beat=_time(one("SELECT max(beat_at) FROM engine_beat")[0]),
    )
    found_rows = connection.execute(
        f"SELECT {ALERT_COLUMNS} FROM alert"
        " JOIN account ON account.id = alert.account_id"
        " LEFT OUTER JOIN connection ON connection.id = alert.connection_id"
        f" WHERE alert.state IN ({mark}) ORDER BY alert.id DESC LIMIT {mark}",
        (AlertState.OPEN.value, rows + 1),
    ).fetchall()
    alerts = [alert_row_of(row) for row in found_rows[:rows]]
    return FirstScreen(counts, Window(alerts, True, len(found_rows) <= rows))


def _stored(when: datetime) -> str:
    """A time as the store writes it to SQLite (naive UTC, microseconds)."""
    return when.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _at(value: str | datetime) -> datetime:
    """A time as the database holds it: naive UTC, text in SQLite."""
    naive = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return naive.replace(tzinfo=UTC)


def _time(value: str | datetime | None) -> datetime | None:
    return None if value is None else _at(value)


def alert_row_of(row: tuple[Any, ...]) -> AlertRow:
    """An alert row from the columns of :data:`ALERT_COLUMNS`, as the driver gives them."""
    (alert_id, account_id, account, connection_id, connection, kind, state, needs_person,
     message, order_id, order_number, sku, subject, http_status, count, first_seen, last_seen,
     resolved_at, resolved_by) = row  # fmt: skip
    try:
        headline = AlertKind(kind).headline
    except ValueError:
        headline = kind
    return AlertRow(
        id=alert_id,
        account_id=account_id,
        account=account,
        connection_id=connection_id,
        connection=connection,
        kind=kind,
        headline=headline,
        state=state,
        needs_person=bool(needs_person),
        message=message,
        order_id=order_id,
        order_number=order_number,
        sku=sku,
        subject=subject,
        http_status=http_status,
        count=count,
        first_seen=_at(first_seen),
        last_seen=_at(last_seen),
        resolved_at=_time(resolved_at),
        resolved_by=resolved_by,
    )


def sqlite_file(url: str | None) -> Path | None:
    """The file of an SQLite ``--db``/``IMTUI_DB`` value (a path or ``sqlite:///PATH``), the
    way :func:`imtui.store.database.resolve_url` reads it; None for anything else."""
    raw = url or os.environ.get("IMTUI_DB")
    if not raw:
        from platformdirs import user_data_dir

        return Path(user_data_dir("imtui", appauthor=False)) / "imtui.db"
    if "://" not in raw:
        return Path(raw).expanduser().resolve()
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if raw.startswith(prefix) and "?" not in raw and raw != f"{prefix}:memory:":
            return Path(raw.removeprefix(prefix))
    return None


def read_lightly(rows: int, now: datetime) -> FirstScreen | None:
    """The first screen of the database ``IMTUI_DB`` names, by the lightest way to it: plain
    SQL on SQLite and PostgreSQL, the store for anything else (an SQLite URL with options)."""
    path = sqlite_file(None)
    if path is not None:
        return read_first_screen_sqlite(path, rows, now) if path.is_file() else None
    from imtui.store.first_screen_pg import is_postgres_url

    url = os.environ.get("IMTUI_DB", "")
    if is_postgres_url(url):
        return read_first_screen_postgres(url, rows, now)
    from imtui.store.database import Database
    from imtui.store.migrate import stored_revision

    database = Database(None, migrate=False)
    try:
        current = stored_revision(database) == head_revision()
        return read_first_screen(database, rows, now) if current else None
    finally:
        database.dispose()


def main(argv: list[str]) -> int:
    [rows_text] = argv
    rows = max(1, min(int(rows_text), 200))
    # The wall clock: a dashboard's start is in real time (the engine's clock is the same).
    now = datetime.now(UTC)
    screen = read_lightly(rows, now)
    if screen is None:
        return 3  # a migration is due: the dashboard does it, then reads for itself
    sys.stdout.buffer.write(pickle.dumps(screen, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except Exception:
        code = 2  # nothing written: the dashboard reads the first screen itself
    # Straight out: the dashboard waits for this process to end, and tearing down the modules
    # it loaded would add a twentieth of a second for nothing.
    os._exit(code)
