"""An id beyond what the database's integer keys hold (past 2**63-1, or below 0) is one plain
"no … with id N" line and a non-zero exit on every command that takes an id, a record key or a
page cursor — never "internal error: OverflowError" from the driver."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from imtui.cli import cli

MAX_ID = 2**63 - 1
HUGE = "99999999999999999999999"
JUST_PAST = str(MAX_ID + 1)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("ids") / "imtui.db")
    result = imtui(path, "account", "add", "acme")
    assert result.exit_code == 0, result.output
    return path


def imtui(db_path: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db_path, *args])


def one_line_error(result: Result) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("imtui: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("orders", "show", HUGE), "order"),
        (("orders", "show", JUST_PAST), "order"),
        (("orders", "resend", "1", HUGE), "order"),
        (("orders", "edit", HUGE, "--set", "ship_name=x"), "order"),
        (("alerts", "show", HUGE), "alert"),
        (("alerts", "show", "--", "-1"), "alert"),
        (("alerts", "dismiss", JUST_PAST, "--yes"), "alert"),
        (("alerts", "dismiss", "1", HUGE, "--yes"), "alert"),
        (("open", f"alert/{HUGE}", "--print"), "alert"),
        (("queue", "resend", JUST_PAST), "retry item"),
        (("contacts", "edit", HUGE, "--name", "x"), "contact"),
        (("contacts", "delete", JUST_PAST, "--yes"), "contact"),
        (("outbox", "show", HUGE), "email"),
        (("outbox", "cancel", HUGE), "email"),
        (("connection", "show", HUGE), "connection"),
        (("connection", "credentials", HUGE, "a=b"), "connection"),
        (("orders", "list", "--account", HUGE), "account"),
        (("alerts", "list", "--account", JUST_PAST), "account"),
        (("mapping", "set", "X", "--carrier", "A", "--mode", "B", "--account", HUGE), "account"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else value,
)
def test_an_id_beyond_the_database_range_is_one_plain_line(
    db_path: str, args: tuple[str, ...], what: str
) -> None:
    line = one_line_error(imtui(db_path, *args))
    number = "-1" if "-1" in args else HUGE if HUGE in " ".join(args) else JUST_PAST
    assert f"no {what} with id {number}: ids run from 1 to {MAX_ID}" in line


@pytest.mark.parametrize("command", ["orders", "alerts", "queue", "audit", "outbox"])
@pytest.mark.parametrize("cursor", [HUGE, f"2026-11-02T09:00:00+00:00|{JUST_PAST}"])
def test_a_cursor_beyond_the_database_range_is_not_a_cursor(
    db_path: str, command: str, cursor: str
) -> None:
    line = one_line_error(imtui(db_path, command, "list", "--after", cursor))
    assert "not a cursor from this list" in line


def test_ids_within_the_range_are_looked_up_as_before(db_path: str) -> None:
    assert one_line_error(imtui(db_path, "alerts", "show", str(MAX_ID))).endswith(
        f"no alert {MAX_ID}"
    )
    assert "no order" in one_line_error(imtui(db_path, "orders", "show", str(MAX_ID)))
    assert imtui(db_path, "orders", "list", "--account", "1").exit_code == 0


def test_an_id_that_is_not_a_whole_number_is_a_usage_error(db_path: str) -> None:
    line = one_line_error(imtui(db_path, "alerts", "show", "1e400"))
    assert "1e400" in line


def test_an_order_number_past_the_id_range_can_still_be_named_with_a_hash(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "imtui.db")
    imtui(path, "account", "add", "acme")
    line = one_line_error(imtui(path, "orders", "show", f"#{HUGE}"))
    assert line == f"imtui: error: no order '#{HUGE}'"
