"""What a person can do to a connection once it is added (adding one, and replacing its
credentials, are in :mod:`imtui.engine.account_actions`): pause it, resume it, and edit its
name, URL, polling interval and settings — and the per-field check a form shows beside each
field as it is typed, with the CLI's rules and words. Testing one is
:mod:`imtui.engine.connection_check`.

Like every action (:mod:`imtui.engine.action_rules`), each runs inside the caller's write
transaction, asks :func:`require` first, writes the audit log (never a secret), and raises
:class:`ActionError` with one line for a person, changing nothing then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from imtui.connectors.registry import (
    PLATFORMS,
    config_problems,
    said,
    unknown_key_problems,
    unknown_keys,
)
from imtui.domain.people import Act
from imtui.domain.text import hide_url_passwords, plural
from imtui.engine.account_actions import connection_for, poll_problem, validate_base_url
from imtui.engine.action_rules import ActionError, clean_text, require
from imtui.engine.connections import ENGINE_SETTING_KEYS
from imtui.store.audit import record_action
from imtui.store.models import Account, Connection
from imtui.store.queue import make_due_for_connection
from imtui.store.secrets import Unreadable

REASON_LIMIT = 500


def pause_connection(
    session: Session,
    *,
    connection_key: str,
    reason: str | None,
    actor: str,
    now: datetime,
) -> Connection:
    """A person stops a connection: no poll and no send on it until it is resumed. Its records
    wait, as they do when the engine pauses it for rejected credentials (claims skip paused
    connections; nothing is failed or skipped for it); a send already on its way finishes."""
    connection = connection_for(session, connection_key)
    require(session, Act.CHANGE_CONNECTIONS, connection.account_id)
    if connection.paused:
        raise ActionError(
            f"{_label(connection)} is already paused: {_first_line(connection.paused_reason)}"
        )
    why = clean_text(reason, "reason", REASON_LIMIT) if reason and reason.strip() else ""
    connection.paused = True
    connection.paused_reason = f"paused by {actor}: {why}" if why else f"paused by {actor}"
    connection.updated_at = now
    session.add(connection)
    record_action(
        session,
        actor=actor,
        action="connection.pause",
        target=f"connection:{connection.id}",
        now=now,
        detail=why,
    )
    return connection


def resume_connection(
    session: Session, *, connection_key: str, actor: str, now: datetime
) -> Connection:
    """Un-pause a connection, whoever paused it, and make everything waiting on it due now
    (as new credentials do, B3); polled at once too. Refused while its credentials cannot be
    opened or lack a key: it would only stop again. The audit entry says how many records
    were made due."""
    connection = connection_for(session, connection_key)
    require(session, Act.CHANGE_CONNECTIONS, connection.account_id)
    if not connection.paused:
        raise ActionError(f"{_label(connection)} is not paused")
    _require_usable_credentials(connection)
    connection.paused = False
    connection.paused_reason = None
    connection.next_poll_at = now
    connection.updated_at = now
    session.add(connection)
    due = make_due_for_connection(session, connection.id, now)  # type: ignore[arg-type]
    record_action(
        session,
        actor=actor,
        action="connection.resume",
        target=f"connection:{connection.id}",
        now=now,
        detail=f"{plural(due, 'waiting record')} due now",
    )
    return connection


def _require_usable_credentials(connection: Connection) -> None:
    keys = PLATFORMS[connection.platform].credential_keys
    stored = connection.credentials
    if isinstance(stored, Unreadable):
        raise ActionError(
            f"the credentials of {_label(connection)} cannot be opened ({stored.reason}): "
            f"replace them ({', '.join(keys)}) before resuming it"
        )
    missing = [key for key in keys if not stored.get(key)]
    if missing:
        raise ActionError(
            f"{_label(connection)} has no {', '.join(missing)}: replace its credentials "
            "before resuming it"
        )


@dataclass(frozen=True, slots=True)
class Editable:
    """What an edit may change of a connection, as it stands: compare two to say what an edit
    changed (the audit log, the CLI's answer)."""

    name: str
    base_url: str
    poll_interval_s: int
    settings: dict[str, Any]

    @classmethod
    def of(cls, connection: Connection) -> Editable:
        return cls(
            connection.name,
            connection.base_url,
            connection.poll_interval_s,
            dict(connection.settings),
        )

    def changes_to(self, after: Editable) -> tuple[str, ...]:
        """What differs in ``after``, a few words each ("name X", "url …", "poll 60 s",
        "setting read_timeout", "setting api_version removed"): setting keys, not values;
        a URL without its password."""
        changes = [
            *([f"name {after.name}"] if after.name != self.name else []),
            *(
                [f"url {hide_url_passwords(after.base_url)}"]
                if after.base_url != self.base_url
                else []
            ),
            *(
                [f"poll {after.poll_interval_s} s"]
                if after.poll_interval_s != self.poll_interval_s
                else []
            ),
        ]
        for key in sorted({*self.settings, *after.settings}):
            if key not in after.settings:
                changes.append(f"setting {key} removed")
            elif self.settings.get(key) != after.settings[key]:
                changes.append(f"setting {key}")
        return tuple(changes)


def edit_connection(
    session: Session,
    *,
    connection_key: str,
    name: str | None = None,
    base_url: str | None = None,
    poll_interval_s: int | None = None,
    settings: Mapping[str, Any] | None = None,
    actor: str,
    now: datetime,
) -> Connection:
    """Change what is given of a connection, checked as when it was added. ``settings`` merge
    over the stored ones; a value of ``""`` or None removes that setting (a required one is
    refused). Its platform and role stay: another platform is another connection. What
    changed is audited (nothing changed: no entry).

    A paused connection stays paused: test it, then resume it."""
    connection = connection_for(session, connection_key)
    require(session, Act.CHANGE_CONNECTIONS, connection.account_id)
    before = Editable.of(connection)
    after = Editable(
        before.name if name is None else clean_text(name, "connection name", 200),
        before.base_url if base_url is None else validate_base_url(base_url),
        before.poll_interval_s if poll_interval_s is None else poll_interval_s,
        _merged(before.settings, settings or {}),
    )
    _check_settings(connection.platform, after.base_url, after.settings, settings or {})
    if (wrong := poll_problem(after.poll_interval_s)) is not None:
        raise ActionError(wrong)
    if after.name != before.name:
        _require_free_name(session, connection, after.name)
    changes = before.changes_to(after)
    if not changes:
        return connection
    account_name = _account_name(session, connection)  # read now: after a failed flush it cannot
    connection.name, connection.base_url = after.name, after.base_url
    connection.settings = after.settings
    if after.poll_interval_s != before.poll_interval_s:
        _poll_every(connection, after.poll_interval_s, now)
    connection.updated_at = now
    session.add(connection)
    try:
        session.flush()
    except IntegrityError as exc:  # the name was taken by another process meanwhile
        raise ActionError(
            f"account {account_name!r} already has a connection {after.name!r}"
        ) from exc
    record_action(
        session,
        actor=actor,
        action="connection.edit",
        target=f"connection:{connection.id}",
        now=now,
        detail="; ".join(changes),
    )
    return connection


def _merged(stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with ``given`` over ``stored``; a blank value removes its key."""
    merged = dict(stored)
    for key, value in given.items():
        if _blank(value):
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _check_settings(
    platform: str, base_url: str, settings: Mapping[str, Any], given: Mapping[str, Any]
) -> None:
    """The rules of :func:`add_connection` for what the edit leaves. Only the keys given are
    checked against the platform's own: one saved before that check existed stays usable."""
    connector = _connector_settings(settings)
    problems = said(config_problems(platform, base_url, {}, connector, credentials_required=False))
    named = {k: v for k, v in _connector_settings(given).items() if not _blank(v)}
    problems += unknown_keys(platform, {}, named)
    if problems:
        raise ActionError("; ".join(problems))


def _require_free_name(session: Session, connection: Connection, name: str) -> None:
    taken = session.exec(
        select(Connection.id).where(
            Connection.account_id == connection.account_id,
            Connection.name == name,
            col(Connection.id) != connection.id,
        )
    ).first()
    if taken is not None:
        account_name = _account_name(session, connection)
        raise ActionError(f"account {account_name!r} already has a connection {name!r}")


def _poll_every(connection: Connection, seconds: int, now: datetime) -> None:
    """A shorter interval counts from now: a weekly poll made minutely is not a week away."""
    connection.poll_interval_s = seconds
    soonest = now + timedelta(seconds=seconds)
    if connection.next_poll_at is not None and connection.next_poll_at > soonest:
        connection.next_poll_at = soonest


def _account_name(session: Session, connection: Connection) -> str:
    account = session.get(Account, connection.account_id)
    return account.name if account is not None else str(connection.account_id)


def connection_field_problems(
    platform: str,
    *,
    name: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, str],
    poll_interval_s: str | int,
    credentials_required: bool = True,
) -> dict[str, list[str]]:
    """What a connection form holds wrong, by field — ``platform``, ``name``, ``url``,
    ``poll``, ``credential.KEY``, ``setting.KEY`` — in the words :func:`add_connection` and
    :func:`edit_connection` refuse it with; empty when they would take it (but for a name
    the account already uses, which only they can see). Pure: no database.

    A blank value counts as not given. ``credentials_required=False`` is for an edit form,
    where blank credentials keep the stored ones."""
    fields: dict[str, list[str]] = {}
    _refusal(fields, "name", lambda: clean_text(name, "connection name", 200))
    _refusal(fields, "url", lambda: validate_base_url(base_url))
    given_credentials = {key: value for key, value in credentials.items() if not _blank(value)}
    given_settings = _connector_settings(
        {key: value for key, value in settings.items() if not _blank(value)}
    )
    problems = config_problems(
        platform,
        base_url.strip(),
        given_credentials,
        given_settings,
        credentials_required=credentials_required,
    )
    problems += unknown_key_problems(platform, given_credentials, given_settings)
    for problem in problems:
        if problem.field == "url" and "url" in fields:
            continue  # one sentence about a URL is enough
        fields.setdefault(problem.field, []).append(problem.message)
    poll = poll_problem(poll_interval_s)
    if poll is not None:
        fields["poll"] = [poll]
    return fields


def _refusal(fields: dict[str, list[str]], field: str, check: Callable[[], object]) -> None:
    try:
        check()
    except ActionError as exc:
        fields.setdefault(field, []).append(str(exc))


def _connector_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key not in ENGINE_SETTING_KEYS}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _label(connection: Connection) -> str:
    return f"connection {connection.id} ({connection.name})"


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no reason given"
