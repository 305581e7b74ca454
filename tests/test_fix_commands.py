"""The command that fixes an alert (imtui/domain/fixes.py): one rule for ``imtui open alert/N
--print`` and the alert emails, quoting an order the way every other place prints it — and that
printed form, typed into a shell, selects the order it names."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlmodel import select

from imtui.cli import cli
from imtui.domain.alerts import AlertScope, AlertState, scope_of
from imtui.domain.failures import AlertKind
from imtui.domain.fixes import (
    MAX_ESCAPES_READ_BOTH_WAYS,
    FixFacts,
    fix_command,
    fix_commands,
    names_printed_as,
    shell_word,
)
from imtui.domain.records import Address, OrderLine, SourceOrder
from imtui.domain.text import printable
from imtui.engine import account_actions
from imtui.engine.ingest import store_source_orders
from imtui.store.alerts import AlertSubject, raise_alert
from imtui.store.database import Database
from imtui.store.models import AuditEntry, Order

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CRLF_NAME = "#37\r\n06"
CRLF_PRINTED = "#37\\r\\n06"
HOSTILE_NAME = "#1'; rm -rf ~"
CONNECTION_KINDS = [kind for kind in AlertKind if scope_of(kind) is AlertScope.CONNECTION]


def facts(kind: AlertKind, **changes: object) -> FixFacts:
    fields: dict[str, object] = {
        "alert_id": 7,
        "kind": kind.value,
        "state": AlertState.OPEN.value,
        "account_id": 1,
        "connection_id": 2,
        "order_number": "#1001",
        "ship_method_code": "SAME_DAY",
        "credential_keys": ("client_id", "client_secret"),
    }
    fields.update(changes)
    return FixFacts(**fields)  # type: ignore[arg-type]


# -- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(AlertKind))
@pytest.mark.parametrize("order_number", ["#1001", None])
def test_every_kind_has_a_fix_in_words_or_as_a_command(
    kind: AlertKind, order_number: str | None
) -> None:
    lines = fix_commands(facts(kind, order_number=order_number))
    assert lines and all(line.strip() for line in lines)
    command = fix_command(facts(kind, order_number=order_number))
    if command is not None:
        assert command.startswith("imtui ")
        assert "  (" not in command, "the command alone, no words after it"
        assert any(command in line for line in lines), (command, lines)


@pytest.mark.parametrize("state", [AlertState.RESOLVED, AlertState.DISMISSED])
def test_a_closed_alert_has_nothing_to_run(state: AlertState) -> None:
    closed = facts(AlertKind.VALIDATION, state=state.value)
    assert fix_commands(closed) == [f"nothing to do: the alert is {state.value}"]
    assert fix_command(closed) is None


@pytest.mark.parametrize("kind", CONNECTION_KINDS)
def test_a_connection_wide_alert_names_no_order(kind: AlertKind) -> None:
    wide = facts(kind, order_number="#1001")
    assert not any("1001" in line for line in fix_commands(wide))
    assert "1001" not in (fix_command(wide) or "")


def test_rejected_credentials_name_the_platforms_keys() -> None:
    rejected = facts(AlertKind.CREDENTIALS_REJECTED)
    command = "imtui connection credentials 2 client_id=- client_secret=-"
    assert fix_command(rejected) == command
    assert fix_commands(rejected)[0].startswith(command)
    unknown = facts(AlertKind.CREDENTIALS_REJECTED, connection_id=None, credential_keys=())
    assert fix_command(unknown) == "imtui connection credentials CONN KEY=-"


def test_a_connection_that_heals_by_itself_has_no_command() -> None:
    assert fix_command(facts(AlertKind.UNREACHABLE)) is None
    assert "imtui alerts dismiss 7" in " ".join(fix_commands(facts(AlertKind.UNREACHABLE)))


def test_commands_for_the_record_kinds() -> None:
    mapping = "imtui mapping set SAME_DAY --carrier CARRIER --mode MODE --account 1"
    assert fix_command(facts(AlertKind.UNMAPPED_SHIP_METHOD)) == mapping
    assert fix_command(facts(AlertKind.UNKNOWN_CARRIER)) == mapping
    assert fix_command(facts(AlertKind.ADDRESS_REJECTED)) == (
        "imtui orders edit '#1001' --set FIELD=VALUE --account 1"
    )
    assert fix_command(facts(AlertKind.UNKNOWN_SKU)) == ("imtui orders resend --account 1 '#1001'")
    assert fix_command(facts(AlertKind.SKIPPED, order_number=None)) == (
        "imtui queue list --state skipped"
    )
    assert fix_command(facts(AlertKind.VALIDATION, order_number=None)) == (
        "imtui queue list --state held"
    )
    assert fix_command(facts(AlertKind.ORDER_NOT_TAKEN)) is None
    assert fix_command(facts(AlertKind.SHOP_CHANGE)) is None


def test_a_refused_contact_address_names_the_contact() -> None:
    refused = facts(AlertKind.EMAIL_REFUSED, connection_id=None, order_number=None, contact_id=4)
    assert fix_command(refused) == "imtui contacts edit 4 --email ADDRESS"
    assert fix_commands(refused)[-1] == "or imtui contacts delete 4"


def test_a_crlf_in_the_order_is_the_visible_escape_with_literal_backslashes() -> None:
    command = fix_command(facts(AlertKind.VALIDATION, order_number=CRLF_NAME))
    assert command == "imtui orders resend --account 1 '#37\\r\\n06'"
    assert "\r" not in command and "\n" not in command
    assert shlex.split(command)[5] == CRLF_PRINTED == printable(CRLF_NAME)


@pytest.mark.parametrize(
    "name", [HOSTILE_NAME, "#2 $(reboot)", "#3`id`", '#4"\\', "#5\x1b[31m\u202e", CRLF_NAME]
)
def test_a_shell_hostile_order_comes_back_from_shlex_as_its_printable_name(name: str) -> None:
    for kind in (AlertKind.UNKNOWN_SKU, AlertKind.ADDRESS_REJECTED, AlertKind.SHOP_CHANGE):
        for line in fix_commands(facts(kind, order_number=name)):
            if "imtui orders" in line:
                command = line[line.index("imtui orders") :].split("  (")[0]
                assert printable(name) in shlex.split(command)
    words = shlex.split(fix_command(facts(AlertKind.UNKNOWN_SKU, order_number=name)) or "")
    assert words == ["imtui", "orders", "resend", "--account", "1", printable(name)]
    assert shlex.split(shell_word(name)) == [printable(name)]


def test_an_order_that_looks_like_an_option_comes_after_a_double_dash() -> None:
    assert fix_command(facts(AlertKind.UNKNOWN_SKU, order_number="-5")) == (
        "imtui orders resend --account 1 -- -5"
    )
    assert fix_command(facts(AlertKind.INCOMPLETE_ADDRESS, order_number="-5")) == (
        "imtui orders edit --set FIELD=VALUE --account 1 -- -5"
    )
    assert fix_command(facts(AlertKind.UNKNOWN_SKU, order_number="-1001 A")) == (
        "imtui orders resend --account 1 -- '-1001 A'"
    )


def test_a_hostile_ship_method_code_is_quoted_too() -> None:
    command = fix_command(facts(AlertKind.UNMAPPED_SHIP_METHOD, ship_method_code="X'; rm ~\n"))
    assert command is not None
    assert shlex.split(command)[3] == "X'; rm ~\\n"


# -- reading a printed name back ------------------------------------------------------------


def test_names_printed_as_reads_each_escape_both_ways() -> None:
    names = set(names_printed_as(CRLF_PRINTED))
    assert names == {CRLF_NAME, "#37\\r\n06", "#37\r\\n06"}
    assert all(printable(name) == CRLF_PRINTED for name in names)


@pytest.mark.parametrize(
    "shown",
    [
        "#1001",  # no escape
        "#10\\x0a01",  # printable writes a newline as \n, never \x0a
        "#10\\x4101",  # nor an "A" as \x41
        "#10\\x0001",  # NUL: no stored name holds one
        "#10\\ud80001",  # a lone surrogate neither
        "#10\r01",  # not printed: typed with a real CR
    ],
)
def test_names_printed_as_reads_only_what_printable_writes(shown: str) -> None:
    assert names_printed_as(shown) == ()


def test_names_printed_as_is_bounded() -> None:
    many = "#" + "\\n" * (MAX_ESCAPES_READ_BOTH_WAYS + 1)
    assert names_printed_as(many) == ("#" + "\n" * (MAX_ESCAPES_READ_BOTH_WAYS + 1),)
    most = "#" + "\\t" * MAX_ESCAPES_READ_BOTH_WAYS
    assert len(names_printed_as(most)) == 2**MAX_ESCAPES_READ_BOTH_WAYS - 1


@pytest.mark.parametrize("name", [CRLF_NAME, "#5\x1b[31m\u202e", "#6\t\x7f\u200b"])
def test_every_name_with_controls_is_among_those_its_printed_form_reads_as(name: str) -> None:
    assert name in names_printed_as(printable(name))


# -- the printed command selects the order (CLI on a real SQLite file) ----------------------


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "imtui.db")


def imtui(db_path: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", db_path, *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def source_order(n: int, number: str) -> SourceOrder:
    return SourceOrder(
        remote_id=str(4500000 + n),
        number=number,
        ship_to=Address(
            name="Ada Lovelace",
            address1="1 Analytical Way",
            city="Springfield",
            state="IL",
            zip="62701",
            country="US",
        ),
        ship_method_code="UPS_GROUND",
        ship_method_title="UPS Ground",
        lines=(OrderLine("SKU-1", 2),),
    )


def seed(db_path: str, *numbers: str, account_name: str = "acme") -> dict[str, int]:
    """An account with a shop and a WMS (on a port nothing listens on) whose shop reported
    orders with these numbers; their ids by number (this account's)."""
    database = Database(db_path)
    try:
        with database.write() as session:
            account = account_actions.add_account(
                session, name=account_name, kind="merchant", actor="t", now=NOW
            )
            shop = account_actions.add_connection(
                session,
                account=account,
                name="shop",
                platform="shopify",
                base_url="http://127.0.0.1:9",
                credentials={"access_token": "shpat_token"},
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
                credentials={"client_id": "id", "client_secret": "secret", "user_login_id": "1"},
                settings={"customer_id": "1", "facility_id": "1"},
                poll_interval_s=300,
                actor="t",
                now=NOW,
            )
            orders = [source_order(n, number) for n, number in enumerate(numbers, 1)]
            store_source_orders(session, shop.id or 0, orders, NOW)
        with database.read() as session:
            rows = session.exec(
                select(Order.number, Order.id).where(Order.account_id == account.id)
            ).all()
            return {number: order_id or 0 for number, order_id in rows}
    finally:
        database.dispose()


def raise_validation_alert(
    db_path: str, order_id: int, number: str, account_id: int = 1, connection_id: int = 1
) -> int:
    database = Database(db_path)
    try:
        with database.write() as session:
            alert, _ = raise_alert(
                session,
                account_id=account_id,
                connection_id=connection_id,
                kind=AlertKind.VALIDATION,
                message="Rejected",
                now=NOW,
                about=AlertSubject(
                    order_id=order_id, order_number=number, subject=f"deliver:{order_id}"
                ),
            )
            return alert.id or 0
    finally:
        database.dispose()


def printed_fix(db_path: str, alert_id: int) -> list[str]:
    """The command in the first fix line ``imtui open alert/N --print`` prints, as the shell
    splits it."""
    opened = imtui(db_path, "open", f"alert/{alert_id}", "--print").stdout
    line = next(line for line in opened.splitlines() if line.startswith("fix: "))
    return shlex.split(line[line.index("imtui ") :].split("  (")[0])


def shown_order_id(db_path: str, order_key: str) -> str:
    first = imtui(db_path, "orders", "show", "--", order_key).stdout.splitlines()[0]
    return first.split("(id ")[1].split(")")[0]


@pytest.mark.parametrize("name", [CRLF_NAME, HOSTILE_NAME, "-5", "#9\x1b[31m"])
def test_the_printed_command_resends_the_order_it_names(db_path: str, name: str) -> None:
    ids = seed(db_path, "#1001", name, "#1002")
    alert_id = raise_validation_alert(db_path, ids[name], name)

    words = printed_fix(db_path, alert_id)
    assert words[:3] == ["imtui", "orders", "resend"]
    assert words[-1] == printable(name)
    if name == CRLF_NAME:
        assert "'#37\\r\\n06'" in imtui(db_path, "open", f"alert/{alert_id}", "--print").stdout

    resent = imtui(db_path, *words[1:3], "--queue-only", *words[3:]).stdout
    assert resent == f"{printable(name)}: queued; the worker sends it on its next cycle\n"
    assert shown_order_id(db_path, printable(name)) == str(ids[name])


def test_a_literal_name_wins_over_a_printed_one(db_path: str) -> None:
    """``#37\\r\\n06`` typed is first the order so named, backslashes and all; only without
    one is it read as the printed form of "#37", CR, LF, "06"."""
    ids = seed(db_path, CRLF_NAME, CRLF_PRINTED)
    assert shown_order_id(db_path, CRLF_PRINTED) == str(ids[CRLF_PRINTED])


def test_the_printed_form_is_an_exact_match_not_a_loose_one(db_path: str) -> None:
    seed(db_path, CRLF_NAME)
    for near in ("#37\\r06", "#37\\n\\r06", "#37\\r\\n0", "#37"):
        result = CliRunner().invoke(cli, ["--db", db_path, "orders", "show", near])
        assert result.exit_code == 1 and "no order" in result.stderr, (near, result.output)
    assert shown_order_id(db_path, "37\\r\\n06") == "1", "the # may be left out, as for #1001"


def test_the_printed_command_resends_its_own_accounts_order_when_two_shops_share_a_number(
    db_path: str,
) -> None:
    seed(db_path, "#1001")
    globex = seed(db_path, "#1001", account_name="globex")
    alert_id = raise_validation_alert(db_path, globex["#1001"], "#1001", 2, 3)

    words = printed_fix(db_path, alert_id)
    assert words == ["imtui", "orders", "resend", "--account", "2", "#1001"]
    imtui(db_path, *words[1:3], "--queue-only", *words[3:])

    database = Database(db_path)
    try:
        with database.read() as session:
            audit = session.exec(select(AuditEntry.target)).all()
    finally:
        database.dispose()
    assert f"order:{globex['#1001']}" in audit, "the other shop's #1001 was left alone"
