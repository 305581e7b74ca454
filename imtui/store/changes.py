"""Has anything been committed since I last looked? — asked several times a second by a live
dashboard, so it must cost next to nothing when the answer is no.

SQLite answers with ``PRAGMA data_version`` on one connection held for the purpose: the number
changes whenever another connection (another process, or this process's writers) commits.

PostgreSQL tells instead of being asked: imtui's tables signal ``NOTIFY imtui_changes`` with
their schema's name when a statement changed rows (migration 0009), and the probe keeps one
connection of its own that listens. PostgreSQL sends a notification to a listening connection
when the writer commits, on its own; the probe only reads what already arrived on the socket,
without a word to the server. An idle dashboard so costs the server no query at all, whatever
other databases on it do (the server's WAL position, asked before, moved with all of them, and
every dashboard re-read all its panes four times a second on a busy shared server).

Notifications reach only the listeners on the same database; other schemas' of the same
database are read and ignored. When the listening connection breaks, the probe connects again
at the next question and says "changed", since what was committed meanwhile went unheard.

Where neither works (a standby refuses LISTEN, the tables have no triggers) the probe says
"changed" every time, and the caller simply re-reads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from imtui.store.database import Database

CHANNEL = "imtui_changes"
"""The channel of migration 0009's triggers; the payload is the changed table's schema."""

SIGNALLED_TABLE = "alert"
"""A table the dashboard reads: its schema is the one to listen for, and its triggers say
whether migration 0009 ran there."""

RECONNECT_EVERY_S = 1.0
"""While the server cannot be reached, how often the probe tries again (every question says
"changed" meanwhile; the caller's own re-read reports the failure)."""

KEEPALIVE = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}
"""The connection is silent for hours on an idle database: TCP keepalives (not queries) find a
peer that vanished without closing, and keep idle-closing firewalls from dropping it."""


class ChangeProbe:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._connection: Any = None
        self._lock = threading.Lock()
        self._last: object = None
        self._broken = False
        self._schema = ""
        self._heard = 0
        """PostgreSQL: this schema's notifications (and reconnections) so far: the version."""
        self._next_connect = 0.0
        self.queries = 0
        """Statements this probe has sent to PostgreSQL (an idle dashboard's cost; tests and
        benchmarks/team.py read it)."""

    def version(self) -> object:
        """A token that differs from the previous one when something was committed."""
        with self._lock:
            if self._broken:
                return object()
            if self._db.is_sqlite:
                return self._sqlite_version()
            return self._postgres_version()

    def changed(self) -> bool:
        """True on the first call and whenever something was committed since the last call."""
        current = self.version()
        changed = current != self._last
        self._last = current
        return changed

    def forget(self) -> None:
        """The next :meth:`changed` says True whatever happened."""
        with self._lock:
            self._last = object()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    # -- SQLite -----------------------------------------------------------------------------

    def _sqlite_version(self) -> object:
        try:
            if self._connection is None:
                self._connection = self._db.read_engine.raw_connection()
            cursor = self._connection.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                row = cursor.fetchone()
            finally:
                cursor.close()
            return row[0] if row else object()
        except Exception:
            # A probe that cannot ask (a permission, a vanished file) must not stop the screen.
            self._broken = True
            self.close()
            return object()

    # -- PostgreSQL -------------------------------------------------------------------------

    def _postgres_version(self) -> object:
        import psycopg

        if self._connection is not None:
            try:
                for notify in self._connection.notifies(timeout=0):
                    if notify.payload == self._schema:
                        self._heard += 1
                if not (self._connection.closed or self._connection.broken):
                    return self._heard
            except psycopg.Error:
                pass
            # Killed, restarted, network gone: listen again, and say "changed", since what
            # was committed since the break went unheard.
            self.close()
        if time.monotonic() < self._next_connect:
            return object()
        try:
            self._listen()
        except psycopg.OperationalError:
            # The server is away: try again in a while; re-read meanwhile.
            self.close()
            self._next_connect = time.monotonic() + RECONNECT_EVERY_S
            return object()
        except Exception:
            # Refused for good (LISTEN on a standby, a permission, no triggers): re-read
            # every time.
            self._broken = True
            self.close()
            return object()
        # Whatever was committed before this LISTEN went unheard.
        self._heard += 1
        return self._heard

    def _listen(self) -> None:
        """A connection of the probe's own (not the pool's: it is never given back) that listens
        on the channel, and the schema this database's dashboard reads."""
        import psycopg

        engine = self._db.read_engine
        args, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)
        for name, value in KEEPALIVE.items():
            params.setdefault(name, value)
        params.setdefault("application_name", "imtui change probe")
        connection = psycopg.connect(*args, **params, autocommit=True)
        self._connection = connection
        self.queries += 1
        row = connection.execute(
            "SELECT n.nspname, EXISTS (SELECT 1 FROM pg_trigger AS t"
            "  WHERE t.tgrelid = c.oid AND t.tgname LIKE 'imtui_changes%%')"
            "  FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE c.oid = to_regclass(%s)",
            (SIGNALLED_TABLE,),
        ).fetchone()
        if row is None or not row[1]:
            raise LookupError(f"no change triggers on {SIGNALLED_TABLE} (migration 0009)")
        self._schema = row[0]
        self.queries += 1
        connection.execute(f"LISTEN {CHANNEL}")
