"""A hostile remote on loopback: an HTTP/1.1 server of its own (no framework to soften it) that
answers each route with what a broken or malicious shop or WMS could send — a body trickled a
byte at a time, no answer at all, a gzip bomb, JSON nested past Python's recursion limit, an
HTML page of unclosed tags, an error page echoing the request's credentials.

It runs on its own thread and event loop, so the code under test, on the test's loop, talks to
it over real sockets exactly as it would to a remote system::

    with HostileRemote({("GET", "/orders"): trickle(b"{}", every=1.0)}) as remote:
        connector = ThreePLWarehouse(remote.url, ...)
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """The path without its query."""
    query: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    every: float | None = None
    """Send the body ``chunk`` bytes at a time with this many seconds between sends."""
    chunk: int = 1
    hang: bool = False
    """Read the request, then send nothing, ever (until the server stops)."""
    delay: float = 0.0
    """Seconds before the answer starts."""


Route = Reply | Callable[[Request], Reply]


def json_reply(status: int, payload: Any, **headers: str) -> Reply:
    return Reply(
        status, {"content-type": "application/json", **headers}, json.dumps(payload).encode()
    )


def text_reply(status: int, text: str, content_type: str = "text/plain") -> Reply:
    return Reply(status, {"content-type": content_type}, text.encode())


def trickle(body: bytes, *, every: float = 1.0, status: int = 200) -> Reply:
    """A 200 whose body arrives one byte per ``every`` seconds: each read is quick, the whole
    never is."""
    return Reply(status, {"content-type": "application/json"}, body, every=every)


def never_answers() -> Reply:
    return Reply(hang=True)


def gzip_bomb(decoded_bytes: int = 1024**3) -> Reply:
    """A 200 JSON body that is ~1 MB on the wire and ``decoded_bytes`` once gunzipped."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    block = b" " * (1 << 20)
    parts = [compressor.compress(block) for _ in range(decoded_bytes // len(block))]
    parts.append(compressor.flush())
    return Reply(
        200,
        {"content-type": "application/json", "content-encoding": "gzip"},
        b"".join(parts),
    )


def nested_json(depth: int = 100_000) -> Reply:
    return Reply(200, {"content-type": "application/json"}, b"[" * depth + b"]" * depth)


def unclosed_script_page(size: int = 240_000, status: int = 500) -> Reply:
    """An HTML error page made of ``<script>`` tags that never close."""
    unit = b"<script>x"
    return Reply(status, {"content-type": "text/html"}, unit * (size // len(unit)))


def echo_credentials(status: int = 500) -> Reply | Callable[[Request], Reply]:
    """An error page that quotes the request's Authorization header back, as some debugging
    proxies and framework error pages do."""

    def reply(request: Request) -> Reply:
        authorization = request.headers.get("authorization", "")
        return text_reply(
            status, f"Internal error. Request headers: Authorization: {authorization}"
        )

    return reply


def gzipped(reply: Reply) -> Reply:
    return Reply(
        reply.status,
        {**reply.headers, "content-encoding": "gzip"},
        gzip.compress(reply.body),
    )


class HostileRemote:
    """Serve ``routes`` — (method, path) → Reply or a function of the request — on loopback.

    A path not listed gets ``default`` (a 404 unless given). ``requests`` records what came in,
    for assertions.
    """

    def __init__(self, routes: dict[tuple[str, str], Route], *, default: Route | None = None):
        self.routes = dict(routes)
        self.default = default or json_reply(404, {"error": "not found"})
        self.requests: list[Request] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileRemote:
        self._thread = threading.Thread(target=self._run, name="hostile-remote", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile remote did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=1 << 20)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                route = self.routes.get((request.method, request.path), self.default)
                reply = route(request) if callable(route) else route
                if not await _answer(writer, reply):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # a stop ends every handler quietly: the client sees the connection drop
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    path, _, query = target.partition("?")
    return Request(method, path, query, headers, body)


async def _answer(writer: asyncio.StreamWriter, reply: Reply) -> bool:
    """Send the reply; False when the connection must close afterwards."""
    if reply.hang:
        await asyncio.Event().wait()  # until the server stops
    if reply.delay:
        await asyncio.sleep(reply.delay)
    headers = {"content-length": str(len(reply.body)), **reply.headers}
    head = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    writer.write(head.encode("latin-1"))
    if reply.every is None:
        writer.write(reply.body)
        await writer.drain()
        return True
    await writer.drain()
    for start in range(0, len(reply.body), reply.chunk):
        await asyncio.sleep(reply.every)
        writer.write(reply.body[start : start + reply.chunk])
        await writer.drain()
    return True


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
