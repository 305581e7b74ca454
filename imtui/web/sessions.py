"""The browser sessions ``imtui serve`` holds (docs/design.md, "Browser mode"): one per
emailed link opened, each known by a random cookie and bound to that link's one alert.

Bounded three ways: at most :attr:`Sessions.cap` run an app (a process each) at once; a
session nobody typed into for :attr:`Sessions.idle` ends; and none outlives its link. Kept in
memory only: a server that restarts ends every session (the link is used, so a new one comes
with the next email, or an engineer opens the alert at a shell).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from imtui.domain.emails import one_line

COOKIE = "imtui_session"
ACTOR_ADDRESS = 180
"""The most of the recipient's address the audit's actor keeps (it holds 200)."""
IDLE = timedelta(minutes=15)
"""A session nobody typed into for this long ends (IMTUI_SERVE_IDLE_MINUTES)."""
CAP = 8
"""Sessions running an app at once (IMTUI_SERVE_SESSIONS): each is a process."""
LONGEST = timedelta(hours=8)
"""No session lasts longer, whatever its link's expiry."""
HELD_PER_RUNNING = 8
"""Sessions kept (running or not) per running one allowed: the most memory they can take."""


@dataclass(slots=True, eq=False)
class BrowserSession:
    key: str
    """The cookie's value: 256 random bits."""
    alert_id: int
    account_id: int
    recipient: str
    """Whom the link was emailed to: the audit names them ("… via emailed link")."""
    digest: str
    """The digest of the link that opened it (opening the same link again here, in the same
    browser, finds this session instead of being refused as used)."""
    ends_at: datetime
    last_seen: datetime
    app: Any = field(default=None)
    """The app running for it (a textual-serve AppService), while a page is connected."""

    @property
    def actor(self) -> str:
        """The name the audit records (an address can be longer than the audit keeps)."""
        return f"{one_line(self.recipient, ACTOR_ADDRESS)} via emailed link"


class Sessions:
    def __init__(self, *, cap: int = CAP, idle: timedelta = IDLE) -> None:
        self.cap = cap
        self.idle = idle
        self._by_key: dict[str, BrowserSession] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def running(self) -> int:
        return sum(1 for session in self._by_key.values() if session.app is not None)

    def full(self, now: datetime) -> bool:
        """Whether no other session may start an app now."""
        self.prune(now)
        return self.running() >= self.cap or len(self._by_key) >= self.cap * HELD_PER_RUNNING

    def start(
        self,
        *,
        alert_id: int,
        account_id: int,
        recipient: str,
        digest: str,
        link_expires_at: datetime,
        now: datetime,
    ) -> BrowserSession:
        session = BrowserSession(
            key=secrets.token_urlsafe(32),
            alert_id=alert_id,
            account_id=account_id,
            recipient=recipient,
            digest=digest,
            ends_at=min(link_expires_at, now + LONGEST),
            last_seen=now,
        )
        self._by_key[session.key] = session
        return session

    def find(self, key: str | None, now: datetime) -> BrowserSession | None:
        """The live session of this cookie, if any (an idle or ended one is gone)."""
        self.prune(now)
        return self._by_key.get(key) if key else None

    def idle_since(self, session: BrowserSession, now: datetime) -> bool:
        return now - session.last_seen >= self.idle

    def prune(self, now: datetime) -> list[BrowserSession]:
        """Ends every session past its end or idle with no app running; returns those with an
        app still running that should be stopped (the caller stops them, then ends them)."""
        to_stop = []
        for key, session in list(self._by_key.items()):
            over = now >= session.ends_at or self.idle_since(session, now)
            if not over:
                continue
            if session.app is None:
                del self._by_key[key]
            else:
                to_stop.append(session)
        return to_stop

    def every(self) -> list[BrowserSession]:
        return list(self._by_key.values())

    def end(self, session: BrowserSession) -> None:
        self._by_key.pop(session.key, None)
