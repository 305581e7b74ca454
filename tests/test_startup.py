"""What ``imtui`` loads before the dashboard is on screen: the command line and the screens only.
The database layer, the engine and HTTP are imported afterwards, in workers, and Alembic only
when a migration is due. Run in fresh interpreters: this process has long imported everything."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.css.scalar import Scalar

from imtui.store.database import Database, DatabaseError
from imtui.store.migrate import MIGRATIONS, head_revision
from imtui.store.rows import FirstScreen, HeaderCounts, Window
from imtui.tui.app import DashboardApp
from imtui.tui.backend import Backend
from tests.tui_support import pane, screen_lines, wait_for

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "apscheduler", "starlette", "pydantic")


def loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return {name.split(".")[0] for name in json.loads(out.strip().splitlines()[-1])}


@pytest.mark.slow
def test_the_dashboard_command_and_its_screens_load_without_the_database_layer():
    loaded = loaded_after(
        "import imtui.cli\n"
        "from imtui.cli.app import load_command\n"
        "from imtui.cli.context import AppContext\n"
        "load_command('dashboard')\n"
        "try:\n"
        "    AppContext(__import__('tempfile').gettempdir() + '/x.db').check_database()\n"
        "except Exception:\n"
        "    pass\n"
        "import imtui.tui.app"
    )
    assert "textual" in loaded
    assert not loaded & set(HEAVY)


def test_head_revision_read_from_the_files_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


@pytest.mark.slow
def test_a_current_database_opens_without_loading_alembic(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'current.db'}"
    Database(url).dispose()  # created and migrated here
    loaded = loaded_after(f"from imtui.store.database import Database\nDatabase({url!r}).dispose()")
    assert "sqlalchemy" in loaded and "alembic" not in loaded


@pytest.mark.slow
def test_the_first_screen_read_with_sqlite3_is_the_stores(tmp_path: Path):
    """The helper's two plain statements give exactly what the store's queries give."""
    import os
    import pickle
    from datetime import timedelta

    from imtui.engine.clock import FakeClock
    from imtui.store.first_screen import read_first_screen, read_first_screen_sqlite
    from tests.test_tui_snapshots import seed

    path = tmp_path / "first.db"
    database = Database(f"sqlite:///{path}")
    clock = FakeClock()
    seed(database, clock)
    from imtui.store.beats import beat

    with database.write() as session:  # an engine elsewhere, a moment ago
        beat(session, "host:1:x", clock.now(), clock.now())
    now = clock.now() + timedelta(minutes=30)  # some retry rows are due by then
    try:
        for rows in (5, 24, 200):
            by_store = read_first_screen(database, rows, now)
            by_sqlite3 = read_first_screen_sqlite(path, rows, now)
            assert by_sqlite3 == by_store
        assert by_store.counts.due_now > 0  # the time comparison was exercised
        assert by_store.counts.engine_beat == clock.now()
    finally:
        database.dispose()

    helper = subprocess.run(
        [sys.executable, "-m", "imtui.store.first_screen", "24"],
        capture_output=True,
        check=True,
        timeout=60,
        env={**os.environ, "IMTUI_DB": str(path)},
    )
    shown = pickle.loads(helper.stdout)
    assert [r.id for r in shown.alerts.rows] == [r.id for r in by_store.alerts.rows[:24]]


@pytest.mark.slow
def test_the_helper_reads_nothing_from_a_database_a_migration_is_due_for(tmp_path: Path):
    import os
    import sqlite3

    path = tmp_path / "old.db"
    Database(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as con:
        con.execute("UPDATE alembic_version SET version_num = '0001'")
    helper = subprocess.run(
        [sys.executable, "-m", "imtui.store.first_screen", "24"],
        capture_output=True,
        timeout=60,
        env={**os.environ, "IMTUI_DB": str(path)},
    )
    assert helper.returncode == 3 and helper.stdout == b""


# -- start-up as a person meets it: a real terminal, a wrong --db, an empty database ----------


ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-_]")


def strip_escapes(data: bytes) -> str:
    return ESCAPES.sub("", data.decode("utf-8", errors="replace"))


def run_in_terminal(
    *args: str,
    env: dict[str, str] | None = None,
    quit_when: str | None = None,
    timeout: float = 60,
    hang_up: bool = False,
) -> tuple[int, str]:
    """``python -m imtui.cli ARGS`` on an 80x24 pseudo-terminal, as a person runs it; once
    ``quit_when`` is on screen, q is pressed (or, with ``hang_up``, the terminal hangs up as a
    dropped SSH session's does: SIGHUP). Returns the exit status and what it wrote."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "imtui.cli", *args],
        stdin=child,
        stdout=child,
        stderr=child,
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        start_new_session=True,
    )
    os.close(child)
    written = b""
    deadline = time.monotonic() + timeout
    pressed = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the child end is closed: the process has gone
                    chunk = b""
                written += chunk
                if not chunk and process.poll() is not None:
                    break
            elif process.poll() is not None:
                break
            if quit_when and not pressed and quit_when in strip_escapes(written):
                time.sleep(0.2)
                if hang_up:
                    process.send_signal(signal.SIGHUP)
                else:
                    os.write(main, b"q")
                pressed = True
        else:
            raise AssertionError(f"still running after {timeout} s:\n{strip_escapes(written)}")
        return process.wait(timeout=10), strip_escapes(written)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)


@pytest.mark.slow
def test_a_database_that_fails_behind_the_painted_dashboard_ends_it_with_one_line():
    """Not an SQLite file, so nothing could be checked before the frame was painted: the
    database fails to open in the worker, and the dashboard leaves instead of loading forever."""
    code, written = run_in_terminal("--db", "mysql://root@127.0.0.1:1/x", timeout=30)
    assert code == 1, written
    errors = [line for line in written.splitlines() if "imtui: error:" in line]
    assert len(errors) == 1 and "unsupported database 'mysql'" in errors[0], written
    assert "Traceback" not in written


@pytest.mark.slow
def test_a_missing_folder_is_one_line_before_the_dashboard_opens(tmp_path: Path):
    missing = tmp_path / "nowhere" / "x.db"
    code, written = run_in_terminal("--db", str(missing), timeout=30)
    assert code == 1
    assert written.strip() == (
        f"imtui: error: cannot create {missing}: the folder {missing.parent} does not exist"
    )
    assert not missing.parent.exists()


@pytest.mark.slow
def test_the_dashboard_demo_removes_its_temporary_folder(tmp_path: Path):
    code, written = run_in_terminal(
        "demo",
        env={"TMPDIR": str(tmp_path), "IMTUI_KEYS": str(tmp_path / "no-keys.toml")},
        quit_when="Alerts",
        timeout=60,
    )
    assert code == 0, written
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_demo_cleans_up_when_its_terminal_hangs_up(tmp_path: Path):
    run_in_terminal(
        "demo",
        env={"TMPDIR": str(tmp_path), "IMTUI_KEYS": str(tmp_path / "no-keys.toml")},
        quit_when="Alerts",
        timeout=60,
        hang_up=True,
    )
    assert list(tmp_path.iterdir()) == []


class Gate:
    """Hands over what it was given once the test lets it go (a slow helper, a slow open)."""

    def __init__(self, give: Callable[[], Any]) -> None:
        self.give = give
        self.open = threading.Event()

    def __call__(self) -> Any:
        assert self.open.wait(20)
        return self.give()

    answer = __call__

    def answered(self, within: float) -> bool:
        return self.open.wait(within)


FIRST_RUN = "no account yet — A sets one up: an account, its shop, its WMS"
"""The empty alerts pane on a database with no account."""
EMPTY_FIRST_SCREEN = FirstScreen(HeaderCounts(0, 0, 0, 0, 0), Window([], True, True))


@pytest.mark.parametrize("prefetched", [False, True], ids=["read", "prefetched"])
async def test_an_empty_database_shows_the_empty_text_not_loading(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, prefetched: bool
):
    """The first (empty) window replaces "loading…" as soon as it is read: by the dashboard
    itself, or by the first-screen helper while the database is still being opened."""
    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    opening = Gate(lambda: Backend(db, actor="t"))
    helper = Gate(lambda: EMPTY_FIRST_SCREEN)
    app = DashboardApp(opening, keymap={}, first_screen=helper if prefetched else None)
    async with app.run_test(size=(80, 24)) as pilot:
        alerts = pane(app, "alerts")
        await wait_for(pilot, lambda: "loading…" in screen_lines(app, "alerts")[1])
        (helper if prefetched else opening).open.set()
        await wait_for(pilot, lambda: alerts.loaded_once)
        await pilot.pause(0.1)
        # The pane's own words (which, once the database says so, are what to set up first).
        assert screen_lines(app, "alerts")[1].strip() in (
            "no alerts match — all quiet",
            FIRST_RUN,
        )
        opening.open.set()
        await wait_for(pilot, lambda: app.backend_ready)
        await wait_for(pilot, lambda: screen_lines(app, "alerts")[1].strip() == FIRST_RUN)


async def test_the_dashboard_exits_when_its_database_cannot_be_opened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    failure = DatabaseError("cannot open sqlite:////x.db: file is not a database")

    def open_backend() -> Backend:
        raise failure

    app = DashboardApp(open_backend, keymap={})
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app._exit, timeout=10)
    assert app.return_code == 1
    assert app.opening_failure is failure


class Answered:
    """A first screen read before the app composes its first frame (the usual case: the
    helper started first thing, on the other core)."""

    def __init__(self, screen: FirstScreen) -> None:
        self.screen = screen
        self.asked: list[str] = []

    def answered(self, within: float) -> bool:
        self.asked.append(threading.current_thread().name)
        return True

    def answer(self) -> FirstScreen:
        return self.screen


def opening_with_rows_read(db: Database) -> tuple[Any, Answered, Gate, DashboardApp]:
    """A dashboard whose helper has read one open alert, and whose database opens only once
    the test lets it (``opening.open.set()``)."""
    from datetime import UTC, datetime

    from imtui.store.rows import AlertRow

    when = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    alert = AlertRow(
        7, 1, "acme", None, None, "remote_down", "WMS unreachable", "open", False,
        "connect timeout", None, None, None, None, None, 3, when, when, None, None,
    )  # fmt: skip
    first = Answered(FirstScreen(HeaderCounts(1, 0, 0, 0, 0), Window([alert], True, True)))
    opening = Gate(lambda: Backend(db, actor="t"))
    return alert, first, opening, DashboardApp(opening, keymap={}, first_screen=first)


async def test_rows_read_before_the_first_frame_are_in_it(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """No frame of "loading…" and then another with the rows: the rows are in the screen the
    app composes first, taken on the app's own thread (no worker waits for them), while the
    database is still being opened."""
    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    alert, first, opening, app = opening_with_rows_read(db)
    async with app.run_test(size=(80, 24)) as pilot:
        alerts = pane(app, "alerts")
        assert alerts.records == [alert] and alerts.loaded_once
        assert first.asked == [threading.current_thread().name]
        assert not [w for w in app.workers if w.group == "first-screen"]
        assert "connect timeout" in "".join(screen_lines(app, "alerts"))
        assert app.counts is not None and app.counts.open_alerts == 1
        opening.open.set()
        await wait_for(pilot, lambda: app.backend_ready)


@pytest.mark.slow
def test_the_first_screen_helper_answers_and_is_never_left_behind(tmp_path: Path):
    from imtui.cli.context import AppContext
    from imtui.cli.dashboard import start_first_screen

    path = tmp_path / "current.db"
    Database(f"sqlite:///{path}").dispose()
    helper = start_first_screen(AppContext(str(path)))
    assert helper is not None and helper.answered(within=30)
    screen = helper.answer()
    assert isinstance(screen, FirstScreen) and screen.alerts.rows == []
    helper.stop()  # read already: nothing to do, and no error
    unwanted = start_first_screen(AppContext(str(path)))
    assert unwanted is not None
    unwanted.stop()  # the dashboard did not start after all: at once, killed and reaped
    assert not unwanted.running


@pytest.mark.slow
def test_only_the_dashboards_screen_is_loaded_before_the_first_paint():
    """The other screens load behind the painted dashboard (app.load_screens), and each where
    it is opened: none of them holds up the first paint."""
    import imtui.tui.app
    from imtui.tui.app import OTHER_SCREENS

    script = (
        "import imtui.tui.app, json, sys\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('imtui.tui.screens.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert json.loads(out) == ["imtui.tui.screens.dashboard"]
    folder = Path(imtui.tui.app.__file__).parent / "screens"
    every = {path.stem for path in folder.glob("*.py")} - {"__init__"}
    assert every == {*OTHER_SCREENS, "dashboard"}  # a new screen is loaded ahead of time too


@pytest.mark.parametrize("key", ["A", "L", "M", "enter", "e", "c", "o", "r", "d", "question_mark"])
async def test_keys_pressed_before_the_database_is_open_wait_or_work(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str
):
    """The first rows are on screen before the database is open: a key that opens a list or a
    detail is kept until it is, then runs (a list opened earlier read nothing and stayed
    empty, and the app never finished opening), one that acts does nothing yet, and none of
    them says "database is still being opened" as an error."""
    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    _, _, opening, app = opening_with_rows_read(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        await pilot.pause(0.2)
        helps = key == "question_mark"  # needs nothing from the database
        assert (type(app.screen).__name__ == "HelpScreen") if helps else app.screen is app.dashboard
        if helps:  # styled by screens.tcss, added behind the first paint or as it is pushed
            assert app.screen.query_one("#help").styles.width == Scalar.parse("90")
        assert not [n for n in app._notifications if "opened" in n.message]
        opening.open.set()
        await wait_for(pilot, lambda: app.backend_ready)
        opened = {"A": "SetupScreen", "L": "AuditScreen", "M": "MappingsScreen"}.get(key)
        if opened:  # the key pressed early, run now
            await wait_for(pilot, lambda: type(app.screen).__name__ == opened)
        assert not [n for n in app._notifications if "opened" in n.message]
        assert app.return_code is None


async def test_counts_that_come_before_the_panes_are_built_are_shown_once_they_are(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """The watcher starts at the app's mount when the database is open already: its first
    counts can come before the dashboard's panes have built their tables (this crashed the
    app). The note they carry is kept and said once the pane has read its rows."""
    from imtui.tui.watcher import DatabaseChanged

    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    backend = Backend(db, actor="t")  # an empty database: no account yet, set one up first

    class Early(DashboardApp):
        def on_mount(self) -> None:
            super().on_mount()
            built = bool(self.dashboard.query("RecordTable"))
            self.early = built
            self._database_changed(DatabaseChanged(backend.header(None)))

    app = Early(backend, keymap={}, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: pane(app, "alerts").loaded_once)
        await pilot.pause(0.05)
        assert app.early is False  # the case under test: counts before the tables
        assert screen_lines(app, "alerts")[1].strip() == FIRST_RUN
        assert app.return_code is None


@pytest.mark.parametrize(("size", "hidden"), [((80, 24), {"orders", "queue"}), ((130, 45), set())])
async def test_only_the_panes_on_show_are_built_before_the_first_paint(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: tuple[int, int],
    hidden: set[str],
):  # fmt: skip
    """A hidden pane's table is mounted just after the first paint, not before it (its
    styles cost the first frame for nothing); on a terminal big enough for all three, all are
    built at once. Every pane reads its rows, and a pane switched to at once is built then."""
    from imtui.tui.screens.dashboard import DashboardScreen

    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    unbuilt: set[str] = set()

    mounted = DashboardScreen.on_mount

    def on_mount(screen: DashboardScreen) -> None:  # the panes are composed: no paint yet
        unbuilt.update(p.pane_name for p in screen.panes if not p.built)
        mounted(screen)

    monkeypatch.setattr(DashboardScreen, "on_mount", on_mount)
    app = DashboardApp(Backend(db, actor="t"), keymap={}, live=False)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: all(p.loaded_once for p in app.dashboard.panes))
        assert unbuilt == hidden
        assert all(p.built for p in app.dashboard.panes)

    app = DashboardApp(Backend(db, actor="t"), keymap={}, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")  # before anything was read
        await wait_for(pilot, lambda: pane(app, "orders").loaded_once)
        assert app.dashboard.active == "orders"
        assert app.focused is pane(app, "orders").table
        assert "no orders match" in screen_lines(app, "orders")[1]


@pytest.mark.parametrize("size", [(80, 24), (130, 45)])
async def test_the_rules_added_after_the_first_paint_match_nothing_on_the_dashboard(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: tuple[int, int]
):
    """The other screens' rules (screens.tcss) are parsed behind the first paint and styled
    into no widget already mounted: that is right only while none of them matches one. Every
    widget of the dashboard, the filter line open, styled again with all the rules, keeps its
    styles."""
    from imtui.tui.app import LATER_STYLES

    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    # The database (and with it the rules) opens once the dashboard is on screen.
    opening = Gate(lambda: Backend(db, actor="t"))
    app = DashboardApp(opening, keymap={}, live=False)
    async with app.run_test(size=size) as pilot:
        await pilot.press("slash")
        await wait_for(pilot, lambda: app.dashboard.typing_filter)
        await pilot.pause(0.1)
        assert not app._later_styles
        opening.open.set()
        await wait_for(pilot, lambda: all(p.loaded_once for p in app.dashboard.panes))
        assert app._later_styles and LATER_STYLES
        nodes = list(app.dashboard.walk_children(with_self=True))
        before = [node._css_styles.get_rules() for node in nodes]
        app.stylesheet.update(app.dashboard)  # every rule, screens.tcss too, on every node
        assert [node._css_styles.get_rules() for node in nodes] == before


async def test_an_app_leaving_just_after_its_start_leaves_cleanly(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """The hidden panes are built just after the first paint: an app that leaves before then
    (a database that fails at once, q at the start) must not try to mount into panes already
    taken down — that raised MountError, and a traceback instead of the one line."""
    from imtui.tui.screens.dashboard import DashboardScreen

    monkeypatch.setenv("IMTUI_KEYS", str(tmp_path / "no-keys.toml"))
    mounted = DashboardScreen.on_mount

    leave_after = [0.0]  # seconds after the dashboard's mount

    def on_mount(screen: DashboardScreen) -> None:
        mounted(screen)
        screen.set_timer(leave_after[0], lambda: screen.app.exit(return_code=3))

    monkeypatch.setattr(DashboardScreen, "on_mount", on_mount)
    for seconds in (0.001, 0.005, 0.01, 0.02):
        leave_after[0] = seconds
        app = DashboardApp(Backend(db, actor="t"), keymap={}, live=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)
        assert app.return_code == 3
        assert app._exception is None
