"""Testing a connection (issue 14): one harmless read against the remote — the shop's name, the
WMS's customer after a token — timed, and the answer in one line, in the remote's own words
and the failure class. Against the loopback sandbox and a hostile remote, over real sockets;
nothing is written there, nor in the queue, the alerts or the connection here."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from sqlmodel import Session, select

from imtui.cli import cli
from imtui.connectors.shopify_rest import ShopifyRestSource
from imtui.domain.records import Address, OrderLine, SourceOrder
from imtui.engine.clock import FakeClock
from imtui.engine.connection_check import (
    ConnectionCheck,
    check_connection,
    check_stored_connection,
)
from imtui.engine.ingest import store_source_orders
from imtui.sandbox import FaultRule, Sandbox
from imtui.store.database import Database
from imtui.store.models import Alert, AuditEntry, Connection, OutboxEmail, RetryItem
from imtui.store.secrets import Unreadable
from tests.conftest import wire_world
from tests.hostile_remote import HostileRemote, Reply, gzip_bomb, json_reply, never_answers

SHOP_SHOP_JSON = ("GET", "/admin/api/2024-10/shop.json")
GRAPHQL = ("POST", "/admin/api/2026-10/graphql.json")
HOSTILE = "\x1b[2J\x1b]0;pwned\x07 token revoked \u202eevil\u202c \x9b31m"
WMS_SETTINGS = {"customer_id": "1", "facility_id": "1"}


def shop(sb: Sandbox, platform: str, **settings: Any) -> tuple[str, str, dict[str, str], dict]:
    return platform, sb.shop_url, {"access_token": sb.shop_token}, dict(settings)


def wms(sb: Sandbox, **settings: Any) -> tuple[str, str, dict[str, str], dict]:
    return "wms_3pl", sb.wms_url, dict(sb.wms_credentials), {**WMS_SETTINGS, **settings}


CONNECTIONS: dict[str, Callable[..., tuple[str, str, dict[str, str], dict]]] = {
    "shopify": lambda sb, **s: shop(sb, "shopify", **s),
    "shopify_rest": lambda sb, **s: shop(sb, "shopify_rest", **s),
    "wms_3pl": wms,
}

READ_BY_PROBE = {
    "shopify": {"shop.shop"},
    "shopify_rest": {"shop.shop"},
    "wms_3pl": {"wms.token", "wms.customers"},
}


async def check(sb: Sandbox, platform: str, **settings: Any) -> ConnectionCheck:
    return await check_connection(*CONNECTIONS[platform](sb, **settings))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- it answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("platform", list(CONNECTIONS))
async def test_a_connection_that_works_says_what_it_read_and_writes_nothing(
    sandbox: Sandbox, platform: str
) -> None:
    checked = await check(sandbox, platform)

    assert checked.ok, checked
    assert checked.elapsed_ms > 0
    assert (checked.failure_class, checked.kind, checked.http_status) == (None, None, None)
    expected = {
        "shopify": "shop Sandbox Shop (sandbox.myshopify.com)",
        "shopify_rest": "shop Sandbox Shop (sandbox.myshopify.com)",
        "wms_3pl": "token granted; customer 1 Sandbox Goods Co., facility 1 Main Warehouse",
    }[platform]
    assert checked.message == expected
    assert checked.summary() == f"OK in {checked.elapsed_ms} ms — {expected}"
    assert set(sandbox.requests) == READ_BY_PROBE[platform]
    assert sandbox.wms.orders == {} and not sandbox.shop.inventory_sets


async def test_a_customer_named_rather_than_numbered_is_found_by_its_name(
    sandbox: Sandbox,
) -> None:
    checked = await check(
        sandbox, "wms_3pl", customer_id="Sandbox Goods Co.", facility_id="main warehouse"
    )
    assert checked.ok, checked
    assert checked.message.endswith("customer 1 Sandbox Goods Co., facility 1 Main Warehouse")


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (
            {"facility_id": "2"},
            "customer 1 Sandbox Goods Co. has no facility '2' (setting facility_id; its "
            "facilities: 1 Main Warehouse)",
        ),
        ({"customer_id": "7"}, "the WMS has no customer 7 (setting customer_id): "),
        ({"customer_id": "Nobody Inc"}, "the WMS has no customer named 'Nobody Inc'"),
    ],
    ids=["facility", "customer id", "customer name"],
)
async def test_settings_naming_what_the_wms_does_not_have_fail_as_configuration(
    sandbox: Sandbox, settings: dict[str, str], words: str
) -> None:
    checked = await check(sandbox, "wms_3pl", **settings)
    assert not checked.ok
    assert (checked.failure_class, checked.kind) == ("connection", "bad_configuration")
    assert checked.message.startswith(words)
    assert "connection settings are unusable (connection)" in checked.summary()


async def test_a_deactivated_customer_fails_the_check(sandbox: Sandbox) -> None:
    sandbox.wms.deactivated.add(1)
    checked = await check(sandbox, "wms_3pl")
    assert not checked.ok
    assert checked.message == "customer 1 Sandbox Goods Co. is deactivated in the WMS"


# -- it refuses -----------------------------------------------------------------------------


SHOP_REFUSAL = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@pytest.mark.parametrize("platform", ["shopify", "shopify_rest"])
async def test_a_rejected_shop_token_is_a_connection_failure_in_the_shops_words(
    sandbox: Sandbox, platform: str
) -> None:
    sandbox.shop.revoke_token()
    checked = await check(sandbox, platform)
    assert not checked.ok
    assert (checked.failure_class, checked.kind, checked.http_status) == (
        "connection",
        "credentials_rejected",
        401,
    )
    assert checked.message == SHOP_REFUSAL
    assert checked.summary() == (
        f"failed in {checked.elapsed_ms} ms: credentials rejected (connection): {SHOP_REFUSAL}"
    )


async def test_rejected_wms_credentials_and_a_forbidden_login_are_connection_failures(
    sandbox: Sandbox,
) -> None:
    sandbox.wms.revoke_client()
    refused = await check(sandbox, "wms_3pl")
    sandbox.wms.restore_client()
    sandbox.wms.forbid()
    forbidden = await check(sandbox, "wms_3pl")

    assert (refused.failure_class, refused.kind, refused.http_status) == (
        "connection",
        "credentials_rejected",
        401,
    )
    assert refused.message == "invalid_client: The client credentials are invalid."
    assert (forbidden.failure_class, forbidden.http_status) == ("connection", 403)
    assert "The user has no access to customer 1." in forbidden.message
    assert sandbox.requests["wms.customers"] == 1  # the forbidden one; none after a refusal


@pytest.mark.parametrize("platform", list(CONNECTIONS))
async def test_a_remote_that_never_answers_fails_within_the_connections_deadline(
    sandbox: Sandbox, platform: str
) -> None:
    target = "wms.customers" if platform == "wms_3pl" else "shop.shop"
    sandbox.faults.add(FaultRule(target, "timeout"))
    started = time.monotonic()
    checked = await check(sandbox, platform, deadline=0.5)
    waited = time.monotonic() - started

    assert not checked.ok
    assert (checked.failure_class, checked.kind) == ("transient", "remote_error")
    assert "within 0.5 s (the deadline for a whole request)" in checked.message
    assert 0.5 <= waited < 2.0 and 500 <= checked.elapsed_ms < 2000


async def test_a_check_is_bounded_as_a_whole_even_when_each_answer_is_quick() -> None:
    """A WMS that answers 429 with a second's pause, again and again: each request is quick,
    the pauses add up; the check ends a second past one request's deadline."""
    token = json_reply(200, {"access_token": "tok-123456", "expires_in": 3600})
    busy = Reply(429, {"retry-after": "1", "content-type": "text/plain"}, b"slow down")
    routes = {("POST", "/AuthServer/api/Token"): token, ("GET", "/customers/1"): busy}
    with HostileRemote(routes) as remote:
        credentials = {"client_id": "c", "client_secret": "secret-1", "user_login_id": "1"}
        checked = await check_connection(
            "wms_3pl", remote.url, credentials, {**WMS_SETTINGS, "deadline": 0.3}
        )
    assert not checked.ok
    assert checked.message.startswith("the check did not finish within 1.3 s")
    assert 1300 <= checked.elapsed_ms < 2500


async def test_a_refused_port_is_unreachable() -> None:
    port = closed_port()
    checked = await check_connection(
        "shopify", f"http://127.0.0.1:{port}", {"access_token": "shpat_x"}, {}
    )
    assert not checked.ok
    assert (checked.failure_class, checked.kind) == ("transient", "unreachable")
    assert f"connection refused by 127.0.0.1:{port}" in checked.message


async def test_a_body_past_the_cap_is_not_read() -> None:
    with HostileRemote({GRAPHQL: gzip_bomb(64 * 1024 * 1024)}) as remote:
        checked = await check_connection(
            "shopify", remote.url, {"access_token": "shpat_x"}, {"max_body_mb": 1}
        )
    assert not checked.ok
    assert (checked.failure_class, checked.kind) == ("transient", "bad_response")
    assert "the body is larger than 1 MB once decoded: not read" in checked.message


@pytest.mark.parametrize("fault", ["html", "truncated"])
async def test_a_garbled_answer_is_an_unreadable_response(sandbox: Sandbox, fault: str) -> None:
    sandbox.faults.add(FaultRule("shop.shop", fault))  # type: ignore[arg-type]
    checked = await check(sandbox, "shopify_rest")
    assert not checked.ok
    assert (checked.failure_class, checked.kind, checked.http_status) == (
        "transient",
        "bad_response",
        200,
    )


@pytest.mark.parametrize(
    ("platform", "target", "fault", "expected"),
    [
        (
            "wms_3pl",
            "wms.customers",
            "rate_limit",
            ("transient", "rate_limited", 429, "API calls quota exceeded! Maximum admitted"),
        ),
        (
            "shopify_rest",
            "shop.shop",
            "rate_limit",
            ("transient", "rate_limited", 429, "Exceeded 2 calls per second for api client."),
        ),
        (
            "wms_3pl",
            "wms.customers",
            "http_500",
            ("transient", "remote_error", 500, "Object reference not set to an instance"),
        ),
        (
            "shopify_rest",
            "shop.shop",
            "http_503",
            ("transient", "remote_error", 503, ""),
        ),
    ],
    ids=["wms 429", "shop 429", "wms 500", "shop 503"],
)
async def test_a_busy_or_broken_remote_is_transient_in_its_own_words(
    sandbox: Sandbox, platform: str, target: str, fault: str, expected: tuple
) -> None:
    # A pause longer than calls sit out: the check says so at once instead of waiting.
    sandbox.faults.add(FaultRule(target, fault, retry_after=30))  # type: ignore[arg-type]
    checked = await check(sandbox, platform)
    failure_class, kind, status, words = expected
    assert not checked.ok
    assert (checked.failure_class, checked.kind, checked.http_status) == (
        failure_class,
        kind,
        status,
    )
    assert words in checked.message


# -- what the check itself catches ----------------------------------------------------------


async def test_an_unusable_configuration_fails_naming_the_problem() -> None:
    bad_url = await check_connection("shopify", "ftp://shop", {"access_token": "t"}, {})
    no_platform = await check_connection("sap", "https://sap.example", {}, {})
    no_settings = await check_connection("wms_3pl", "https://wms.example", {}, {})

    assert bad_url.message == "base URL 'ftp://shop' must be http(s)://host[:port]"
    assert no_platform.message.startswith("unknown platform 'sap' (known: ")
    assert no_settings.message == (
        "missing credentials: client_id, client_secret, user_login_id; "
        "missing settings: customer_id, facility_id"
    )
    for checked in (bad_url, no_platform, no_settings):
        assert (checked.ok, checked.failure_class, checked.kind) == (
            False,
            "connection",
            "bad_configuration",
        )


async def test_an_unforeseen_exception_is_named_by_its_type_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(self: object) -> str:
        raise KeyError("shpat_secret_in_the_text")

    monkeypatch.setattr(ShopifyRestSource, "probe", broken)
    checked = await check_connection(
        "shopify_rest", "http://127.0.0.1:9", {"access_token": "shpat_x"}, {}
    )
    assert not checked.ok and checked.failure_class is None and checked.kind is None
    assert checked.message == "the check stopped on an unexpected KeyError"
    assert checked.summary().endswith(": error: the check stopped on an unexpected KeyError")


class CountingTransport(httpx.AsyncBaseTransport):
    """Answers ``shop.json`` with ``status``; remembers whether it was closed."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = {"shop": {"name": "Acme Outdoor"}} if self.status == 200 else {"errors": "no"}
        content = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        return httpx.Response(self.status, headers=headers, stream=httpx.ByteStream(content))

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize("status", [200, 401])
async def test_the_client_is_closed_whatever_the_answer(status: int) -> None:
    transport = CountingTransport(status)
    ticks = iter([10.0, 10.18])
    checked = await check_connection(
        "shopify_rest",
        "https://acme.myshopify.com",
        {"access_token": "shpat_x"},
        {"read_timeout": " ", "reference_prefix": "ACME"},  # a form's blank; the engine's own
        transport=transport,
        clock=lambda: next(ticks),
    )
    assert transport.closed
    assert checked.elapsed_ms == 180
    if status == 200:
        assert checked.summary() == "OK in 180 ms — shop Acme Outdoor"
    else:
        assert checked.summary() == "failed in 180 ms: credentials rejected (connection): no"


def test_a_summary_reads_as_one_line() -> None:
    passed = ConnectionCheck(True, 180, None, None, None, "shop Acme Outdoor")
    failed = ConnectionCheck(False, 95, "transient", "rate_limited", 429, "slow down")
    assert passed.summary() == "OK in 180 ms — shop Acme Outdoor"
    assert (
        failed.summary()
        == "failed in 95 ms: rate limited by the remote system (transient): slow down"
    )


# -- a stored connection ----------------------------------------------------------------------


def snapshot(session: Session) -> list[str]:
    """Everything a check must leave alone: the queue, alerts, emails, audit, connections."""
    rows: list[str] = []
    for model in (RetryItem, Alert, OutboxEmail, AuditEntry, Connection):
        for row in session.exec(select(model)):
            rows.append(repr(sorted(row.model_dump().items(), key=lambda kv: kv[0])))
    return rows


async def test_a_stored_connection_is_checked_and_nothing_here_changes(
    db_url: str, sandbox: Sandbox
) -> None:
    database = Database(db_url)
    clock = FakeClock()
    try:
        world = wire_world(database, sandbox, clock)
        order = SourceOrder(
            remote_id="4500001",
            number="#1001",
            ship_to=Address(name="Ada", address1="1 Main St", city="Austin", zip="78701"),
            ship_method_code="UPS_GROUND",
            ship_method_title="UPS Ground",
            lines=(OrderLine("SKU-1", 1),),
        )
        with database.write() as session:
            store_source_orders(session, world.shop_id, [order], clock.now())
            wms_connection = session.get(Connection, world.wms_id)
            assert wms_connection is not None
            wms_connection.paused, wms_connection.paused_reason = True, "paused by tester"
        with database.read() as session:
            before = snapshot(session)
            shop_row = session.get(Connection, world.shop_id)
            wms_row = session.get(Connection, world.wms_id)
        assert shop_row is not None and wms_row is not None

        sandbox.wms.revoke_client()
        checks = [await check_stored_connection(shop_row), await check_stored_connection(wms_row)]

        with database.read() as session:
            assert snapshot(session) == before
    finally:
        database.dispose()
    assert checks[0].ok and checks[0].message.startswith("shop Sandbox Shop")
    assert (checks[1].ok, checks[1].failure_class) == (False, "connection")
    assert sandbox.wms.orders == {}


async def test_credentials_that_cannot_be_opened_fail_the_check_saying_why(
    sandbox: Sandbox,
) -> None:
    sealed = Fernet(Fernet.generate_key()).encrypt(b"{}").decode()
    connection = Connection(
        account_id=1,
        name="3PL",
        role="wms",
        platform="wms_3pl",
        base_url=sandbox.wms_url,
        credentials=Unreadable("not the key they were sealed with", {"sealed": sealed}),
        settings=dict(WMS_SETTINGS),
    )
    checked = await check_stored_connection(connection)
    assert not checked.ok
    assert (checked.failure_class, checked.kind) == ("connection", "bad_configuration")
    assert checked.message == (
        "the credentials of 3PL cannot be opened: not the key they were sealed with"
    )
    assert not sandbox.requests  # no request goes out without its credentials


# -- the CLI ---------------------------------------------------------------------------------


def imtui(db_path: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", db_path, *args], env=env)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imtui: error: "), result.stderr
    return lines[0]


def add_shop(db_path: str, url: str, token: str, platform: str = "shopify_rest") -> None:
    for args in (
        ["account", "add", "acme"],
        ["connection", "add", "--name", "shop", "--platform", platform, "--url", url,
         "--credential", "access_token=@TEST_SHOP_TOKEN"],
    ):  # fmt: skip
        result = imtui(db_path, *args, env={"TEST_SHOP_TOKEN": token})
        assert result.exit_code == 0, result.output


def test_the_cli_says_ok_in_one_line_and_the_shops_name_escaped(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    db_path = str(tmp_path / "imtui.db")
    add_shop(db_path, sandbox.shop_url, sandbox.shop_token, platform="shopify")
    sandbox.shop.name = "Acme\x1b[31m Outdoor"
    result = imtui(db_path, "connection", "test", "shop")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("connection 1 (shop): OK in ")
    assert result.stdout.rstrip().endswith(
        "ms — shop Acme\\x1b[31m Outdoor (sandbox.myshopify.com)"
    )
    assert "\x1b" not in result.output and sandbox.shop_token not in result.output


def test_the_cli_prints_a_hostile_refusal_escaped_and_json_exactly(tmp_path: Path) -> None:
    db_path = str(tmp_path / "imtui.db")
    refusal = json_reply(401, {"errors": HOSTILE})
    with HostileRemote({SHOP_SHOP_JSON: refusal}) as remote:
        add_shop(db_path, remote.url, "shpat_cli_secret_1")
        text = imtui(db_path, "connection", "test", "shop")
        as_json = imtui(db_path, "connection", "test", "1", "--json")

    line = one_line_error(text)
    assert line.startswith("imtui: error: connection 1 (shop): failed in ")
    assert "credentials rejected (connection): \\x1b[2J\\x1b]0;pwned\\x07 token revoked" in line
    assert "\\u202eevil\\u202c \\x9b31m" in line
    for output in (text.output, as_json.output):
        for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\u202c"):
            assert raw not in output
        assert "shpat_cli_secret_1" not in output

    assert as_json.exit_code == 1
    shown = json.loads(as_json.stdout)
    assert set(shown) == {"ok", "elapsed_ms", "failure_class", "kind", "http_status", "message"}
    assert shown["message"] == HOSTILE
    assert (shown["ok"], shown["failure_class"], shown["kind"], shown["http_status"]) == (
        False,
        "connection",
        "credentials_rejected",
        401,
    )
    assert isinstance(shown["elapsed_ms"], int) and shown["elapsed_ms"] > 0
    json_line = one_line_error(as_json)
    assert json_line.startswith(
        f"imtui: error: connection 1 (shop): failed in {shown['elapsed_ms']} ms"
    )
    assert json_line.endswith(line.partition(" ms: ")[2])


def test_the_cli_json_of_a_working_connection(tmp_path: Path, sandbox: Sandbox) -> None:
    db_path = str(tmp_path / "imtui.db")
    add_shop(db_path, sandbox.shop_url, sandbox.shop_token)
    result = imtui(db_path, "connection", "test", "shop", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown == {
        "ok": True,
        "elapsed_ms": shown["elapsed_ms"],
        "failure_class": None,
        "kind": None,
        "http_status": None,
        "message": "shop Sandbox Shop (sandbox.myshopify.com)",
    }
    assert result.stderr == ""


def test_the_cli_names_an_unknown_connection_in_one_line(tmp_path: Path) -> None:
    db_path = str(tmp_path / "imtui.db")
    assert imtui(db_path, "account", "add", "acme").exit_code == 0
    line = one_line_error(imtui(db_path, "connection", "test", "nope"))
    assert line == "imtui: error: no connection 'nope'"


def test_the_cli_fails_a_silent_remote_within_its_deadline(tmp_path: Path) -> None:
    db_path = str(tmp_path / "imtui.db")
    with HostileRemote({SHOP_SHOP_JSON: never_answers()}) as remote:
        add_shop(db_path, remote.url, "shpat_cli_secret_1")
        assert (
            imtui(db_path, "connection", "edit", "shop", "--setting", "deadline=1").exit_code == 0
        )
        started = time.monotonic()
        line = one_line_error(imtui(db_path, "connection", "test", "shop"))
        waited = time.monotonic() - started
    assert "cannot reach" not in line
    assert "remote server error (transient): no complete response from" in line
    assert "within 1 s (the deadline for a whole request)" in line
    assert waited < 3.0
