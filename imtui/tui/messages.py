"""Messages that workers post back to the event loop (widgets are only touched there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from imtui.tui.backend import ActionReport


class ActionDone(Message):
    """An action was written (and audited); ``report.to_send`` is sent now by the app."""

    def __init__(self, report: ActionReport, summary: str) -> None:
        super().__init__()
        self.report = report
        self.summary = summary


class DatabaseChanged(Message):
    """Something was committed — by this process or another."""
