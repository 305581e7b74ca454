"""Messages the dashboard's parts post to each other: workers post results back to the event loop
(widgets are only touched there), and forms mark where typed keys end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from textual.widget import Widget

    from imtui.tui.backend import ActionReport


class ActionDone(Message):
    """An action was written (and audited); ``report.to_send`` is sent now by the app."""

    def __init__(self, report: ActionReport, summary: str) -> None:
        super().__init__()
        self.report = report
        self.summary = summary


class KeysHandled(Message):
    """Posted to an input behind the keys already sent to it: when it bubbles up, every key
    typed before it is in the input's value (see :mod:`imtui.tui.screens.form`)."""

    def __init__(self, field: Widget, token: int = 0) -> None:
        super().__init__()
        self.field = field
        self.token = token

    @property
    def control(self) -> Widget:
        return self.field


class Refused(Exception):
    """An action refused the input (an invalid address, an unknown account); the message is one
    line for a person. The backend raises it so that screens need not import the engine."""


class EngineNotStarted(Exception):
    """The engine could not start here (its first step is a write: taking back dead workers'
    leases); the message is one line."""
