"""The lazy command table (``imtui/cli/app.py COMMANDS``): ``imtui --help`` lists every command
from data, without importing one; each command is imported only when it runs or its own help
is asked for. These tests hold the table to the real commands, so a command cannot be added,
renamed or re-worded without the table following, and keep the listing exactly click's own."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import imtui.cli
from imtui.cli.app import COMMANDS, ImtuiGroup, cli, load_command

LIMITS = (20, 42, 62, 200)
"""Widths click may shorten a derived short help to (``imtui --help`` on narrow to wide
terminals): a stand-in must shorten exactly as its command does at each."""


def command_modules() -> list[str]:
    return [f"imtui.cli.{m.name}" for m in pkgutil.iter_modules(imtui.cli.__path__)]


def top_level_commands() -> dict[str, click.Command]:
    """Every click command defined in an ``imtui.cli`` module that is not inside a group: what
    ``imtui`` must offer, as ``module:attribute``."""
    found: dict[str, click.Command] = {}
    for name in command_modules():
        if name == "imtui.cli.__main__":
            continue
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            defined_here = getattr(getattr(value, "callback", None), "__module__", None) == name
            if isinstance(value, click.Command) and defined_here:
                found[f"{name}:{attribute}"] = value
    inside = {
        id(sub) for c in found.values() if isinstance(c, click.Group) for sub in c.commands.values()
    }
    return {target: c for target, c in found.items() if id(c) not in inside and c is not cli}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_entry_loads_the_command_it_lists(name: str):
    listed = COMMANDS[name]
    command = load_command(name)
    stand_in = listed.stand_in(name)
    assert command.name == name
    assert command.hidden == listed.hidden
    if not command.hidden:
        for limit in LIMITS:
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)
        assert listed.derived == (command.short_help is None)


def test_every_command_defined_is_in_the_table():
    targets = {listed.target for listed in COMMANDS.values()}
    defined = set(top_level_commands())
    assert defined - targets == set(), "add these commands to COMMANDS in imtui/cli/app.py"
    assert targets - defined == set(), "COMMANDS names something that is not a command"


def listing(format_commands: Callable[..., None], width: int) -> str:
    with click.Context(cli, info_name="imtui", terminal_width=width) as ctx:
        formatter = ctx.make_formatter()
        format_commands(cli, ctx, formatter)
        return formatter.getvalue()


@pytest.mark.parametrize("width", [50, 80, 120])
def test_the_listing_is_clicks_own(width: int):
    """The lines click itself prints from the imported commands, on narrow and wide terminals."""
    lazy = listing(ImtuiGroup.format_commands, width)
    assert lazy == listing(click.Group.format_commands, width)
    assert "link-session" not in lazy
    shown = CliRunner().invoke(cli, ["--help"], terminal_width=width)
    assert shown.exit_code == 0
    assert shown.output.endswith(lazy)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_its_own_help(name: str):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: imtui {name} ")


def test_orders_edit_names_the_fields_the_engine_edits():
    from imtui.cli.orders import EDITABLE_FIELDS
    from imtui.engine.order_actions import EDITABLE_ORDER_FIELDS

    assert EDITABLE_FIELDS == EDITABLE_ORDER_FIELDS


# -- what a fresh process loads ---------------------------------------------------------------

HEAVY = {"sqlalchemy", "sqlmodel", "alembic", "pydantic", "httpx", "aiohttp", "textual"}
HEAVY |= {"apscheduler", "cryptography", "itsdangerous", "aiosmtplib"}
NOT_FOR_A_LIST = {"imtui.tui", "imtui.engine", "imtui.connectors", "imtui.notify", "imtui.web"}
NOT_FOR_A_LIST |= {"textual", "httpx", "aiohttp", "apscheduler", "aiosmtplib", "itsdangerous"}

RUN_AND_LIST_MODULES = """
import json, runpy, sys
sys.argv = ["imtui", *json.loads(sys.argv[1])]
try:
    runpy.run_module("imtui.cli", run_name="__main__")
except SystemExit as exit:
    code = exit.code
sys.stdout = sys.__stdout__
print("\\nmodules:" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def run_fresh(*args: str) -> tuple[int, set[str]]:
    """Run ``imtui ARGS`` in a fresh interpreter; its exit status and the modules it loaded."""
    out = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, json.dumps(args)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    report = json.loads(out.rpartition("\nmodules:")[2])
    return report["code"], set(report["modules"])


def packages(modules: set[str]) -> set[str]:
    """Top-level packages, and imtui's layers (``imtui.engine``), of what was loaded."""
    return {m.split(".")[0] for m in modules} | {".".join(m.split(".")[:2]) for m in modules}


@pytest.mark.slow
def test_help_imports_no_command():
    code, modules = run_fresh("--help")
    assert code == 0
    commands = {listed.target.partition(":")[0] for listed in COMMANDS.values()}
    assert not modules & commands
    assert not packages(modules) & HEAVY


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [["orders", "list"], ["account", "list"], ["connection", "list"], ["mapping", "list"]],
)
def test_a_list_loads_the_store_and_nothing_of_the_engine_or_ui(tmp_path: Path, args: list[str]):
    from imtui.store.database import Database

    db = str(tmp_path / "list.db")
    Database(db).dispose()  # created and migrated here: the list only reads
    code, modules = run_fresh("--db", db, *args)
    assert code == 0
    assert "imtui.store.models" in modules
    assert {m for m in modules if m.startswith("imtui.engine.")} <= {"imtui.engine.clock"}
    assert not (packages(modules) - {"imtui.engine"}) & NOT_FOR_A_LIST


@pytest.mark.slow
def test_the_alert_list_on_an_sqlite_file_loads_no_database_library(tmp_path: Path):
    from imtui.store.database import Database

    db = str(tmp_path / "list.db")
    Database(db).dispose()
    code, modules = run_fresh("--db", db, "alerts", "list", "--json")
    assert code == 0
    assert not packages(modules) & HEAVY
    assert "imtui.store.models" not in modules
