"""One pooled HTTP client per connection, with every failure leaving as a ConnectorError.

Each platform connector owns one :class:`HttpConnection`. It fixes the things every connector
must get right the same way: explicit timeouts, a connection pool sized for the engine's
concurrency, no redirects (a redirect could carry a token to another host), and no secret in
any message that reaches an alert.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import httpx

from imtui.connectors.errors import (
    CallKind,
    failure_from_exception,
    failure_from_response,
    parse_json,
    pool_exhausted,
    unreadable_body,
)
from imtui.connectors.sharded_pool import ShardedPoolTransport
from imtui.domain.failures import ConnectorError, Failure

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
"""Read/write/pool 20 s, connect 5 s: a WMS can be slow to create an order, but an address
that does not answer within 5 s is not going to."""


def make_timeout(
    read: float | None = None, connect: float | None = None, *, base: httpx.Timeout | None = None
) -> httpx.Timeout:
    """A timeout from the defaults with the given read and connect seconds replaced."""
    base = base or DEFAULT_TIMEOUT
    read_seconds = base.read if read is None else read
    return httpx.Timeout(
        read_seconds,
        connect=base.connect if connect is None else connect,
        write=base.write if read is None else read,
        pool=base.pool if read is None else read,
    )


_MIN_SECRET_LENGTH = 6
"""Shorter "secrets" (test fixtures) would blank out ordinary words of a message."""


class HttpConnection:
    """A base URL, its pooled client, and the translation of failures into ConnectorErrors."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        if isinstance(timeout, int | float):
            timeout = make_timeout(read=float(timeout))
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout or DEFAULT_TIMEOUT,
            transport=transport or ShardedPoolTransport(max_connections),
            follow_redirects=False,
        )
        # Our own gate in front of the pools: httpcore rescans every queued request on each
        # state change, so 5,000 requests queued inside it cost quadratic CPU; queued here
        # they cost nothing until a connection is free. It also enforces the pool timeout.
        self._slots = asyncio.Semaphore(max_connections)
        self._secrets = [secret for secret in secrets if len(secret) >= _MIN_SECRET_LENGTH]
        self._tokens: deque[str] = deque(maxlen=4)

    def add_token(self, token: str) -> None:
        """Also redact a freshly issued bearer token from messages (the last few are kept)."""
        if len(token) >= _MIN_SECRET_LENGTH and token not in self._tokens:
            self._tokens.append(token)

    async def request(
        self, method: str, url: str, *, call: CallKind, **kwargs: Any
    ) -> httpx.Response:
        """Send one request; transport failures leave as ConnectorError, responses of any
        status come back for the caller to judge (a 401 may deserve a token refresh)."""
        await self._take_slot()
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise self.error(failure_from_exception(exc, call)) from exc
        finally:
            self._slots.release()

    async def _take_slot(self) -> None:
        """Wait for a free connection as long as the pool timeout allows (TRANSIENT after:
        nothing was sent)."""
        wait = self.client.timeout.pool
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError:
            failure = pool_exhausted(self.client.base_url, wait or 0.0)
            raise self.error(failure) from None

    def rejected(self, response: httpx.Response, call: CallKind) -> ConnectorError:
        """The error for a non-2xx response."""
        return self.error(failure_from_response(response, call))

    def unreadable(self, response: httpx.Response, call: CallKind, reason: str) -> ConnectorError:
        """The error for a success response whose body breaks the API's promise."""
        return self.error(unreadable_body(response, call, reason))

    def json(self, response: httpx.Response, call: CallKind) -> Any:
        """The decoded JSON body of a success response, or a BAD_RESPONSE ConnectorError."""
        body, problem = parse_json(response)
        if problem is not None:
            raise self.unreadable(response, call, problem)
        return body

    def error(self, failure: Failure) -> ConnectorError:
        """A ConnectorError for ``failure``, with any known secret blanked out of its text."""
        message = failure.message
        for secret in (*self._secrets, *self._tokens):
            message = message.replace(secret, "[redacted]")
        if message != failure.message:
            failure = replace(failure, message=message)
        return ConnectorError(failure)

    async def aclose(self) -> None:
        await self.client.aclose()
