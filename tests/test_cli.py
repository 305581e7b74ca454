"""The headless CLI, driven as a person or a script would drive it: through click's CliRunner on
a temporary SQLite file, and through a real ``python -m imtui.cli`` process where signals and
exit codes matter."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from imtui.cli import cli
from imtui.domain.records import Address, OrderLine, SourceOrder
from imtui.domain.text import printable
from imtui.engine import account_actions
from imtui.engine.ingest import store_source_orders
from imtui.store import overview_reads, queue_reads
from imtui.store.database import Database
from imtui.store.rows import HeaderCounts, QueueFilter
from tests.conftest import add_shop_order, dump

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SHOP_TOKEN = "shpat_super_secret_token_1"
WMS_SECRET = "wms-client-secret-xyz"
WMS_ID = "wms-client-id-abc"
EVIL_NAME = "\x1b[2J\x1b]0;pwned\x07Mallory \u202eevil\u202c \x9b31m"


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "imtui.db")


def imtui(db_path: str, *args: str, input: str | None = None, env: dict | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", db_path, *args], input=input, env=env)


def ok(db_path: str, *args: str, **kwargs: object) -> Result:
    result = imtui(db_path, *args, **kwargs)  # type: ignore[arg-type]
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    return result


def assert_one_line_error(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("imtui: error: ")
    return lines[0]


def seed_orders(db_path: str, *orders: SourceOrder) -> None:
    """An account with a shop and a WMS (on ports nothing listens on), and these orders as if
    the shop had reported them: queued for delivery, due at NOW."""
    database = Database(db_path)
    try:
        with database.write() as session:
            account = account_actions.add_account(
                session, name="acme", kind="merchant", actor="t", now=NOW
            )
            shop = account_actions.add_connection(
                session,
                account=account,
                name="shop",
                platform="shopify",
                base_url="http://127.0.0.1:9",
                credentials={"access_token": SHOP_TOKEN},
                settings={},
                poll_interval_s=300,
                actor="t",
                now=NOW,
            )
            account_actions.add_connection(
                session,
                account=account,
                name="wms",
                platform="wms_3pl",
                base_url="http://127.0.0.1:9",
                credentials={
                    "client_id": WMS_ID,
                    "client_secret": WMS_SECRET,
                    "user_login_id": "1",
                },
                settings={"customer_id": "1", "facility_id": "1"},
                poll_interval_s=300,
                actor="t",
                now=NOW,
            )
            store_source_orders(session, shop.id or 0, list(orders), NOW)
    finally:
        database.dispose()


def source_order(n: int, **changes: object) -> SourceOrder:
    fields: dict[str, object] = {
        "remote_id": str(4500000 + n),
        "number": f"#{1000 + n}",
        "ship_to": Address(
            name="Ada Lovelace",
            address1="1 Analytical Way",
            city="Springfield",
            state="IL",
            zip="62701",
            country="US",
        ),
        "ship_method_code": "UPS_GROUND",
        "ship_method_title": "UPS Ground",
        "lines": (OrderLine("SKU-1", 2),),
    }
    fields.update(changes)
    return SourceOrder(**fields)  # type: ignore[arg-type]


@pytest.fixture
def seeded(db_path: str) -> str:
    seed_orders(db_path, source_order(1), source_order(2), source_order(3))
    return db_path


# -- text safety ------------------------------------------------------------------------------


def test_printable_escapes_controls_escape_sequences_and_bidi_overrides() -> None:
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("x\x07\x00\x7f\x9b") == "x\\x07\\x00\\x7f\\x9b"
    assert printable("left\u202eright\u2066") == "left\\u202eright\\u2066"
    assert printable("one\ntwo\tthree") == "one\\ntwo\\tthree"
    assert printable("one\ntwo", keep_newlines=True) == "one\ntwo"
    assert printable("Zoë 東京 #1001") == "Zoë 東京 #1001"
    assert printable(None) == ""


def test_escape_sequences_in_order_fields_are_neutralised_when_printed(db_path: str) -> None:
    seed_orders(db_path, source_order(7, number="#1007\x1b[31m", ship_to=Address(name=EVIL_NAME)))
    outputs = [
        ok(db_path, "orders", "list").output,
        ok(db_path, "orders", "show", "1").output,
        ok(db_path, "orders", "list", "--json").output,
    ]
    for output in outputs:
        for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\u202c"):
            assert raw not in output
    assert "\\x1b[2J" in outputs[1] and "\\u202e" in outputs[1]
    assert json.loads(outputs[2])[0]["ship_name"] == EVIL_NAME


# -- accounts, connections, mappings ---------------------------------------------------------


def test_account_connection_and_mapping_crud_never_prints_credentials(db_path: str) -> None:
    outputs: list[str] = []

    def run(*args: str, **kwargs: object) -> Result:
        result = ok(db_path, *args, **kwargs)
        outputs.append(result.output)
        return result

    assert "added account 1: acme" in run("account", "add", "acme").output
    run("account", "add", "north", "--kind", "warehouse")
    accounts = json.loads(run("account", "list", "--json").output)
    assert [(a["name"], a["kind"]) for a in accounts] == [
        ("acme", "merchant"),
        ("north", "warehouse"),
    ]

    run(
        "connection", "add", "--account", "acme", "--name", "shop", "--platform", "shopify",
        "--url", "http://127.0.0.1:9", "--credential", f"access_token={SHOP_TOKEN}",
        "--poll", "60",
    )  # fmt: skip
    run(
        "connection", "add", "--account", "acme", "--name", "wms", "--platform", "wms_3pl",
        "--url", "https://wms.example.com/", "--credential", "client_id=@TEST_WMS_ID",
        "--credential", "client_secret=-", "--credential", "user_login_id=1",
        "--setting", "customer_id=1", "--setting", "facility_id=1",
        input=WMS_SECRET + "\n", env={"TEST_WMS_ID": WMS_ID},
    )  # fmt: skip
    connections = json.loads(run("connection", "list", "--json").output)
    assert [(c["name"], c["role"], c["base_url"]) for c in connections] == [
        ("shop", "source", "http://127.0.0.1:9"),
        ("wms", "wms", "https://wms.example.com"),
    ]
    assert connections[1]["credential_keys"] == ["client_id", "client_secret", "user_login_id"]
    assert "client_secret=••••" in run("connection", "show", "wms").output
    run("connection", "list")

    run(
        "connection", "add", "--account", "north", "--name", "wms", "--platform", "wms_3pl",
        "--url", "https://north:pa55word@wms.example.com", "--credential", "client_id=n",
        "--credential", "client_secret=s", "--credential", "user_login_id=1",
        "--setting", "customer_id=2", "--setting", "facility_id=1",
    )  # fmt: skip
    assert "https://north:••••@wms.example.com" in run("connection", "show", "3").output
    changed = run("connection", "credentials", "2", "client_secret=@NEW", env={"NEW": "n3w!"})
    assert "client_secret=••••" in changed.output
    database = Database(db_path)
    with database.read() as session:
        stored = account_actions.connection_for(session, "2").credentials
    database.dispose()
    assert stored == {"client_id": WMS_ID, "client_secret": "n3w!", "user_login_id": "1"}

    released = run("mapping", "set", "UPS_GROUND", "--carrier", "UPS", "--mode", "03",
                   "--account", "acme")  # fmt: skip
    assert "released 0 held orders" in released.output
    run("mapping", "set", "EXPRESS", "--carrier", "FedEx", "--mode", "PRIORITY_OVERNIGHT",
        "--billing", "ThirdParty", "--account", "acme")  # fmt: skip
    mappings = json.loads(run("mapping", "list", "--json").output)
    assert [(m["source_code"], m["carrier"], m["billing_code"]) for m in mappings] == [
        ("EXPRESS", "FedEx", "ThirdParty"),
        ("UPS_GROUND", "UPS", "Prepaid"),
    ]
    run("mapping", "delete", "EXPRESS", "--account", "acme", "--yes")  # no terminal to ask on
    assert "EXPRESS" not in run("mapping", "list").output

    audit = json.loads(run("audit", "list", "--json").output)
    assert audit[0]["action"] == "mapping.delete"
    assert {"account.add", "connection.add", "connection.credentials"} <= {
        entry["action"] for entry in audit
    }
    run("audit", "list")
    for output in outputs:
        for secret in (SHOP_TOKEN, WMS_SECRET, WMS_ID, "n3w!", "pa55word"):
            assert secret not in output


def test_json_lists_parse(seeded: str) -> None:
    for command in (
        ["orders", "list"],
        ["alerts", "list", "--state", "all"],
        ["queue", "list", "--state", "all"],
        ["audit", "list"],
        ["mapping", "list"],
        ["account", "list"],
        ["connection", "list"],
    ):
        rows = json.loads(ok(seeded, *command, "--json").stdout)
        assert isinstance(rows, list), command
    orders = json.loads(ok(seeded, "orders", "list", "--json").stdout)
    assert [o["number"] for o in orders] == ["#1003", "#1002", "#1001"]
    assert orders[0]["created_at"] == "2026-11-02T09:00:00+00:00"
    counts = json.loads(ok(seeded, "status", "--json").stdout)
    email = counts.pop("email")
    assert (email["waiting"], email["failing"], email["failed"]) == (0, 0, 0)
    assert counts.pop("browser_links") == []  # no imtui serve: emails carry no links
    assert counts.pop("setup") == {
        "accounts": 1,
        "without_source": [],
        "without_wms": [],
        "paused": [],
    }
    assert counts == {
        **{"open_alerts": 0, "needs_person": 0, "due_now": 3, "held": 0, "skipped": 0},
        "engine_beat": None,  # no engine ever ran here
    }
    assert "engine        none running" in ok(seeded, "status").stdout


def test_orders_list_pages_with_a_cursor_and_filters(seeded: str) -> None:
    first = ok(seeded, "orders", "list", "--limit", "2", "--json")
    assert [o["number"] for o in json.loads(first.stdout)] == ["#1003", "#1002"]
    assert first.stderr.strip() == "more: add --after 2"
    rest = ok(seeded, "orders", "list", "--limit", "2", "--after", "2", "--json")
    assert [o["number"] for o in json.loads(rest.stdout)] == ["#1001"]
    assert rest.stderr == ""
    found = ok(seeded, "orders", "list", "--search", "1002", "--json")
    assert [o["number"] for o in json.loads(found.stdout)] == ["#1002"]
    by_name = ok(seeded, "orders", "list", "--search", "lovelace", "--status", "queued")
    assert by_name.stdout.count("Ada Lovelace") == 3
    table = ok(seeded, "orders", "list").stdout.splitlines()
    assert all(len(line) <= 80 for line in table)


def test_header_counts_and_due_queue_cursor(seeded: str) -> None:
    database = Database(seeded)
    try:
        with database.read() as session:
            counts = overview_reads.header_counts(session, now=NOW)
            first = queue_reads.list_queue(session, QueueFilter(states=("due",)), limit=2)
            rest = queue_reads.list_queue(
                session, QueueFilter(states=("due",)), after=first.next_cursor, limit=2
            )
    finally:
        database.dispose()
    assert counts == HeaderCounts(0, 0, due_now=3, held=0, skipped=0)
    assert [row.subject_label for row in first.rows] == ["#1001", "#1002"]
    assert [row.subject_label for row in rest.rows] == ["#1003"] and rest.next_cursor is None


# -- bad input: one line, non-zero, nothing changed --------------------------------------------


ADD_SHOP = ["connection", "add", "--platform", "shopify", "--credential", "access_token=t"]

BAD_INPUT = {
    "unknown order": (["orders", "show", "9999"], 1, "no order '9999'"),
    "unknown order to resend": (["orders", "resend", "#1001", "nope"], 1, "no order 'nope'"),
    "unknown alert": (["alerts", "show", "42"], 1, "no alert 42"),
    "unknown alert to dismiss": (["alerts", "dismiss", "42", "--yes"], 1, "no alert 42"),
    "unknown connection": (["connection", "show", "nope"], 1, "no connection 'nope'"),
    "unknown retry item": (["queue", "resend", "999"], 1, "no retry item 999"),
    "unknown account": (["orders", "list", "--account", "nope"], 1, "no account 'nope'"),
    "malformed URL": (
        [
            "connection",
            "add",
            "--name",
            "x",
            "--platform",
            "shopify",
            "--url",
            "notaurl",
            "--credential",
            "access_token=t",
        ],
        1,
        "notaurl",
    ),
    "URL with a space": (
        [*ADD_SHOP, "--name", "x", "--url", "http://host with space"],
        1,
        "no spaces",
    ),
    "URL with a fragment": (
        [*ADD_SHOP, "--name", "x", "--url", "https://x.example/p?q=1#f"],
        1,
        "no ?query or #fragment",
    ),
    "unknown credential": (
        [*ADD_SHOP, "--name", "x", "--url", "https://x.example", "--credential", "acess_tokn=t"],
        1,
        "shopify has no credential acess_tokn (its credentials: access_token)",
    ),
    "unknown setting": (
        [*ADD_SHOP, "--name", "x", "--url", "https://x.example", "--setting", "location_id=7"],
        1,
        "shopify has no setting location_id",
    ),
    "connection name taken": (
        [*ADD_SHOP, "--name", "shop", "--url", "https://other.example"],
        1,
        "already has a connection 'shop'",
    ),
    "invalid address": (
        ["orders", "edit", "#1001", "--set", "zip=abc"],
        1,
        "invalid address: zip US ZIP code",
    ),
    "address with controls": (
        ["orders", "edit", "1001", "--set", "name=\x1b[31mX"],
        1,
        "name contains control characters",
    ),
    "not an editable field": (["orders", "edit", "1001", "--set", "colour=red"], 1, "colour"),
    "not key=value": (["orders", "edit", "1001", "--set", "zip"], 1, "not KEY=VALUE"),
    "duplicate account": (["account", "add", "acme"], 1, "already exists"),
    "credential from a missing env var": (
        ["connection", "credentials", "shop", "access_token=@IMTUI_TEST_UNSET"],
        1,
        "IMTUI_TEST_UNSET",
    ),
    "dismiss without a terminal": (["alerts", "dismiss", "1"], 1, "add --yes"),
    "bad cursor": (["orders", "list", "--after", "xyz"], 1, "not a cursor"),
    "bad open target": (["open", "order/1"], 2, "alert/ID"),
    "unknown fault profile": (["sandbox", "--faults", "nope"], 1, "unknown fault profile"),
    "unknown command": (["frobnicate"], 2, "No such command"),
    "unknown option": (["orders", "list", "--bogus"], 2, "imtui orders list --help"),
    "not a number": (["alerts", "dismiss", "one", "--yes"], 2, "'one' is not a valid integer"),
    "unknown platform": (
        ["connection", "add", "--name", "x", "--platform", "ftp", "--url", "http://x"],
        2,
        "ftp",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_gives_one_line_and_changes_nothing(seeded: str, case: str) -> None:
    args, code, words = BAD_INPUT[case]
    before = dump(seeded)
    line = assert_one_line_error(imtui(seeded, *args, env={"IMTUI_TEST_UNSET": ""}), code)
    assert words in line
    assert dump(seeded) == before


def test_database_that_cannot_be_opened_gives_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    not_a_db = tmp_path / "not-a-db.db"
    not_a_db.write_bytes(b"garbage, not SQLite " * 50)
    cases = {
        str(a_file / "sub" / "x.db"): "cannot create",
        str(not_a_db): "file is not a database",
        "postgresql://nobody:hunter2@127.0.0.1:1/x": "cannot open",
        "mysql://root@localhost/x": "unsupported database",
    }
    for url, words in cases.items():
        line = assert_one_line_error(CliRunner().invoke(cli, ["--db", url, "account", "list"]))
        assert words in line and "hunter2" not in line
    assert not (a_file.parent / "sub").exists()
    assert not_a_db.read_bytes() == b"garbage, not SQLite " * 50


COMMANDS_ON_A_DATABASE = [
    [],  # the dashboard
    ["dashboard"],
    ["orders", "list"],
    ["status"],
    ["account", "add", "acme"],
    ["open", "alert/1", "--print"],
    ["worker", "--once"],
]


@pytest.mark.parametrize("args", COMMANDS_ON_A_DATABASE, ids=lambda a: " ".join(a) or "imtui")
def test_a_db_in_a_folder_that_does_not_exist_is_one_line_and_no_folder(
    tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "typo" / "deeper" / "x.db"
    by_option = CliRunner().invoke(cli, ["--db", str(missing), *args])
    by_env = CliRunner().invoke(cli, args, env={"IMTUI_DB": f"sqlite:///{missing}"})
    for result in (by_option, by_env):
        line = assert_one_line_error(result)
        assert f"cannot create {missing}: the folder {missing.parent} does not exist" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", COMMANDS_ON_A_DATABASE, ids=lambda a: " ".join(a) or "imtui")
def test_a_db_that_is_not_a_database_is_one_line_before_anything_opens(
    tmp_path: Path, args: list[str]
) -> None:
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_bytes(b"my notes, not SQLite")
    line = assert_one_line_error(CliRunner().invoke(cli, ["--db", str(not_a_db), *args]))
    assert str(not_a_db) in line and "file is not a database" in line
    line = assert_one_line_error(CliRunner().invoke(cli, ["--db", str(tmp_path), *args]))
    assert "it is a folder, not a database file" in line
    assert not_a_db.read_bytes() == b"my notes, not SQLite"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


@pytest.mark.parametrize("args", COMMANDS_ON_A_DATABASE, ids=lambda a: " ".join(a) or "imtui")
def test_an_empty_db_is_refused_not_taken_for_the_default(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(
        cli, ["--db", "", *args], env={"IMTUI_DB": None, "XDG_DATA_HOME": str(tmp_path / "data")}
    )
    assert "--db is empty" in assert_one_line_error(result)
    assert not (tmp_path / "data").exists()


def test_the_default_database_still_makes_its_own_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["status"], env={"IMTUI_DB": None, "XDG_DATA_HOME": str(tmp_path / "data")}
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert (tmp_path / "data" / "imtui" / "imtui.db").is_file()


def test_the_headless_demo_keeps_its_database_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = CliRunner().invoke(cli, ["demo", "--headless", "--seconds", "1"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    [folder] = tmp_path.iterdir()
    assert (folder / "demo.db").is_file()
    last = result.stdout.strip().splitlines()[-1]
    assert last == f"The demo database stays in {folder} (delete the folder when done)."
    assert f"database sqlite:///{folder / 'demo.db'}" in result.stdout


def test_locked_database_gives_one_line(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("imtui.store.database.BUSY_TIMEOUT_S", 0.2)
    before = dump(seeded)
    holder = sqlite3.connect(seeded, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        line = assert_one_line_error(imtui(seeded, "account", "add", "other"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "database is locked" in line and "try again" in line
    assert dump(seeded) == before


def test_dismiss_asks_on_a_terminal_and_yes_skips_the_question(
    seeded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(seeded)
    from imtui.domain.failures import AlertKind
    from imtui.store.alerts import AlertSubject, raise_alert

    with database.write() as session:
        raise_alert(
            session,
            account_id=1,
            connection_id=1,
            kind=AlertKind.UNKNOWN_SKU,
            message="Sku 'X' not found for customer 1",
            now=NOW,
            about=AlertSubject(order_id=1, order_number="#1001", subject="deliver:1"),
        )
    database.dispose()
    monkeypatch.setattr("imtui.cli.alerts._stdin_is_a_terminal", lambda: True)
    declined = imtui(seeded, "alerts", "dismiss", "1", input="n\n")
    assert declined.exit_code == 1 and "aborted" in declined.stderr
    assert "open" in ok(seeded, "alerts", "show", "1").stdout
    assert "dismissed alert 1" in ok(seeded, "alerts", "dismiss", "1", "--yes").stdout
    shown = ok(seeded, "alerts", "show", "1").stdout
    assert "dismissed" in shown and "history" in shown


# -- real processes -------------------------------------------------------------------------


def run_process(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imtui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_module_entry_point_in_a_real_process(db_path: str) -> None:
    added = run_process("--db", db_path, "account", "add", "acme")
    assert added.returncode == 0 and "added account 1" in added.stdout
    missing = run_process("--db", db_path, "orders", "show", "#404")
    assert missing.returncode == 1
    assert missing.stderr == "imtui: error: no order '#404'\n"
    assert missing.stdout == ""


@pytest.mark.slow
def test_console_script_usage_error_exits_2(db_path: str) -> None:
    script = Path(sys.executable).parent / "imtui"
    if not script.exists():
        pytest.skip("the imtui console script is not installed next to this interpreter")
    result = subprocess.run(
        [str(script), "--db", db_path, "queue", "list", "--state", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("imtui: error: ")
    assert "Traceback" not in result.stderr


@pytest.fixture
def worker(db_path: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "imtui.cli", "--db", db_path, "worker", "--tick", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_worker_stops_cleanly_on_a_signal(
    worker: subprocess.Popen[str], signum: signal.Signals
) -> None:
    assert worker.stderr is not None
    started = ""
    deadline = time.monotonic() + 20
    while "started" not in started and time.monotonic() < deadline:
        started = worker.stderr.readline()
    assert "started" in started
    worker.send_signal(signum)
    _, rest = worker.communicate(timeout=20)
    assert worker.returncode == 0
    assert "Traceback" not in rest and "worker stopped" in rest
    assert started[:4].isdigit() and "Z INFO" in started


# -- end to end against the sandbox -----------------------------------------------------------


def test_worker_delivers_and_resend_after_mapping_delivers_a_held_order(
    db_path: str, sandbox: object
) -> None:
    sb = sandbox
    creds = sb.wms_credentials  # type: ignore[attr-defined]
    env = {"E2E_SHOP_TOKEN": sb.shop_token, "E2E_WMS_SECRET": creds["client_secret"]}  # type: ignore[attr-defined]
    add_shop_order(sb, 1001)
    add_shop_order(sb, 1002, method="SAME_DAY_COURIER")
    outputs = [ok(db_path, "account", "add", "acme").output]
    outputs.append(ok(
        db_path, "connection", "add", "--name", "shop", "--platform", "shopify",
        "--url", sb.shop_url, "--credential", "access_token=@E2E_SHOP_TOKEN",  # type: ignore[attr-defined]
        "--setting", "read_timeout=2", env=env,
    ).output)  # fmt: skip
    outputs.append(ok(
        db_path, "connection", "add", "--name", "wms", "--platform", "wms_3pl",
        "--url", sb.wms_url, "--credential", f"client_id={creds['client_id']}",  # type: ignore[attr-defined]
        "--credential", "client_secret=@E2E_WMS_SECRET",
        "--credential", f"user_login_id={creds['user_login_id']}",
        "--setting", "customer_id=1", "--setting", "facility_id=1", "--setting", "read_timeout=2",
        env=env,
    ).output)  # fmt: skip
    ok(db_path, "mapping", "set", "UPS_GROUND", "--carrier", "UPS", "--mode", "03")

    cycle = ok(db_path, "worker", "--once")
    assert cycle.stdout.startswith("2 new orders; deliveries 1 ok, 0 failed, 1 held")
    orders = {o["number"]: o for o in json.loads(ok(db_path, "orders", "list", "--json").stdout)}
    assert sb.wms.created(orders["#1001"]["reference"]) == 1  # type: ignore[attr-defined]
    assert orders["#1002"]["status"] == "held"

    alert = json.loads(ok(db_path, "alerts", "list", "--json").stdout)[0]
    assert alert["kind"] == "unmapped_ship_method"
    opened = ok(db_path, "open", f"alert/{alert['id']}").stdout
    assert "fix: imtui mapping set SAME_DAY_COURIER --carrier CARRIER --mode MODE" in opened

    mapped = ok(db_path, "mapping", "set", "SAME_DAY_COURIER", "--carrier", "UPS", "--mode", "92")
    assert "released 1 held order" in mapped.stdout
    resent = ok(db_path, "orders", "resend", "1002")
    assert resent.stdout.startswith("#1002: delivered (WMS order ")
    assert sb.wms.created(orders["#1002"]["reference"]) == 1  # type: ignore[attr-defined]

    shown = ok(db_path, "orders", "show", "#1002").stdout
    assert "local_hold" in shown and "has no mapping" in shown and "delivered" in shown
    outputs += [cycle.output, opened, resent.output, shown]
    for output in outputs:
        assert sb.shop_token not in output and creds["client_secret"] not in output  # type: ignore[attr-defined]


def test_a_connection_name_two_accounts_use_is_refused_naming_each(seeded: str) -> None:
    assert imtui(seeded, "account", "add", "Other").exit_code == 0
    added = imtui(
        seeded,
        *["connection", "add", "--account", "Other", "--name", "shop", "--platform", "shopify"],
        *["--url", "https://other.example", "--credential", "access_token=t"],
    )
    assert added.exit_code == 0, added.output
    before = dump(seeded)
    line = assert_one_line_error(imtui(seeded, "connection", "credentials", "shop", "x=1"))
    assert "used by several accounts" in line and "(Other)" in line and "use the id" in line
    assert dump(seeded) == before  # no account's credentials changed on a guess


def test_status_says_whether_an_engine_runs(seeded: str) -> None:
    from datetime import UTC, datetime

    from imtui.store.beats import beat

    database = Database(seeded)
    now = datetime.now(UTC)
    with database.write() as session:
        beat(session, "host:1:x", now, now)
    database.dispose()
    assert "engine        running (last cycle" in ok(seeded, "status").stdout
