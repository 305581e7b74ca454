"""``imtui sandbox`` prints the lines that connect an account to it (issue 16). Run in the order
printed, against a fresh database, they must deliver on the first poll — even with an engine
already cycling on that database between two pastes —, each must carry the database the sandbox
was told to use, and no secret may stand on a command line."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from imtui.cli import cli
from imtui.sandbox import Sandbox, realistic_orders
from imtui.sandbox.seed import UNUSUAL_SHIP_METHOD
from imtui.sandbox.server import describe, steps

SCRIPT_DIR = Path(sys.executable).parent


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """What ``imtui sandbox`` serves by default: seed 0, 20 orders, no faults."""
    with Sandbox(seed=0) as sb:
        sb.shop.add_orders(realistic_orders(20, 0))
        yield sb


def pasted(banner: str) -> list[str]:
    """The lines a person copies: those under "paste these", as printed."""
    lines = banner.splitlines()
    start = next(i for i, line in enumerate(lines) if "paste these" in line) + 2
    return [line.strip() for line in lines[start:] if line.startswith("    ")]


def secrets_of(sandbox: Sandbox) -> list[str]:
    credentials = sandbox.wms_credentials
    return [credentials["client_id"], credentials["client_secret"], sandbox.shop_token]


def run_step(line: str, env: dict[str, str]) -> Result | None:
    """One pasted line, as a shell would run it: ``export`` sets the environment of the lines
    after it; an ``imtui`` command runs with it."""
    words = shlex.split(line)
    if words[0] == "export":
        for assignment in words[1:]:
            name, _, value = assignment.partition("=")
            env[name] = value
        return None
    assert words[0] == "imtui", line
    return CliRunner().invoke(cli, words[1:], env=env)


def cycle(db: str, env: dict[str, str]) -> str:
    """One engine cycle on the database, as a worker (or a dashboard) running beside the person
    pasting would make it."""
    result = CliRunner().invoke(cli, ["--db", db, "worker", "--once"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def listed(db: str, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["--db", db, *args, "--json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_the_steps_map_before_they_connect_and_carry_the_database(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    db = str(tmp_path / "sandbox.db")
    lines = pasted(describe(sandbox, db=db))
    assert lines == steps(sandbox, db=db)
    commands = [line for line in lines if line.startswith("imtui")]
    exports = [line for line in lines if line.startswith("export ")]
    assert lines == exports + commands  # the secrets are in the environment before they are used
    assert all(shlex.split(line)[1:3] == ["--db", db] for line in commands)
    kinds = [" ".join(shlex.split(line)[3:5]) for line in commands]
    last_mapping = max(i for i, kind in enumerate(kinds) if kind == "mapping set")
    first_connection = kinds.index("connection add")
    assert kinds[0] == "account add" and last_mapping < first_connection
    assert commands[-1] == f"imtui --db {db}"  # then the dashboard, on the same database
    for secret in secrets_of(sandbox):
        assert all(secret not in line for line in commands)
        assert any(line.endswith(f"={secret}") for line in exports)
    assert "@SANDBOX_WMS_SECRET" in " ".join(commands)


def test_the_description_counts_what_the_shop_really_holds(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    banner = describe(sandbox, db=str(tmp_path / "s.db"))
    assert "20 orders waiting (#1001–#1020): 5 ship methods, 27 SKUs" in banner
    assert "19 go to the WMS on the first poll\n" in banner
    assert "on purpose, for a person: 1 order with SKU-999, which the WMS does not stock" in banner
    assert UNUSUAL_SHIP_METHOD not in banner  # seed 0's first 20 orders have none
    sandbox.shop.add_orders(
        [
            {
                **realistic_orders(1, 0, start=21)[0],
                "shipping_lines": [{"code": "SAME_DAY_COURIER"}],
            },
            {**realistic_orders(1, 0, start=22)[0], "shipping_address": None},
        ]
    )
    banner = describe(sandbox, db=str(tmp_path / "s.db"))
    assert "22 orders waiting (#1001–#1022): 6 ship methods" in banner
    assert "1 order for SAME_DAY_COURIER, which no command below maps" in banner
    assert "1 order with an incomplete address" in banner


def test_a_database_url_with_a_password_goes_through_a_variable(sandbox: Sandbox) -> None:
    url = "postgresql://alice:s3cret@db.example/imtui"
    lines = steps(sandbox, db=url)
    assert lines[0] == f"export SANDBOX_DB={url}"
    commands = [line for line in lines if line.startswith("imtui")]
    assert all(line.startswith('imtui --db "$SANDBOX_DB"') for line in commands)
    assert all("s3cret" not in line for line in lines[1:])


def test_a_relative_path_is_printed_absolute(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    commands = [line for line in steps(sandbox, db="here.db") if line.startswith("imtui")]
    assert all(shlex.split(line)[2] == str(tmp_path / "here.db") for line in commands)


def test_running_the_steps_in_order_delivers_on_the_first_poll(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    db = str(tmp_path / "sandbox.db")
    decoy = tmp_path / "not-here" / "imtui.db"  # a command that forgot --db would fail on it
    env = {"IMTUI_DB": str(decoy)}
    cycles = []
    for line in pasted(describe(sandbox, db=db))[:-1]:  # all but the dashboard
        result = run_step(line, env)
        if result is not None:
            assert result.exit_code == 0, (line, result.output)
            cycles.append(cycle(db, env))
    assert cycles[-1].startswith("20 new orders; deliveries 19 ok, 1 failed")
    assert all(text.startswith("0 new orders; deliveries 0 ok, 0 failed;") for text in cycles[:-1])
    statuses = [order["status"] for order in listed(db, "orders", "list", "--limit", "100")]
    assert statuses.count("delivered") == 19 and len(statuses) == 20
    alerts = listed(db, "alerts", "list", "--state", "all")
    assert [alert["kind"] for alert in alerts] == ["unknown_sku"]  # nothing held for a mapping
    assert len(sandbox.wms.orders) == 19
    assert not decoy.parent.exists()


@pytest.mark.slow
def test_the_printed_lines_run_in_a_real_shell_on_the_database_given(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    banner, stop = start_sandbox(["--db", db, "sandbox", "--seed", "3"], tmp_path)
    try:
        lines = pasted(banner)
        script = tmp_path / "steps.sh"
        script.write_text("\n".join(lines[:-1]) + "\n")
        env = shell_env(tmp_path)
        ran = subprocess.run(
            ["bash", "-eu", str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stderr
        assert "released 0 held orders" in ran.stdout
        first = subprocess.run(
            ["imtui", "--db", db, "worker", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.returncode == 0, first.stderr
    finally:
        stop()
    assert "19 go to the WMS on the first poll" in banner
    assert "1 order for SAME_DAY_COURIER, which no command below maps" in banner
    assert first.stdout.startswith("20 new orders; deliveries 19 ok, 0 failed, 1 held")


@pytest.mark.slow
def test_the_printed_lines_carry_imtui_db_when_that_chose_the_database(tmp_path: Path) -> None:
    db = str(tmp_path / "from-env.db")
    banner, stop = start_sandbox(["sandbox", "--orders", "2"], tmp_path, IMTUI_DB=db)
    stop()
    commands = [line for line in pasted(banner) if line.startswith("imtui")]
    assert commands and all(line.startswith(f"imtui --db {db}") for line in commands)


@pytest.mark.slow
def test_without_a_database_the_lines_use_a_fresh_one_of_their_own(tmp_path: Path) -> None:
    banner, stop = start_sandbox(["sandbox", "--orders", "2"], tmp_path)
    stop()
    commands = [line for line in pasted(banner) if line.startswith("imtui")]
    db = Path(shlex.split(commands[0])[2])
    assert db.parent.parent == tmp_path and db.parent.name.startswith("imtui-sandbox-")
    assert db.parent.is_dir() and not db.exists()
    assert all(shlex.split(line)[1:3] == ["--db", str(db)] for line in commands)


def test_a_database_that_cannot_be_made_is_refused_before_serving(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "x.db"
    result = CliRunner().invoke(cli, ["--db", str(missing), "sandbox"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"imtui: error: cannot create {missing}: the folder {missing.parent} does not exist\n"
    )


def shell_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell like the person's: imtui on the PATH, no IMTUI_DB unless given, temporary
    folders under the test's own."""
    env = {key: value for key, value in os.environ.items() if key != "IMTUI_DB"}
    env["PATH"] = f"{SCRIPT_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmp_path)
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **extra}


def start_sandbox(args: list[str], tmp_path: Path, **env: str) -> tuple[str, Callable[[], None]]:
    """``imtui ARGS`` in its own process; its banner up to "Ctrl-C stops.", and a way to stop
    it with Ctrl-C."""
    process = subprocess.Popen(
        ["imtui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=shell_env(tmp_path, **env),
        text=True,
    )
    assert process.stdout is not None
    banner: list[str] = []
    while not banner or banner[-1] != "Ctrl-C stops.\n":
        line = process.stdout.readline()
        if not line:
            _, stderr = process.communicate(timeout=10)
            pytest.fail(f"imtui sandbox ended: {stderr}")
        banner.append(line)

    def stop() -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=20)
            assert process.returncode == 0

    return "".join(banner), stop
