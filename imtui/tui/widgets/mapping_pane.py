"""The ship-method mappings: each shop method, the WMS carrier and mode it is sent with."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from imtui.store.rows import MAPPING_SORTS, MappingRow, Position, Window
from imtui.tui.filters import MappingQuery
from imtui.tui.text import safe, short_stamp
from imtui.tui.widgets.panes import RecordPane
from imtui.tui.widgets.record_table import Column, TableRow

if TYPE_CHECKING:
    from imtui.tui.backend import Backend


class MappingsPane(RecordPane[MappingRow, MappingQuery]):
    pane_name = "mappings"
    title = "Ship-method mappings"
    number = 0
    sorts = MAPPING_SORTS
    empty_text = "no mappings: n adds one (every order's method needs one)"
    columns = [
        Column("code", "SHOP METHOD", 22, max_width=40),
        Column("carrier", "CARRIER", 10, max_width=16),
        Column("mode", "MODE", 0),
        Column("delivered", "DELIVERED", 11),
        Column("billing", "BILLING", 10, drop=1),
        Column("updated", "CHANGED", 11, drop=2),
        Column("account", "ACCOUNT", 14, drop=3),
    ]
    """DELIVERED: when the WMS last took an order through the mapping; "not yet" while its
    carrier and mode are unproven (a WMS that refuses the pair never proves it)."""

    def fetch(self, backend: Backend, position: Position, size: int) -> Window[MappingRow]:
        return backend.mapping_window(self.spec, position, size)

    def table_row(self, record: MappingRow, now: datetime) -> TableRow:
        return TableRow(
            record.id,
            (
                safe(record.source_code, limit=200),
                safe(record.carrier, limit=100),
                safe(record.mode, limit=100),
                short_stamp(record.delivered_at) if record.delivered_at else "not yet",
                safe(record.billing_code, limit=60),
                short_stamp(record.updated_at),
                safe(record.account, limit=60),
            ),
        )
