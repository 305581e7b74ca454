"""An httpx transport that does its HTTP/1.1 with aiohttp: the connectors keep httpx as their
API (requests, responses, auth, errors), aiohttp's C parser and connection pool do the work.

Why: creating an order through httpx's own stack (httpcore, anyio, h11) cost 0.65-0.8 ms of CPU,
most of it in that stack — more than the engine's whole budget per delivered order (0.4 ms,
issue 15) — and httpcore's pool cost grows with its size, which is why connections used to be
split over pools of five. Through aiohttp the same requests cost about 0.36 ms (aiohttp alone:
0.16), in one pool of any size (``benchmarks/http_transport.py``).

Why not ``httpx-aiohttp``'s transport: it maps ``aiohttp.ClientConnectionError`` — the base of
a reset or of a server that hung up after the request went out — to ``httpx.ConnectTimeout``,
which says nothing was sent (TRANSIENT): a lost answer to an order POST would be sent again
without the look-up. Here every aiohttp error becomes the httpx error of the same meaning, so
:mod:`imtui.connectors.errors` classifies it exactly as it did httpcore's.

Left to :class:`~imtui.connectors.http_connection.HttpConnection`: aiohttp has no write
timeout, so a remote that stops reading a request is cut by the whole request's deadline, as a
trickled answer is; the wait for a free connection is its gate; and bodies arrive as sent, to
be inflated under its size cap (aiohttp's own decompression is off).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
import yarl

KEEPALIVE_SECONDS = 5.0
"""How long an idle connection is kept: httpx's default, shorter than most servers' own idle
timeout, so a kept connection is rarely one the server is closing as we reuse it."""

MAX_HEADER_FIELD = 16 * 1024
"""Bytes of one response header line: twice aiohttp's default, room for a long ``Link`` or a
proxy's quoted ``Location``. With aiohttp's 128 headers at most, a head is under 2 MB."""


@functools.cache
def _verified_context() -> ssl.SSLContext:
    """httpx's TLS context (certifi's CAs, verification on), its CA bundle loaded once."""
    return httpx.create_ssl_context()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp pool of ``max_connections`` connections, as an httpx transport.

    The session is made on first use, inside the event loop that uses it (aiohttp binds it to
    that loop); a connector built outside any loop, or used by a later one, still works.
    """

    def __init__(self, max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session_for(asyncio.get_running_loop())
        timeouts = request.extensions.get("timeout", {})
        connect = timeouts.get("connect")
        try:
            response = await session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=_headers(request),
                data=_body(request),
                allow_redirects=False,
                # connect covers DNS, TCP and TLS, as httpcore's did; the gate in front keeps
                # the pool's own wait (also counted in it) at nothing.
                timeout=_timeout(connect, timeouts.get("read")),
            )
        except aiohttp.ClientError as exc:
            raise _translated(exc, request) from exc
        except ValueError as exc:  # a header aiohttp will not send (CR/LF): nothing was sent
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions={
                "http_version": _http_version(response.version),
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    def _session_for(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        session = self._session
        if session is None or self._loop is not loop:
            session = self._session = _new_session(self._max_connections)
            self._loop = loop
        return session

    async def aclose(self) -> None:
        """Close the pool's connections; a session made by another (finished) loop has none
        left to close."""
        session, self._session = self._session, None
        if session is not None and self._loop is asyncio.get_running_loop():
            await session.close()


def _new_session(max_connections: int) -> aiohttp.ClientSession:
    """A session that adds nothing of its own: no cookies, no decompression (done under the
    body cap), no automatic headers (httpx has set them), no retries."""
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        limit_per_host=0,
        ssl=_verified_context(),
        keepalive_timeout=KEEPALIVE_SECONDS,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        max_line_size=MAX_HEADER_FIELD,
        max_field_size=MAX_HEADER_FIELD,
        trust_env=False,
    )
    # aiohttp sends a GET, PUT or DELETE again, unasked, when the connection drops before the
    # answer; httpcore never did. What a lost answer means is the engine's to decide (a look-up
    # before a send goes again), so the one switch there is, aiohttp's own tests', is off.
    session._retry_connection = False
    return session


@functools.lru_cache(maxsize=64)
def _timeout(connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for httpx's, made once per pair (every request of a connection
    carries the same)."""
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read)


def _http_version(version: aiohttp.HttpVersion | None) -> bytes:
    return b"HTTP/1.0" if version == aiohttp.HttpVersion10 else b"HTTP/1.1"


def _headers(request: httpx.Request) -> list[tuple[str, str]]:
    """The request's headers as httpx wrote them; ``Transfer-Encoding`` is aiohttp's to set
    when it sends a stream."""
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in request.headers.raw
        if name.lower() != b"transfer-encoding"
    ]


def _body(request: httpx.Request) -> bytes | AsyncIterator[bytes] | None:
    """The body whole when it is known (a request httpx has read, or one built on a
    ``ByteStream``): aiohttp sends it with its ``Content-Length``. A stream goes chunked."""
    stream = request.stream
    if isinstance(stream, httpx.ByteStream):
        return b"".join(stream) or None
    try:
        content = request.content
    except httpx.RequestNotRead:
        return _chunks(stream)
    return content or None


async def _chunks(stream: httpx.AsyncByteStream | httpx.SyncByteStream) -> AsyncIterator[bytes]:
    if isinstance(stream, httpx.AsyncByteStream):
        async for chunk in stream:
            yield chunk
    else:
        for chunk in stream:
            yield chunk


class _Body(httpx.AsyncByteStream):
    """A response body as it arrives, closed for good unless it was read to its end: a
    connection left mid-body (a body over the cap, a deadline) never goes back to the pool."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request
        self._finished = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while chunk := await content.readany():
                yield chunk
        except aiohttp.ClientError as exc:
            raise _translated(exc, self._request) from exc
        self._finished = True

    async def aclose(self) -> None:
        if self._finished:
            self._response.release()
        else:
            self._response.close()


def _translated(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    """The httpx error that means what ``exc`` means (see the module's docstring)."""
    return _kind_of(exc)(_words(exc, request), request=request)


def _words(exc: aiohttp.ClientError, request: httpx.Request) -> str:
    """What went wrong, without the URL some aiohttp errors quote: its path and query can name
    records, and a message that reaches an alert names the host and port only (errors.py)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.message or f"HTTP {exc.status}"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"Request URL has an unsupported protocol '{request.url.scheme}://'."
    return str(exc) or type(exc).__name__


def _kind_of(exc: aiohttp.ClientError) -> type[httpx.TransportError]:
    """Connect errors only for what failed before a byte was sent; everything after the
    request went out reads as a lost answer."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ServerFingerprintMismatch):
        return httpx.ConnectError  # nothing was sent: refused, DNS, TLS, a wrong certificate
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol
    if isinstance(exc, aiohttp.ClientPayloadError) and not _reset(exc):
        return httpx.RemoteProtocolError  # the body broke off or broke its framing
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError  # hung up before answering, or answered garbage
    return httpx.ReadError  # a reset, or another failure after the request went out


def _reset(exc: BaseException) -> bool:
    """Whether a connection reset is among the causes of ``exc``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionResetError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
