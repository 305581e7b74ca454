"""Which keys a person's role allows (imtui.domain.people): the screens hide the others from
the footer, and the help (?) lists them with the reason. The actions themselves refuse too,
whatever a screen shows — this is only so nobody is offered what they may not do."""

from __future__ import annotations

from typing import Any

from imtui.domain.states import Act

ACTION_ACTS: dict[str, Act] = {
    "resend": Act.RESEND,
    "resend_matching": Act.RESEND,
    "dismiss_alerts": Act.DISMISS,
    "dismiss_matching": Act.DISMISS,
    "dismiss_alert": Act.DISMISS,
    "edit": Act.EDIT_ORDER,
    "mapping": Act.MAP_METHODS,
    "send_now": Act.SEND_EMAIL,
    "cancel_email": Act.SEND_EMAIL,
    "add": Act.CHANGE_CONTACTS,
    "delete": Act.CHANGE_CONTACTS,
    "add_mapping": Act.MAP_METHODS,
    "delete_mapping": Act.MAP_METHODS,
    "add_account": Act.CHANGE_ACCOUNTS,
    "add_connection": Act.CHANGE_CONNECTIONS,
    "edit_connection": Act.CHANGE_CONNECTIONS,
    "replace_credentials": Act.CHANGE_CONNECTIONS,
    "pause_resume": Act.CHANGE_CONNECTIONS,
}
"""A screen action → what it does, in the words of the roles."""


def role_forbids(app: Any, action: str) -> bool:
    """True when the person at the keyboard may not do ``action`` in any account."""
    act = ACTION_ACTS.get(action)
    if act is None or not getattr(app, "backend_ready", False):
        return False
    return app.backend.access.role_refusal(act) is not None


def refusals(app: Any) -> list[tuple[str, str]]:
    """(action, why not) for every screen action the person may not do; empty when none."""
    if not getattr(app, "backend_ready", False):
        return []
    access = app.backend.access
    found = []
    for action, act in ACTION_ACTS.items():
        why = access.role_refusal(act)
        if why is not None:
            found.append((action, why))
    return found
