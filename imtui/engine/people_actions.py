"""Adding, changing and removing the people who may use imtui (admins of every account only).

On PostgreSQL a person is a database role: adding one here says what they may do; the role
itself — and its membership of the engineers' group that holds imtui's table privileges — is
made by someone allowed to create roles (:func:`role_setup` says what to run when it is not
there yet).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from imtui.domain.people import Act, Role
from imtui.engine.action_rules import ActionError, account_for, require
from imtui.store.audit import record_action
from imtui.store.people import ENGINEER_GROUP, put_person, remove_person

LOGIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,62}")
"""A login both an operating system and PostgreSQL accept without quoting surprises."""


def add_person(
    session: Session,
    *,
    login: str,
    role: str,
    accounts: list[str],
    actor: str,
    now: datetime,
) -> str:
    """Give ``login`` a role, on the named accounts or (none named) on every account; returns
    what the audit log says was done."""
    require(session, Act.CHANGE_PEOPLE)
    if not LOGIN.fullmatch(login):
        raise ActionError(f"not a login name: {login!r}")
    try:
        chosen = Role(role)
    except ValueError:
        raise ActionError(f"role must be viewer, operator or admin, not {role!r}") from None
    account_ids = [account_for(session, key).id or 0 for key in accounts] or None
    put_person(session, login=login, role=chosen, account_ids=account_ids, now=now)
    scope = "every account" if account_ids is None else ", ".join(accounts)
    detail = f"{chosen} of {scope}"
    record_action(
        session, actor=actor, action="person.put", target=f"person:{login}", now=now, detail=detail
    )
    return detail


def remove(session: Session, *, login: str, actor: str, now: datetime) -> None:
    require(session, Act.CHANGE_PEOPLE)
    if not remove_person(session, login):
        raise ActionError(f"no person {login!r}")
    record_action(session, actor=actor, action="person.remove", target=f"person:{login}", now=now)


def role_setup(session: Session, login: str) -> str | None:
    """PostgreSQL: the SQL still to run for ``login`` to log in as an engineer (None: nothing,
    or not PostgreSQL). Tries the group grant itself first."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    exists = session.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :login").bindparams(login=login)
    ).first()
    quoted = '"' + login.replace('"', '""') + '"'
    if exists is None:
        return f"CREATE ROLE {quoted} LOGIN IN ROLE {ENGINEER_GROUP};"
    member = session.execute(
        text("SELECT pg_has_role(:login, :group, 'MEMBER')").bindparams(
            login=login, group=ENGINEER_GROUP
        )
    ).one()[0]
    if member:
        return None
    try:
        with session.begin_nested():
            session.execute(text(f"GRANT {ENGINEER_GROUP} TO {quoted}"))
    except Exception:  # no right to grant: say what to run
        return f"GRANT {ENGINEER_GROUP} TO {quoted};"
    return None
