"""The one source of time. Everything that asks "what time is it" asks a Clock, so tests can
run fifteen days of hourly retries in seconds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from imtui.domain.clock import Clock

__all__ = ["Clock", "FakeClock", "SystemClock"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


class ScaledClock:
    """Time that runs ``factor`` times faster than the wall clock, from ``start``: the demo uses
    it so an hour of retries passes in seconds while everything else behaves as in production."""

    def __init__(self, factor: float, start: datetime | None = None) -> None:
        import time

        self._monotonic = time.monotonic
        self._origin = self._monotonic()
        self._start = start or datetime.now(UTC)
        self.factor = factor

    def now(self) -> datetime:
        elapsed = self._monotonic() - self._origin
        return self._start + timedelta(seconds=elapsed * self.factor)

    def from_wall(self, when: datetime) -> datetime:
        """A wall-clock instant (the scheduler's next run) as this clock will read it then."""
        return self.now() + (when - datetime.now(UTC)) * self.factor


def speed_of(clock: Clock) -> float | None:
    """How many times faster than the wall clock ``clock`` runs, if it is scaled (the demo)."""
    return clock.factor if isinstance(clock, ScaledClock) else None


def reading_at(clock: Clock, when: datetime) -> datetime:
    """A wall-clock instant as ``clock`` will read it: the same but on a scaled clock."""
    return clock.from_wall(when) if isinstance(clock, ScaledClock) else when
