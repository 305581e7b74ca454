"""One pooled connector per connection, rebuilt when the connection's URL, credentials or
settings change."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from imtui.connectors.base import OrderSource, Warehouse
from imtui.connectors.errors import origin
from imtui.connectors.registry import (
    ConnectionConfigError,
    build_source,
    build_warehouse,
    request_deadline,
)
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from imtui.store.models import Connection
from imtui.store.secrets import Unreadable

IN_FLIGHT_MARGIN = 10.0
"""Seconds beyond a request's deadline before a record left in flight (its worker died, or
its answer was lost) is looked up: the remote may still be finishing what it was sent."""


def in_flight_settle(connections: Iterable[Connection]) -> timedelta:
    """How long a row marked in flight waits before anyone takes it again: the longest request
    deadline of these connections, plus the margin."""
    longest = max(
        (request_deadline(connection.settings) for connection in connections),
        default=request_deadline({}),
    )
    return timedelta(seconds=longest + IN_FLIGHT_MARGIN)


ENGINE_SETTING_KEYS = frozenset({"reference_prefix", "poll_deadline"})
"""Connection settings the engine reads itself; the connector never sees them."""

DEFAULT_POLL_DEADLINE = 300.0
"""Seconds one poll — every page of one download — may take before it is given up for this
cycle with an alert. Each request has its own, shorter deadline as well (the connector's)."""


def poll_deadline(connection: Connection, default: float) -> float:
    """The connection's ``poll_deadline`` setting when it is a usable number, else ``default``."""
    try:
        seconds = float(connection.settings.get("poll_deadline") or default)
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default


def poll_deadline_passed(connection: Connection, seconds: float) -> Failure:
    """A poll that outlasted its deadline: nothing was changed remotely, so it is retried on
    the next poll — with an alert on the connection naming the remote and the time waited."""
    return Failure(
        FailureClass.TRANSIENT,
        AlertKind.REMOTE_ERROR,
        f"the poll of {connection.name} ({origin(connection.base_url)}) did not finish within "
        f"{seconds:g} s (its deadline): the remote answers too slowly or not at all",
    )


def poll_broke(connection: Connection, exc: Exception) -> Failure:
    """A poll stopped by something no connector foresaw (a response that broke our reading of
    it): an alert rather than a cycle that fails with a log line only. The exception's text is
    left out: it may quote the remote's data."""
    return Failure(
        FailureClass.TRANSIENT,
        AlertKind.BAD_RESPONSE,
        f"the answer from {connection.name} ({origin(connection.base_url)}) could not be read "
        f"({type(exc).__name__}); the poll is tried again next cycle",
    )


class ConnectorPool:
    """Holds the live HTTP client of each connection: one pool of sockets per remote system."""

    def __init__(self, *, timeout: float | None = None) -> None:
        self._timeout = timeout
        self._live: dict[int, tuple[str, Any, Connection]] = {}
        """By connection id: the settings a connector was built from, the connector, and the
        record last handed in for it."""
        self._retired: list[Any] = []

    def source(self, connection: Connection) -> OrderSource:
        # one cache for both kinds: a connection's id is only ever built by one of the two
        return self._get(connection, build_source)  # type: ignore[no-any-return]

    def warehouse(self, connection: Connection) -> Warehouse:
        # one cache for both kinds: a connection's id is only ever built by one of the two
        return self._get(connection, build_warehouse)  # type: ignore[no-any-return]

    def _get(self, connection: Connection, build: Any) -> Any:
        """The connector for ``connection`` as read now. The same record handed in again —
        each delivery of a claimed batch holds its batch's one read — gets the same connector
        without its settings compared again (a JSON dump per order, 2 % of a send's CPU)."""
        assert connection.id is not None
        known = self._live.get(connection.id)
        if known is not None and known[2] is connection:
            return known[1]
        if isinstance(connection.credentials, Unreadable):
            # No key, or not theirs: the connection stops with an alert saying so. An empty
            # credential is never sent to the remote in their place.
            raise ConnectorError(
                Failure(
                    FailureClass.CONNECTION,
                    AlertKind.BAD_CONFIGURATION,
                    f"the credentials of {connection.name} cannot be opened: "
                    f"{connection.credentials.reason}",
                )
            )
        identity = json.dumps(
            [connection.platform, connection.base_url, connection.credentials, connection.settings],
            sort_keys=True,
            default=str,
        )
        if known is not None and known[0] == identity:
            self._live[connection.id] = (identity, known[1], connection)
            return known[1]
        if known is not None:
            self._retired.append(known[1])
        settings = {
            key: value
            for key, value in connection.settings.items()
            if key not in ENGINE_SETTING_KEYS
        }
        if self._timeout is not None:
            settings.setdefault("read_timeout", self._timeout)
        try:
            connector = build(
                connection.platform, connection.base_url, dict(connection.credentials), settings
            )
        except ConnectionConfigError as exc:
            # Only this connection stops (paused with an alert); the others go on.
            raise ConnectorError(
                Failure(FailureClass.CONNECTION, AlertKind.BAD_CONFIGURATION, str(exc))
            ) from exc
        self._live[connection.id] = (identity, connector, connection)
        return connector

    async def aclose(self) -> None:
        for _, connector, _ in self._live.values():
            await connector.aclose()
        for connector in self._retired:
            await connector.aclose()
        self._live.clear()
        self._retired.clear()
