"""Running the fake WMS and shop: in a background thread, inside an event loop, or from the CLI.

Tests start and stop many sandboxes, so starting binds the sockets first (the URLs are known
before a request can arrive) and stopping wakes held requests and tells uvicorn to exit rather
than waiting out its timeouts. uvicorn never takes over signal handling: the process embedding
the sandbox (pytest, the demo, the CLI) owns its signals.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import shlex
import signal
import socket
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO
from urllib.parse import urlsplit

import uvicorn

from imtui.sandbox.clock import Clock, system_clock
from imtui.sandbox.faults import FaultPlan, fault_profile
from imtui.sandbox.network import Network
from imtui.sandbox.seed import SANDBOX_MAPPINGS, SeedSummary, realistic_orders, summarize_orders
from imtui.sandbox.shop import API_VERSION, FakeShop, build_shop_app
from imtui.sandbox.wms import FakeWms, build_wms_app

BACKLOG = 2048
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers (they belong to whoever embeds the sandbox)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it every keep-alive response waits 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Sandbox:
    """A fake WMS and a fake shop on loopback, sharing one fault plan, latency and clock.

    ``with Sandbox(seed=7) as sb:`` runs both in a background thread with its own event loop;
    ``await sb.start_async()`` / ``await sb.stop_async()`` run them in the caller's loop.
    """

    def __init__(
        self,
        *,
        seed: int | None = 0,
        host: str = "127.0.0.1",
        port_wms: int = 0,
        port_shop: int = 0,
        latency: float = 0.0,
        hang_seconds: float = 30.0,
        faults_profile: str = "none",
        clock: Clock = system_clock,
    ) -> None:
        self.seed = seed
        self.host = host
        self.network = Network(seed=seed, latency=latency, hang_seconds=hang_seconds)
        self.network.faults.extend(fault_profile(faults_profile))
        self.wms = FakeWms(seed=seed, clock=clock)
        self.shop = FakeShop(seed=seed, clock=clock)
        self._ports = (port_wms, port_shop)
        self._urls: tuple[str, str] | None = None
        self._servers: list[uvicorn.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- what clients and tests read ----------------------------------------------------------

    @property
    def wms_url(self) -> str:
        return self._started_urls()[0]

    @property
    def shop_url(self) -> str:
        return self._started_urls()[1]

    @property
    def shop_api_url(self) -> str:
        """``{shop_url}/admin/api/2024-10``, the prefix of every shop endpoint."""
        return f"{self.shop_url}/admin/api/{API_VERSION}"

    @property
    def wms_credentials(self) -> dict[str, str]:
        return self.wms.credentials

    @property
    def shop_token(self) -> str:
        return self.shop.token

    @property
    def faults(self) -> FaultPlan:
        return self.network.faults

    @property
    def requests(self) -> Counter[str]:
        """Requests received so far, by fault target (``"wms.create_order"``, …)."""
        return self.network.requests

    @property
    def latency(self) -> float:
        return self.network.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.network.latency = seconds

    @property
    def hang_seconds(self) -> float:
        return self.network.hang_seconds

    @hang_seconds.setter
    def hang_seconds(self, seconds: float) -> None:
        self.network.hang_seconds = seconds

    def _started_urls(self) -> tuple[str, str]:
        if self._urls is None:
            raise RuntimeError("the sandbox is not running; use it as a context manager")
        return self._urls

    # -- in the caller's event loop -----------------------------------------------------------

    async def start_async(self) -> None:
        """Bind both sockets and serve in the running loop; returns once both accept."""
        if self._servers:
            raise RuntimeError("the sandbox is already running")
        sockets = [_bind(self.host, self._ports[0])]
        try:
            sockets.append(_bind(self.host, self._ports[1]))
        except OSError:
            sockets[0].close()
            raise
        self.network.attach()
        apps = (build_wms_app(self.wms, self.network), build_shop_app(self.shop, self.network))
        for app, sock in zip(apps, sockets, strict=True):
            config = uvicorn.Config(
                app,
                http="auto",
                interface="asgi3",
                lifespan="off",
                log_config=None,
                log_level="warning",
                access_log=False,
                proxy_headers=False,
                server_header=False,
                backlog=BACKLOG,
                timeout_graceful_shutdown=2,
            )
            server = _EmbeddedServer(config)
            self._servers.append(server)
            self._tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        hosts = [sock.getsockname() for sock in sockets]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._urls = (f"http://{host}:{hosts[0][1]}", f"http://{host}:{hosts[1][1]}")
        while not all(server.started for server in self._servers):
            if any(task.done() for task in self._tasks):
                await self.stop_async()
                raise RuntimeError("the sandbox servers failed to start")
            await asyncio.sleep(0.002)

    async def stop_async(self) -> None:
        """Stop both servers: held requests are released, open connections closed."""
        servers, tasks = self._servers, self._tasks
        if not servers:
            return
        self.network.release_hangs()
        for server in servers:
            server.should_exit = True
        _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        for task in pending:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        self._servers, self._tasks, self._urls = [], [], None
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def __aenter__(self) -> Self:
        await self.start_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    # -- in a background thread ---------------------------------------------------------------

    def start(self) -> Self:
        """Serve from a daemon thread with its own event loop; returns once both accept."""
        if self._thread is not None:
            raise RuntimeError("the sandbox is already running")
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:
                ready.set_exception(exc)
            else:
                ready.set_result(None)
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="imtui-sandbox", daemon=True)
        thread.start()
        ready.result(timeout=START_TIMEOUT)
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop_async(), loop).result(STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT)
            self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


SECRET_VARIABLES = {
    "client_id": "SANDBOX_WMS_CLIENT_ID",
    "client_secret": "SANDBOX_WMS_SECRET",
    "user_login_id": "SANDBOX_WMS_LOGIN",
    "access_token": "SANDBOX_SHOP_TOKEN",
}
"""The environment variable each credential is handed over in (``KEY=@VAR``), as the README
recommends: no secret on an imtui command line, which ``ps`` shows every user. Prefixed, so that
pasting them never replaces a real WMS's ``WMS_SECRET`` in that shell."""
DB_VARIABLE = "SANDBOX_DB"
"""Where a database URL with a password goes, for the same reason."""


def fresh_database() -> str:
    """A new SQLite file in a private temporary folder: the sandbox's orders never land in a
    person's own database, and a second sandbox's steps never meet the first one's account."""
    return str(Path(tempfile.mkdtemp(prefix="imtui-sandbox-")) / "imtui.db")


def database_argument(db: str) -> tuple[list[str], str]:
    """``--db`` for the printed commands (and the export it needs, if any). A bare path is made
    absolute (another terminal may be in another folder); a URL with a password goes through
    :data:`DB_VARIABLE`."""
    if "://" not in db:
        db = str(Path(db).expanduser().resolve())
    if urlsplit(db).password:
        return [f"export {DB_VARIABLE}={shlex.quote(db)}"], f'--db "${DB_VARIABLE}"'
    return [], f"--db {shlex.quote(db)}"


def steps(sandbox: Sandbox, *, db: str) -> list[str]:
    """The shell lines that connect an account on ``db`` to the sandbox, in the order to run
    them: the secrets into the environment, the account, its mappings — before the connections,
    so the first poll finds every usual ship method mapped instead of holding its orders and
    emailing the contacts — then the WMS before the shop, and the dashboard."""
    exports, db_option = database_argument(db)
    imtui = f"imtui {db_option}"
    secrets = {**sandbox.wms_credentials, "access_token": sandbox.shop_token}
    wms_keys = " ".join(
        f"--credential {key}=@{SECRET_VARIABLES[key]}" for key in sandbox.wms_credentials
    )
    return [
        *exports,
        *(f"export {SECRET_VARIABLES[key]}={shlex.quote(value)}" for key, value in secrets.items()),
        f"{imtui} account add Sandbox",
        *(
            f"{imtui} mapping set {code} --account Sandbox --carrier {shlex.quote(carrier)}"
            f" --mode {shlex.quote(mode)}"
            for code, (carrier, mode) in SANDBOX_MAPPINGS.items()
        ),
        f"{imtui} connection add --account Sandbox --name WMS --platform wms_3pl"
        f" --url {sandbox.wms_url} {wms_keys} --setting customer_id=1 --setting facility_id=1",
        f"{imtui} connection add --account Sandbox --name Shop --platform shopify"
        f" --url {sandbox.shop_url} --credential access_token=@{SECRET_VARIABLES['access_token']}",
        imtui,
    ]


def contents(sandbox: Sandbox) -> list[str]:
    """What the shop holds, counted from the shop itself: how many orders a first poll
    delivers, and which need a person on purpose."""
    found = summarize_orders(
        sandbox.shop.orders.values(), mapped=SANDBOX_MAPPINGS, stocked=sandbox.wms.skus
    )
    if not found.names:
        return ["no orders waiting (imtui sandbox --orders N seeds some)"]
    span = found.names[0] if len(found.names) == 1 else f"{found.names[0]}–{found.names[-1]}"
    go = "goes" if found.ready == 1 else "go"
    faults = " (the faults send some round the retries)" if sandbox.faults.rules else ""
    return [
        f"{_count(len(found.names), 'order')} waiting ({span}): "
        f"{_count(len(found.methods), 'ship method')}, {_count(len(found.skus), 'SKU')}",
        f"{found.ready} {go} to the WMS on the first poll{faults}",
        *(f"on purpose, for a person: {problem}" for problem in _problems(found)),
    ]


def _problems(found: SeedSummary) -> list[str]:
    problems = [
        f"{_count(n, 'order')} for {code}, which no command below maps"
        for code, n in sorted(found.unmapped.items())
    ]
    problems += [
        f"{_count(n, 'order')} with {sku}, which the WMS does not stock"
        for sku, n in sorted(found.unstocked.items())
    ]
    if found.bad_addresses:
        problems.append(f"{_count(found.bad_addresses, 'order')} with an incomplete address")
    return problems


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def describe(sandbox: Sandbox, *, db: str) -> str:
    """What a person needs to point imtui (or curl) at a running sandbox — and the lines that
    do it on ``db``, ready to paste in order."""
    credentials = sandbox.wms_credentials
    return "\n".join(
        [
            f"  WMS   {sandbox.wms_url}",
            f"        client_id      {credentials['client_id']}",
            f"        client_secret  {credentials['client_secret']}",
            f"        user_login_id  {credentials['user_login_id']}",
            "        customer id 1, facility id 1",
            f"  Shop  {sandbox.shop_url}   (Admin API {API_VERSION})",
            f"        access token   {sandbox.shop_token}",
            *(f"        {line}" for line in contents(sandbox)),
            "",
            "  To try imtui on it, paste these into another terminal, in this order (the",
            "  mappings come before the connections, so the first poll holds no order for them):",
            *(f"    {line}" for line in steps(sandbox, db=db)),
        ]
    )


def serve_forever(
    port_wms: int = 0,
    port_shop: int = 0,
    seed: int = 0,
    orders: int = 0,
    faults_profile: str = "none",
    *,
    host: str = "127.0.0.1",
    out: TextIO | None = None,
    db: str | None = None,
) -> None:
    """``imtui sandbox``: serve until Ctrl-C or SIGTERM, then stop cleanly (no traceback). The
    printed commands use ``db`` (a :func:`fresh_database` when None).

    Raises ValueError for an unknown fault profile and OSError when a port is taken, before
    anything is printed.
    """
    stream = out if out is not None else sys.stdout
    sandbox = Sandbox(
        seed=seed, host=host, port_wms=port_wms, port_shop=port_shop, faults_profile=faults_profile
    )
    sandbox.shop.add_orders(realistic_orders(orders, seed))

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stopping.set)
        await sandbox.start_async()
        try:
            header = f"imtui sandbox: seed {seed}, {orders} orders, faults: {faults_profile}"
            text = describe(sandbox, db=db or fresh_database())
            print(f"{header}\n{text}\nCtrl-C stops.", file=stream, flush=True)
            await stopping.wait()
        finally:
            await sandbox.stop_async()
            print("sandbox stopped.", file=stream, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
