"""The browser mode end to end: ``imtui serve`` as a real process, an alert emailed through a
real SMTP server while it serves, and Debian's Chromium (driven by Playwright) opening the
email's link — the mapping form, filled and saved, releases the held orders in the contact's
name. Every other way in (no token, an altered, expired, foreign or used one, a websocket
without the session) gets a plain refusal and changes nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlmodel import col, select

from imtui.domain.links import LinkGrant, LinkRefused, link_url, sign_link
from imtui.domain.orders import OrderStatus
from imtui.engine.clock import FakeClock
from imtui.store.models import AuditEntry, LinkUse, Order, OutboxEmail
from imtui.store.secrets import current_keyring
from tests.browser import (
    ARTEFACTS,
    CHROMIUM,
    Emailed,
    Served,
    email_alerts,
    needs_chromium,
    serve,
    wait_until,
)

pytestmark = [pytest.mark.slow, needs_chromium()]

ACTOR = "dana@acme.example via emailed link"


@pytest.fixture
def clock() -> FakeClock:
    # The server checks expiry by the real clock: the emails are composed at the real time.
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def served(db, tmp_path):
    with serve(db, tmp_path) as running:
        yield running


@pytest.fixture
async def emailed(db, clock, world, sandbox, engine, smtp, served: Served) -> Emailed:
    [emailed] = await email_alerts(db, clock, world, sandbox, engine, smtp, served)
    return emailed


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield chromium
        await chromium.close()


def held(db, method: str = "NOPE") -> list[str]:
    with db.read() as session:
        orders = session.exec(select(Order).where(Order.ship_method_code == method)).all()
    return sorted(o.number for o in orders if o.status == OrderStatus.HELD)


def audit(db) -> list[tuple[str, str, str]]:
    with db.read() as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    return [(r.actor, r.action, r.target) for r in rows if "emailed link" in r.actor]


ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


class Screen:
    """What the app sent the page, as text: the page draws on a canvas, so the words are read
    from the websocket's frames (the terminal output, escape sequences dropped)."""

    def __init__(self, page: object) -> None:
        self.frames: list[str] = []
        page.on("websocket", self._socket)  # type: ignore[attr-defined]

    def _socket(self, socket: object) -> None:
        socket.on("framereceived", self._frame)  # type: ignore[attr-defined]

    def _frame(self, payload: str | bytes) -> None:
        data = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        self.frames.append(data)

    def text(self) -> str:
        return ANSI.sub("", "".join(self.frames))

    async def shows(self, words: str, seconds: float = 30.0) -> str:
        deadline = asyncio.get_running_loop().time() + seconds
        while words not in (text := self.text()):
            assert asyncio.get_running_loop().time() < deadline, (
                f"never shown: {words!r}; last: {' '.join(text[-6000:].split())!r}"
            )
            await asyncio.sleep(0.2)
        return text


async def test_an_emailed_link_opens_the_mapping_form_and_saving_releases_the_held_orders(
    db, emailed: Emailed, served: Served, browser
) -> None:
    assert held(db) == ["#1001", "#1002", "#1003"]
    context = await browser.new_context(viewport={"width": 1200, "height": 760})
    page = await context.new_page()
    screen = Screen(page)
    response = await page.goto(emailed.link)
    assert response.status == 200
    [cookie] = await context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
        "imtui_session",
        True,
        "Strict",
    )

    text = await screen.shows("Ship-method mapping")
    assert "dana@acme.example via emailed link" in text
    await screen.shows("3 orders are held for NOPE")
    await page.keyboard.type("UPS")
    await page.keyboard.press("Tab")
    await page.keyboard.type("03")
    await asyncio.sleep(0.3)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTEFACTS / "browser-link-form.png"))
    await page.keyboard.press("Control+s")

    await screen.shows("released 3 held orders")
    wait_until(lambda: held(db) == [], what="the held orders released")
    assert audit(db) == [
        (ACTOR, "link.open", f"alert:{emailed.alert_id}"),
        (ACTOR, "mapping.set", "method:NOPE"),
    ]
    await context.close()


async def test_a_link_opens_one_session_once_and_everything_else_is_refused(
    db, emailed: Emailed, served: Served
) -> None:
    keys = list(current_keyring().keys)
    token = emailed.link.rpartition("/")[2]
    with db.read() as session:
        [email_id] = session.exec(select(OutboxEmail.id)).all()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    grant = LinkGrant(emailed.alert_id, emailed.contact_id, email_id or 0, tomorrow)

    def signed(keys: list[bytes] = keys, **changes: object) -> str:
        return link_url(served.url, sign_link(replace(grant, **changes), keys))

    async with httpx.AsyncClient(timeout=10) as client:
        refusals = {
            "no token": (f"{served.url}/", LinkRefused.MISSING),
            "altered": (emailed.link[:-3] + "xyz", LinkRefused.ALTERED),
            "another server's": (signed([Fernet.generate_key()]), LinkRefused.ALTERED),
            "expired": (
                signed(expires_at=datetime.now(UTC) - timedelta(seconds=1)),
                LinkRefused.EXPIRED,
            ),
            "another alert": (signed(alert_id=emailed.alert_id + 1), LinkRefused.FOREIGN),
            "another contact": (signed(contact_id=emailed.contact_id + 1), LinkRefused.FOREIGN),
        }
        for name, (url, reason) in refusals.items():
            answer = await client.get(url)
            assert (name, answer.status_code) == (name, 403)
            assert reason.value in answer.text and "imtui open alert/ID" in answer.text
            assert "imtui_session" not in answer.headers.get("set-cookie", "")
            assert "textual.js" not in answer.text

        # The websocket opens nothing without a session, or from another origin.
        answer = await client.get(f"{served.url}/ws")
        assert answer.status_code == 403

        opened = await client.get(emailed.link)
        assert opened.status_code == 200 and "textual.js" in opened.text
        assert opened.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in opened.headers["content-security-policy"]
        assert "imtui_session" in client.cookies
        # The same link again from the same browser finds its session; from anyone else it
        # was used.
        again = await client.get(emailed.link)
        assert again.status_code == 200
        client.cookies.clear()
        reused = await client.get(emailed.link)
        assert reused.status_code == 403 and LinkRefused.USED.value in reused.text
        assert token not in served.output(), "no token in the server's log"

    assert held(db) == ["#1001", "#1002", "#1003"]
    with db.read() as session:
        assert len(session.exec(select(LinkUse)).all()) == 1


async def test_a_browser_that_leaves_mid_form_changes_nothing_and_the_server_goes_on(
    db, emailed: Emailed, served: Served, browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    screen = Screen(page)
    await page.goto(emailed.link)
    await screen.shows("Ship-method mapping")
    await page.keyboard.type("UPS")
    await screen.shows("UPS")
    await page.close()  # mid-form: the app behind it ends, unsaved

    page = await context.new_page()  # the same browser, its session still open
    screen = Screen(page)
    await page.goto(served.url + "/")
    await screen.shows("3 orders are held for NOPE")
    assert held(db) == ["#1001", "#1002", "#1003"]
    assert [a for a in audit(db) if a[1] != "link.open"] == []
    await context.close()


@pytest.fixture
def served_small(db, tmp_path):
    with serve(db, tmp_path, "--sessions", "1", "--idle-minutes", "0.1") as running:
        yield running


async def test_sessions_are_capped_and_end_when_idle(
    db, clock, world, sandbox, engine, smtp, served_small: Served, browser
) -> None:
    first, second = await email_alerts(
        db, clock, world, sandbox, engine, smtp, served_small, ("NOPE", "SLOW")
    )
    context = await browser.new_context()
    page = await context.new_page()
    screen = Screen(page)
    await page.goto(first.link)
    await screen.shows("Ship-method mapping")

    async with httpx.AsyncClient(timeout=10) as client:
        busy = await client.get(second.link)
        assert busy.status_code == 503 and LinkRefused.BUSY.value in busy.text

        # Six seconds without a key: the session ends, its page says so, and the busy link,
        # never used, opens now.
        await page.wait_for_selector("body.-closed", timeout=30_000)
        ended = await page.goto(served_small.url + "/")
        assert ended.status == 403 and LinkRefused.ENDED.value in await page.content()
        opened = await client.get(second.link)
        assert opened.status_code == 200
    assert re.search(r"ended: idle", served_small.output())
    await context.close()
