"""The top line: which account is in view, whether this process runs the engine and when its
next cycle is, and the counts that say whether anyone needs to act. And, on a small terminal,
the strip that says which pane is showing."""

from __future__ import annotations

from datetime import datetime

from textual.content import Content
from textual.widgets import Static

from imtui.store.listing import HeaderCounts
from imtui.tui.text import safe


class StatusHeader(Static):
    def show(
        self,
        *,
        account: str,
        runs_worker: bool,
        next_run: datetime | None,
        worker_error: str | None,
        counts: HeaderCounts | None,
    ) -> None:
        parts: list[tuple[str, str]] = [(" imtui ", "bold reverse"), (" ", "")]
        parts.append((safe(account, limit=24), "bold"))
        parts.append(("  ", ""))
        if runs_worker:
            if worker_error:
                parts.append(("engine: " + safe(worker_error, limit=40), "$error"))
            elif next_run is not None:
                local = next_run.astimezone()
                parts.append((f"engine ⟳{local:%H:%M:%S}", "$success"))
            else:
                parts.append(("engine here", "$success"))
        else:
            parts.append(("view only", "$text-muted"))
        if counts is not None:
            parts.append(("  ", ""))
            parts += _count(counts.open_alerts, "alerts", "$warning")
            parts += _count(counts.needs_person, "act", "$error bold")
            parts += _count(counts.due_now, "due", "")
            parts += _count(counts.held, "held", "$error")
            parts += _count(counts.skipped, "skip", "$error", last=True)
        content = Content.assemble(*parts)
        shown = (content.plain, tuple(content.spans))
        if shown != getattr(self, "_shown", None):  # unchanged: nothing is sent to the terminal
            self._shown = shown
            self.update(content)


def _count(value: int, label: str, style: str, *, last: bool = False) -> list[tuple[str, str]]:
    parts = [(f"{value} {label}", style if value else "")]
    if not last:
        parts.append((" · ", "$text-muted"))
    return parts


class PaneTabs(Static):
    """``1 Alerts  2 Orders  3 Queue`` with the pane on screen highlighted."""

    def show(self, active: str, labels: list[tuple[str, str]]) -> None:
        parts: list[tuple[str, str]] = []
        for name, label in labels:
            style = "reverse bold" if name == active else "$text-muted"
            parts.append((f" {label} ", style))
            parts.append((" ", ""))
        content = Content.assemble(*parts)
        shown = (content.plain, tuple(content.spans))
        if shown != getattr(self, "_shown", None):
            self._shown = shown
            self.update(content)
