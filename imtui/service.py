"""One process's running product: the engine's cycle (and the email jobs, with the notify
layer) on one APScheduler, started and stopped together.

``imtui worker``, the dashboard and the demo all run a :class:`Service`; nothing else starts
schedulers, so the three behave the same.
"""

from __future__ import annotations

from imtui.engine.runtime import Engine
from imtui.engine.scheduler import EngineScheduler


class Service:
    def __init__(self, engine: Engine, *, tick_seconds: float = 5.0) -> None:
        self.engine = engine
        self.scheduler = EngineScheduler(engine, tick_seconds=tick_seconds)

    async def start(self) -> int:
        """Take back leases of dead workers on this host, then start the periodic jobs.
        Returns how many leases were freed."""
        freed = await self.engine.recover()
        self.scheduler.start()
        return freed

    def wake(self) -> None:
        """Run the next cycle now (after a resend, an edit, a new mapping)."""
        self.scheduler.wake()

    async def stop(self, grace: float = 30.0) -> None:
        """Let the cycle in progress record its outcomes (up to ``grace`` seconds), then stop."""
        await self.scheduler.stop(grace=grace)
        await self.engine.aclose()
