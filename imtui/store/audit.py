"""The audit log of human actions."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from imtui.store.models import AuditEntry


def current_user() -> str:
    """The OS login of this process (never ``$USER``, which anyone can set), plus where an SSH
    session comes from, for "who did it" before a database is open. With one open, the person
    is :func:`imtui.store.people.actor_of` (on PostgreSQL, the database role)."""
    from imtui.store.people import process_login, ssh_origin

    origin = ssh_origin()
    return f"{process_login()}@{origin}" if origin else process_login()


def record_action(
    session: Session, *, actor: str, action: str, target: str, now: datetime, detail: str = ""
) -> None:
    session.add(AuditEntry(at=now, actor=actor, action=action, target=target, detail=detail))
