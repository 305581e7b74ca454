"""``L``: who did what, newest first — every action a person took, from the dashboard, the CLI
or an emailed link — with ``/`` to filter by who, what and on what."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input

from imtui.tui.filters import AuditQuery, FilterError
from imtui.tui.screens.lists import LIST_KEYS, ListScreen
from imtui.tui.text import safe
from imtui.tui.widgets.audit_pane import AuditPane
from imtui.tui.widgets.field import FieldInput
from imtui.tui.widgets.panes import RecordPane

FILTER_HELP = "who:NAME action:mapping on:order:12, or text — enter applies, esc leaves"


class AuditScreen(ListScreen):
    heading = "Audit log"
    BINDINGS: ClassVar[list[BindingType]] = [
        *LIST_KEYS,
        Binding("slash", "filter", "Filter", id="audit.filter", key_display="/"),
    ]

    def make_pane(self) -> RecordPane[Any, Any]:
        return AuditPane(AuditQuery())

    def under_pane(self) -> ComposeResult:
        field = FieldInput(id="audit-filter", placeholder=FILTER_HELP, select_on_focus=False)
        field.display = False
        yield field

    @property
    def filter_field(self) -> Input:
        return self.query_one("#audit-filter", Input)

    def action_filter(self) -> None:
        field = self.filter_field
        field.display = True
        field.focus()

    def action_back(self) -> None:
        if self.filter_field.display:
            self._close_filter()
        elif cast(AuditPane, self.pane).spec.text:
            self.pane.set_query(AuditQuery())
            self.filter_field.value = ""
        else:
            super().action_back()

    @on(Input.Submitted, "#audit-filter")
    def _apply(self, event: Input.Submitted) -> None:
        try:
            query = AuditQuery.parse(event.value)
        except FilterError as exc:
            self.notify(safe(str(exc), limit=300), severity="warning")
            return
        self.pane.set_query(query)
        self._close_filter()

    def _close_filter(self) -> None:
        self.filter_field.display = False
        self.set_focus(self.pane.table)
