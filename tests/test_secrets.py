"""Credentials at rest (docs/secrets.md): sealed with a key nobody else has, in a file nobody
else can read; a missing or wrong key is one line, never a traceback or an empty credential;
old plain rows are sealed on the next start; one command rotates the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text
from sqlmodel import select

from imtui.cli import cli
from imtui.domain.failures import AlertKind
from imtui.engine import account_actions, action_rules
from imtui.engine.clock import FakeClock
from imtui.store import secrets
from imtui.store.database import Database
from imtui.store.models import Alert, AuditEntry, Connection
from imtui.store.secrets import SecretKeyError, Unreadable
from tests.conftest import ACTOR, World, add_shop_order

SHOP_TOKEN = "shpat_never_in_the_file_0001"
WMS_SECRET = "wms-client-secret-never-seen"


def add_shop(db: Database, clock: FakeClock, token: str = SHOP_TOKEN) -> int:
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme", kind="merchant", actor=ACTOR, now=clock.now()
        )
        shop = account_actions.add_connection(
            session,
            account=account,
            name="Shop",
            platform="shopify",
            base_url="https://acme.myshopify.com",
            credentials={"access_token": token},
            settings={},
            poll_interval_s=300,
            actor=ACTOR,
            now=clock.now(),
        )
    assert shop.id is not None
    return shop.id


def stored_credentials(db: Database) -> list[object]:
    """What ``SELECT credentials`` gives anyone who can read the table: psql, sqlite3, a backup."""
    with db.read_engine.connect() as connection:
        rows = connection.execute(text("SELECT credentials FROM connection ORDER BY id")).all()
    return [json.loads(value) if isinstance(value, str) else value for (value,) in rows]


def new_key() -> str:
    return Fernet.generate_key().decode()


def without_key_env(**more: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("IMTUI_SECRET_KEY", "IMTUI_SECRET_KEY_FILE")
    }
    return {**env, **more}


def run_imtui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imtui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("imtui: error: ")
    return lines[0]


def imtui(db: str, *args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", db, *args], env=env)


# -- the file -----------------------------------------------------------------------------------


def test_a_new_sqlite_file_its_wal_and_shm_are_for_its_owner_only(tmp_path: Path, clock: FakeClock):
    folder = tmp_path / "new-folder"
    old_umask = os.umask(0o022)  # the usual one: files 0644, folders 0755
    try:
        db = Database(f"sqlite:///{folder / 'imtui.db'}")
        add_shop(db, clock)
        with db.read() as session:  # the -shm is there while a connection is open
            session.exec(select(Connection)).all()
            modes = {
                path.name: path.stat().st_mode & 0o777
                for path in folder.iterdir()
                if path.name.startswith("imtui.db")
            }
        db.dispose()
    finally:
        os.umask(old_umask)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert modes == {"imtui.db": 0o600, "imtui.db-wal": 0o600, "imtui.db-shm": 0o600}


def test_a_folder_that_was_there_keeps_its_mode(tmp_path: Path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    Database(f"sqlite:///{folder / 'imtui.db'}").dispose()
    assert folder.stat().st_mode & 0o777 == 0o755
    assert (folder / "imtui.db").stat().st_mode & 0o777 == 0o600


def test_credentials_are_sealed_in_the_table_and_the_file(db_url: str, clock: FakeClock):
    db = Database(db_url)
    shop_id = add_shop(db, clock)
    [stored] = stored_credentials(db)
    assert set(stored) == {"sealed"}  # type: ignore[arg-type]
    assert SHOP_TOKEN not in json.dumps(stored)
    with db.read() as session:
        assert session.get(Connection, shop_id).credentials == {"access_token": SHOP_TOKEN}
    if db.is_sqlite:
        folder = Path(db.url.removeprefix("sqlite:///")).parent
        for path in folder.glob("imtui.db*"):
            assert SHOP_TOKEN.encode() not in path.read_bytes(), path.name
    db.dispose()


# -- a missing or wrong key ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_process_without_the_key_says_where_it_looked_in_one_line(
    tmp_path: Path, clock: FakeClock
):
    path = tmp_path / "imtui.db"
    db = Database(f"sqlite:///{path}")
    add_shop(db, clock)
    db.dispose()
    config = tmp_path / "config"
    env = without_key_env(XDG_CONFIG_HOME=str(config))

    listed = run_imtui("--db", str(path), "connection", "list", env=env)

    assert listed.returncode == 1
    line = one_error_line(listed.stderr)
    assert "IMTUI_SECRET_KEY" in line and "IMTUI_SECRET_KEY_FILE" in line
    assert str(config / "imtui" / "secret.key") in line
    assert SHOP_TOKEN not in listed.stdout + listed.stderr
    # The database holds sealed credentials: no second key is made for them.
    assert not (config / "imtui" / "secret.key").exists()
    # Alerts and the rest still answer: loading a connection is not using its credentials.
    assert run_imtui("--db", str(path), "status", env=env).returncode == 0


@pytest.mark.slow
def test_a_wrong_key_says_so_in_one_line(tmp_path: Path, clock: FakeClock):
    path = tmp_path / "imtui.db"
    db = Database(f"sqlite:///{path}")
    add_shop(db, clock)
    db.dispose()

    wrong = run_imtui(
        "--db",
        str(path),
        "connection",
        "show",
        "Shop",
        env=without_key_env(IMTUI_SECRET_KEY=new_key()),
    )
    malformed = run_imtui(
        "--db", str(path), "connection", "list", env=without_key_env(IMTUI_SECRET_KEY="hunter2")
    )

    assert wrong.returncode == 1
    assert "IMTUI_SECRET_KEY does not open the sealed credentials" in one_error_line(wrong.stderr)
    assert malformed.returncode == 1
    assert "IMTUI_SECRET_KEY is not a Fernet key" in one_error_line(malformed.stderr)


def test_a_connection_loads_without_its_key_but_its_credentials_cannot_be_used(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    shop_id = add_shop(db, clock)
    monkeypatch.setenv("IMTUI_SECRET_KEY", new_key())
    with db.read() as session:
        connection = session.get(Connection, shop_id)
        assert connection.name == "Shop"  # the row loads: lists and headers go on
        credentials = connection.credentials
    assert isinstance(credentials, Unreadable)
    for use in (dict, len, bool, lambda c: c["access_token"], lambda c: c.get("access_token")):
        with pytest.raises(SecretKeyError, match="not the key they were sealed with"):
            use(credentials)


def test_new_credentials_over_unreadable_ones_must_replace_them_all(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    with db.write() as session:
        account = account_actions.add_account(
            session, name="Acme", kind="merchant", actor=ACTOR, now=clock.now()
        )
        account_actions.add_connection(
            session,
            account=account,
            name="3PL",
            platform="wms_3pl",
            base_url="https://wms.example",
            credentials={"client_id": "id", "client_secret": WMS_SECRET, "user_login_id": "7"},
            settings={"customer_id": "1", "facility_id": "1"},
            poll_interval_s=300,
            actor=ACTOR,
            now=clock.now(),
        )
    before = stored_credentials(db)
    monkeypatch.setenv("IMTUI_SECRET_KEY", new_key())

    refusal = r"cannot be opened .* give all of client_id, client_secret, user_login_id"
    with pytest.raises(action_rules.ActionError, match=refusal) as refused, db.write() as session:
        account_actions.update_credentials(
            session,
            connection_key="3PL",
            credentials={"client_secret": "new"},
            actor=ACTOR,
            now=clock.now(),
        )
    assert "\n" not in str(refused.value)
    assert stored_credentials(db) == before  # nothing dropped, nothing re-sealed

    everything = {"client_id": "id2", "client_secret": "s2", "user_login_id": "8"}
    with db.write() as session:
        account_actions.update_credentials(
            session, connection_key="3PL", credentials=everything, actor=ACTOR, now=clock.now()
        )
    with db.read() as session:
        assert session.exec(select(Connection)).one().credentials == everything


# -- the start ----------------------------------------------------------------------------------


def test_a_plain_row_written_the_old_way_is_sealed_on_the_next_start(db_url: str):
    db = Database(db_url)
    plain = {"access_token": SHOP_TOKEN}
    with db.write_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO account (name, kind, created_at) "
                "VALUES ('Old', 'merchant', '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO connection (account_id, name, role, platform, base_url, credentials, "
                "settings, poll_interval_s, paused, created_at, updated_at) VALUES (1, 'Shop', "
                "'source', 'shopify', 'https://old.myshopify.com', :credentials, '{}', 300, "
                "false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"credentials": json.dumps(plain)},
        )
    db.dispose()

    again = Database(db_url)
    [sealed] = stored_credentials(again)
    with again.read() as session:
        loaded = session.exec(select(Connection)).one().credentials
    again.dispose()
    third = Database(db_url)  # nothing left to seal: the row is not sealed twice
    [unchanged] = stored_credentials(third)
    third.dispose()

    assert set(sealed) == {"sealed"} and SHOP_TOKEN not in json.dumps(sealed)  # type: ignore[arg-type]
    assert loaded == plain
    assert unchanged == sealed


@pytest.mark.slow
def test_the_usual_start_loads_no_key(tmp_path: Path, clock: FakeClock):
    path = tmp_path / "imtui.db"
    db = Database(f"sqlite:///{path}")
    add_shop(db, clock)
    db.dispose()
    probe = (
        "import sys; from imtui.store.database import Database; "
        f"Database({str(path)!r}).dispose(); print('cryptography' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


def test_the_first_credential_makes_the_default_key_once_and_privately(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("IMTUI_SECRET_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    key_file = tmp_path / "config" / "imtui" / "secret.key"
    assert secrets.default_key_file() == key_file
    made: list[bytes] = []

    def start() -> None:
        secrets.create_key_file(key_file)
        made.append(key_file.read_bytes())

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1  # eight starts at once: one key
    key_file.unlink()

    db = Database(f"sqlite:///{tmp_path / 'imtui.db'}")
    assert not key_file.exists()  # an empty database needs no key yet
    shop_id = add_shop(db, clock)
    with db.read() as session:
        assert session.get(Connection, shop_id).credentials == {"access_token": SHOP_TOKEN}
    db.dispose()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.parent.stat().st_mode & 0o777 == 0o700
    assert [name for name in os.listdir(key_file.parent)] == ["secret.key"]


# -- rotation -----------------------------------------------------------------------------------


def test_rotate_reseals_every_row_and_the_old_key_opens_none(
    db_url: str, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    key_file = tmp_path / "team.key"
    old = new_key()
    key_file.write_text(old + "\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("IMTUI_SECRET_KEY_FILE", str(key_file))
    db = Database(db_url)
    add_shop(db, clock)
    before = stored_credentials(db)

    rotated = imtui(db_url, "secrets", "rotate")

    assert rotated.exit_code == 0, rotated.output
    assert "re-sealed 1 connection(s)" in rotated.output
    new = key_file.read_text().strip()
    assert new != old and new not in rotated.output and SHOP_TOKEN not in rotated.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    [after] = stored_credentials(db)
    assert after != before[0]
    token = after["sealed"].encode()  # type: ignore[index]
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(token)
    assert json.loads(Fernet(new.encode()).decrypt(token)) == {"access_token": SHOP_TOKEN}
    with db.read() as session:
        assert session.exec(select(Connection)).one().credentials == {"access_token": SHOP_TOKEN}
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "secrets.rotate")).one()
    assert "re-sealed 1" in audit.detail and SHOP_TOKEN not in audit.detail
    db.dispose()


def test_rotate_with_the_key_in_the_environment_prints_it_only_when_asked(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("IMTUI_SECRET_KEY_FILE")
    monkeypatch.setenv("IMTUI_SECRET_KEY", new_key())
    db_path = str(tmp_path / "imtui.db")
    db = Database(db_path)
    add_shop(db, clock)
    before = stored_credentials(db)

    refused = imtui(db_path, "secrets", "rotate")
    assert refused.exit_code == 1
    assert "IMTUI_SECRET_KEY, which imtui cannot rewrite" in one_error_line(refused.stderr)
    assert stored_credentials(db) == before

    printed = imtui(db_path, "secrets", "rotate", "--print-new-key")
    assert printed.exit_code == 0, printed.output
    new = printed.stdout.strip()
    monkeypatch.setenv("IMTUI_SECRET_KEY", new)
    with db.read() as session:
        assert session.exec(select(Connection)).one().credentials == {"access_token": SHOP_TOKEN}
    db.dispose()


def test_rotate_refuses_when_a_row_does_not_open_and_changes_nothing(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    key_file = tmp_path / "team.key"
    key_file.write_text(new_key() + "\n")
    monkeypatch.setenv("IMTUI_SECRET_KEY_FILE", str(key_file))
    db_path = str(tmp_path / "imtui.db")
    db = Database(db_path)
    shop_id = add_shop(db, clock)
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"access_token": "x"}').decode()
    with db.write_engine.begin() as connection:
        connection.execute(
            text("UPDATE connection SET credentials = :c WHERE id = :id"),
            {"c": json.dumps({"sealed": foreign}), "id": shop_id},
        )
    key_before, rows_before = key_file.read_text(), stored_credentials(db)

    refused = imtui(db_path, "secrets", "rotate")

    assert refused.exit_code == 1
    assert "nothing was rotated" in one_error_line(refused.stderr)
    assert stored_credentials(db) == rows_before
    assert key_file.read_text().splitlines()[0] == key_before.strip()  # the old key seals still
    db.dispose()


def test_status_counts_rows_without_showing_a_secret(tmp_path: Path, clock: FakeClock):
    db_path = str(tmp_path / "imtui.db")
    db = Database(db_path)
    add_shop(db, clock)
    db.dispose()
    shown = imtui(db_path, "secrets", "status", "--json")
    assert shown.exit_code == 0, shown.output
    status = json.loads(shown.stdout)
    assert (status["sealed"], status["plain"], status["unreadable"]) == (1, 0, 0)
    assert "IMTUI_SECRET_KEY_FILE" in status["key"]
    assert SHOP_TOKEN not in shown.output


# -- the engine ---------------------------------------------------------------------------------


async def test_an_unreadable_credential_alerts_on_its_connection_and_nothing_reaches_the_wms(
    db, sandbox, world: World, engine, clock
):
    foreign = Fernet(Fernet.generate_key()).encrypt(
        json.dumps(dict(sandbox.wms_credentials)).encode()
    )
    with db.write_engine.begin() as connection:
        connection.execute(
            text("UPDATE connection SET credentials = :c WHERE id = :id"),
            {"c": json.dumps({"sealed": foreign.decode()}), "id": world.wms_id},
        )
    add_shop_order(sandbox, 3001)

    await engine.run_once()

    assert not [target for target in sandbox.requests if target.startswith("wms")], sandbox.requests
    assert sandbox.requests  # the shop, whose credentials open, was polled
    with db.read() as session:
        wms = session.get(Connection, world.wms_id)
        alerts = session.exec(select(Alert).where(Alert.connection_id == world.wms_id)).all()
    assert wms.paused and "cannot be opened" in (wms.paused_reason or "")
    assert {alert.kind for alert in alerts} == {AlertKind.BAD_CONFIGURATION}
    assert all("not the key they were sealed with" in alert.message for alert in alerts)
