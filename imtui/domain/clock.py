"""What "the time" is to every layer: something with ``now()``. The engine owns the clocks
(:mod:`imtui.engine.clock`: the system's and the tests' fake one); notify, which does not import
the engine, is handed one."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...
