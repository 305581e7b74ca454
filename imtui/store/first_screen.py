"""The first screen of the dashboard, read in a helper process: ``python -m
imtui.store.first_screen ROWS`` writes a pickled :class:`~imtui.store.rows.FirstScreen` to
stdout, for the database ``IMTUI_DB`` names (never on the command line, where ``ps`` would show
a password in it).

Why a process: most of the dashboard's start is importing — Textual on one side, SQLAlchemy and
the models on the other — and in one process imports take turns on one core however many
threads ask. Started first thing, this process loads the database layer and reads the first
rows on another core while the dashboard loads Textual and paints its frame; the dashboard
shows what it wrote, then opens the database itself, behind the painted screen.

It only reads, and only a database already at the newest schema (the dashboard migrates,
never this); on anything unusual it writes nothing and exits non-zero, and the dashboard reads
the rows itself as it would have anyway. The pickle goes from this process to its parent over
a pipe: it never crosses a trust boundary.
"""

from __future__ import annotations

import os
import pickle
import sys
from datetime import UTC, datetime

from imtui.store import listing, windows
from imtui.store.database import Database
from imtui.store.migrate import head_revision, stored_revision
from imtui.store.rows import TOP, AlertFilter, FirstScreen


def read_first_screen(database: Database, rows: int, now: datetime) -> FirstScreen:
    """The header's counts for all accounts and the newest open alerts: the dashboard's
    opening view (see :class:`imtui.tui.widgets.panes.AlertsPane`)."""
    with database.read() as session:
        counts = listing.header_counts(session, now=now)
        alerts = windows.alerts_window(session, AlertFilter(), TOP, size=rows, sort="newest")
    return FirstScreen(counts, alerts)


def main(argv: list[str]) -> int:
    [rows] = argv
    database = Database(None, migrate=False)
    try:
        if stored_revision(database) != head_revision():
            return 3  # a migration is due: the dashboard does it, then reads for itself
        # The wall clock: a dashboard's start is in real time (the engine's clock is the same).
        now = datetime.now(UTC)
        screen = read_first_screen(database, max(1, min(int(rows), 200)), now)
    finally:
        database.dispose()
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
