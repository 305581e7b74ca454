"""Raising, repeating, resolving and dismissing alerts (B1, B2) — one place for all of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from imtui.domain.alerts import (
    AUTO_ACTOR,
    AlertScope,
    AlertState,
    channel_of,
    fingerprint,
    needs_person,
    scope_of,
)
from imtui.domain.failures import AlertKind
from imtui.store.alert_emails import queue_alert_emails
from imtui.store.models import Alert, AlertEvent

LOCKED_ALERTS = "imtui.alerts_locked"
"""``session.info`` key: the open alerts this transaction has locked to count repeats on."""


@dataclass(frozen=True, slots=True)
class AlertSubject:
    """What an alert is about, beyond its connection."""

    order_id: int | None = None
    order_number: str | None = None
    sku: str | None = None
    subject: str | None = None
    """A stable key for the record ("order:17", "method:EXPRESS", "inventory:4")."""


def raise_alert(
    session: Session,
    *,
    account_id: int,
    connection_id: int | None,
    kind: AlertKind,
    message: str,
    now: datetime,
    about: AlertSubject = AlertSubject(),
    http_status: int | None = None,
) -> tuple[Alert, bool]:
    """Open an alert, or count a repeat on the open one with the same identity.

    Returns the alert and whether it is new. A new alert that needs a person also queues its
    emails (B7, B8) in this same transaction: the alert and its email commit together or not
    at all.
    """
    key = fingerprint(kind, connection_id, about.subject)
    alert = _open_alert(session, key)
    # (state is checked again: the row may be resolved in this session but not yet flushed)
    if alert is not None and alert.state == AlertState.OPEN:
        _repeat(session, alert, kind, message, now, about, http_status)
        return alert, False
    connection_wide = scope_of(kind) is AlertScope.CONNECTION
    alert = Alert(
        account_id=account_id,
        connection_id=connection_id,
        kind=kind,
        scope=scope_of(kind),
        fingerprint=key,
        state=AlertState.OPEN,
        needs_person=needs_person(kind),
        message=message,
        order_id=about.order_id,
        order_number=about.order_number,
        sku=about.sku,
        subject=channel_of(about.subject) if connection_wide else about.subject,
        http_status=http_status,
        count=1,
        first_seen=now,
        last_seen=now,
    )
    try:
        # The database holds one open alert per identity (ux_alert_open_fingerprint): another
        # worker may have opened this one since we looked. Its emails go in the same savepoint,
        # so a lost race leaves nothing of ours behind.
        with session.begin_nested():
            session.add(alert)
            session.flush()
            _event(session, alert, now, "raised", AUTO_ACTOR, message)
            if alert.needs_person:
                queue_alert_emails(session, alert, now)
            session.flush()
    except IntegrityError:
        # PostgreSQL made our insert wait for the other worker's transaction; it committed, so
        # its alert is there to read (each statement sees what was committed before it).
        existing = _open_alert(session, key, lock=True)
        if existing is None:
            raise  # not the one-open-alert index: a real error
        _repeat(session, existing, kind, message, now, about, http_status)
        return existing, False
    session.info.setdefault(LOCKED_ALERTS, set()).add(alert.id)  # ours: no one else has it
    return alert, True


def _open_alert(session: Session, key: str, *, lock: bool = False) -> Alert | None:
    query = select(Alert).where(Alert.fingerprint == key, Alert.state == AlertState.OPEN)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.exec(query).first()


def _repeat(
    session: Session,
    alert: Alert,
    kind: AlertKind,
    message: str,
    now: datetime,
    about: AlertSubject,
    http_status: int | None,
) -> None:
    """Count a repeat on the open alert. Its row is locked and read afresh before this
    transaction first changes it: two workers counting at once must not both write the same
    count + 1 (the count is read here, written at the flush)."""
    held: set[int] = session.info.setdefault(LOCKED_ALERTS, set())
    if alert.id not in held and not inspect(alert).modified:
        session.refresh(alert, with_for_update=True)
        held.add(alert.id or 0)
    alert.count += 1
    alert.last_seen = max(now, alert.last_seen) if alert.last_seen is not None else now
    alert.message = message
    alert.http_status = http_status
    if scope_of(kind) is AlertScope.CONNECTION:
        # Keep the latest record hit so the operator sees an example.
        alert.order_id = about.order_id or alert.order_id
        alert.order_number = about.order_number or alert.order_number
        alert.sku = about.sku or alert.sku
    session.add(alert)


def resolve_alerts_for(
    session: Session,
    *,
    connection_id: int | None,
    now: datetime,
    subject: str | None = None,
    kinds: Iterable[AlertKind] | None = None,
    include_connection_alerts: bool = True,
    detail: str = "retry succeeded",
    candidates: list[Alert] | None = None,
    actor: str = AUTO_ACTOR,
) -> list[Alert]:
    """Auto-resolve what a success proves wrong (B2): the record's open alerts and, because the
    remote answered on that channel, the connection's outage alerts for the channel. A fix a
    person saved (an address, a mapping) resolves in their name (``actor``)."""
    conditions = []
    if subject:
        conditions.append(Alert.subject == subject)
    if include_connection_alerts and connection_id is not None:
        conditions.append(
            (Alert.connection_id == connection_id)
            & (Alert.scope == AlertScope.CONNECTION)
            & (Alert.subject == channel_of(subject))
        )
    if not conditions:
        return []
    wanted = None if kinds is None else {str(k) for k in kinds}
    if candidates is not None:
        # The batch already fetched every open alert it could touch (see open_alerts_touching).
        channel = channel_of(subject)
        resolved = [
            alert
            for alert in candidates
            if alert.state == AlertState.OPEN
            and (wanted is None or alert.kind in wanted)
            and (
                (subject and alert.subject == subject)
                or (
                    include_connection_alerts
                    and connection_id is not None
                    and alert.connection_id == connection_id
                    and alert.scope == AlertScope.CONNECTION
                    and alert.subject == channel
                )
            )
        ]
    else:
        query = select(Alert).where(Alert.state == AlertState.OPEN, or_(*conditions))
        if wanted is not None:
            query = query.where(col(Alert.kind).in_(sorted(wanted)))
        resolved = list(session.exec(query))
    close_alerts(session, resolved, now=now, detail=detail, actor=actor)
    return resolved


def close_alerts(
    session: Session,
    alerts: Iterable[Alert],
    *,
    now: datetime,
    detail: str,
    actor: str = AUTO_ACTOR,
) -> None:
    """Resolve these open alerts (automatically, or in ``actor``'s name). An alert is never
    resolved before it was last seen, whatever clock another worker read."""
    for alert in alerts:
        when = max(now, alert.last_seen) if alert.last_seen is not None else now
        alert.state = AlertState.RESOLVED
        alert.resolved_at = when
        alert.resolved_by = actor
        session.add(alert)
        _event(
            session,
            alert,
            when,
            "auto_resolved" if actor == AUTO_ACTOR else "resolved",
            actor,
            detail,
        )


def open_alerts_touching(
    session: Session, subjects: set[str], connection_ids: set[int]
) -> list[Alert]:
    """Every open alert a batch of outcomes could resolve, in one query."""
    if not subjects and not connection_ids:
        return []
    return list(
        session.exec(
            select(Alert).where(
                Alert.state == AlertState.OPEN,
                or_(
                    col(Alert.subject).in_(sorted(subjects)),
                    (col(Alert.scope) == AlertScope.CONNECTION)
                    & col(Alert.connection_id).in_(sorted(connection_ids)),
                ),
            )
        )
    )


def dismiss_alert(session: Session, alert: Alert, *, actor: str, now: datetime) -> None:
    alert.state = AlertState.DISMISSED
    alert.resolved_at = now
    alert.resolved_by = actor
    session.add(alert)
    _event(session, alert, now, "dismissed", actor, "")


def alert_history(session: Session, alert_id: int) -> list[AlertEvent]:
    return list(
        session.exec(
            select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(col(AlertEvent.id))
        )
    )


def _event(
    session: Session, alert: Alert, now: datetime, event: str, actor: str, detail: str
) -> None:
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, at=now, event=event, actor=actor, detail=detail))
