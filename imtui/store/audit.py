"""The audit log of human actions."""

from __future__ import annotations

import getpass
import os
from datetime import datetime

from sqlmodel import Session

from imtui.store.models import AuditEntry


def current_user() -> str:
    """The OS user, plus where an SSH session comes from, for "who did it"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    client = os.environ.get("SSH_CLIENT", "").split(" ")[0]
    return f"{user}@{client}" if client else user


def record_action(
    session: Session, *, actor: str, action: str, target: str, now: datetime, detail: str = ""
) -> None:
    session.add(AuditEntry(at=now, actor=actor, action=action, target=target, detail=detail))
