"""Alert identity and lifecycle (B1, B2): which failures share one alert, which need a person,
and which alerts a success resolves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imtui.domain.states import AlertKind, FailureClass, Operation
from imtui.domain.states import AlertScope as AlertScope
from imtui.domain.states import AlertState as AlertState

if TYPE_CHECKING:
    from imtui.domain.failures import Failure

AUTO_ACTOR = "auto"
"""Who resolved an alert that a success resolved (B2), in its events and ``resolved_by``."""


def state_in_words(state: str, *, needs_person: bool, resolved_by: str | None) -> str:
    """An alert's state as a person reads it: only an open alert can still need a person."""
    if state == AlertState.OPEN:
        return "open, needs a person" if needs_person else "open"
    who = resolved_by or ""
    if state == AlertState.RESOLVED:
        words = "resolved automatically" if who in ("", AUTO_ACTOR) else f"resolved by {who}"
    else:
        words = f"{state} by {who}" if who else str(state)
    return f"{words} (had needed a person)" if needs_person else words


CONNECTION_KINDS = frozenset(
    {
        AlertKind.UNREACHABLE,
        AlertKind.RATE_LIMITED,
        AlertKind.REMOTE_ERROR,
        AlertKind.BAD_RESPONSE,
        AlertKind.CREDENTIALS_REJECTED,
        AlertKind.BAD_CONFIGURATION,
    }
)

PERSON_KINDS = frozenset(
    {
        AlertKind.ADDRESS_REJECTED,
        AlertKind.UNKNOWN_SKU,
        AlertKind.UNKNOWN_CARRIER,
        AlertKind.VALIDATION,
        AlertKind.CREDENTIALS_REJECTED,
        AlertKind.BAD_CONFIGURATION,
        AlertKind.UNMAPPED_SHIP_METHOD,
        AlertKind.INCOMPLETE_ADDRESS,
        AlertKind.SKIPPED,
        AlertKind.ORDER_NOT_TAKEN,
        AlertKind.SHOP_CHANGE,
        AlertKind.EMAIL_REFUSED,
    }
)
"""Alerts that cannot resolve themselves: these are the ones emailed (B7)."""

IMMEDIATE_KINDS = frozenset({AlertKind.UNMAPPED_SHIP_METHOD})
"""Emailed at once, once per alert, whatever the contact's digest frequency (B8)."""


def scope_of(kind: AlertKind) -> AlertScope:
    return AlertScope.CONNECTION if kind in CONNECTION_KINDS else AlertScope.RECORD


def needs_person(kind: AlertKind) -> bool:
    return kind in PERSON_KINDS


def alert_kind_for(failure: Failure) -> AlertKind:
    """A record-level class always gets a record-level alert, whatever the connector said."""
    if failure.failure_class is FailureClass.CONNECTION and failure.kind not in CONNECTION_KINDS:
        return AlertKind.CREDENTIALS_REJECTED
    return failure.kind


CHANNEL_OPERATIONS = {
    "deliver": Operation.DELIVER_ORDER,
    "tracking": Operation.PUSH_TRACKING,
    "inventory": Operation.PUSH_INVENTORY,
    "cancel": Operation.CANCEL_ORDER,
}
"""A record subject's channel (see :func:`channel_of`) → the retry operation it is about
("deliver:17" is order 17's delivery). Polls ("poll") have none."""


def channel_of(subject: str | None) -> str:
    """The kind of exchange a subject belongs to: "deliver", "tracking", "inventory", "poll".

    Connection-wide alerts are kept per channel, so a failing send is not declared healed by a
    successful read of the same system (a 429 on orders while polling still works).
    """
    return (subject or "").split(":", 1)[0]


def fingerprint(
    kind: AlertKind,
    connection_id: int | None,
    subject: str | None,
) -> str:
    """The identity that repeats of one failure share (B1).

    ``subject`` names the record ("deliver:17", "inventory:4", "method:1:EXPRESS"); for
    connection-scoped kinds only its channel counts.
    """
    if scope_of(kind) is AlertScope.CONNECTION or not subject:
        return f"{kind}:conn:{connection_id}:{channel_of(subject)}"
    return f"{kind}:conn:{connection_id}:{subject}"


ORDER_FORM_KINDS = (
    AlertKind.INCOMPLETE_ADDRESS,
    AlertKind.ADDRESS_REJECTED,
    AlertKind.VALIDATION,
)
"""Alerts an edit of the order's ship-to or method can fix (the order's form)."""


LOCAL_KINDS = frozenset({AlertKind.UNMAPPED_SHIP_METHOD, AlertKind.INCOMPLETE_ADDRESS})
"""Raised by a check here before sending: no remote system said anything."""
