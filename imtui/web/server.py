"""``imtui serve``: the browser mode (docs/design.md, "Browser mode"). textual-serve draws the
app in the page and runs one app process per browser session; what is ours is who gets in.

- ``GET /link/<token>``: an emailed link. A token signed here, unexpired, for an alert its
  contact was emailed, and not used before, starts a session: the answer is the terminal page
  itself with the session's cookie (HttpOnly, SameSite=Strict, Secure behind https) — not a
  redirect, which a browser coming from a webmail would follow without a Strict cookie.
  Anything else gets a plain page saying why, and how to get a fresh link.
- ``GET /ws``: the page's websocket, with the session's cookie and from the public origin
  only. It starts ``imtui link-session`` for the session's alert, as the link's recipient:
  that app lands on the alert's fix and allows nothing else (:mod:`imtui.tui.link_app`).
- ``GET /`` serves the session's page again (a reload), or says there is no session.

Sessions are bounded (:mod:`imtui.web.sessions`); a browser that goes away mid-form ends its
app without saving anything, and the server goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import textual_serve
from aiohttp import WSMsgType, web
from aiohttp.typedefs import Handler
from textual_serve.app_service import AppService
from textual_serve.server import Server

from imtui.domain.emails import one_line
from imtui.domain.links import LinkGrant, LinkRefused, read_link, token_digest
from imtui.engine.clock import Clock, SystemClock
from imtui.store.audit import record_action
from imtui.store.database import Database, DatabaseError
from imtui.store.links import (
    SERVER_BEAT,
    LinkHolder,
    forget_expired_uses,
    link_holder,
    serve_beat,
    serve_stopped,
    use_link,
)
from imtui.web.pages import HEADERS, POLICY, refused_page, terminal_page
from imtui.web.sessions import ACTOR_ADDRESS, COOKIE, BrowserSession, Sessions

log = logging.getLogger("imtui.serve")

STATIC = Path(textual_serve.__file__).parent / "static"
"""textual-serve's page scripts (textual.js: the terminal in the page) and their styles."""
OWN_STATIC = Path(__file__).parent / "static"
STOP_SECONDS = 5.0
"""How long a session's app has to leave when its page goes, before it is killed."""
STDIN_MAX = 64 * 1024
"""The most one websocket message may carry: a paste, not a file."""
KEPT_FROM_CHILD = ("IMTUI_SECRET_KEY", "IMTUI_SMTP_PASSWORD")
"""Kept out of a session's app's environment: it signs nothing and sends no email."""
SIZE_RANGE = (10, 400)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    public_url: str
    host: str = "127.0.0.1"
    port: int = 8470
    db_url: str | None = None
    """Handed to each session's app (IMTUI_DB), never on its command line."""


def origin_of(url: str) -> str:
    """The origin a browser sends for pages at ``url`` (``Origin`` header): scheme, host, and
    the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"{parts.scheme}://{host}{port}"


class SessionApp(AppService):
    """textual-serve's app process, started without a shell, with the session's grant in its
    environment, and killed if it does not leave when asked."""

    def __init__(self, argv: Sequence[str], extra_env: dict[str, str], **kwargs: object) -> None:
        # AppService's own keyword arguments, passed on as the caller gave them
        super().__init__(" ".join(argv), **kwargs)  # type: ignore[arg-type]
        self.argv = list(argv)
        self.extra_env = extra_env

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        for name in KEPT_FROM_CHILD:
            environment.pop(name, None)
        environment.update(self.extra_env)
        return environment

    async def _open_app_process(
        self, width: int = 80, height: int = 24
    ) -> asyncio.subprocess.Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(super().stop(), STOP_SECONDS)
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class BrowserServer(Server):
    def __init__(
        self,
        database: Database,
        keys: Sequence[bytes],
        options: ServeOptions,
        *,
        sessions: Sessions | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            "imtui link-session",
            host=options.host,
            port=options.port,
            title="imtui",
            public_url=options.public_url.rstrip("/"),
            statics_path=STATIC,
        )
        self.db = database
        self.keys = list(keys)
        self.options = options
        self.sessions = sessions if sessions is not None else Sessions()
        self.clock = clock or SystemClock()
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = self.clock.now()
        self._beats: asyncio.Task[None] | None = None
        parts = urlsplit(self.public_url)
        self.origin = origin_of(self.public_url)
        self.secure = parts.scheme == "https"
        ws_scheme = "wss" if self.secure else "ws"
        self.websocket_url = f"{ws_scheme}:{self.public_url.split(':', 1)[1]}/ws"
        self.policy = POLICY.format(ws=f"{ws_scheme}://{parts.netloc}")

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM; OSError when the address cannot be listened on."""
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        """Listen first, then say so in the database: a server that cannot listen never puts
        links in anyone's email. No access log: a link's token is in its path."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signal_number, stop.set)
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self._beats = asyncio.create_task(self._beat())
            log.info(
                "serving the browser mode at %s (listening on %s:%s)",
                self.public_url,
                self.host,
                self.port,
            )
            await stop.wait()
        finally:
            await runner.cleanup()  # every session's app stopped, the registration removed

    # -- the web app -------------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._headers])
        app.add_routes(
            [
                web.get("/link/{token}", self.handle_link),
                web.get("/", self.handle_index),
                web.get("/ws", self.handle_websocket),
                web.static("/static", self.statics_path),
                web.static("/imtui", OWN_STATIC),
            ]
        )
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response

    def _page(self, html: str, status: int = 200) -> web.Response:
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")

    def _refused(self, reason: LinkRefused) -> web.Response:
        status = 503 if reason in (LinkRefused.BUSY, LinkRefused.DOWN) else 403
        return self._page(refused_page(reason), status)

    def _terminal(self, session: BrowserSession) -> web.Response:
        return self._page(
            terminal_page(
                alert_id=session.alert_id,
                static_url=f"{self.public_url}/static",
                own_url=f"{self.public_url}/imtui",
                websocket_url=self.websocket_url,
            )
        )

    # -- who gets in -------------------------------------------------------------------------

    async def handle_link(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        now = self.clock.now()
        grant = read_link(token, self.keys, now)
        if isinstance(grant, LinkRefused):
            return self._refused(grant)
        mine = self.sessions.find(request.cookies.get(COOKIE), now)
        if mine is not None and mine.digest == token_digest(token):
            return self._terminal(mine)  # the same link again, in the browser it opened in
        try:
            return await self._open(token, grant, now)
        except DatabaseError as exc:  # locked, or away: the link is not used up
            log.warning("emailed link for alert %s not opened: %s", grant.alert_id, exc)
            return self._refused(LinkRefused.DOWN)

    async def _open(self, token: str, grant: LinkGrant, now: datetime) -> web.Response:
        digest = token_digest(token)
        holder = await asyncio.to_thread(self._holder, grant)
        if isinstance(holder, LinkRefused):
            return self._refused(holder)
        if self.sessions.full(now):
            return self._refused(LinkRefused.BUSY)  # the link stays unused: it opens later
        used = False
        session = self.sessions.start(
            alert_id=holder.alert_id,
            account_id=holder.account_id,
            recipient=holder.recipient,
            digest=digest,
            link_expires_at=grant.expires_at,
            now=now,
        )
        try:
            used = await asyncio.to_thread(self._use, digest, grant, session)
        finally:
            if not used:  # (or the database failed: nobody has this session's key)
                self.sessions.end(session)
        if not used:
            return self._refused(LinkRefused.USED)
        log.info("emailed link opened: alert %s, for contact %s", grant.alert_id, grant.contact_id)
        response = self._terminal(session)
        response.set_cookie(
            COOKIE,
            session.key,
            max_age=max(1, int((session.ends_at - now).total_seconds())),
            httponly=True,
            secure=self.secure,
            samesite="Strict",
            path="/",
        )
        return response

    def _holder(self, grant: LinkGrant) -> LinkHolder | LinkRefused:
        with self.db.read() as session:
            return link_holder(session, grant)

    def _use(self, digest: str, grant: LinkGrant, browser: BrowserSession) -> bool:
        """Marks the link used, and audits its opening in its holder's name: once."""
        now = self.clock.now()
        with self.db.write() as session:
            if not use_link(session, digest, grant, now):
                return False
            record_action(
                session,
                actor=browser.actor,
                action="link.open",
                target=f"alert:{grant.alert_id}",
                now=now,
                detail=f"email {grant.email_id}; session ends {browser.ends_at:%Y-%m-%d %H:%M} UTC",
            )
            return True

    async def handle_index(self, request: web.Request) -> web.Response:
        session = self.sessions.find(request.cookies.get(COOKIE), self.clock.now())
        if session is None:
            ended = COOKIE in request.cookies
            return self._refused(LinkRefused.ENDED if ended else LinkRefused.MISSING)
        return self._terminal(session)

    # -- the app behind the page -------------------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        now = self.clock.now()
        session = self.sessions.find(request.cookies.get(COOKIE), now)
        if session is None or request.headers.get("Origin") != self.origin:
            raise web.HTTPForbidden(text="no session")
        if session.app is not None:
            await self._stop_app(session)  # one page per session: the newest
        elif self.sessions.full(now):
            raise web.HTTPServiceUnavailable(text=LinkRefused.BUSY.value)
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=STDIN_MAX)
        await websocket.prepare(request)
        app = SessionApp(
            [sys.executable, "-m", "imtui.cli", "link-session"],
            self._session_env(session),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        session.app = app
        watch = asyncio.create_task(self._end_when_idle(session, websocket))
        try:
            await app.start(*self._size(request))
            await self._relay(websocket, app, session)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:  # a broken page or process ends this session's app, never the server
            log.exception("browser session for alert %s failed", session.alert_id)
        finally:
            watch.cancel()
            await self._stop_app(session, app)
        return websocket

    def _session_env(self, session: BrowserSession) -> dict[str, str]:
        env = {
            "IMTUI_LINK_ALERT": str(session.alert_id),
            "IMTUI_LINK_ACTOR": session.actor,
            "IMTUI_LINK_CONTACT": one_line(session.recipient, ACTOR_ADDRESS),
        }
        if self.options.db_url:
            env["IMTUI_DB"] = self.options.db_url
        return env

    @staticmethod
    def _size(request: web.Request) -> tuple[int, int]:
        low, high = SIZE_RANGE

        def number(name: str, default: int) -> int:
            try:
                return min(high, max(low, int(request.query.get(name, default))))
            except ValueError:
                return default

        return number("width", 80), number("height", 24)

    async def _relay(
        self, websocket: web.WebSocketResponse, app: AppService, session: BrowserSession
    ) -> None:
        """The page's keys and size to the app; a ping answered. Typing keeps it alive."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
                kind, data = envelope[0], envelope[1]
            except (ValueError, TypeError, IndexError, KeyError):
                continue
            if kind == "stdin" and isinstance(data, str):
                session.last_seen = self.clock.now()
                await app.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                session.last_seen = self.clock.now()
                width, height = data.get("width"), data.get("height")
                if isinstance(width, int) and isinstance(height, int):
                    low, high = SIZE_RANGE
                    await app.set_terminal_size(
                        min(high, max(low, width)), min(high, max(low, height))
                    )
            elif kind == "ping":
                await websocket.send_json(["pong", str(data)[:40]])
            elif kind in ("blur", "focus"):
                await (app.blur() if kind == "blur" else app.focus())

    async def _end_when_idle(
        self, session: BrowserSession, websocket: web.WebSocketResponse
    ) -> None:
        every = max(0.2, min(30.0, self.sessions.idle.total_seconds() / 4))
        while True:
            await asyncio.sleep(every)
            now = self.clock.now()
            if self.sessions.idle_since(session, now) or now >= session.ends_at:
                log.info("browser session for alert %s ended: idle", session.alert_id)
                self.sessions.end(session)
                await websocket.close()
                return

    async def _stop_app(self, session: BrowserSession, app: AppService | None = None) -> None:
        app = app or session.app
        if app is None:
            return
        if session.app is app:
            session.app = None
        await app.stop()

    # -- saying we serve ---------------------------------------------------------------------

    async def on_shutdown(self, app: web.Application) -> None:
        if self._beats is not None:
            self._beats.cancel()
        for session in self.sessions.every():
            await self._stop_app(session)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._stopped)

    async def _beat(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._beat_once, self.clock.now())
            except Exception as exc:  # the database is away: try again at the next beat
                log.warning("could not note that this server serves: %s", exc)
            for session in self.sessions.prune(self.clock.now()):
                await self._stop_app(session)
                self.sessions.end(session)
            await asyncio.sleep(SERVER_BEAT.total_seconds())

    def _beat_once(self, now: datetime) -> None:
        with self.db.write() as session:
            serve_beat(session, self.public_url, self.owner, now, self.started_at)
            forget_expired_uses(session, now)

    def _stopped(self) -> None:
        with self.db.write() as session:
            serve_stopped(session, self.public_url, self.owner)
