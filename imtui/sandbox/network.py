"""What sits between a client and the fake systems: latency, the fault plan, the request count.

Both fake systems send every request through :meth:`Network.exchange`, so latency and faults
behave the same on either side; only the wording of a failure (the :class:`Dialect`) differs,
as it does between the real WMS (plain-text 500s) and Shopify (JSON bodies with ``errors``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from imtui.sandbox.faults import FaultPlan

_DROP_KEY = "imtui.sandbox.drop"

HTML_BODY = (
    "<!DOCTYPE html>\n<html><head><title>Service Temporarily Unavailable</title></head>\n"
    "<body><h1>Down for maintenance</h1><p>We'll be back shortly.</p></body></html>\n"
)


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one fake system words an injected failure."""

    messages: Mapping[int, str]
    """Status → the text the real system sends with it."""
    json_errors: bool
    """True: ``{"errors": message}`` (Shopify); False: plain text (the WMS)."""
    retry_after: Callable[[float], str]
    special: Callable[[str, float], Response | None] | None = None
    """The answer for a fault only this system has (GraphQL's ``throttled``,
    ``internal_error``), given the fault and its ``retry_after``; None: the generic one."""

    def failure(self, status: int, retry_after: float | None = None) -> Response:
        message = self.messages.get(status, "Error")
        headers = {} if retry_after is None else {"Retry-After": self.retry_after(retry_after)}
        if self.json_errors:
            body = json.dumps({"errors": message}, separators=(",", ":"))
            return Response(body, status, headers, media_type="application/json")
        return Response(message, status, headers, media_type="text/plain")


class DroppedResponse(Response):
    """Answers nothing; :class:`ConnectionDropper` then closes the TCP connection."""

    def __init__(self) -> None:
        super().__init__(b"", 500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        flag = scope.get(_DROP_KEY)
        if isinstance(flag, _DropFlag):
            flag.requested = True


class _DropFlag:
    __slots__ = ("requested",)

    def __init__(self) -> None:
        self.requested = False


class _Dropped:
    """What the app returns to uvicorn to make it close the socket with no response."""

    def __repr__(self) -> str:
        return "<connection dropped by the sandbox fault plan>"


_DROPPED = _Dropped()


class _QuietDrops(logging.Filter):
    """uvicorn logs an error when an app returns a value; for our deliberate drops it is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(arg is _DROPPED for arg in args)


_QUIET_DROPS = _QuietDrops()


class ConnectionDropper:
    """Outermost ASGI layer: turns a :class:`DroppedResponse` into a closed connection.

    ASGI has no "hang up" message. uvicorn (h11 and httptools alike) closes the transport
    without writing a byte when the application returns something other than None, which is
    exactly what a crashed proxy or a reset looks like to the client. Raising instead would get
    a 500 written by Starlette's error middleware.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return None
        flag = _DropFlag()
        scope[_DROP_KEY] = flag
        await self.app(scope, receive, send)
        return _DROPPED if flag.requested else None


def html_response(status: int) -> Response:
    return Response(HTML_BODY, status, media_type="text/html")


def truncated_response(response: Response) -> Response:
    """The real answer's status and body, cut in half: an unreadable success."""
    body = bytes(response.body)
    return Response(body[: len(body) // 2], response.status_code, media_type="application/json")


class Network:
    """Latency, faults and counting for every request, shared by both fake systems.

    ``latency`` and ``hang_seconds`` are plain attributes so a test can change them while the
    servers run; the request counter sits behind a lock because the servers' thread writes it
    while the test's thread reads it.
    """

    def __init__(self, *, seed: int | None = 0, latency: float = 0.0, hang_seconds: float = 30.0):
        self.faults = FaultPlan(seed)
        self.latency = latency
        self.hang_seconds = hang_seconds
        self._requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._release: asyncio.Event | None = None

    @property
    def requests(self) -> Counter[str]:
        """A snapshot of requests received, by target."""
        with self._lock:
            return Counter(self._requests)

    def attach(self) -> None:
        """Bind to the serving event loop (call from inside it, before serving)."""
        self._release = asyncio.Event()

    def release_hangs(self) -> None:
        """Wake every request held by a timeout fault, so a stopping server stops at once."""
        if self._release is not None:
            self._release.set()

    async def _hang(self) -> None:
        if self._release is None:
            await asyncio.sleep(self.hang_seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), self.hang_seconds)

    async def exchange(
        self,
        target: str,
        reference: str | None,
        dialect: Dialect,
        handle: Callable[[], Response],
    ) -> Response:
        """Count, wait ``latency``, then answer with ``handle()`` or the fault that fires.

        Faults that model a failure before the server did anything (500, 503, 429, timeout,
        drop) never call ``handle``; the others run it, so its side effects (a created order, a
        closed fulfilment order) happen and only the answer is spoiled.
        """
        with self._lock:
            self._requests[target] += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        rule = self.faults.pick(target, reference)
        if rule is None:
            return handle()
        if dialect.special is not None:
            special = dialect.special(rule.fault, rule.retry_after)
            if special is not None:
                return special
        match rule.fault:
            case "throttled":
                return dialect.failure(429, rule.retry_after)
            case "internal_error":
                return dialect.failure(500)
            case "drop":
                return DroppedResponse()
            case "http_500":
                return dialect.failure(500)
            case "http_503":
                return dialect.failure(503, rule.retry_after)
            case "rate_limit":
                return dialect.failure(429, rule.retry_after)
            case "timeout":
                await self._hang()
                return dialect.failure(504)
        response = handle()
        match rule.fault:
            case "commit_then_500":
                return dialect.failure(500)
            case "commit_then_drop":
                return DroppedResponse()
            case "commit_then_timeout":
                await self._hang()
                return response
            case "html":
                return html_response(response.status_code)
            case "truncated":
                return truncated_response(response)
        raise AssertionError(f"unhandled fault {rule.fault!r}")
