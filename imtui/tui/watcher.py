"""Has anything been committed? — asked four times a second by one thread for the life of the
dashboard, so that an idle dashboard costs next to nothing: no worker, no message, no wake-up of
the event loop unless the answer is yes (``PRAGMA data_version`` on SQLite; see
:mod:`imtui.store.changes`).

The thread never touches a widget: it posts a message, which is safe from any thread. It asks
again only after the last answer was handled, so re-reads never pile up on a slow database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message

from imtui.store.rows import HeaderCounts

if TYPE_CHECKING:
    from imtui.tui.backend import Backend


class DatabaseChanged(Message):
    """The header's counts, re-read; ``rows`` when something was committed (or a re-read was
    asked for) and the panes should re-read their windows too."""

    def __init__(self, counts: HeaderCounts, *, rows: bool = True) -> None:
        super().__init__()
        self.counts = counts
        self.rows = rows


class WatchFailed(Message):
    """The database could not be asked; shown once until it can again."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class Watcher:
    HEADER_EVERY_S = 15.0
    """Counts are re-read this often even with nothing committed: "due now" moves with time."""

    def __init__(
        self,
        backend: Backend,
        post: Callable[[Message], object],
        account_id: Callable[[], int | None],
        *,
        interval: float,
    ) -> None:
        self._backend = backend
        self._post = post
        self._account_id = account_id
        self._interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._handled = threading.Event()
        self._handled.set()
        self._thread = threading.Thread(target=self._run, name="imtui-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._handled.set()
        self._thread.join(timeout=2.0)

    def ask_now(self) -> None:
        """Re-read at once, changed or not (after an action, a new account)."""
        self._backend.probe.forget()
        self._wake.set()

    def handled(self) -> None:
        """The app has drawn the last change: the next one may be posted."""
        self._handled.set()

    def _run(self) -> None:
        since_header = 0.0
        failed: str | None = None
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self._handled.wait()
            if self._stop.is_set():
                return
            since_header += self._interval
            try:
                changed = self._backend.changed()
                if not changed and since_header < self.HEADER_EVERY_S:
                    continue
                counts = self._backend.header(self._account_id())
            except Exception as exc:  # a locked or vanished database: say so once, keep asking
                if str(exc) != failed:
                    failed = str(exc)
                    self._post(WatchFailed(exc))
                continue
            failed = None
            since_header = 0.0
            self._handled.clear()
            self._post(DatabaseChanged(counts, rows=changed))
