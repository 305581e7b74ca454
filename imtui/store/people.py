"""Who is using this database, and what they may do (the rules: :mod:`imtui.domain.people`).

The person is never taken from the environment (``USER=alice imtui …`` must not make anyone
alice): on SQLite it is the operating-system login of the process (``getpwuid(getuid())``),
on PostgreSQL the database role the session is logged in as (``session_user``).

The database's owner — on SQLite whoever owns the file (it is created 0600), on PostgreSQL a
superuser or the role owning imtui's tables (the workers' login) — is admin of every account.
Anyone else needs a row in ``person``; on PostgreSQL, row-level security (migration 0008)
also keeps their sessions, ``psql`` included, to their own accounts.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from imtui.domain.people import Access, Role
from imtui.store.models import Account, Person, PersonAccount

ENGINEER_GROUP = "imtui_engineer"
"""The PostgreSQL group role that holds imtui's table privileges for engineers (0008); an
engineer's own login role is made a member of it, and row-level security does the rest."""

_CACHE_KEY = "imtui.access"


def process_login() -> str:
    """The operating-system login of this process, from the user database (not ``$USER``)."""
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry (a container): its number
        return str(uid)


def ssh_origin() -> str:
    """Where an SSH session comes from, when ``SSH_CLIENT`` holds an IP address (anything else
    there is ignored: it is only the environment)."""
    first = os.environ.get("SSH_CLIENT", "").split(" ")[0]
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        return ""


def database_login(session: Session) -> str:
    if _is_postgres(session):
        return str(session.execute(text("SELECT session_user")).one()[0])
    return process_login()


def actor_of(session: Session) -> str:
    """The name the audit log records for this person: their login, and the SSH client's
    address when there is one."""
    origin = ssh_origin()
    login = database_login(session)
    return f"{login}@{origin}" if origin else login


def access_of(session: Session) -> Access:
    """This session's person, their role and scope (read once per session)."""
    cached = session.info.get(_CACHE_KEY)
    if isinstance(cached, Access):
        return cached
    login = database_login(session)
    if _is_owner(session):
        access = Access(login, Role.ADMIN, None, owner=True)
    else:
        person = session.exec(select(Person).where(Person.login == login)).first()
        if person is None:
            access = Access(login, None)
        else:
            access = Access(login, Role(person.role), _scope(session, person))
    session.info[_CACHE_KEY] = access
    return access


def _scope(session: Session, person: Person) -> frozenset[int] | None:
    if person.all_accounts:
        return None
    return frozenset(
        session.exec(select(PersonAccount.account_id).where(PersonAccount.person_id == person.id))
    )


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _is_owner(session: Session) -> bool:
    if _is_postgres(session):
        row = session.execute(
            text(
                "SELECT r.rolsuper OR pg_has_role(session_user, t.tableowner, 'MEMBER')"
                " FROM pg_roles r, pg_tables t"
                " WHERE r.rolname = session_user"
                " AND t.schemaname = current_schema() AND t.tablename = 'person'"
            )
        ).first()
        return bool(row and row[0])
    database = session.get_bind().engine.url.database
    if not database or database == ":memory:":
        return True
    uid = os.getuid()
    try:
        return uid == 0 or Path(database).stat().st_uid == uid
    except OSError:
        return False


# -- the person table -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonRow:
    login: str
    role: str
    accounts: tuple[str, ...]
    """Account names; empty with ``all_accounts``."""
    all_accounts: bool


def account_names(session: Session) -> dict[int, str]:
    return {id_: name for id_, name in session.exec(select(Account.id, Account.name)) if id_}


def list_people(session: Session) -> list[PersonRow]:
    names = account_names(session)
    scoped: dict[int, list[str]] = {}
    for person_id, account_id in session.exec(
        select(PersonAccount.person_id, PersonAccount.account_id)
    ):
        scoped.setdefault(person_id, []).append(names.get(account_id, f"#{account_id}"))
    return [
        PersonRow(p.login, p.role, tuple(sorted(scoped.get(p.id or 0, []))), p.all_accounts)
        for p in session.exec(select(Person).order_by(col(Person.login)))
    ]


def put_person(
    session: Session,
    *,
    login: str,
    role: Role,
    account_ids: Iterable[int] | None,
    now: datetime,
) -> Person:
    """Add a person, or change one's role and scope (``account_ids`` None: every account)."""
    person = session.exec(select(Person).where(Person.login == login)).first()
    if person is None:
        person = Person(login=login, role=role, created_at=now)
    person.role = role
    person.all_accounts = account_ids is None
    session.add(person)
    session.flush()
    assert person.id is not None
    session.execute(delete(PersonAccount).where(col(PersonAccount.person_id) == person.id))
    for account_id in sorted(set(account_ids or ())):
        session.add(PersonAccount(person_id=person.id, account_id=account_id))
    session.info.pop(_CACHE_KEY, None)
    return person


def remove_person(session: Session, login: str) -> bool:
    person = session.exec(select(Person).where(Person.login == login)).first()
    if person is None:
        return False
    session.execute(delete(PersonAccount).where(col(PersonAccount.person_id) == person.id))
    session.delete(person)
    session.info.pop(_CACHE_KEY, None)
    return True
