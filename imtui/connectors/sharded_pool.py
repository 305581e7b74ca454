"""A connection pool made of several small httpcore pools, for many concurrent requests.

httpcore's pool re-examines every connection (a ``poll`` syscall and a dict build each) and, in
1.0.x, builds an O(n) list per connection on every request start and finish, so the CPU cost of
one request grows with the square of the pool size. Measured with the sandbox in the same
process at 50 ms latency, creating orders through one 100-connection pool ran at 90-150
orders/s; through twenty 5-connection pools, 650-750 orders/s. This transport keeps the
connector's one :class:`httpx.AsyncClient` and its connection limit, and sends each request to
the least busy small pool.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import httpx

SHARD_SIZE = 5
"""Connections per small pool: small enough that the per-request scan stays cheap, large
enough that a low connection limit still uses one or two pools."""


class ShardedPoolTransport(httpx.AsyncBaseTransport):
    """``max_connections`` connections to one origin, split over pools of :data:`SHARD_SIZE`."""

    def __init__(self, max_connections: int, *, shard_size: int = SHARD_SIZE) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        count = math.ceil(max_connections / shard_size)
        sizes = [
            max_connections // count + (1 if i < max_connections % count else 0)
            for i in range(count)
        ]
        ssl_context = httpx.create_ssl_context()  # loading the CA bundle once, not per pool
        self._shards = [
            httpx.AsyncHTTPTransport(
                verify=ssl_context,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for size in sizes
        ]
        self._busy = [0] * count
        """Requests each pool is serving, counted until the response body is closed (the
        connection is busy until then)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self._busy.__getitem__)
        self._busy[index] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._busy[index] -= 1

        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        if not isinstance(response.stream, httpx.AsyncByteStream):  # never, from the async pool
            release()
            raise TypeError("an async transport returned a sync body")
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that tells its pool's counter when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()
