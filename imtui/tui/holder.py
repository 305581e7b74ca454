"""What every app of this package shares: notifications in plain text, and a backend opened in a
worker after the first paint, which nothing may use before then."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from textual.app import App
from textual.notifications import SeverityLevel

if TYPE_CHECKING:
    from imtui.tui.backend import Backend  # the heavy half: loaded after the first paint

B = TypeVar("B", bound="Backend")


class HoldsBackend(Generic[B]):
    _backend: B | None = None

    @property
    def backend(self) -> B:
        if self._backend is None:
            raise RuntimeError("the database is still being opened")
        return self._backend

    @property
    def backend_ready(self) -> bool:
        return self._backend is not None


class PlainApp(App[None]):
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text: its words often come from a shop or a remote
        system (a resend's summary, a ship-method code), and "[/]" there must show as typed,
        not crash the app or become a clickable action. (Screens' notify comes here too.)"""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)
