"""What a person can do to an alert: dismiss it (the hold it caused stays until its fix is saved).

Like every action (:mod:`imtui.engine.action_rules`), it runs inside the caller's write
transaction, writes the audit log, and raises :class:`ActionError` with one line for a person.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from imtui.domain.alerts import AlertState
from imtui.domain.people import Act
from imtui.engine.action_rules import ActionError, require
from imtui.store.alerts import dismiss_alert
from imtui.store.audit import record_action
from imtui.store.models import Alert


def dismiss(session: Session, *, alert_id: int, actor: str, now: datetime) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ActionError(f"no alert {alert_id}")
    require(session, Act.DISMISS, alert.account_id)
    if alert.state != AlertState.OPEN:
        raise ActionError(f"alert {alert_id} is already {alert.state}")
    dismiss_alert(session, alert, actor=actor, now=now)
    record_action(
        session,
        actor=actor,
        action="alert.dismiss",
        target=f"alert:{alert_id}",
        now=now,
        detail=alert.kind,
    )
    return alert
