"""Where log lines go and how they look: UTC stamps, remote text made harmless to a terminal,
passwords in URLs masked. Light on purpose: the dashboard sets its log up before anything heavy
is imported."""

from __future__ import annotations

import logging
import sys
import time

from imtui.domain.text import hide_url_passwords, printable

QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "alembic")
"""Chatty per-request/per-tick loggers: warnings only."""


class SafeFormatter(logging.Formatter):
    """UTC timestamps; remote text made harmless to a terminal; passwords in URLs masked."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime(datefmt or "%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))

    def format(self, record: logging.LogRecord) -> str:
        return hide_url_passwords(printable(super().format(record), keep_newlines=True))


def setup_logging() -> None:
    """Timestamped UTC lines on stderr. Credentials are never logged: the engine logs ids and
    remote messages, never connection settings."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        SafeFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
