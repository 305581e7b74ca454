"""A support engineer's day over SSH (issue 16), the CLI side: ``imtui mapping delete`` asks
before it holds every later order of a ship method, and ``imtui audit list`` piped into grep or a
file prints each value whole where a terminal's table cuts it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from imtui.cli import cli
from imtui.store.audit import record_action
from imtui.store.database import Database
from tests.conftest import dump

QUESTION = (
    "Delete the mapping of SAME_DAY to UPS 03? Orders with this ship method are held from "
    "then on. [y/N]"
)
REFUSAL = (
    "imtui: error: the mapping of SAME_DAY was not deleted (no terminal to ask on): "
    "add --yes to delete without asking\n"
)
LONG_DETAIL = "→ " + " ".join(f"word{n}" for n in range(40))


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "imtui.db")


def imtui(db_path: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", db_path, *args], input=input)


def ok(db_path: str, *args: str, input: str | None = None) -> Result:
    result = imtui(db_path, *args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


@pytest.fixture
def mapped(db_path: str) -> str:
    ok(db_path, "account", "add", "acme")
    ok(db_path, "mapping", "set", "SAME_DAY", "--carrier", "UPS", "--mode", "03")
    return db_path


@pytest.fixture
def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("imtui.cli.mappings._stdin_is_a_terminal", lambda: True)


def mapping_codes(db_path: str) -> list[str]:
    import json

    return [m["source_code"] for m in json.loads(ok(db_path, "mapping", "list", "--json").stdout)]


# -- imtui mapping delete ---------------------------------------------------------------------


def test_delete_without_a_terminal_or_yes_is_refused_in_one_line(mapped: str) -> None:
    before = dump(mapped)
    refused = imtui(mapped, "mapping", "delete", "SAME_DAY")
    assert refused.exit_code == 1
    assert refused.stderr == REFUSAL and refused.stdout == ""
    assert dump(mapped) == before


@pytest.mark.parametrize("answer", ["n\n", "\n", "no\n"], ids=["n", "enter", "no"])
def test_delete_on_a_terminal_asks_and_keeps_the_mapping_unless_told_yes(
    mapped: str, on_a_terminal: None, answer: str
) -> None:
    before = dump(mapped)
    declined = imtui(mapped, "mapping", "delete", "SAME_DAY", input=answer)
    assert declined.exit_code == 1
    assert QUESTION in declined.stderr and declined.stderr.endswith("imtui: error: aborted\n")
    assert declined.stdout == ""
    assert dump(mapped) == before


def test_delete_on_a_terminal_deletes_when_the_answer_is_yes(
    mapped: str, on_a_terminal: None
) -> None:
    deleted = ok(mapped, "mapping", "delete", "SAME_DAY", input="y\n")
    assert QUESTION in deleted.stderr
    assert deleted.stdout == "deleted the mapping of SAME_DAY for account acme\n"
    assert mapping_codes(mapped) == []


@pytest.mark.parametrize("flag", ["--yes", "-y"])
def test_yes_deletes_without_asking_terminal_or_not(mapped: str, flag: str) -> None:
    deleted = ok(mapped, "mapping", "delete", "SAME_DAY", flag)
    assert deleted.stderr == "" and "deleted the mapping of SAME_DAY" in deleted.stdout
    assert mapping_codes(mapped) == []
    import json

    audit = json.loads(ok(mapped, "audit", "list", "--json").stdout)
    assert [entry["action"] for entry in audit][:2] == ["mapping.delete", "mapping.set"]


def test_an_unknown_code_is_told_before_anything_is_asked(mapped: str, on_a_terminal: None) -> None:
    for args in (["NOPE"], ["NOPE", "--yes"]):
        missing = imtui(mapped, "mapping", "delete", *args, input="y\n")
        assert missing.exit_code == 1
        assert missing.stderr == "imtui: error: no mapping for ship method 'NOPE'\n"
    assert mapping_codes(mapped) == ["SAME_DAY"]


def test_the_question_shows_stored_values_made_visible(mapped: str, on_a_terminal: None) -> None:
    connection = sqlite3.connect(mapped)
    with connection:
        connection.execute("UPDATE ship_method_mapping SET carrier = 'UPS' || char(8238, 27)")
    connection.close()
    declined = imtui(mapped, "mapping", "delete", "SAME_DAY", input="n\n")
    assert "to UPS\\u202e\\x1b 03?" in declined.stderr
    assert "\u202e" not in declined.stderr and "\x1b" not in declined.stderr


# -- imtui audit list -------------------------------------------------------------------------


def add_audit(db_path: str, *entries: tuple[str, str, str]) -> None:
    database = Database(db_path)
    at = datetime(2026, 11, 2, 9, 0, 5, tzinfo=UTC)
    with database.write() as session:
        for action, target, detail in entries:
            record_action(
                session, actor="alice", action=action, target=target, now=at, detail=detail
            )
    database.dispose()


@pytest.fixture
def audited(db_path: str) -> str:
    ok(db_path, "account", "add", "acme")
    add_audit(
        db_path,
        ("order.edit", "order:1234567890123", LONG_DETAIL),
        ("order.edit", "order:2", "name\tMallory\n\x1b[2Jgone"),
    )
    return db_path


def test_audit_list_piped_prints_every_value_whole_one_line_each(audited: str) -> None:
    lines = ok(audited, "audit", "list").stdout.splitlines()
    assert len(lines) == 4  # the titles, two entries, the account's own
    assert lines[0].split() == ["ID", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL"]
    long, hostile = lines[2], lines[1]
    assert long.endswith(LONG_DETAIL) and "order:1234567890123" in long
    assert "2026-11-02T09:00:05Z" in long
    assert hostile.endswith("name\\tMallory\\n\\x1b[2Jgone")
    for line in lines:
        assert "…" not in line and "\t" not in line and "\x1b" not in line
    detail_at = lines[0].index("DETAIL")
    assert long.index("→") == detail_at  # the columns still line up


def test_audit_list_on_a_terminal_keeps_the_table_that_fits(
    audited: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imtui.cli.output.stdout_is_a_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    lines = ok(audited, "audit", "list").stdout.splitlines()
    assert len(lines) == 4 and all(len(line) <= 80 for line in lines)
    assert lines[2].endswith("…") and "11-02 09:00" in lines[2]


def test_other_lists_keep_their_80_columns_when_piped(db_path: str) -> None:
    ok(db_path, "account", "add", "acme")
    ok(db_path, "mapping", "set", "X" * 120, "--carrier", "UPS", "--mode", "03")
    listed = ok(db_path, "mapping", "list").stdout
    assert "X" * 120 not in listed and listed.splitlines()[1].endswith("X…")
    assert all(len(line) <= 80 for line in listed.splitlines()), listed
    title, row = listed.splitlines()
    assert "DELIVERED" in title and "not yet" in row  # nothing went out through it yet


def test_an_empty_audit_log_says_so_piped(db_path: str) -> None:
    assert ok(db_path, "audit", "list").stdout == "the audit log is empty\n"
