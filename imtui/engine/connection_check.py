"""Testing a connection: the token and one small read against the remote, timed, and the
answer in one line — "OK in 180 ms — shop Acme Outdoor", or the remote's own words and the
failure class (docs/design.md, "Failure classes").

The read goes through the connection's own connector (its pacing, body cap and deadline) and
its ``probe``, which writes nothing remotely. A check touches nothing here either: no database,
no queue, no alert, no pause. The CLI (``imtui connection test``) and the dashboard both call
:func:`check_stored_connection`; a form checks what is typed, before it is saved, with
:func:`check_connection`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from imtui.connectors.registry import ConnectionConfigError, build_connector, request_deadline
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass
from imtui.engine.connections import ENGINE_SETTING_KEYS
from imtui.store.models import Connection
from imtui.store.secrets import Unreadable

CHECK_MARGIN = 1.0
"""Seconds a whole check may run past one request's deadline: a remote that never answers
fails on the request's own deadline (its message says which remote, and how long), and this
bounds what is left — a token and a read that are each slow, or pauses a 429 asked for."""

DESCRIPTION_LIMIT = 200
"""Characters kept of what a probe read: a shop's name is the remote's text, of any length."""


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """How one test of a connection went."""

    ok: bool
    elapsed_ms: int
    failure_class: str | None
    """A :class:`~imtui.domain.failures.FailureClass` value; None on success, or when the
    check broke on something no connector foresaw."""
    kind: str | None
    """An :class:`~imtui.domain.failures.AlertKind` value, as for ``failure_class``."""
    http_status: int | None
    message: str
    """On success, what was read ("shop Acme Outdoor"); on failure, the remote's own words.
    Untrusted text either way: whoever shows it makes it printable."""

    def summary(self) -> str:
        """The check in one line, in the words an alert about it would use."""
        if self.ok:
            return f"OK in {self.elapsed_ms} ms — {self.message}"
        what = _headline(self.kind)
        if self.failure_class:
            what = f"{what} ({self.failure_class})"
        return f"failed in {self.elapsed_ms} ms: {what}: {self.message}"


def _headline(kind: str | None) -> str:
    try:
        headline = AlertKind(kind or "").headline
    except ValueError:
        return "error"
    return headline[:1].lower() + headline[1:]


async def check_connection(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] | None = None,
) -> ConnectionCheck:
    """Build the connection's connector, run its probe, and say how it went — never raising
    for anything the remote or the configuration does. ``clock``: seconds from an arbitrary
    start (time.perf_counter: a check is timed on the wall, whatever the engine's clock)."""
    clock = clock or time.perf_counter
    started = clock()
    try:
        described = await _probe(platform, base_url, credentials, settings, transport)
    except ConnectorError as exc:
        return _failed(exc.failure, clock() - started)
    except ConnectionConfigError as exc:
        problem = Failure(FailureClass.CONNECTION, AlertKind.BAD_CONFIGURATION, str(exc))
        return _failed(problem, clock() - started)
    except Exception as exc:  # a connector bug or an answer it misread: the type says which
        return ConnectionCheck(
            ok=False,
            elapsed_ms=_milliseconds(clock() - started),
            failure_class=None,
            kind=None,
            http_status=None,
            message=f"the check stopped on an unexpected {type(exc).__name__}",
        )
    return ConnectionCheck(
        ok=True,
        elapsed_ms=_milliseconds(clock() - started),
        failure_class=None,
        kind=None,
        http_status=None,
        message=_bounded(described, DESCRIPTION_LIMIT),
    )


async def check_stored_connection(
    connection: Connection,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] | None = None,
) -> ConnectionCheck:
    """:func:`check_connection` for a saved connection (read it first; nothing is held open
    while the remote answers). Credentials that cannot be opened fail the check with the
    reason, as they stop the connection's work (no request goes out with an empty one)."""
    credentials = connection.credentials
    if isinstance(credentials, Unreadable):
        unreadable = Failure(
            FailureClass.CONNECTION,
            AlertKind.BAD_CONFIGURATION,
            f"the credentials of {connection.name} cannot be opened: {credentials.reason}",
        )
        return _failed(unreadable, 0.0)
    return await check_connection(
        connection.platform,
        connection.base_url,
        {key: str(value) for key, value in credentials.items()},
        connection.settings,
        transport=transport,
        clock=clock,
    )


async def _probe(
    platform: str,
    base_url: str,
    credentials: Mapping[str, str],
    settings: Mapping[str, Any],
    transport: httpx.AsyncBaseTransport | None,
) -> str:
    connector_settings = {
        key: value
        for key, value in settings.items()
        if key not in ENGINE_SETTING_KEYS and not _blank(value)
    }
    connector = build_connector(
        platform, base_url, credentials, connector_settings, transport=transport
    )
    seconds = request_deadline(connector_settings) + CHECK_MARGIN
    limit = asyncio.timeout(seconds)
    try:
        async with limit:
            return await connector.probe()
    except TimeoutError:
        if limit.expired():
            raise ConnectorError(_too_slow(seconds)) from None
        raise
    finally:
        await connector.aclose()


def _too_slow(seconds: float) -> Failure:
    return Failure(
        FailureClass.TRANSIENT,
        AlertKind.REMOTE_ERROR,
        f"the check did not finish within {seconds:g} s (the connection's deadline for a "
        "request, and a second): the remote answers too slowly or not at all",
    )


def _failed(failure: Failure, seconds: float) -> ConnectionCheck:
    return ConnectionCheck(
        ok=False,
        elapsed_ms=_milliseconds(seconds),
        failure_class=failure.failure_class.value,
        kind=failure.kind.value,
        http_status=failure.status,
        message=failure.message,
    )


def _milliseconds(seconds: float) -> int:
    """Whole milliseconds, rounded up: a check that took any time at all took at least 1."""
    return max(0, math.ceil(seconds * 1000))


def _blank(value: Any) -> bool:
    """A form's empty field: the setting is not given (as the forms' checks read it)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
