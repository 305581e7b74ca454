"""Pacing a connection's calls to the remote's own rate limit, so it rarely says 429.

Shopify meters each app on each shop with a leaky bucket (REST: 40 calls, draining 2 a second;
``X-Shopify-Shop-Api-Call-Limit: 32/40`` on every answer says how full it is). Sending as fast
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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

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


_reserved: contextvars.ContextVar[int] = contextvars.ContextVar("imtui_reserved_calls", default=0)


class CallPacer:
    """A model of the remote's leaky bucket, and the queue of calls waiting for room in it."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        capacity: int = DEFAULT_CAPACITY,
        rate: float = DEFAULT_RATE,
    ) -> None:
        self._clock = clock
        self.capacity = capacity
        self.rate = rate
        self._level = 0.0
        self._at = clock()
        self._unanswered = 0
        """Calls sent whose answers have not come back: the remote's own count after an
        answer does not hold them yet."""
        self._paused_until = 0.0
        self._pause_words = ""
        self._turn = asyncio.Lock()  # waiters are served in the order they came
        self.waited = 0.0
        """Seconds calls spent waiting for room, in all (for benchmarks and tests)."""
        self.limited = 0
        """429 answers met."""

    async def take(self, calls: int = 1) -> None:
        """Wait until the bucket has room for ``calls`` calls, then count them as sent; raise
        :class:`Paused` when the remote asked for a longer pause than a call sits out."""
        self._check_pause()
        if _reserved.get() > 0:
            _reserved.set(_reserved.get() - 1)  # one of the calls its push already took
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
                room = self.capacity - HEADROOM - self._level
                if wait <= 0 and room >= min(calls, self.capacity - HEADROOM):
                    self._level += calls
                    self._unanswered += calls
                    return
                if wait <= 0:
                    wait = (calls - room) / self.rate
                self.waited += wait
                await asyncio.sleep(wait)

    @asynccontextmanager
    async def back_to_back(self, calls: int) -> AsyncIterator[None]:
        """Take room for ``calls`` calls at once; the calls made inside take none again."""
        await self.take(calls)
        token = _reserved.set(calls)
        try:
            yield
        finally:
            _reserved.reset(token)

    def observe(self, call_limit: str | None) -> None:
        """One call came back (or failed without an answer): read the bucket's state from its
        call-limit header (``"32/40"``), when it has one."""
        self._unanswered = max(0, self._unanswered - 1)
        used, capacity = _parse_call_limit(call_limit)
        if capacity is None or used is None:
            return
        if capacity != self.capacity:
            self.capacity = capacity
            self.rate = capacity / SECONDS_TO_DRAIN
        self._drain(self._clock())
        # The remote's count, plus what we sent that it had not counted when it answered.
        self._level = float(used + self._unanswered)

    def pause(self, seconds: float | None, words: str = "") -> None:
        """The remote said 429 (in ``words``): no call on this connection for ``seconds`` (a
        second if it did not say), and the bucket is taken as full."""
        self.limited += 1
        self._pause_words = words
        now = self._clock()
        self._drain(now)
        self._paused_until = max(self._paused_until, now + (seconds if seconds else 1.0))
        self._level = float(self.capacity)

    def _check_pause(self) -> None:
        remaining = self._paused_until - self._clock()
        if remaining > LONGEST_PAUSE_WAITED:
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
