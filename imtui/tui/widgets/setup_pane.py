"""The Accounts & connections list: each account, then its connections under it — platform,
poll interval, state (active, or paused and why), last and next poll, open connection-wide
alerts, URL — and what a ``t`` (test connection) last found, in place."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from imtui.store.rows import SETUP_SORTS, Position, SetupLine, Window
from imtui.tui.filters import SetupQuery
from imtui.tui.text import age, countdown, safe
from imtui.tui.widgets.panes import RecordPane
from imtui.tui.widgets.record_table import Column, TableRow

if TYPE_CHECKING:
    from imtui.engine.connection_check import ConnectionCheck
    from imtui.tui.backend import Backend

ROLE_WORDS = {"source": "shop", "wms": "WMS"}


def missing_words(line: SetupLine) -> str:
    """ "no shop, no WMS yet" for an account's line lacking both ("" when it lacks neither)."""
    if not line.missing:
        return ""
    return ", ".join(f"no {ROLE_WORDS.get(role, role)}" for role in line.missing) + " yet"


def check_words(check: ConnectionCheck) -> str:
    """What a test connection found, in a few cells: "OK 180 ms", "failed: 401"."""
    if check.ok:
        return f"OK {check.elapsed_ms} ms"
    return f"failed: {check.http_status}" if check.http_status else "failed"


class SetupPane(RecordPane[SetupLine, SetupQuery]):
    pane_name = "setup"
    title = "Accounts & connections"
    number = 0
    sorts = SETUP_SORTS
    empty_text = "no account yet: N adds one"
    columns = [
        Column("id", "ID", 5, right=True),
        Column("name", "ACCOUNT / CONNECTION", 20, max_width=32),
        Column("platform", "PLATFORM", 12, drop=2),
        Column("poll", "POLL", 6, right=True, drop=3),
        Column("state", "STATE", 0),
        Column("test", "TEST", 12, drop=1),
        Column("last", "POLLED", 6, right=True, drop=4),
        Column("next", "NEXT", 6, right=True, drop=4),
        Column("alerts", "ALR", 3, right=True),
        Column("url", "URL", 24, drop=5, max_width=48),
    ]

    def __init__(self, query: SetupQuery, *, id: str | None = None) -> None:
        super().__init__(query, id=id)
        self.checks: dict[int, ConnectionCheck] = {}
        """The last test of each connection this screen ran (by connection id)."""

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[SetupLine]:
        return backend.setup_lines(self.spec, position, size)

    def table_row(self, record: SetupLine, now: datetime) -> TableRow:
        connection = record.connection
        alerts = str(record.open_alerts) if record.open_alerts else ""
        if connection is None:
            words = missing_words(record)
            state = words + " — n adds a connection" if words else record.account_kind
            return TableRow(
                record.id,
                (
                    "",
                    safe(record.account, limit=60),
                    "",
                    "",
                    state,
                    "",
                    "",
                    "",
                    alerts,
                    "",
                ),
                "warn" if words else "",
            )
        check = self.checks.get(connection.id)
        if connection.credentials_unreadable:
            state, tone = "credentials cannot be opened here", "bad"
        elif connection.paused:
            state = "PAUSED: " + safe(connection.paused_reason or "?", limit=200)
            tone = "bad"
        else:
            state, tone = "active", "bad" if record.open_alerts else ""
        return TableRow(
            record.id,
            (
                str(connection.id),
                "└ " + safe(connection.name, limit=60),
                safe(connection.platform),
                f"{connection.poll_interval_s}s",
                state,
                "" if check is None else check_words(check),
                age(connection.last_polled_at, now) if connection.last_polled_at else "never",
                "" if connection.paused else countdown(connection.next_poll_at, now),
                alerts,
                safe(connection.base_url, limit=200),
            ),
            tone,
        )

    def show_check(self, connection_id: int, check: ConnectionCheck) -> None:
        self.checks[connection_id] = check
        self.tick(showing=True)
