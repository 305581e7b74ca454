"""Stopping cleanly on a signal: a worker on SIGINT/SIGTERM, the dashboard and the demo on
SIGHUP/SIGTERM too (an SSH session that drops hangs up its terminal) — so leases are released,
the engine records what it was doing, and the demo's temporary folder is removed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM)
TERMINAL_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def on_stop_signals(stop: Callable[[], object], signals: tuple[signal.Signals, ...]) -> None:
    """Call ``stop`` (on the running loop) when one of ``signals`` arrives."""
    loop = asyncio.get_running_loop()
    for signum in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop)
