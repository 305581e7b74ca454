"""What fixes an alert, in the dashboard's keys: the form ``e`` opens (the ship-method mapping,
the order's ship-to and method) or, where no form here can fix it, the words its detail shows —
add the SKU in the WMS, fix the connection's credentials, or nothing: it heals by itself.

One decision, used by the route ``e`` takes, by the detail's key bar (``e`` is offered only
where a form fixes the alert) and by its "to fix" line, so the three never disagree."""

from __future__ import annotations

from enum import StrEnum

from imtui.domain.alerts import ORDER_FORM_KINDS, channel_of
from imtui.domain.states import METHOD_HOLD_KINDS, AlertKind, AlertState
from imtui.store.rows import AlertDetail


class FixForm(StrEnum):
    MAPPING = "mapping"
    ORDER = "order"


def fix_form(detail: AlertDetail) -> FixForm | None:
    """The form that fixes this alert, if one here does: the mapping form for a ship method
    nobody mapped (or whose carrier the WMS refused); the order's form for a delivery the
    WMS refused or the local check held — not for a refused tracking or stock push, which no
    edit of the order changes."""
    alert = detail.alert
    if alert.state != AlertState.OPEN:
        return None  # fixed or closed already: an old link lands on what happened, not a form
    if alert.kind in METHOD_HOLD_KINDS and detail.ship_method_code:
        return FixForm.MAPPING
    if (
        alert.kind in ORDER_FORM_KINDS
        and alert.order_id is not None
        and channel_of(alert.subject) == "deliver"
    ):
        return FixForm.ORDER
    return None


def how_to_fix(detail: AlertDetail) -> str:
    """What closes the open alert, said in its detail."""
    alert = detail.alert
    form = fix_form(detail)
    if form is FixForm.MAPPING:
        return "e opens the ship-method mapping form: saving it sends every order it holds"
    if form is FixForm.ORDER:
        if alert.kind == AlertKind.VALIDATION:
            return "e opens the order's form: correct what the message names, and save to send it"
        return "e opens the order's ship-to form: saving it sends the order again"
    if alert.kind == AlertKind.UNKNOWN_SKU:
        item = f"item {alert.sku}" if alert.sku else "the item"
        return f"the WMS has no {item}: add it there (or correct the shop order), then r resends"
    if alert.kind in (AlertKind.CREDENTIALS_REJECTED, AlertKind.BAD_CONFIGURATION):
        which = str(alert.connection_id) if alert.connection_id is not None else "<id>"
        return (
            f"the connection is paused: imtui connection credentials {which} KEY=VALUE … "
            "fixes it and resumes sending"
        )
    if alert.kind == AlertKind.SKIPPED:
        return "given up after its retry window: fix the cause, then r resends it"
    if alert.kind == AlertKind.ORDER_NOT_TAKEN:
        return "correct the order in the shop: the next poll after that change takes it in"
    if alert.kind == AlertKind.SHOP_CHANGE:
        return "decide which version stands: e edits the order here (if not in the WMS yet)"
    if alert.kind == AlertKind.EMAIL_REFUSED:
        return "correct the contact's address (c, then e) or delete it: that closes this alert"
    if alert.kind in METHOD_HOLD_KINDS or alert.kind in ORDER_FORM_KINDS:
        return "the remote system refused it: correct it there (the message says what), then r"
    return "nothing to do: it is retried by itself and closes when a try gets through (r: now)"
