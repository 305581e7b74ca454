"""One process's running product: the engine's cycle and the email jobs (the outbox sender and
the digest composer, from the notify layer) on one APScheduler, started and stopped together.

``imtui worker``, the dashboard and the demo all run a :class:`Service`; nothing else starts
schedulers, so the three behave the same.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from imtui.engine.runtime import Engine, settle_heap
from imtui.engine.scheduler import EngineScheduler
from imtui.notify.mailer import Mailer
from imtui.notify.settings import EmailSettings

OUTBOX_JOB_ID = "imtui-outbox"
DIGEST_JOB_ID = "imtui-digests"


class Service:
    def __init__(
        self,
        engine: Engine,
        *,
        tick_seconds: float = 5.0,
        email: EmailSettings | None = None,
        mail_tick_seconds: float = 5.0,
        digest_tick_seconds: float = 30.0,
    ) -> None:
        """``email`` None reads the IMTUI_SMTP_* environment; unusable settings turn sending
        off (logged once) rather than stopping the engine."""
        self.engine = engine
        self.scheduler = EngineScheduler(engine, tick_seconds=tick_seconds)
        self.mailer = Mailer(engine.db, clock=engine.clock, owner=engine.owner, settings=email)
        self.mail_tick_seconds = mail_tick_seconds
        self.digest_tick_seconds = digest_tick_seconds

    async def start(self) -> int:
        """Take back leases of dead workers on this host (retry queue and outbox), then start
        the periodic jobs. Returns how many leases were freed."""
        freed = await self.engine.recover()
        freed += await self.mailer.recover()
        settle_heap()
        self.scheduler.start()
        jobs = self.scheduler.scheduler
        for job_id, run, seconds in (
            (OUTBOX_JOB_ID, self.mailer.send_job, self.mail_tick_seconds),
            (DIGEST_JOB_ID, self.mailer.digest_job, self.digest_tick_seconds),
        ):
            jobs.add_job(
                run,
                "interval",
                seconds=seconds,
                id=job_id,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
                misfire_grace_time=None,
            )
        return freed

    def wake(self) -> None:
        """Run the next cycle now (after a resend, an edit, a new mapping)."""
        self.scheduler.wake()

    async def stop(self, grace: float = 30.0) -> None:
        """Let the cycle and the email being sent record their outcomes (up to ``grace``
        seconds in all), then stop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if self.scheduler.scheduler.running:
            self.scheduler.scheduler.pause()
        await self.mailer.stop(grace)
        await self.scheduler.stop(grace=max(0.0, deadline - loop.time()))
        await self.engine.aclose()
