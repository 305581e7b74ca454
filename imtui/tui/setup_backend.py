"""The dashboard's way into accounts and connections: the Accounts & connections screen's rows,
the first-run state, and every change to them — through the same engine actions as ``imtui
account …`` and ``imtui connection …`` (one path, one audit, the same role checks).

Credentials go one way only: typed into a form, handed to an action, sealed. No method here
returns a credential's value; rows name the keys that are set.

Like the rest of :class:`~imtui.tui.backend.Backend` (which inherits this), every method blocks
on the database or the network: call it from a thread worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from imtui.domain.text import printable
from imtui.engine import account_actions, action_rules, connection_actions
from imtui.engine.connection_check import (
    ConnectionCheck,
    check_connection,
    check_stored_connection,
)
from imtui.store import account_reads
from imtui.store.rows import (
    SETUP_SORTS,
    ConnectionRow,
    Position,
    SetupLine,
    SetupState,
    Window,
    window_of_list,
)
from imtui.store.secrets import Unreadable
from imtui.tui.filters import SetupQuery
from imtui.tui.messages import Refused

if TYPE_CHECKING:
    from imtui.store.database import Database

Session = Any
"""A write or read session of the store (the UI never imports SQLModel, not even for a type)."""

T = TypeVar("T")


class SetupBackend:
    """Accounts and connections, for :class:`~imtui.tui.backend.Backend`."""

    db: Database
    actor: str

    def now(self) -> datetime:
        raise NotImplementedError

    def _read(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    def _write(self, work: Callable[[Session], str]) -> str:
        """Run one action in a write transaction; its refusal comes back as Refused."""
        try:
            with self.db.write() as session:
                return work(session)
        except action_rules.ActionError as exc:
            raise Refused(str(exc)) from exc

    # -- reads ------------------------------------------------------------------------------

    def setup_lines(self, query: SetupQuery, position: Position, size: int) -> Window[SetupLine]:
        every = self._read(account_reads.setup_lines, account_id=query.account_id)
        return window_of_list(every, position, size, SETUP_SORTS[query.sort])

    def setup_state(self, account_id: int | None) -> SetupState:
        return self._read(account_reads.setup_state, account_id=account_id)

    def connection(self, connection_id: int) -> ConnectionRow | None:
        return self._read(account_reads.connection_row, connection_id)

    @staticmethod
    def connection_problems(
        platform: str,
        *,
        name: str,
        base_url: str,
        credentials: Mapping[str, str],
        settings: Mapping[str, str],
        poll_interval_s: str,
        credentials_required: bool = True,
    ) -> dict[str, list[str]]:
        """Each problem with a connection form's fields, by field ("name", "url", "poll",
        "credential.KEY", "setting.KEY"): the CLI's own checks (no database, no network)."""
        return connection_actions.connection_field_problems(
            platform,
            name=name,
            base_url=base_url,
            credentials=credentials,
            settings=settings,
            poll_interval_s=poll_interval_s,
            credentials_required=credentials_required,
        )

    # -- changes ----------------------------------------------------------------------------

    def add_account(self, name: str, kind: str) -> tuple[int, str]:
        """The new account's id, and what to say."""
        with_id: list[int] = []

        def add(session: Session) -> str:
            account = account_actions.add_account(
                session, name=name, kind=kind, actor=self.actor, now=self.now()
            )
            with_id.append(account.id or 0)
            return f"added account {printable(account.name)} ({account.kind})"

        said = self._write(add)
        return with_id[0], said

    def add_connection(
        self,
        account_id: int,
        *,
        platform: str,
        name: str,
        base_url: str,
        credentials: dict[str, str],
        settings: dict[str, Any],
        poll_interval_s: int,
    ) -> str:
        def add(session: Session) -> str:
            account = action_rules.account_for(session, str(account_id))
            connection = account_actions.add_connection(
                session,
                account=account,
                name=name,
                platform=platform,
                base_url=base_url,
                credentials=credentials,
                settings=settings,
                poll_interval_s=poll_interval_s,
                actor=self.actor,
                now=self.now(),
            )
            return f"added connection {printable(connection.name)} ({connection.platform})"

        return self._write(add)

    def edit_connection(
        self,
        connection_id: int,
        *,
        name: str,
        base_url: str | None,
        settings: dict[str, Any],
        poll_interval_s: int,
        credentials: dict[str, str],
    ) -> str:
        """Change what the form changed (``base_url`` None: as stored); credentials only if
        any were typed (blank keeps the stored ones), which resumes the connection as ``imtui
        connection credentials`` does."""

        def edit(session: Session) -> str:
            key = str(connection_id)
            connection = connection_actions.edit_connection(
                session,
                connection_key=key,
                name=name,
                base_url=base_url,
                poll_interval_s=poll_interval_s,
                settings=settings,
                actor=self.actor,
                now=self.now(),
            )
            said = f"saved connection {printable(connection.name)}"
            if credentials:
                was_paused = connection.paused
                account_actions.update_credentials(
                    session,
                    connection_key=key,
                    credentials=credentials,
                    actor=self.actor,
                    now=self.now(),
                )
                said += "; new credentials" + (
                    ": resumed, what waited on it is due now" if was_paused else ""
                )
            return said

        return self._write(edit)

    def replace_credentials(self, connection_id: int, credentials: dict[str, str]) -> str:
        def replace(session: Session) -> str:
            key = str(connection_id)
            was_paused = account_actions.connection_for(session, key).paused
            connection = account_actions.update_credentials(
                session, connection_key=key, credentials=credentials, actor=self.actor,
                now=self.now(),
            )  # fmt: skip
            resumed = ": resumed, what waited on it is due now" if was_paused else ""
            return f"new credentials for {printable(connection.name)}{resumed}"

        return self._write(replace)

    def pause_connection(self, connection_id: int, reason: str) -> str:
        def pause(session: Session) -> str:
            connection = connection_actions.pause_connection(
                session, connection_key=str(connection_id), reason=reason, actor=self.actor,
                now=self.now(),
            )  # fmt: skip
            return f"paused {printable(connection.name)}: nothing is sent to or read from it"

        return self._write(pause)

    def resume_connection(self, connection_id: int) -> str:
        def resume(session: Session) -> str:
            connection = connection_actions.resume_connection(
                session, connection_key=str(connection_id), actor=self.actor, now=self.now()
            )
            return f"resumed {printable(connection.name)}: what waited on it is due now"

        return self._write(resume)

    # -- test connection --------------------------------------------------------------------

    def _stored(self, connection_id: int) -> Any:
        """The stored connection (credentials opened, or Unreadable), read once; Refused when
        there is none."""
        try:
            return self._read(account_actions.connection_for, str(connection_id))
        except action_rules.ActionError as exc:
            raise Refused(str(exc)) from exc

    def check_connection(self, connection_id: int) -> ConnectionCheck:
        """A harmless read against the stored connection's remote (a token and one small
        read); the queue, the alerts and the connection are left as they are."""
        return asyncio.run(check_stored_connection(self._stored(connection_id)))

    def check_values(
        self,
        platform: str,
        base_url: str | None,
        credentials: dict[str, str],
        settings: dict[str, Any],
        *,
        connection_id: int | None = None,
    ) -> ConnectionCheck:
        """The same read with what a form holds, before it is saved. What the form leaves as
        stored — credentials left blank, ``base_url`` None — is the stored connection's
        (``connection_id``); the values stay in this process and go only to the remote."""
        typed = {key: value for key, value in credentials.items() if value}
        if connection_id is not None:
            connection = self._stored(connection_id)
            kept = connection.credentials
            base_url = connection.base_url if base_url is None else base_url
            typed = {**({} if isinstance(kept, Unreadable) else dict(kept)), **typed}
        return asyncio.run(check_connection(platform, base_url or "", typed, settings))
