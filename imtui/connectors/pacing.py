"""Pacing a connection's calls to the remote's own rate limit, so it rarely says 429.

Shopify meters each app on each shop with a bucket. REST (legacy): 40 calls, draining 2 a
second; ``X-Shopify-Shop-Api-Call-Limit: 32/40`` on every answer says how full it is. GraphQL:
1,000 query-cost points restoring 50 a second; every answer's ``extensions.cost`` carries the
``throttleStatus`` (maximumAvailable, currentlyAvailable, restoreRate), and a query needing
more points than are available is answered THROTTLED. The same model serves both: its units are
calls for REST and points for GraphQL (a query takes its requested cost; the answer's status then
says what the shop really kept, its actual cost). Sending as fast
as the engine can — 64 tracking pushes at once, each a GET then a POST — drains the bucket with
the GETs, and the POSTs meet 429: about one fulfilment got through per polling cycle.
:class:`CallPacer` keeps a model of that bucket per connection, fed by every answer, and makes
each call wait its turn (first come, first served) until the bucket has room. A 429 pauses the
whole connection for the Retry-After, not just the call that met it. A push that needs several
calls takes them all at once, so they run back to back instead of queueing behind other pushes'
first calls.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from imtui.connectors.errors import parse_retry_after
from imtui.domain.failures import AlertKind, ConnectorError, Failure, FailureClass

DEFAULT_CAPACITY = 40
DEFAULT_RATE = 2.0
"""Shopify's standard REST bucket; Plus shops have 80 at 4/s (the header tells which)."""

SECONDS_TO_DRAIN = 20.0
"""Shopify's buckets empty in 20 s whatever their size (40 at 2/s, 80 at 4/s)."""

HEADROOM = 2
"""Calls left unused in the bucket: room for another client of the same app (a second worker)
and for the calls already sent whose answers have not updated our model."""

LONGEST_PAUSE_WAITED = 10.0
"""A pause the remote asks for (Retry-After) that calls sit out; past this, they fail at once as
rate limited with the time to wait, and the engine tries them again after it (B5)."""


class Paused(Exception):
    """The connection is paused longer than a call should wait."""

    def __init__(self, remaining: float, words: str) -> None:
        super().__init__(f"paused for {remaining:.0f} s more")
        self.remaining = remaining
        self.words = words
        """The remote's own words when it asked for the pause."""


_reserved: contextvars.ContextVar[float] = contextvars.ContextVar(
    "imtui_reserved_calls", default=0.0
)


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    """GraphQL's ``extensions.cost.throttleStatus``: the bucket as the shop saw it when it
    answered (after charging that query's actual cost)."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_cost(cls, cost: Any) -> ThrottleStatus | None:
        """Read ``extensions.cost``; None when it is missing or not numbers we can use."""
        status = cost.get("throttleStatus") if isinstance(cost, dict) else None
        if not isinstance(status, dict):
            return None
        values = [
            status.get(key) for key in ("maximumAvailable", "currentlyAvailable", "restoreRate")
        ]
        numbers = [
            float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if len(numbers) != len(values):
            return None
        maximum, available, rate = numbers
        if not (0 < maximum <= 1_000_000 and 0 <= available <= maximum and 0 < rate <= 1_000_000):
            return None
        return cls(maximum, available, rate)

    def seconds_until(self, points: float) -> float:
        """How long until ``points`` are available at the restore rate."""
        return max(0.0, (points - self.currently_available) / self.restore_rate)


class CallPacer:
    """A model of the remote's leaky bucket, and the queue of calls waiting for room in it."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        capacity: float = DEFAULT_CAPACITY,
        rate: float = DEFAULT_RATE,
        headroom: float = HEADROOM,
        longest_pause: float = LONGEST_PAUSE_WAITED,
    ) -> None:
        self._clock = clock
        self.capacity = capacity
        self.rate = rate
        self.headroom = headroom
        """Units left unused (see :data:`HEADROOM`)."""
        self.longest_pause = longest_pause
        """A pause calls sit out; past it they fail at once (see :data:`LONGEST_PAUSE_WAITED`)."""
        self._level = 0.0
        self._at = clock()
        self._unanswered = 0.0
        """Calls sent whose answers have not come back: the remote's own count after an
        answer does not hold them yet."""
        self._paused_until = 0.0
        self._pause_words = ""
        self._turn = asyncio.Lock()  # waiters are served in the order they came
        self.waited = 0.0
        """Seconds calls spent waiting for room, in all (for benchmarks and tests)."""
        self.limited = 0
        """429 answers met."""

    async def take(self, calls: float = 1) -> None:
        """Wait until the bucket has room for ``calls`` units, then count them as sent; raise
        :class:`Paused` when the remote asked for a longer pause than a call sits out."""
        self._check_pause()
        if _reserved.get() >= calls:
            _reserved.set(_reserved.get() - calls)  # part of what its push already took
            pause = self._paused_until - self._clock()
            if pause > 0:  # but a 429 since then holds it too
                self.waited += pause
                await asyncio.sleep(pause)
            return
        async with self._turn:
            while True:
                self._check_pause()
                now = self._clock()
                self._drain(now)
                wait = self._paused_until - now
                room = self.capacity - self.headroom - self._level
                if wait <= 0 and room >= min(calls, self.capacity - self.headroom):
                    self._level += calls
                    self._unanswered += calls
                    return
                if wait <= 0:
                    wait = (calls - room) / self.rate
                self.waited += wait
                await asyncio.sleep(wait)

    @asynccontextmanager
    async def back_to_back(self, calls: float) -> AsyncIterator[None]:
        """Take room for ``calls`` units at once; the calls made inside take none again. What
        they did not use (a push that stopped after its look) is given back at the end."""
        await self.take(calls)
        token = _reserved.set(calls)
        try:
            yield
        finally:
            unused = _reserved.get()
            _reserved.reset(token)
            if unused > 0:
                self._unanswered = max(0.0, self._unanswered - unused)
                self._level = max(0.0, self._level - unused)

    def observe(self, call_limit: str | None, calls: float = 1) -> None:
        """One call came back (or failed without an answer): read the bucket's state from its
        call-limit header (``"32/40"``), when it has one."""
        self._unanswered = max(0.0, self._unanswered - calls)
        used, capacity = _parse_call_limit(call_limit)
        if capacity is None or used is None:
            return
        if capacity != self.capacity:
            self.capacity = capacity
            self.rate = capacity / SECONDS_TO_DRAIN
        self._drain(self._clock())
        # The remote's count, plus what we sent that it had not counted when it answered.
        self._level = float(used + self._unanswered)

    def observe_cost(self, status: ThrottleStatus | None, reserved: float) -> None:
        """One GraphQL query came back (or failed without an answer) after taking ``reserved``
        points: the shop's throttle status, when it sent one, replaces our model of the bucket
        (its size and restore rate too), plus the points still out with unanswered queries."""
        self._unanswered = max(0.0, self._unanswered - reserved)
        if status is None:
            return
        self.capacity = status.maximum_available
        self.rate = status.restore_rate
        self._drain(self._clock())
        used = status.maximum_available - status.currently_available
        self._level = min(self.capacity, used + self._unanswered)

    def pause(self, seconds: float | None, words: str = "", *, full: bool = True) -> None:
        """The remote said 429 or THROTTLED (in ``words``): no call on this connection for
        ``seconds`` (a second if it did not say). ``full``: take the bucket as full (a 429 says
        no more); a THROTTLED answer's status has already said how full it is."""
        self.limited += 1
        self._pause_words = words
        now = self._clock()
        self._drain(now)
        self._paused_until = max(self._paused_until, now + (seconds if seconds else 1.0))
        if full:
            self._level = float(self.capacity)

    def _check_pause(self) -> None:
        remaining = self._paused_until - self._clock()
        if remaining > self.longest_pause:
            raise Paused(remaining, self._pause_words)

    def _drain(self, now: float) -> None:
        self._level = max(0.0, self._level - (now - self._at) * self.rate)
        self._at = now


def _parse_call_limit(value: str | None) -> tuple[int | None, int | None]:
    if not value or "/" not in value:
        return None, None
    used, _, capacity = value.partition("/")
    try:
        parsed = int(used.strip()), int(capacity.strip())
    except ValueError:
        return None, None
    if parsed[1] <= HEADROOM or parsed[0] < 0 or parsed[1] > 100_000:
        return None, None
    return parsed


RATE_LIMIT_TRIES = 3
"""Tries of one call that met 429s (each after the pause it asked for) before it fails."""


async def sit_out_rate_limits(
    pacer: CallPacer,
    send: Callable[[], Awaitable[httpx.Response]],
    words_of: Callable[[httpx.Response], str],
    limit_of: Callable[[httpx.Response], str | None] = lambda response: None,
) -> httpx.Response:
    """``send()`` in its turn; a 429 pauses every call of the connection for its Retry-After
    (a second if it said none) and the call is made again — a 429 was not processed, so that is
    safe for a send too — up to :data:`RATE_LIMIT_TRIES` times, or until the pause asked for is
    longer than calls sit out. What is left is the last answer, for the caller to turn into a
    rate-limit failure (one connection alert, not one per record). ``words_of`` gives the
    remote's words for a 429; ``limit_of`` the bucket's state an answer carries (REST's
    call-limit header), if any."""
    tries = 0
    while True:
        try:
            await pacer.take()
        except Paused as paused:
            raise ConnectorError(
                Failure(
                    FailureClass.TRANSIENT,
                    AlertKind.RATE_LIMITED,
                    paused.words or f"the remote asked for a pause: {paused.remaining:.0f} s",
                    status=429,
                    retry_after=paused.remaining,
                )
            ) from None
        limit = None
        try:
            response = await send()
            limit = limit_of(response)
        finally:
            pacer.observe(limit)
        tries += 1
        if response.status_code != 429:
            return response
        wait = parse_retry_after(response.headers.get("retry-after"))
        pacer.pause(wait, words_of(response))
        if tries == RATE_LIMIT_TRIES or (wait or 0.0) > pacer.longest_pause:
            return response


def unmetered(clock: Callable[[], float]) -> CallPacer:
    """A pacer for a remote that publishes no bucket (the 3PL WMS): no pacing, only the pauses
    its 429 answers ask for."""
    return CallPacer(clock, capacity=1e12, rate=1e12, headroom=0.0)
