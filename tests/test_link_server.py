"""``imtui serve``'s web app in this process (aiohttp's test server), for what a real browser
need not be started for: a locked database, and the worst a link's path can hold."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlmodel import select

from imtui.domain.links import LinkRefused
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.notify.mailer import Mailer
from imtui.store.database import Database
from imtui.store.links import serve_beat
from imtui.store.models import LinkUse
from imtui.store.queue import worker_identity
from imtui.store.secrets import current_keyring
from imtui.web.server import BrowserServer, ServeOptions, origin_of
from imtui.web.sessions import COOKIE
from tests.conftest import World, add_shop_order
from tests.mail_server import MailServer
from tests.test_alert_email import add_contact, email_settings, send_gathered

PUBLIC_URL = "https://imtui.example.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


@pytest.fixture
async def token(db, clock, world: World, sandbox, engine: Engine, smtp: MailServer) -> str:
    """The link token of an email about an unmapped ship method, sent while serving."""
    with db.write() as session:
        serve_beat(session, PUBLIC_URL, "host:1", clock.now(), clock.now())
    add_contact(db, clock, world.account_id, "dana@acme.example", "immediately")
    add_shop_order(sandbox, 1001, method="NOPE")
    await engine.run_once()
    mailer = Mailer(db, clock=clock, owner=worker_identity(), settings=email_settings(smtp))
    await send_gathered(clock, mailer)
    [received] = smtp.received
    found = re.search(re.escape(PUBLIC_URL) + r"/link/(\S+)", received.text)
    assert found, received.text
    return found.group(1)


@pytest.fixture
def server(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrowserServer]:
    monkeypatch.setattr("imtui.store.database.BUSY_TIMEOUT_S", 0.3)
    database = Database(str(db.url), migrate=False)  # its own, with the short busy timeout
    yield BrowserServer(database, current_keyring().keys, ServeOptions(public_url=PUBLIC_URL))
    database.dispose()


@pytest.fixture
async def client(server: BrowserServer) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(await server._make_app())) as test_client:
        yield test_client


def uses(db: Database) -> int:
    with db.read() as session:
        return len(session.exec(select(LinkUse)).all())


async def test_a_locked_database_answers_try_again_and_leaves_the_link_unused(
    db: Database, token: str, server: BrowserServer, client: TestClient
) -> None:
    other = Database(str(db.url), migrate=False)
    with other.write_engine.connect() as locker:
        locker.execute(text("SELECT 1"))  # another process holds the write lock
        answer = await client.get(f"/link/{token}")
        assert answer.status == 503
        assert LinkRefused.DOWN.value in await answer.text()
        assert COOKIE not in answer.cookies
        locker.rollback()
    other.dispose()
    assert uses(db) == 0 and len(server.sessions) == 0

    answer = await client.get(f"/link/{token}")
    assert answer.status == 200 and COOKIE in answer.cookies
    assert uses(db) == 1


WORST_PATHS = {
    "huge token": "/link/" + "A" * 5000,
    "escapes": "/link/" + "%00%1b%5b31m" * 20,
    "traversal": "/link/..%2f..%2fetc%2fpasswd",
    "not utf-8": "/link/%ff%fe",
    "own static traversal": "/imtui/..%2f..%2fserver.py",
    "textual-serve static traversal": "/static/..%2f..%2f__init__.py",
}


@pytest.mark.parametrize("path", WORST_PATHS.values(), ids=WORST_PATHS.keys())
async def test_the_worst_a_path_holds_is_a_plain_refusal(
    db: Database, client: TestClient, path: str
) -> None:
    answer = await client.get(path)
    body = await answer.text()
    assert answer.status in (400, 403, 404), body
    assert "Traceback" not in body and "import" not in body and "\x1b" not in body
    assert uses(db) == 0


def test_the_origin_a_browser_sends_is_the_public_urls() -> None:
    assert origin_of("https://imtui.acme.example") == "https://imtui.acme.example"
    assert origin_of("https://imtui.acme.example:443/imtui") == "https://imtui.acme.example"
    assert origin_of("https://Imtui.Acme.Example:8443") == "https://imtui.acme.example:8443"
    assert origin_of("http://[::1]:8470") == "http://[::1]:8470"


async def test_a_websocket_from_another_origin_or_without_the_session_opens_nothing(
    db: Database, token: str, server: BrowserServer, client: TestClient
) -> None:
    """Cross-site websocket hijacking: a page elsewhere, in the browser holding the cookie."""
    opened = await client.get(f"/link/{token}")
    assert opened.status == 200
    for origin, cookie in [
        ("https://evil.example", True),
        ("", True),
        (PUBLIC_URL, False),
    ]:
        if not cookie:
            client.session.cookie_jar.clear()
        headers = {"Origin": origin} if origin else {}
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers=headers)
        assert refused.value.status == 403
    assert all(session.app is None for session in server.sessions.every())
