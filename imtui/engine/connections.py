"""One pooled connector per connection, rebuilt when the connection's URL, credentials or
settings change."""

from __future__ import annotations

import json
from typing import Any

from imtui.connectors.base import OrderSource, Warehouse
from imtui.connectors.registry import ConnectionConfigError, build_source, build_warehouse
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from imtui.store.models import Connection

ENGINE_SETTING_KEYS = frozenset({"reference_prefix"})
"""Connection settings the engine reads itself; the connector never sees them."""


class ConnectorPool:
    """Holds the live HTTP client of each connection: one pool of sockets per remote system."""

    def __init__(self, *, timeout: float | None = None) -> None:
        self._timeout = timeout
        self._live: dict[int, tuple[str, Any]] = {}
        self._retired: list[Any] = []

    def source(self, connection: Connection) -> OrderSource:
        return self._get(connection, build_source)  # type: ignore[no-any-return]

    def warehouse(self, connection: Connection) -> Warehouse:
        return self._get(connection, build_warehouse)  # type: ignore[no-any-return]

    def _get(self, connection: Connection, build: Any) -> Any:
        assert connection.id is not None
        identity = json.dumps(
            [connection.platform, connection.base_url, connection.credentials, connection.settings],
            sort_keys=True,
            default=str,
        )
        known = self._live.get(connection.id)
        if known is not None and known[0] == identity:
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
        self._live[connection.id] = (identity, connector)
        return connector

    async def aclose(self) -> None:
        for _, connector in self._live.values():
            await connector.aclose()
        for connector in self._retired:
            await connector.aclose()
        self._live.clear()
        self._retired.clear()
