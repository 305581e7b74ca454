"""One pooled HTTP client per connection, with every failure leaving as a ConnectorError.

Each platform connector owns one :class:`HttpConnection`. It fixes the things every connector
must get right the same way: explicit timeouts, a connection pool sized for the engine's
concurrency, no redirects (a redirect could carry a token to another host), and no secret in
any message that reaches an alert. The client is httpx; its transport is aiohttp
(:mod:`imtui.connectors.aiohttp_transport`): an order POST costs about 0.36 ms of CPU through
it, 0.62 ms through httpcore (``benchmarks/http_transport.py``).
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections import deque
from collections.abc import AsyncIterable, Iterable
from dataclasses import replace
from typing import Any

import httpx

from imtui.connectors.aiohttp_transport import AiohttpTransport
from imtui.connectors.errors import (
    CallKind,
    failure_from_exception,
    failure_from_response,
    origin,
    parse_json,
    pool_exhausted,
    redact_credentials,
    unreadable_body,
)
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
"""Read/write/pool 20 s, connect 5 s: a WMS can be slow to create an order, but an address
that does not answer within 5 s is not going to. (aiohttp has no write timeout: a send that
stalls is cut by the deadline.)"""

DEFAULT_DEADLINE = 60.0
"""Seconds one request may take in all — waiting for a free connection, connecting, sending and
reading the whole body. The read timeout alone does not bound it: a remote that trickles its
answer a byte at a time never leaves a read idle for 20 s."""

DEFAULT_MAX_BODY = 32 * 1024 * 1024
"""Bytes of a response body, once decoded, that are read at most. The largest page we ask for
(250 shop orders) is a few MB; a 1 MB gzip bomb would otherwise grow into gigabytes."""

ACCEPTED_ENCODINGS = "gzip, deflate"
"""What we ask remotes to compress with: the two we decode ourselves, under the size cap."""


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
        deadline: float | None = None,
        max_body: int | None = None,
    ) -> None:
        if isinstance(timeout, int | float):
            timeout = make_timeout(read=float(timeout))
        self.deadline = deadline or DEFAULT_DEADLINE
        self.max_body = max_body or DEFAULT_MAX_BODY
        self._transport = transport or AiohttpTransport(max_connections)
        self.client = _CookielessClient(
            base_url=base_url.rstrip("/"),
            headers={"Accept-Encoding": ACCEPTED_ENCODINGS, **(headers or {})},
            timeout=timeout or DEFAULT_TIMEOUT,
            transport=self._transport,
            follow_redirects=False,
        )
        self._headers = [
            (name.decode("latin-1").lower(), name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.client.headers.raw
        ]
        """The client's headers as it sends them (names in their own case), keyed lower-case."""
        self._extensions = {"timeout": self.client.timeout.as_dict()}
        # Our own gate in front of the pool: it enforces the pool timeout (aiohttp counts the
        # wait for a connection into its connect timeout), and requests queued here cost
        # nothing until a connection is free, whatever transport a test hands in.
        self._slots = asyncio.Semaphore(max_connections)
        self._targets: dict[str, httpx.URL] = {}
        self._secrets = [secret for secret in secrets if len(secret) >= _MIN_SECRET_LENGTH]
        self._tokens: deque[str] = deque(maxlen=4)

    def add_token(self, token: str) -> None:
        """Also redact a freshly issued bearer token from messages (the last few are kept)."""
        if len(token) >= _MIN_SECRET_LENGTH and token not in self._tokens:
            self._tokens.append(token)

    async def request(
        self,
        method: str,
        url: str,
        *,
        call: CallKind,
        auth: httpx.Auth | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request and read its whole body, within the deadline and the size cap.

        Transport failures, a deadline that passes and a body over the cap leave as
        ConnectorError; responses of any status come back, fully read, for the caller to judge
        (a 401 may deserve a token refresh)."""
        try:
            async with asyncio.timeout(self.deadline):
                await self._take_slot()
                try:
                    return await self._exchange(method, url, auth, kwargs)
                finally:
                    self._slots.release()
        except TimeoutError:
            raise self.error(self._deadline_passed(call)) from None
        except httpx.HTTPError as exc:
            raise self.error(failure_from_exception(exc, call)) from exc
        except _BodyProblem as exc:
            raise self.error(self._body_refused(exc, call)) from None

    def _deadline_passed(self, call: CallKind) -> Failure:
        """The whole request outlasted its deadline (a trickling or stalled remote). On a send
        the remote may have acted, so the outcome is unknown."""
        message = (
            f"no complete response from {origin(self.client.base_url)} within "
            f"{self.deadline:g} s (the deadline for a whole request): the remote answers too "
            "slowly or not at all"
        )
        return Failure(_lost_answer_class(call), AlertKind.REMOTE_ERROR, message)

    def _body_refused(self, problem: _BodyProblem, call: CallKind) -> Failure:
        response = problem.response
        content_type = redact_credentials(response.headers.get("content-type", "")[:200])
        message = (
            f"unreadable response from {origin(self.client.base_url)} "
            f"(HTTP {response.status_code}, {content_type or 'no content type'}): {problem.reason}"
        )
        return Failure(
            _lost_answer_class(call), AlertKind.BAD_RESPONSE, message, status=response.status_code
        )

    async def _exchange(
        self, method: str, url: str, auth: httpx.Auth | None, kwargs: dict[str, Any]
    ) -> httpx.Response:
        target = self._target(url)
        if self.client.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        if auth is None and kwargs.keys() <= _DIRECT_OPTIONS:
            # What AsyncClient.send adds — auth flows, redirects, hooks, cookies, mounts (a
            # client given a transport has none, nor takes a proxy from the environment) —
            # is nothing here, and cost a third of the CPU httpx spent on a request.
            request = self._request(method, target, **kwargs)
            try:
                streamed = await self._transport.handle_async_request(request)
            except httpx.HTTPError as exc:
                _name_request(exc, request)
                raise
        else:
            request = self.client.build_request(method, target, **kwargs)
            streamed = await self.client.send(
                request, auth=auth or httpx.USE_CLIENT_DEFAULT, stream=True
            )
        try:
            body = await _read_capped(streamed, self.max_body)
        except httpx.HTTPError as exc:
            _name_request(exc, request)
            raise
        finally:
            await streamed.aclose()
        return _read_response(streamed, body, request)

    def _request(
        self,
        method: str,
        target: httpx.URL,
        *,
        headers: dict[str, str] | None = None,
        params: Any = None,
        json: Any = None,
        content: bytes | str | None = None,
    ) -> httpx.Request:
        """The request ``AsyncClient.build_request`` builds — the client's headers with these
        on top, ``Host``, the body's length and type, the client's timeouts — put together
        from what the client holds instead of merged anew on every request."""
        url = target if params is None else httpx.URL(target, params=params)
        fields = [("Host", url.netloc.decode("ascii"))]
        replaced = {name.lower() for name in headers} if headers else set()
        fields.extend((name, value) for key, name, value in self._headers if key not in replaced)
        if headers:
            fields.extend(headers.items())
        body = _encoded(json) if json is not None else content
        if isinstance(body, str):
            body = body.encode()
        if body or method in _SENDS_A_BODY:
            fields.append(("Content-Length", str(len(body or b""))))
        if json is not None and "content-type" not in replaced:
            fields.append(("Content-Type", "application/json"))
        # A whole body as a ByteStream: the transport sends it with its length, as it does a
        # request httpx has read, without read() passing it through once more.
        return httpx.Request(
            method,
            url,
            headers=fields,
            stream=httpx.ByteStream(body or b""),
            extensions=self._extensions,
        )

    def _target(self, url: str) -> httpx.URL:
        """``url`` under the base URL, merged as httpx merges it, parsed once per distinct URL:
        parsing it twice on every request was a tenth of the request's CPU."""
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= _TARGETS_KEPT:
                self._targets.clear()
            target = self._targets[url] = _merged(self.client.base_url, url)
        return target

    async def _take_slot(self) -> None:
        """Wait for a free connection as long as the pool timeout allows (TRANSIENT after:
        nothing was sent). A free one is taken at once: ``wait_for`` costs a task."""
        if not self._slots.locked():
            await self._slots.acquire()
            return
        wait = self.client.timeout.pool
        try:
            await asyncio.wait_for(self._slots.acquire(), wait)
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


class _CookielessClient(httpx.AsyncClient):
    """httpx's client without its cookie jar. The APIs we call authenticate every request by
    token; a cookie a remote sets (a load balancer's) is state we have no use for, and reading
    every answer into urllib's cookie machinery cost 8% of a request's CPU."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Cookies handed to the client are dropped like the remote's."""


class _NoCookies(httpx.Cookies):
    """A jar no answer fills: ``Set-Cookie`` is not even parsed."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_BODY_FRAMING = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
"""Headers that describe the body as it came over the wire, not the decoded body we keep."""

_SENDS_A_BODY = frozenset({"POST", "PUT", "PATCH"})
"""Methods whose request says its length even when empty, as httpx's does."""

_DIRECT_OPTIONS = frozenset({"headers", "params", "json", "content"})
"""What a request sent straight to the transport may carry; anything else goes through the
client."""

_TARGETS_KEPT = 512
"""Parsed URLs kept per connection; paths that carry ids (``/orders/123``) would grow the
cache without end, so it starts again when full."""


def _encoded(document: Any) -> bytes:
    """JSON as httpx writes it: compact, UTF-8, no NaN."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _merged(base: httpx.URL, url: str) -> httpx.URL:
    """httpx's own merge (``AsyncClient._merge_url``): a relative URL is appended to the base
    URL's path, which httpx keeps ending in ``/``; an absolute one stands."""
    target = httpx.URL(url)
    if not target.is_relative_url:
        return target
    return base.copy_with(raw_path=base.raw_path + target.raw_path.lstrip(b"/"))


class _BodyProblem(Exception):
    """A response body we will not read: over the size cap, or in an encoding we never asked
    for."""

    def __init__(self, response: httpx.Response, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The whole body, decoded, or _BodyProblem as soon as it passes ``limit`` bytes.

    Decoding is done here, in bounded steps, rather than by httpx: its gzip decoder inflates
    each network chunk whole, so 64 KB of a gzip bomb became 64 MB in one call.
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater = _inflater(encoding)
    if inflater is False:
        raise _BodyProblem(response, f"the body is in an encoding we did not ask for ({encoding})")
    parts: list[bytes] = []
    size = 0
    async for raw in _raw_chunks(response):
        pieces = [raw] if inflater is None else _inflate(inflater, raw, limit - size)
        for piece in pieces:
            size += len(piece)
            if size > limit:
                raise _BodyProblem(
                    response, f"the body is larger than {_megabytes(limit)} once decoded: not read"
                )
            parts.append(piece)
    if inflater is not None:
        tail = inflater.flush()
        size += len(tail)
        if size > limit:
            raise _BodyProblem(
                response, f"the body is larger than {_megabytes(limit)} once decoded: not read"
            )
        parts.append(tail)
    return b"".join(parts)


def _read_response(streamed: httpx.Response, body: bytes, request: httpx.Request) -> httpx.Response:
    """The response as the caller gets it: read, decoded, its headers describing that body."""
    headers = [
        (name, value) for name, value in streamed.headers.raw if name.lower() not in _BODY_FRAMING
    ]
    headers.append((b"Content-Length", str(len(body)).encode()))
    response = httpx.Response(
        streamed.status_code,
        headers=headers,
        stream=httpx.ByteStream(body),
        request=request,
        extensions=streamed.extensions,
    )
    # What ``read()`` stores, without passing the body through httpx's decoder and chunker
    # once more (it was read and decoded above): that pass cost a tenth of a request's CPU.
    # tests/test_http_transport.py holds httpx to it.
    response._content = body
    return response


def _raw_chunks(response: httpx.Response) -> AsyncIterable[bytes]:
    """The body as the transport hands it over: ``aiter_raw`` only re-chunks it (to no size)
    and counts it, which was a tenth of a request's CPU. Closing stays with the caller."""
    stream = response.stream
    return stream if isinstance(stream, httpx.AsyncByteStream) else response.aiter_raw()


def _name_request(exc: httpx.HTTPError, request: httpx.Request) -> None:
    """Have ``exc`` name the request it failed (its host and timeouts go into the alert), as
    the client's own sending does."""
    try:
        exc.request  # noqa: B018 - raises when the transport left it unset
    except RuntimeError:
        exc.request = request


def _inflater(encoding: str) -> Any:
    """A zlib decompressor for the encoding; None for identity; False for anything else."""
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib-wrapped, as the RFC says
    return False


def _inflate(inflater: Any, data: bytes, room: int) -> list[bytes]:
    """Inflate ``data`` in pieces of at most ``room + 1`` bytes, stopping once past ``room``:
    memory stays bounded by the cap however dense the compression."""
    pieces: list[bytes] = []
    produced = 0
    try:
        while data:
            piece = inflater.decompress(data, max(room - produced, 0) + 1)
            pieces.append(piece)
            produced += len(piece)
            if produced > room:
                break
            data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise httpx.DecodingError(f"the compressed body is corrupt ({exc})") from exc
    return pieces


def _lost_answer_class(call: CallKind) -> FailureClass:
    """A request that went out but whose answer we do not have: on a send the remote may have
    acted (look it up before sending again); a read is simply retried."""
    return FailureClass.OUTCOME_UNKNOWN if call is CallKind.SEND else FailureClass.TRANSIENT


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"
