"""What a connector failure turns into (docs/design.md, "Failure classes").

Connectors raise :class:`ConnectorError` carrying a :class:`Failure`; the engine never looks at
HTTP itself, only at the class and the alert kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureClass(StrEnum):
    """How the engine treats a failure; one row of the failure-class table each."""

    TRANSIENT = "transient"
    """Connect refused/timeout, DNS, 429/503: retry per policy (wait at least Retry-After)."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """Other 5xx, read timeout, reset, HTML/truncated body on a send: look up before resending."""
    DUPLICATE = "duplicate"
    """The remote already has this reference: a success, link the existing record."""
    NEEDS_PERSON = "needs_person"
    """Validation (400/422): not retried until a person changes the record (B3)."""
    CONNECTION = "connection"
    """401 after one token refresh, 403: the connection pauses until its credential changes."""
    LOCAL_HOLD = "local_hold"
    """Checked locally before any send (unmapped ship method, missing address): never sent."""

    @property
    def retried_automatically(self) -> bool:
        return self in (FailureClass.TRANSIENT, FailureClass.OUTCOME_UNKNOWN)


class AlertKind(StrEnum):
    """What the alert is about, in the operator's words. Repeats of one kind on one subject
    update one alert (B1)."""

    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate_limited"
    REMOTE_ERROR = "remote_error"
    BAD_RESPONSE = "bad_response"
    ADDRESS_REJECTED = "address_rejected"
    UNKNOWN_SKU = "unknown_sku"
    UNKNOWN_CARRIER = "unknown_carrier"
    VALIDATION = "validation"
    CREDENTIALS_REJECTED = "credentials_rejected"
    BAD_CONFIGURATION = "bad_configuration"
    UNMAPPED_SHIP_METHOD = "unmapped_ship_method"
    INCOMPLETE_ADDRESS = "incomplete_address"
    SKIPPED = "skipped"
    ORDER_NOT_TAKEN = "order_not_taken"
    """A shop order imtui could not store (a name too long, a reference another order has):
    the shop's other orders go on; this one waits for a change in the shop."""
    SHOP_CHANGE = "shop_change"
    """The shop changed or cancelled an order in a way imtui must not follow by itself (B11):
    it is in the WMS already, it shipped, or a person edited the same fields here."""
    EMAIL_REFUSED = "email_refused"
    """The mail server refused an alert contact's address for good (550 user unknown): that
    contact hears nothing until a person corrects or deletes it."""

    @property
    def headline(self) -> str:
        return _TITLES[self]


_TITLES: dict[AlertKind, str] = {
    AlertKind.UNREACHABLE: "Cannot reach the remote system",
    AlertKind.RATE_LIMITED: "Rate limited by the remote system",
    AlertKind.REMOTE_ERROR: "Remote server error",
    AlertKind.BAD_RESPONSE: "Unreadable response",
    AlertKind.ADDRESS_REJECTED: "WMS rejected the address",
    AlertKind.UNKNOWN_SKU: "Unknown SKU",
    AlertKind.UNKNOWN_CARRIER: "Unknown carrier or service",
    AlertKind.VALIDATION: "Rejected by the remote system",
    AlertKind.CREDENTIALS_REJECTED: "Credentials rejected",
    AlertKind.BAD_CONFIGURATION: "Connection settings are unusable",
    AlertKind.UNMAPPED_SHIP_METHOD: "Ship method has no mapping",
    AlertKind.INCOMPLETE_ADDRESS: "Incomplete ship-to address",
    AlertKind.SKIPPED: "Skipped after repeated failures",
    AlertKind.ORDER_NOT_TAKEN: "Shop order could not be taken in",
    AlertKind.SHOP_CHANGE: "Order changed in the shop",
    AlertKind.EMAIL_REFUSED: "Contact's address refused by the mail server",
}

METHOD_HOLD_KINDS = (AlertKind.UNMAPPED_SHIP_METHOD, AlertKind.UNKNOWN_CARRIER)
"""Why an order waits for its ship method's mapping: saving the mapping releases it (B9)."""


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
