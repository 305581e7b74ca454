"""Links into the browser mode in alert emails: only while ``imtui serve`` serves the public
URL, signed for the recipient as the email is handed over, never stored, never made from a
customer's text — and the token itself: expiry, tampering, another server's keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from imtui.domain.failures import AlertKind
from imtui.domain.links import (
    LinkGrant,
    LinkRefused,
    fill_links,
    link_mark,
    read_link,
    sign_link,
    token_digest,
)
from imtui.engine.clock import FakeClock
from imtui.engine.runtime import Engine
from imtui.notify.mailer import Mailer
from imtui.store import outbox as outbox_store
from imtui.store.database import Database
from imtui.store.links import (
    SERVER_SILENT,
    forget_expired_uses,
    is_served,
    link_holder,
    serve_beat,
    use_link,
)
from imtui.store.queue import worker_identity
from imtui.store.secrets import current_keyring
from tests.conftest import World, add_shop_order
from tests.mail_server import MailServer
from tests.test_alert_email import (
    add_contact,
    alert_of_kind,
    email_settings,
    outbox,
    send_gathered,
)

PUBLIC_URL = "https://imtui.example.com"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/link/(\S+)")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def serving(db: Database, clock: FakeClock, url: str = PUBLIC_URL) -> None:
    with db.write() as session:
        serve_beat(session, url, "host:1", clock.now(), clock.now())


def keys() -> list[bytes]:
    return list(current_keyring().keys)


async def email_one_unmapped_method(
    db: Database, clock: FakeClock, world: World, sandbox: object, engine: Engine, mailer: Mailer
) -> int:
    contact = add_contact(db, clock, world.account_id, "dana@acme.example", "immediately")
    for number in (1001, 1002):
        add_shop_order(sandbox, number, method="NOPE")
    await engine.run_once()
    await send_gathered(clock, mailer)
    return contact


async def email_while_served(
    db: Database,
    clock: FakeClock,
    world: World,
    sandbox: object,
    engine: Engine,
    smtp: MailServer,
) -> int:
    serving(db, clock)
    mailer = Mailer(db, clock=clock, owner=worker_identity(), settings=email_settings(smtp))
    return await email_one_unmapped_method(db, clock, world, sandbox, engine, mailer)


async def test_an_email_carries_a_signed_link_only_while_serve_serves_the_public_url(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer
) -> None:
    contact = await email_while_served(db, clock, world, sandbox, engine, smtp)

    alert = alert_of_kind(db, AlertKind.UNMAPPED_SHIP_METHOD)
    [received] = smtp.received
    [token] = LINK.findall(received.text)
    assert f"imtui open alert/{alert.id}" in received.text
    assert f"  or in a browser: {PUBLIC_URL}/link/{token}" in received.text
    grant = read_link(token, keys(), clock.now())
    [email] = outbox(db)
    assert grant == LinkGrant(
        alert.id or 0, contact, email.id or 0, NOW + timedelta(days=7, seconds=10)
    )

    # The stored body holds no token, only the mark; the outbox shows words in its place.
    assert token not in email.body and "/link/" not in email.body
    with db.read() as session:
        detail = outbox_store.outbox_detail(session, email.id or 0)
    assert detail is not None and "a signed link to its fix" in detail.body
    assert "\u2060" not in detail.body


@pytest.mark.parametrize("how", ["never served", "server silent", "no public url", "other url"])
async def test_no_link_without_a_server_serving_the_public_url(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer, how: str
) -> None:
    settings = email_settings(smtp)
    if how == "server silent":
        serving(db, clock)
        clock.advance(SERVER_SILENT)
    elif how == "no public url":
        serving(db, clock)
        settings = email_settings(smtp, public_url=None)
    elif how == "other url":
        serving(db, clock, "https://elsewhere.example.com")
    mailer = Mailer(db, clock=clock, owner=worker_identity(), settings=settings)
    await email_one_unmapped_method(db, clock, world, sandbox, engine, mailer)

    [received] = smtp.received
    assert "/link/" not in received.text and "in a browser" not in received.text
    assert "imtui open alert/" in received.text


async def test_a_mark_in_a_customers_text_makes_no_link(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer
) -> None:
    """A ship method spelt as the composer's mark, naming another account's alert: it is made
    visible like every quoted text, and the email carries only its own alert's link."""
    serving(db, clock)
    mailer = Mailer(db, clock=clock, owner=worker_identity(), settings=email_settings(smtp))
    add_contact(db, clock, world.account_id, "dana@acme.example", "immediately")
    add_shop_order(sandbox, 1001, method=link_mark(1))
    await engine.run_once()
    await send_gathered(clock, mailer)

    [received] = smtp.received
    assert len(LINK.findall(received.text)) == 1
    assert "\\u2060link alert/1\\u2060" in received.text


def test_fill_links_makes_links_only_for_the_alerts_the_email_tells() -> None:
    body = "\n".join(["Fix:", f"  or in a browser: {link_mark(5)}", f"x {link_mark(6)}", "end"])
    filled = fill_links(body, {5}, lambda alert: f"https://x/link/{alert}")
    assert filled == "Fix:\n  or in a browser: https://x/link/5\nend"
    assert fill_links(body, (), lambda alert: "never") == "Fix:\nend"


def test_a_token_is_refused_when_expired_altered_or_signed_with_other_keys() -> None:
    from cryptography.fernet import Fernet

    ours = [Fernet.generate_key()]
    grant = LinkGrant(12, 3, 40, NOW + timedelta(days=7))
    token = sign_link(grant, ours)
    assert read_link(token, ours, NOW) == grant
    assert sign_link(grant, ours) == token, "the same email sends the same bytes again"
    assert read_link(token, ours, NOW + timedelta(days=7)) is LinkRefused.EXPIRED
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert read_link(altered, ours, NOW) is LinkRefused.ALTERED
    _, _, signature = token.rpartition(".")
    other_alert = sign_link(LinkGrant(13, 3, 40, grant.expires_at), ours).rpartition(".")[0]
    assert read_link(f"{other_alert}.{signature}", ours, NOW) is LinkRefused.ALTERED
    assert read_link(token, [Fernet.generate_key()], NOW) is LinkRefused.ALTERED
    assert read_link("", ours, NOW) is LinkRefused.MISSING
    assert read_link("x" * 10_000, ours, NOW) is LinkRefused.ALTERED
    assert read_link("é.é", ours, NOW) is LinkRefused.ALTERED
    # A rotated keyring (new key first) still reads links signed before the rotation.
    assert read_link(token, [Fernet.generate_key(), *ours], NOW) == grant


async def test_a_link_stands_only_for_an_alert_its_contact_was_emailed_and_opens_once(
    db, clock, world: World, sandbox, engine: Engine, smtp: MailServer
) -> None:
    contact = await email_while_served(db, clock, world, sandbox, engine, smtp)
    alert = alert_of_kind(db, AlertKind.UNMAPPED_SHIP_METHOD)
    [email] = outbox(db)
    add_shop_order(sandbox, 1003, sku="NO-SUCH-SKU")  # an alert nobody emailed dana yet
    clock.advance(timedelta(seconds=301))
    await engine.run_once()
    untold = alert_of_kind(db, AlertKind.UNKNOWN_SKU)
    expires = NOW + timedelta(days=7)

    def holder(alert_id: int, contact_id: int = contact, email_id: int = email.id or 0):
        with db.read() as session:
            return link_holder(session, LinkGrant(alert_id, contact_id, email_id, expires))

    mine = holder(alert.id or 0)
    assert not isinstance(mine, LinkRefused)
    assert (mine.alert_id, mine.account_id, mine.recipient) == (
        alert.id,
        world.account_id,
        "dana@acme.example",
    )
    assert holder(untold.id or 0) is LinkRefused.FOREIGN
    assert holder(10_000) is LinkRefused.FOREIGN
    assert holder(alert.id or 0, contact_id=contact + 1) is LinkRefused.FOREIGN
    assert holder(alert.id or 0, email_id=10_000) is LinkRefused.FOREIGN

    grant = LinkGrant(alert.id or 0, contact, email.id or 0, expires)
    digest = token_digest(sign_link(grant, keys()))
    with db.write() as session:
        assert use_link(session, digest, grant, clock.now())
    with db.write() as session:
        assert not use_link(session, digest, grant, clock.now())


def test_is_served_reads_only_a_recent_beat(db: Database, clock: FakeClock) -> None:
    serving(db, clock)
    with db.read() as session:
        assert is_served(session, PUBLIC_URL, clock.now())
        assert is_served(session, PUBLIC_URL + "/", clock.now())
        assert not is_served(session, "https://other.example.com", clock.now())
        assert not is_served(session, PUBLIC_URL, clock.now() + SERVER_SILENT)


def test_a_link_is_used_once_on_either_database(db_url: str) -> None:
    """One insert decides, on SQLite and PostgreSQL alike: the second opening finds the row."""
    database = Database(db_url)
    try:
        grant = LinkGrant(1, 2, 3, NOW + timedelta(days=7))
        digest = token_digest("a.token")
        for expected in (True, False, False):
            with database.write() as session:
                assert use_link(session, digest, grant, NOW) is expected
        with database.write() as session:
            assert forget_expired_uses(session, NOW + timedelta(days=8)) == 1
        with database.write() as session:
            assert use_link(session, digest, grant, NOW), "forgotten once expired"
    finally:
        database.dispose()


def test_status_says_whether_emails_carry_links_and_to_where(db: Database) -> None:
    """The status line follows the servers' beats, by the real clock the CLI reads."""
    from click.testing import CliRunner

    from imtui.cli import cli

    def links_line() -> str:
        result = CliRunner().invoke(cli, ["--db", str(db.url), "status"])
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
        [line] = [line for line in result.stdout.splitlines() if line.startswith("links ")]
        return line

    assert links_line() == (
        "links         none in emails: no 'imtui serve' running (they carry the commands only)"
    )
    now = datetime.now(UTC)
    serving(db, FakeClock(now))
    assert links_line().startswith(
        f"links         in emails, to {PUBLIC_URL} (imtui serve on host:1, last beat"
    )
    serving(db, FakeClock(now - SERVER_SILENT))
    assert "none in emails" in links_line()
