"""What every action a person takes shares — from the CLI or the dashboard, the same functions
(:mod:`imtui.engine.account_actions`, :mod:`~imtui.engine.connection_actions`,
:mod:`~imtui.engine.order_actions`, :mod:`~imtui.engine.mapping_actions`,
:mod:`~imtui.engine.alert_actions`, :mod:`~imtui.engine.contact_actions`,
:mod:`~imtui.engine.people_actions`): each validates its input, changes the store, re-queues
what the change unblocks (B3, B9) and writes the audit log.

Every action runs inside the caller's write transaction and raises :class:`ActionError` with one
line for a person when the input is wrong; nothing is changed then. Before it changes anything it
asks :func:`require` whether this person may.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlmodel import Session, select

from imtui.domain.people import Act
from imtui.store.connections import find_account
from imtui.store.models import Account
from imtui.store.people import access_of


class ActionError(Exception):
    """Bad input for an action; the message is one line for a person."""


def require(session: Session, act: Act, account_id: int | None = None) -> None:
    """Refuse, in one line, what this session's person may not do (imtui.domain.people).
    Every action asks before it changes anything; on PostgreSQL row-level security holds the
    same line in the database."""
    refusal = access_of(session).refusal(act, account_id)
    if refusal is not None:
        raise ActionError(refusal)


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


def account_for(session: Session, key: str | None) -> Account:
    """The named account, or the only one when there is just one."""
    if key:
        account = find_account(session, key)
        if account is None:
            raise ActionError(f"no account {key!r}")
        return account
    accounts = list(session.exec(select(Account).limit(2)))
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise ActionError("no account yet: add one with 'imtui account add NAME'")
    raise ActionError("several accounts: say which with --account")


def clean_text(value: str, what: str, max_length: int, *, strip: bool = True) -> str:
    """``value`` as stored, or one line saying why not: empty, too long, control characters."""
    text = value.strip() if strip else value
    if not text.strip():
        raise ActionError(f"{what} must not be empty")
    if len(text) > max_length:
        raise ActionError(f"{what} is longer than {max_length} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise ActionError(f"{what} contains control characters")
    return text
