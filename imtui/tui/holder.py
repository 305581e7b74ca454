"""What every app of this package shares about its backend: it is opened in a worker after the
first paint, and nothing may use it before then."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

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
