"""The audit log as a live list, newest first: when, who, what, to what, and the detail."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from imtui.store.rows import AUDIT_SORTS, AuditRow, Position, Window
from imtui.tui.filters import AuditQuery
from imtui.tui.text import safe, short_stamp
from imtui.tui.widgets.panes import RecordPane
from imtui.tui.widgets.record_table import Column, TableRow

if TYPE_CHECKING:
    from imtui.tui.backend import Backend


class AuditPane(RecordPane[AuditRow, AuditQuery]):
    pane_name = "audit"
    title = "Audit log"
    number = 0
    sorts = AUDIT_SORTS
    empty_text = "nobody has done anything yet"
    columns = [
        Column("id", "ID", 5, right=True, drop=3),
        Column("at", "WHEN", 11),
        Column("actor", "WHO", 12, max_width=28),
        Column("action", "ACTION", 16, drop=1),
        Column("target", "ON", 14, drop=2),
        Column("detail", "DETAIL", 0),
    ]

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[AuditRow]:
        return backend.audit(self.spec, position, size)

    def table_row(self, record: AuditRow, now: datetime) -> TableRow:
        return TableRow(
            record.id,
            (
                str(record.id),
                short_stamp(record.at),
                safe(record.actor, limit=100),
                safe(record.action, limit=60),
                safe(record.target, limit=100),
                safe(record.detail, limit=300),
            ),
        )

    def describe_filter(self) -> str:
        return f"filter {safe(self.spec.text, limit=40)}" if self.spec.text else ""
