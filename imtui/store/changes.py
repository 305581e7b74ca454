"""Has anything been committed since I last looked? — asked several times a second by a live
dashboard, so it must cost next to nothing when the answer is no.

SQLite answers with ``PRAGMA data_version`` on one connection held for the purpose: the number
changes whenever another connection (another process, or this process's writers) commits.
PostgreSQL answers with the server's WAL position, which moves with every committed write.
Where neither works the probe says "changed" every time, and the caller simply re-reads.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from imtui.store.database import Database


class ChangeProbe:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._connection: Any = None
        self._lock = threading.Lock()
        self._last: object = None
        self._broken = False

    def version(self) -> object:
        """A token that differs from the previous one when something was committed."""
        with self._lock:
            if self._broken:
                return object()
            try:
                if self._connection is None:
                    self._connection = self._db.read_engine.raw_connection()
                cursor = self._connection.cursor()
                try:
                    if self._db.is_sqlite:
                        cursor.execute("PRAGMA data_version")
                    else:
                        cursor.execute("SELECT pg_current_wal_lsn()::text")
                        self._connection.commit()
                    row = cursor.fetchone()
                finally:
                    cursor.close()
                return row[0] if row else object()
            except Exception:
                # A probe that cannot ask (a replica, a permission) must not stop the screen.
                self._broken = True
                self.close()
                return object()

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
