"""What a connector failure turns into (docs/design.md, "Failure classes").

Connectors raise :class:`ConnectorError` carrying a :class:`Failure`; the engine never looks at
HTTP itself, only at the class and the alert kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from imtui.domain.states import METHOD_HOLD_KINDS as METHOD_HOLD_KINDS
from imtui.domain.states import AlertKind as AlertKind
from imtui.domain.states import FailureClass as FailureClass


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed exchange with a remote system, as the engine and the alert need it."""

    failure_class: FailureClass
    kind: AlertKind
    message: str
    """The remote system's own words, verbatim (or the transport error's text)."""
    status: int | None = None
    retry_after: float | None = None
    """Seconds the remote asked us to wait (429/503 Retry-After)."""
    sku: str | None = None
    field: str | None = None


class ConnectorError(Exception):
    """Raised by every connector call that did not succeed."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure
