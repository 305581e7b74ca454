"""What a person can do to accounts and their connections: add an account, add a connection
(checked against its platform, the orders waiting for a WMS queued), and change a connection's
credentials (which un-pauses it and makes everything waiting on it due, B3). Pausing, resuming
and editing one are in :mod:`imtui.engine.connection_actions`.

Like every action (:mod:`imtui.engine.action_rules`), each runs inside the caller's write
transaction, writes the audit log, and raises :class:`ActionError` with one line for a person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from imtui.connectors.registry import PLATFORMS, connection_problems, unknown_keys
from imtui.domain.orders import OrderStatus
from imtui.domain.people import Act
from imtui.domain.retry import Operation
from imtui.domain.text import hide_url_passwords
from imtui.engine.action_rules import ActionError, clean_text, require
from imtui.engine.connections import ENGINE_SETTING_KEYS
from imtui.store.audit import record_action
from imtui.store.connections import WMS, find_connections, wms_of_account
from imtui.store.models import Account, Connection, Order, RetryItem
from imtui.store.queue import enqueue_delivery, make_due_for_connection


def add_account(session: Session, *, name: str, kind: str, actor: str, now: datetime) -> Account:
    require(session, Act.CHANGE_ACCOUNTS)
    name = clean_text(name, "account name", max_length=200)
    if kind not in ("merchant", "warehouse"):
        raise ActionError(f"account kind must be merchant or warehouse, not {kind!r}")
    if session.exec(select(Account).where(Account.name == name)).first() is not None:
        raise ActionError(f"account {name!r} already exists")
    account = Account(name=name, kind=kind, created_at=now)
    session.add(account)
    session.flush()
    record_action(
        session,
        actor=actor,
        action="account.add",
        target=f"account:{account.id}",
        now=now,
        detail=name,
    )
    return account


def validate_base_url(url: str) -> str:
    """A base URL every request is built on: http(s), a host, a port if any, a path if any —
    and nothing that cannot be part of one (a space, a control character, a ?query or a
    #fragment), refused now rather than failing on every request later."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "http://[bad": an unclosed IPv6 bracket
        raise ActionError(f"not an http(s) URL: {url!r} ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ActionError(f"not an http(s) URL: {url!r}")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ActionError(f"a URL has no spaces or control characters: {url!r}")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ActionError(f"a base URL has no ?query or #fragment: {url!r}")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ActionError(f"bad port in URL {url!r}") from exc
    return url.rstrip("/")


POLL_RANGE_S = (10, 7 * 86400)
"""Seconds between polls of a connection: at most every 10 s (a remote is not ours to flood),
at least once a week."""


def poll_problem(poll_interval_s: int | str) -> str | None:
    """What is wrong with a polling interval (a number of seconds, or what a form holds)."""
    try:
        seconds = int(str(poll_interval_s).strip())
    except ValueError:
        return "poll interval must be a whole number of seconds"
    low, high = POLL_RANGE_S
    if seconds < low or seconds > high:
        return "poll interval must be between 10 seconds and 7 days"
    return None


def add_connection(
    session: Session,
    *,
    account: Account,
    name: str,
    platform: str,
    base_url: str,
    credentials: dict[str, str],
    settings: dict[str, Any],
    poll_interval_s: int,
    actor: str,
    now: datetime,
) -> Connection:
    require(session, Act.CHANGE_CONNECTIONS, account.id)
    name = clean_text(name, "connection name", max_length=200)
    base_url = validate_base_url(base_url)
    connector_settings = {k: v for k, v in settings.items() if k not in ENGINE_SETTING_KEYS}
    problems = connection_problems(platform, base_url, credentials, connector_settings)
    problems += unknown_keys(platform, credentials, connector_settings)
    if problems:
        raise ActionError("; ".join(problems))
    info = PLATFORMS[platform]
    poll_wrong = poll_problem(poll_interval_s)
    if poll_wrong is not None:
        raise ActionError(poll_wrong)
    if info.role == WMS and wms_of_account(session, account.id) is not None:  # type: ignore[arg-type]
        raise ActionError(f"account {account.name!r} already has a WMS connection")
    account_name = account.name  # read now: after a failed flush the session cannot
    taken = session.exec(
        select(Connection.id).where(Connection.account_id == account.id, Connection.name == name)
    ).first()
    if taken is not None:
        raise ActionError(f"account {account_name!r} already has a connection {name!r}")
    connection = Connection(
        account_id=account.id,  # type: ignore[arg-type]
        name=name,
        role=info.role,
        platform=platform,
        base_url=base_url,
        credentials=dict(credentials),
        settings=dict(settings),
        poll_interval_s=poll_interval_s,
        created_at=now,
        updated_at=now,
    )
    session.add(connection)
    try:
        session.flush()
    except IntegrityError as exc:  # added by another process meanwhile
        raise ActionError(f"account {account_name!r} already has a connection {name!r}") from exc
    if info.role == WMS:
        _queue_orders_waiting_for_a_wms(session, account, connection, now)
    record_action(
        session,
        actor=actor,
        action="connection.add",
        target=f"connection:{connection.id}",
        now=now,
        detail=f"{platform} {hide_url_passwords(base_url)}",
    )
    return connection


def _queue_orders_waiting_for_a_wms(
    session: Session, account: Account, wms: Connection, now: datetime
) -> None:
    queued = select(RetryItem.subject_id).where(
        RetryItem.operation == Operation.DELIVER_ORDER, RetryItem.account_id == account.id
    )
    for order in session.exec(
        select(Order).where(
            Order.account_id == account.id,
            Order.status == OrderStatus.QUEUED,
            col(Order.id).not_in(queued),
        )
    ):
        enqueue_delivery(session, order, wms.id, now)  # type: ignore[arg-type]


def update_credentials(
    session: Session,
    *,
    connection_key: str,
    credentials: dict[str, str],
    actor: str,
    now: datetime,
) -> Connection:
    """New credentials un-pause the connection and make everything waiting on it due (B3)."""
    connection = connection_for(session, connection_key)
    require(session, Act.CHANGE_CONNECTIONS, connection.account_id)
    info = PLATFORMS[connection.platform]
    unknown = sorted(set(credentials) - set(info.credential_keys))
    if unknown:
        raise ActionError(f"{connection.platform} has no credential {', '.join(unknown)}")
    from imtui.store.secrets import Unreadable

    stored = connection.credentials
    if isinstance(stored, Unreadable):
        # Merging over what cannot be opened would drop the keys not given: only a complete
        # set replaces it (the way back after a lost key).
        missing = [key for key in info.credential_keys if key not in credentials]
        if missing:
            raise ActionError(
                f"the stored credentials of connection {connection.id} cannot be opened "
                f"({stored.reason}); give all of {', '.join(info.credential_keys)} to replace them"
            )
        stored = {}
    connection.credentials = {**stored, **credentials}
    connection.paused = False
    connection.paused_reason = None
    connection.next_poll_at = now
    connection.updated_at = now
    session.add(connection)
    make_due_for_connection(session, connection.id, now)  # type: ignore[arg-type]
    record_action(
        session,
        actor=actor,
        action="connection.credentials",
        target=f"connection:{connection.id}",
        now=now,
        detail="changed " + ", ".join(sorted(credentials)),
    )
    return connection


def connection_for(session: Session, key: str) -> Connection:
    """The connection named by id or name; a name two accounts use is refused, naming each
    (the wrong account's credentials must never be changed by a guess)."""
    found = find_connections(session, key)
    if not found:
        raise ActionError(f"no connection {key!r}")
    if len(found) > 1:
        ids = {c.account_id for c in found}
        accounts = {
            a.id: a.name for a in session.exec(select(Account).where(col(Account.id).in_(ids)))
        }
        each = ", ".join(f"{c.id} ({accounts.get(c.account_id, '?')})" for c in found)
        raise ActionError(
            f"connection name {key!r} is used by several accounts: {each}; use the id"
        )
    return found[0]
