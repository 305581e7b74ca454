# ruff: noqa: E501 - the generated rows and the report table read best one per line
"""How the dashboard feels on a big database, measured for real: ``python benchmarks/dashboard.py``.

It builds (once; the file is cached under benchmarks/results/) a database with 1,000,000 orders,
100,000 alerts of which 10,000 are open, and 50,000 rows in the retry queue, then runs
``imtui --db <it>`` — the real command, its engine included — in a pseudo-terminal of 80x24, as
a person over SSH would, and next to it a bare Textual app that shows one label. It reads what
each writes to the terminal and reports, with the targets beside them:

- process start to first full paint (the first rows of the pane on screen), the median of
  several starts of each program, alternated so both see the same machine,
- keystroke to finished repaint for cursor move, page down, jump to end and applying a filter
  on the million-order pane (p50/p95 over repeated presses),
- peak memory (VmHWM of the process),
- bytes written to the terminal per second and CPU while idle,
- bytes written for one screen change — opening an alert's detail, help, going back, switching
  panes — next to the first full paint's (issue 16: ≤ 9 KB for a detail or help at 80x24;
  ``--only screens`` runs just this),
- the delay from a commit by another process (this one) to its row on screen,
- key → repaint while the dashboard's own engine delivers 10,000 orders (a storm) to the
  sandbox WMS, next to the same key on the same dashboard with its engine idle, measured in
  the same run (``--only storm`` runs just this one, on a small database of its own).

``--db postgresql://…`` measures the same on PostgreSQL: the same rows, built there by COPY if
the database is empty (and kept for the next runs), and the URL handed to the dashboard in
``IMTUI_DB``. The first paint's target is the bare app's plus 0.1 s on SQLite and plus 0.3 s on
PostgreSQL (issue 15); ``--only starts`` measures just that, each start listed, and with valgrind
installed also counts the instructions each program runs to its first paint (callgrind, main
thread): a figure the machine's load does not move, where the time to first paint on a shared
host moves by half from one start to the next.

The benchmark writes the database directly with sqlite3 (psycopg on PostgreSQL): it plays the
other process, and bulk inserts are the only way to make a million rows in seconds.

Run it on a quiet machine: it prints the load average before and after, and the figures mean
little if something else was busy. imtui's modules are byte-compiled first, as an installed
package's are.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import re
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA_VERSION = "v1"
ORDERS, ALERTS, OPEN_ALERTS, RETRIES = 1_000_000, 100_000, 10_000, 50_000
SIZE = (80, 24)
QUIET_S = 0.03
"""A repaint is finished when the terminal has been quiet this long."""

BARE_APP = """
from textual.app import App
from textual.widgets import Label
class Bare(App):
    def compose(self):
        yield Label("bare-ready")
Bare().run()
"""


PAINT_AND_EXIT = """
import importlib.abc, importlib.util, os, sys
marker, program, args = sys.argv[1], sys.argv[2], sys.argv[3:]
class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "textual.drivers.linux_driver":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module
        def exec_module(module):
            load(module)
            write = module.LinuxDriver.write
            def written(driver, data):
                write(driver, data)
                if marker in data:
                    os._exit(0)
            module.LinuxDriver.write = written
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, Hook())
if program == "bare":
    exec(BARE)
else:
    sys.argv = ["imtui", *args]
    from imtui.cli import main
    main()
""".replace("BARE", repr(BARE_APP))
"""A program run to its first full paint and no further: the bare app or the dashboard, ended
the moment the marker is written, for a count of the instructions it took."""


# -- the database -----------------------------------------------------------------------------


def stamp(when: datetime) -> str:
    return when.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


Table = tuple[str, tuple[str, ...], Iterable[tuple[object, ...]]]
"""A table's name, the columns written, and its rows."""


def bench_tables(now: datetime) -> list[Table]:
    """The benchmark's rows, the same for SQLite and PostgreSQL (times as naive UTC text)."""
    t = stamp(now)
    accounts = [(1, "Bench Outdoors", "merchant", t)]
    connections = [
        (cid, 1, name, role, platform, "http://127.0.0.1:9", "{}", "{}", 300, True, "benchmark", t, t)
        for cid, name, role, platform in ((1, "Shop", "source", "shopify"), (2, "3PL", "wms", "wms_3pl"))
    ]  # fmt: skip
    statuses = ["fulfilled"] * 90 + ["delivered"] * 5 + ["shipped"] * 3 + ["held", "queued"]
    methods = ["UPS_GROUND", "FEDEX_GROUND", "USPS_PRIORITY", "SAME_DAY_COURIER"]
    orders = (
        (
            n, 1, 1, str(n), f"#{n}", f"BENCH-{n}", methods[n % 4], "", f"Customer {n}", "", "",
            "", "Austin", "TX", "78701", "US", "", statuses[n % 100],
            "unmapped_ship_method" if statuses[n % 100] == "held" else None,
            stamp(now - timedelta(seconds=ORDERS - n)), stamp(now - timedelta(seconds=ORDERS - n)),
        )
        for n in range(1, ORDERS + 1)
    )  # fmt: skip
    kinds = ["remote_error", "unreachable", "unknown_sku", "incomplete_address"]
    alerts = (
        (
            n, 1, 2, kinds[n % 4], "record", f"bench:{n}",
            "open" if n > ALERTS - OPEN_ALERTS else "resolved", n % 4 >= 2,
            f"benchmark alert {n}: HTTP 503 Service Unavailable", n * 10, f"#{n * 10}",
            f"deliver:{n * 10}", 503, 1 + n % 5,
            stamp(now - timedelta(seconds=ALERTS - n)), stamp(now - timedelta(seconds=ALERTS - n)),
            None if n > ALERTS - OPEN_ALERTS else t,
            None if n > ALERTS - OPEN_ALERTS else "auto",
        )
        for n in range(1, ALERTS + 1)
    )  # fmt: skip
    states = ["due"] * 8 + ["held", "skipped"]
    retries = (
        (
            n, 1, 2, "deliver_order", ORDERS - n, f"#{ORDERS - n}", states[n % 10], n % 20,
            n % 20, "HTTP 503 Service Unavailable", "transient",
            stamp(now + timedelta(seconds=n * 7)) if states[n % 10] == "due" else None,
            stamp(now + timedelta(days=15)), t, t,
        )
        for n in range(1, RETRIES + 1)
    )  # fmt: skip
    return [
        ("account", ("id", "name", "kind", "created_at"), accounts),
        ("connection", ("id", "account_id", "name", "role", "platform", "base_url", "credentials",
                        "settings", "poll_interval_s", "paused", "paused_reason", "created_at",
                        "updated_at"), connections),
        ('"order"', ("id", "account_id", "source_connection_id", "source_order_id", "number",
                     "reference", "ship_method_code", "ship_method_title", "ship_name",
                     "ship_company", "ship_address1", "ship_address2", "ship_city", "ship_state",
                     "ship_zip", "ship_country", "ship_phone", "status", "hold_reason",
                     "created_at", "updated_at"), orders),
        ("alert", ("id", "account_id", "connection_id", "kind", "scope", "fingerprint", "state",
                   "needs_person", "message", "order_id", "order_number", "subject", "http_status",
                   "count", "first_seen", "last_seen", "resolved_at", "resolved_by"), alerts),
        ("retry_item", ("id", "account_id", "connection_id", "operation", "subject_id",
                        "subject_label", "state", "attempts", "consecutive_failures", "last_error",
                        "last_failure_class", "next_attempt_at", "deadline_at", "created_at",
                        "updated_at"), retries),
    ]  # fmt: skip


def build_database(path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from imtui.store.database import Database

    if path.exists():
        path.unlink()
    Database(f"sqlite:///{path}").dispose()  # the schema, by the real migrations
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    for table, columns, rows in bench_tables(datetime.now(UTC)):
        marks = ",".join("?" * len(columns))
        con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


def build_postgres(url: str) -> None:
    """The same rows on PostgreSQL, by COPY, in one transaction; then the sequences past the
    ids written (the dashboard's engine and :func:`commit_delays` insert after them)."""
    sys.path.insert(0, str(ROOT))
    from imtui.store.database import Database

    Database(url).dispose()  # the schema, by the real migrations
    with connect(url) as con:
        for table, columns, rows in bench_tables(datetime.now(UTC)):
            with con.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            con.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")  # fmt: skip
    with connect(url, autocommit=True) as con:
        con.execute("VACUUM ANALYZE")


def connect(url: str, *, autocommit: bool = False) -> Any:
    """A psycopg connection to an imtui ``--db`` URL, read as the dashboard's helper reads it."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    sys.path.insert(0, str(ROOT))
    from imtui.store.first_screen_pg import connect_arguments

    arguments = connect_arguments(url)
    if arguments is None:
        raise SystemExit(f"not a PostgreSQL URL the benchmark can read: {url!r}")
    return psycopg.connect(make_conninfo("", **arguments), autocommit=autocommit)


@dataclass(frozen=True)
class Target:
    """The database the dashboard is measured on: the cached SQLite file, or the PostgreSQL
    database ``--db`` names (its URL goes to the dashboard in ``IMTUI_DB``, off the command
    line, as a password should)."""

    path: Path | None = None
    url: str | None = None

    @property
    def name(self) -> str:
        return "SQLite" if self.path is not None else "PostgreSQL"

    @property
    def paint_slack(self) -> float:
        """The first paint's target over a bare Textual app's (issue 15)."""
        return 0.1 if self.path is not None else 0.3

    @property
    def mark(self) -> str:
        return "?" if self.path is not None else "%s"

    def connect(self) -> Any:
        if self.path is not None:
            return sqlite3.connect(self.path, timeout=10)
        assert self.url is not None
        return connect(self.url)

    def dashboard(self) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-m", "imtui.cli"]
        if self.path is not None:
            return [*argv, "--db", str(self.path)], environment()
        assert self.url is not None
        return argv, {**environment(), "IMTUI_DB": self.url}


def database() -> Path:
    path = RESULTS / f"dashboard-{DATA_VERSION}.db"
    if not path.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        print(f"building {path.name}: {ORDERS:,} orders, {ALERTS:,} alerts, {RETRIES:,} retries…")
        build_database(path)
        print(f"  built in {time.perf_counter() - started:.1f} s (cached for next runs)")
    return path


def postgres_database(url: str) -> str:
    """The benchmark's rows in the database ``url`` names: built there if it holds no imtui
    data, used as it is if it holds exactly the benchmark's; refused otherwise (never a
    database of real data)."""
    with connect(url) as con:
        found = con.execute("SELECT to_regclass('account') IS NOT NULL").fetchone()[0]
        accounts = con.execute("SELECT name FROM account").fetchall() if found else []
        if accounts == [("Bench Outdoors",)]:
            orders = con.execute('SELECT count(*) FROM "order"').fetchone()[0]
            if orders == ORDERS:
                return url
    if accounts:
        raise SystemExit("--db holds other data: give an empty PostgreSQL database")
    started = time.perf_counter()
    print(f"building on PostgreSQL: {ORDERS:,} orders, {ALERTS:,} alerts, {RETRIES:,} retries…")
    build_postgres(url)
    print(f"  built in {time.perf_counter() - started:.1f} s (kept there for next runs)")
    return url


# -- a program in a pseudo-terminal -----------------------------------------------------------


@dataclass
class Terminal:
    argv: list[str]
    env: dict[str, str]
    chunks: list[tuple[float, bytes]] = field(default_factory=list)

    def start(self) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        self.arrived = threading.Condition()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            self.argv, stdin=slave, stdout=slave, stderr=slave, env=self.env, close_fds=True,
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            with self.arrived:
                if data:
                    self.chunks.append((time.monotonic(), data))
                else:
                    self.closed = True
                self.arrived.notify_all()
            if not data:
                return

    # The waits below sleep on a condition the reader signals: a harness that polled would
    # take CPU from the program it measures (two cores: the dashboard uses both as it starts).

    closed: bool = False

    def mark(self) -> int:
        with self.arrived:
            return len(self.chunks)

    def text_since(self, index: int) -> bytes:
        with self.arrived:
            return b"".join(data for _, data in self.chunks[index:])

    def wait_for(self, marker: bytes, since: int = 0, timeout: float = 30.0) -> float:
        """When ``marker`` was written (monotonic), looking at output from chunk ``since``."""
        deadline = time.monotonic() + timeout
        seen, index = b"", since
        with self.arrived:
            while True:
                for at, data in self.chunks[index:]:
                    seen = seen[-len(marker) :] + data
                    index += 1
                    if marker in seen:
                        return at
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"{marker!r} never appeared")
                self.arrived.wait(left)

    def _quiet_since(
        self, since: int, quiet: float, deadline: float, before: float | None = None
    ) -> float | None:
        """When the last chunk after ``since`` came (``before`` if none did), once nothing more
        came for ``quiet``."""
        with self.arrived:
            while True:
                now = time.monotonic()
                last = self.chunks[-1][0] if len(self.chunks) > since else before
                if last is not None and now - last >= quiet:
                    return last
                if now >= deadline or self.closed:
                    return last
                wake = deadline if last is None else min(deadline, last + quiet)
                self.arrived.wait(max(0.001, wake - now))

    def repaint_after(self, keys: bytes, expect: bytes = b"", timeout: float = 5.0) -> float:
        """Seconds from writing ``keys`` until the repaint they cause is finished: ``expect``
        (if given) is on screen and nothing more comes for a while."""
        since = self.mark()
        sent = time.monotonic()
        os.write(self.master, keys)
        if expect:
            self.wait_for(expect, since, timeout)
        last = self._quiet_since(since, QUIET_S, sent + timeout)
        if last is None:
            raise TimeoutError(f"no repaint after {keys!r}")
        return last - sent

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def echoed(self, keys: bytes, quiet: float = 0.1, timeout: float = 5.0) -> None:
        """Write ``keys`` and wait for what they cause to be painted (typed text is not
        searched for: the screen writes it in pieces, around the cells that changed)."""
        since = self.mark()
        os.write(self.master, keys)
        if self._quiet_since(since, quiet, time.monotonic() + timeout) is None:
            raise TimeoutError(f"nothing painted after {keys!r}")

    def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Until nothing has been written for ``quiet`` seconds."""
        self._quiet_since(0, quiet, time.monotonic() + timeout, before=self.started)

    def idle(self, seconds: float) -> tuple[float, float]:
        """Bytes per second written and share of one core used while nobody types."""
        process = psutil.Process(self.process.pid)
        cpu_before = sum(process.cpu_times()[:2])
        since = self.mark()
        time.sleep(seconds)
        written = len(self.text_since(since))
        cpu = sum(process.cpu_times()[:2]) - cpu_before
        return written / seconds, cpu / seconds

    def peak_memory_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        """q, and if that does not end it within 15 s, kill it — never leave it running."""
        try:
            os.write(self.master, b"\x1b")  # out of a filter or dialog, should one be open
            time.sleep(0.4)  # longer than the escape delay, or "q" would read as alt+q
            os.write(self.master, b"q")
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self.master)


def environment() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TEXTUAL") and k not in ("PYTHONDONTWRITEBYTECODE", "IMTUI_DB")
    }
    env.update(TERM="xterm-256color", COLUMNS=str(SIZE[0]), LINES=str(SIZE[1]), PYTHONPATH=str(ROOT))  # fmt: skip
    env["IMTUI_KEYS"] = "/nonexistent"  # default keys, whatever the user's file says
    return env


# -- the runs ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_bare() -> Terminal:
    term = Terminal([sys.executable, "-c", BARE_APP], environment())
    term.start()
    return term


def start_dashboard(db: Target) -> Terminal:
    term = Terminal(*db.dashboard())
    term.start()
    return term


NEWEST_ALERT = f"benchmark alert {ALERTS}".encode()


def first_paints(db: Target, runs: int) -> tuple[list[float], list[float]]:
    """Start → first full paint, alternating the two programs so both see the same machine;
    one start of each first, unmeasured, so both find their files in the page cache."""
    bare: list[float] = []
    dash: list[float] = []
    for run in range(runs + 1):
        for starter, marker, into in ((start_bare, b"bare-ready", bare), (lambda: start_dashboard(db), NEWEST_ALERT, dash)):  # fmt: skip
            term = starter()
            try:
                painted = term.wait_for(marker) - term.started
                if run:
                    into.append(painted)
                term.settle(0.3)
            finally:
                term.stop()
    return bare, dash


def measure_keys(term: Terminal, presses: int) -> dict[str, list[float]]:
    """Each press waits for a quiet screen first, so no tick or live update is counted."""
    keys: dict[str, list[float]] = {"cursor move": [], "page down": [], "jump to end": [], "filter": []}  # fmt: skip

    def press(name: str, keys_: bytes, expect: bytes = b"") -> None:
        term.settle(0.25)
        try:
            keys[name].append(term.repaint_after(keys_, expect))
        except TimeoutError:
            print(f"  (no repaint after {keys_!r} for {name}: not counted)", file=sys.stderr)

    for i in range(presses):
        press("cursor move", b"j" if i % 2 == 0 else b"k")
    for _ in range(presses):
        press("page down", b"\x1b[6~")
    for i in range(presses):
        press("jump to end", b"G" if i % 2 == 0 else b"g")
    for i in range(presses):
        # "/" and the filter typed in one go, as a person does; enter is what is timed, up to
        # the pane's title naming the filter and its rows painted
        text = b"status:held" if i % 2 == 0 else b"#" + str(ORDERS - 7 * i).encode()
        term.echoed(b"/" + text)
        press("filter", b"\r", expect=b"filter " + text)
        term.settle(0.1)
        term.send(b"\x1b")  # esc: back to no filter
        # A key within the escape delay of an esc reads as alt+key: let it go by first.
        time.sleep(0.2)
    term.settle(0.3)
    return keys


ELSEWHERE = (
    "INSERT INTO alert (id, account_id, connection_id, kind, scope, fingerprint, state,"
    " needs_person, message, count, first_seen, last_seen)"
    " VALUES (?, 1, 2, 'remote_error', 'record', ?, 'open', ?, ?, 1, ?, ?)"
)
"""An open alert committed "from another process" (SQLite's parameter marks)."""


def commit_delays(term: Terminal, db: Target, times: int = 5) -> list[float]:
    delays: list[float] = []
    con = db.connect()
    try:
        for n in range(times):
            alert_id = ALERTS + 1000 + n + int(time.time()) % 100000 * 10
            message = f"committed elsewhere {alert_id}"
            term.settle(0.3)
            since = term.mark()
            t = stamp(datetime.now(UTC))
            con.execute(
                ELSEWHERE.replace("?", db.mark),
                (alert_id, f"elsewhere:{alert_id}", False, message, t, t),
            )
            con.commit()
            committed = time.monotonic()
            delays.append(
                term.wait_for(str(alert_id).encode(), since=since, timeout=10) - committed
            )
    finally:
        remove_leftovers(con)
        con.close()
    return delays


def remove_leftovers(con: Any) -> None:
    """Rows this benchmark commits "from another process" (also left by an interrupted run)."""
    con.execute("DELETE FROM alert_event WHERE alert_id IN (SELECT id FROM alert WHERE fingerprint LIKE 'elsewhere:%')")  # fmt: skip
    con.execute("DELETE FROM alert WHERE fingerprint LIKE 'elsewhere:%'")
    con.commit()


SCREEN_CHANGES: tuple[tuple[str, bytes, bytes], ...] = (
    ("detail", b"\r", b"Alert "),
    ("back", b"\x1b", b"All accounts"),
    ("help", b"?", b"Close"),
    ("back", b"\x1b", b"All accounts"),
    ("pane switch", b"2", b"2 Orders"),
    ("pane switch", b"1", b"1 Alerts"),
)
"""Each key, the change it makes, and what shows the change has been painted."""
SCREEN_CHANGE_TARGET = 9 * 1024
"""Bytes for a detail or help at 80x24 (issue 16): a second on a 64 kbit/s link."""


def screen_change_bytes(term: Terminal, times: int) -> dict[str, list[int]]:
    """Everything written from a key until the terminal has been quiet for 0.3 s: the whole
    change, every paint it made (a header tick that falls inside is counted too). One round
    first, unmeasured: in the seconds after the start the engine's own start holds the
    interpreter, and a detail's read waits for it (its "loading…" is painted meanwhile)."""
    written: dict[str, list[int]] = {name: [] for name, _, _ in SCREEN_CHANGES}
    for round_ in range(times + 1):
        for name, keys, shown in SCREEN_CHANGES:
            term.settle(0.3)
            since = term.mark()
            term.send(keys)
            term.wait_for(shown, since, timeout=10)
            term._quiet_since(since, 0.3, time.monotonic() + 5)
            if round_:
                written[name].append(len(term.text_since(since)))
            time.sleep(0.2)  # a key after esc within the escape delay would read as alt+key
    return written


def run_dashboard(db: Target, presses: int, idle_s: float) -> dict[str, object]:
    term = start_dashboard(db)
    try:
        term.wait_for(NEWEST_ALERT)
        term.settle(1.0)
        results: dict[str, object] = {"first_paint_bytes": len(term.text_since(0))}
        since = term.mark()
        term.send(b"2")  # the million orders
        term.wait_for(b"2 Orders", since)
        keys = measure_keys(term, presses)
        term.send(b"1")  # back on the alerts, whose rows open a detail
        term.settle(0.5)
        results["screen_changes"] = screen_change_bytes(term, max(3, presses // 4))
        results["keys"] = {
            name: {"p50_ms": statistics.median(v) * 1000, "p95_ms": percentile(v, 95) * 1000, "n": len(v)}
            for name, v in keys.items() if v
        }  # fmt: skip
        term.send(b"1")
        term.settle(1.0)
        rate, cpu = term.idle(idle_s)
        results["idle_bytes_s"], results["idle_cpu"] = rate, cpu
        results["commit_to_screen_s"] = max(commit_delays(term, db))
        results["memory_mb"] = term.peak_memory_mb()
        return results
    finally:
        term.stop()


def run_bare(idle_s: float) -> dict[str, float]:
    term = start_bare()
    try:
        term.wait_for(b"bare-ready")
        term.settle()
        first_paint = len(term.text_since(0))
        rate, cpu = term.idle(idle_s)
        return {"idle_bytes_s": rate, "idle_cpu": cpu, "memory_mb": term.peak_memory_mb(),
                "first_paint_bytes": first_paint}  # fmt: skip
    finally:
        term.stop()


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def paint_report(db: Target, starts: tuple[list[float], list[float]]) -> list[str]:
    """The first paint against a bare Textual app's in the same run: the dashboard's own start
    (its imports, the helper's read) is what is over the bare app's."""
    bare_starts, dash_starts = starts
    first, first_bare = statistics.median(dash_starts), statistics.median(bare_starts)
    slack = db.paint_slack
    met = first <= 1.5 and first - first_bare <= slack
    return [
        f"{'measure (' + db.name + ')':40} {'dashboard':>14} {'bare app':>10}  target",
        f"{'start → first full paint (median)':40} {first:>12.2f} s {first_bare:>8.2f} s"
        f"  ≤ 1.5 s and ≤ bare + {slack:.1f} s: +{first - first_bare:.2f} s ({verdict(met)})",
        f"{'start → first full paint (worst of ' + str(len(dash_starts)) + ')':40} {max(dash_starts):>12.2f} s {max(bare_starts):>8.2f} s",
    ]  # fmt: skip


def report(db: Target, bare: dict[str, float], dash: dict[str, object], starts: tuple[list[float], list[float]]) -> list[str]:  # fmt: skip
    lines = paint_report(db, starts)
    keys = dash["keys"]
    assert isinstance(keys, dict)
    for name, figures in keys.items():
        lines.append(
            f"{'key → repaint, ' + name + ' (p50/p95)':40} {figures['p50_ms']:>5.0f}/{figures['p95_ms']:>4.0f} ms"
            f" {'':>10}  p95 ≤ 50 ms ({verdict(figures['p95_ms'] <= 50)})"
        )  # fmt: skip
    memory = float(dash["memory_mb"])  # type: ignore[arg-type]
    rate = float(dash["idle_bytes_s"])  # type: ignore[arg-type]
    cpu = float(dash["idle_cpu"]) * 100  # type: ignore[arg-type]
    commit = float(dash["commit_to_screen_s"])  # type: ignore[arg-type]
    lines += screen_change_report(dash, bare)
    lines += [
        f"{'peak memory':40} {memory:>11.0f} MB {bare['memory_mb']:>7.0f} MB  ≤ 200 MB ({verdict(memory <= 200)})",
        f"{'idle: bytes to the terminal':40} {rate:>10.0f} B/s {bare['idle_bytes_s']:>6.0f} B/s  ≤ 200 B/s ({verdict(rate <= 200)})",
        f"{'idle: CPU (one core)':40} {cpu:>12.1f} % {bare['idle_cpu'] * 100:>8.1f} %  ≤ 2 % ({verdict(cpu <= 2)})",
        f"{'commit elsewhere → row on screen (max)':40} {commit:>12.2f} s {'':>10}  ≤ 1 s ({verdict(commit <= 1)})",
    ]  # fmt: skip
    return lines


def screen_change_report(dash: dict[str, object], bare: dict[str, float]) -> list[str]:
    """Bytes per screen change, next to the first full paint's (the dashboard's and the bare
    app's): a detail and help within 9 KB at 80x24; going back and switching panes shown."""
    first = int(dash["first_paint_bytes"])  # type: ignore[call-overload]
    lines = [f"{'bytes: start → first full paint':40} {first / 1024:>11.1f} KB {bare['first_paint_bytes'] / 1024:>7.1f} KB  (what a screen costs)"]  # fmt: skip
    changes = dash["screen_changes"]
    assert isinstance(changes, dict)
    for name, sizes in changes.items():
        worst = max(sizes) / 1024
        median = statistics.median(sizes) / 1024
        target = ""
        if name in ("detail", "help"):
            met = max(sizes) <= SCREEN_CHANGE_TARGET
            target = f"  max ≤ {SCREEN_CHANGE_TARGET // 1024} KB ({verdict(met)})"
        lines.append(f"{'bytes: ' + name + ' (median/max of ' + str(len(sizes)) + ')':40} {median:>5.1f}/{worst:>4.1f} KB {'':>10}{target}")  # fmt: skip
    return lines


T = TypeVar("T")


def measured(run: Callable[[], T]) -> tuple[T, str, str] | None:
    """``run()``, the machine's load printed before it: (its result, the load before, the
    load after), or None once it has said why it failed."""
    load_before = machine_load()
    print(f"machine before: {load_before}", flush=True)
    try:
        result = run()
    except (TimeoutError, OSError, subprocess.SubprocessError) as exc:
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    return result, load_before, machine_load()


def screens_only(db: Target, times: int) -> tuple[dict[str, float], dict[str, object]]:
    """The bare app's first paint in bytes, then the dashboard's and its screen changes."""
    bare_term = start_bare()
    try:
        bare_term.wait_for(b"bare-ready")
        bare_term.settle()
        bare = {"first_paint_bytes": float(len(bare_term.text_since(0)))}
    finally:
        bare_term.stop()
    term = start_dashboard(db)
    try:
        term.wait_for(NEWEST_ALERT)
        term.settle(1.0)
        dash: dict[str, object] = {"first_paint_bytes": len(term.text_since(0))}
        dash["screen_changes"] = screen_change_bytes(term, times)
    finally:
        term.stop()
    return bare, dash


def main_screens(db: Target, times: int) -> int:
    """Only the bytes per screen change (``--only screens``)."""
    done = measured(lambda: screens_only(db, times))
    if done is None:
        return 1
    (bare, dash), load_before, load_after = done
    print(f"\nimtui dashboard at {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} cores, on {db.name}")
    print(f"machine: before {load_before}; after {load_after}")
    print(f"{'measure':40} {'dashboard':>14} {'bare app':>10}  target")
    print("\n".join(screen_change_report(dash, bare)))
    return 0


# -- a storm: the dashboard's engine delivering 10,000 orders while keys are pressed ----------

STORM_ORDERS = 10_000
STORM_LATENCY = 0.03
"""Seconds the sandbox WMS adds to each answer: a remote system on a good network."""
STORM_ROWS = 12
"""Open alerts on the Alerts pane the cursor moves over; nothing in the storm changes them."""
STORM_PRESSES = 40
STORM_GAP_S = 0.15
"""Between presses during the storm (the screen is never quiet then: the header's counts and
the panes' live updates repaint several times a second)."""

SANDBOX_HELPER = """
import json, sys
from imtui.sandbox import Sandbox
with Sandbox(seed=1, latency=float(sys.argv[1])) as sb:
    print(json.dumps([sb.wms_url, sb.shop_url, dict(sb.wms_credentials), sb.shop_token]), flush=True)
    sys.stdin.read()  # serves until the benchmark closes this pipe
"""


def start_storm_sandbox() -> tuple[subprocess.Popen[str], tuple[str, str, dict[str, str], str]]:
    """The sandbox WMS and shop in a process of their own, as a real WMS is elsewhere."""
    helper = subprocess.Popen(
        [sys.executable, "-c", SANDBOX_HELPER, str(STORM_LATENCY)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment(),
    )  # fmt: skip
    assert helper.stdout is not None
    line = helper.stdout.readline()
    if not line:
        helper.kill()
        raise OSError("the sandbox helper did not start")
    wms_url, shop_url, credentials, token = json.loads(line)
    return helper, (wms_url, shop_url, credentials, token)


def storm_marker(n: int) -> bytes:
    return f"storm key check {n:02d}".encode()


def build_storm_database(path: Path, urls: tuple[str, str, dict[str, str], str]) -> None:
    """A fresh database whose account is connected to the sandbox, its ship method mapped, with
    ``STORM_ORDERS`` orders waiting in the retry queue — due tomorrow, until :func:`unleash`
    makes them due — and ``STORM_ROWS`` open alerts that the storm leaves alone."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from delivery_throughput import load_due_orders, wire

    from imtui.store.database import Database

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    try:
        now = datetime.now(UTC)
        _, wms_id = wire(db, urls, now)
        load_due_orders(db, wms_id, STORM_ORDERS, 1, now)
    finally:
        db.dispose()
    con = sqlite3.connect(path, timeout=10)
    try:
        con.execute("UPDATE retry_item SET next_attempt_at = ?", (stamp(datetime.now(UTC) + timedelta(days=1)),))  # fmt: skip
        # Seen days ago: their age on screen does not tick over during the run, so their rows
        # are repainted only by the cursor.
        seen = stamp(datetime.now(UTC) - timedelta(days=3))
        for n in range(1, STORM_ROWS + 1):
            con.execute(
                "INSERT INTO alert (account_id, connection_id, kind, scope, fingerprint, state,"
                " needs_person, message, count, first_seen, last_seen)"
                " VALUES (1, ?, 'remote_error', 'record', ?, 'open', 1, ?, 1, ?, ?)",
                (wms_id, f"storm:{n}", storm_marker(n).decode(), seen, seen),
            )
        con.commit()
    finally:
        con.close()


def unleash(path: Path) -> None:
    """Every order in the queue due now: the dashboard's engine takes them at its next tick."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as con:
        con.execute("UPDATE retry_item SET next_attempt_at = ?", (stamp(datetime.now(UTC) - timedelta(seconds=1)),))  # fmt: skip
        con.commit()


def delivered(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as con:
        return int(con.execute("SELECT count(*) FROM \"order\" WHERE status = 'delivered'").fetchone()[0])  # fmt: skip


def cursor_presses(
    term: Terminal, presses: int, rows: tuple[bytes, bytes], gap: float
) -> list[float]:
    """j and k in turn between the first two rows: each timed until the row the cursor lands
    on is painted (both rows are repainted, whole, when the cursor moves; nothing else in the
    storm repaints them). Not "until quiet": during a storm the screen never is."""
    times: list[float] = []
    for i in range(presses):
        keys, lands_on = (b"j", rows[1]) if i % 2 == 0 else (b"k", rows[0])
        since = term.mark()
        sent = time.monotonic()
        term.send(keys)
        try:
            times.append(term.wait_for(lands_on, since, timeout=5.0) - sent)
        except TimeoutError:
            print(
                f"  (no repaint after {keys!r} in the storm measure: not counted)", file=sys.stderr
            )
        time.sleep(gap)
    return times


def run_storm(presses: int) -> dict[str, object]:
    """The dashboard on the storm database: the cursor key with the engine idle, then the
    same key while the engine delivers the 10,000 orders."""
    path = RESULTS / "dashboard-storm.db"
    RESULTS.mkdir(parents=True, exist_ok=True)
    helper, urls = start_storm_sandbox()
    try:
        started = time.perf_counter()
        build_storm_database(path, urls)
        print(f"storm: {STORM_ORDERS:,} orders queued for the sandbox WMS ({STORM_LATENCY * 1000:.0f} ms a request) in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        term = start_dashboard(Target(path=path))
        try:
            # the newest alert first: its row is the first, the one after it the second
            first, second = storm_marker(STORM_ROWS), storm_marker(STORM_ROWS - 1)
            term.wait_for(first)
            term.settle(2.0)  # the engine's first cycle (its polls) is over too
            idle = cursor_presses(term, presses, (first, second), STORM_GAP_S)
            unleash(path)
            deadline = time.monotonic() + 30
            while delivered(path) == 0:
                if time.monotonic() > deadline:
                    raise TimeoutError("the engine delivered nothing within 30 s")
                time.sleep(0.05)
            before, at = delivered(path), time.monotonic()
            storm = cursor_presses(term, presses, (first, second), STORM_GAP_S)
            after, took = delivered(path), time.monotonic() - at
            # the rest of the storm, so the next run starts from a quiet machine
            deadline = time.monotonic() + 120
            while delivered(path) < STORM_ORDERS and time.monotonic() < deadline:
                time.sleep(0.5)
            total = delivered(path)
        finally:
            term.stop()
    finally:
        helper.kill()
        helper.wait()

    def figures(values: list[float]) -> dict[str, float]:
        return {"p50_ms": statistics.median(values) * 1000, "p95_ms": percentile(values, 95) * 1000, "n": len(values)}  # fmt: skip

    return {
        "idle": figures(idle), "storm": figures(storm),
        "delivered_while_measured": after - before, "measured_s": took, "delivered_in_all": total,
    }  # fmt: skip


def storm_report(storm: dict[str, object]) -> list[str]:
    idle, busy = storm["idle"], storm["storm"]
    assert isinstance(idle, dict) and isinstance(busy, dict)
    while_measured = int(storm["delivered_while_measured"])  # type: ignore[call-overload]
    took = float(storm["measured_s"])  # type: ignore[arg-type]
    return [
        f"{'key → repaint, cursor move, engine idle':40} {idle['p50_ms']:>5.0f}/{idle['p95_ms']:>4.0f} ms {'':>10}  (p50/p95, n={idle['n']:.0f})",
        f"{'key → repaint, cursor move, 10k storm':40} {busy['p50_ms']:>5.0f}/{busy['p95_ms']:>4.0f} ms {'':>10}  p95 ≤ 50 ms ({verdict(busy['p95_ms'] <= 50)})",
        f"{'  delivered while those keys were timed':40} {while_measured:>10,} in {took:.1f} s ({while_measured / took:,.0f}/s); {int(storm['delivered_in_all']):,} of {STORM_ORDERS:,} in all",  # type: ignore[call-overload]
    ]  # fmt: skip


def prepare() -> None:
    """Compile imtui's modules as an installed package would have them: without this, a
    checkout run with PYTHONDONTWRITEBYTECODE compiles every module on every start."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "imtui")], check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    busy = [p.info["name"] for p in psutil.process_iter(["name", "cpu_percent"]) if (p.info["cpu_percent"] or 0) > 20]  # fmt: skip
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)" + (f"; busy: {', '.join(busy)}" if busy else "")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=20, help="presses per key measured")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--starts", type=int, default=5, help="starts of each program timed")
    parser.add_argument(
        "--only", choices=("storm", "starts", "screens"), default=None,
        help="storm: only the keys while the engine delivers 10,000 orders (no 1M-row database);"
        " starts: only start → first full paint, next to the bare app's;"
        " screens: only the bytes per screen change",
    )  # fmt: skip
    parser.add_argument(
        "--db", metavar="URL", default=None,
        help="measure on this PostgreSQL database (postgresql://…; the rows are built there if it"
        " is empty) instead of the cached SQLite file; the storm keeps its own SQLite file",
    )  # fmt: skip
    args = parser.parse_args()
    prepare()
    if args.only == "storm":
        return main_storm()
    db = Target(url=postgres_database(args.db)) if args.db else Target(path=database())
    with contextlib.closing(db.connect()) as con:
        remove_leftovers(con)
    if args.only == "starts":
        return main_starts(db, args.starts)
    if args.only == "screens":
        return main_screens(db, max(3, args.presses // 4))
    done = measured(
        lambda: (
            first_paints(db, args.starts),
            run_bare(args.idle),
            run_dashboard(db, args.presses, args.idle),
            run_storm(STORM_PRESSES),
        )
    )
    if done is None:
        return 1
    (starts, bare, dash, storm), load_before, load_after = done
    lines = report(db, bare, dash, starts) + storm_report(storm)
    print(f"\nimtui dashboard at {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} cores, {ORDERS:,} orders / "
          f"{ALERTS:,} alerts ({OPEN_ALERTS:,} open) / {RETRIES:,} retry rows on {db.name}")  # fmt: skip
    print(f"machine: before {load_before}; after {load_after}")
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_text(
        json.dumps(
            {"bare": bare, "dashboard": dash, "starts": {"bare": starts[0], "dashboard": starts[1]},
             "storm": storm, "machine": {"before": load_before, "after": load_after}},
            indent=2,
        )
    )  # fmt: skip
    return 0


def main_starts(db: Target, runs: int) -> int:
    """Only the first paints (``--only starts``): each start listed, the load beside them, and
    (with valgrind) the instructions each program ran to its first paint."""
    done = measured(lambda: first_paints(db, runs))
    if done is None:
        return 1
    starts, load_before, load_after = done
    print(f"\nimtui dashboard at {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} cores, on {db.name}")
    print(f"machine: before {load_before}; after {load_after}")
    print("\n".join(paint_report(db, starts)))
    for name, values in (("dashboard", starts[1]), ("bare app", starts[0])):
        print(f"  {name} starts: {' '.join(f'{v:.2f}' for v in values)} s")
    print("\n".join(instructions_report(db, statistics.median(starts[0]))))
    return 0


def instructions_to_paint(db: Target | None) -> float | None:
    """Millions of instructions the program's main thread ran from its start to its first full
    paint, counted by callgrind: the same on a busy machine as on a quiet one, where the time
    to first paint moves by half between two starts on a shared host. None without valgrind."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        tool = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--separate-threads=yes"]  # fmt: skip
        if db is None:
            argv, env = [*tool, sys.executable, "-c", PAINT_AND_EXIT, "bare-ready", "bare"], environment()  # fmt: skip
        else:
            (_, *args), env = db.dashboard()
            argv = [*tool, sys.executable, "-c", PAINT_AND_EXIT, NEWEST_ALERT.decode(), "dashboard", *args[2:]]  # fmt: skip
        term = Terminal(argv, env)
        term.start()
        try:
            term.process.wait(timeout=300)
        finally:
            term.stop()
        main_thread = Path(f"{out}-01")
        found = re.search(r"^(?:summary|totals): (\d+)", main_thread.read_text(), re.M) if main_thread.exists() else None  # fmt: skip
        return int(found.group(1)) / 1e6 if found else None


def instructions_report(db: Target, bare_seconds: float) -> list[str]:
    dash, bare = instructions_to_paint(db), instructions_to_paint(None)
    if dash is None or bare is None:
        return ["(no instruction counts: install valgrind for them)"]
    over = (dash - bare) / bare * bare_seconds
    return [
        f"{'instructions to first paint (main thread)':40} {dash:>10.0f} M {bare:>8.0f} M"
        f"  +{dash - bare:.0f} M: +{over:.2f} s at the bare app's {bare_seconds:.2f} s"
        f" ({verdict(over <= db.paint_slack)})",
    ]


def main_storm() -> int:
    done = measured(lambda: run_storm(STORM_PRESSES))
    if done is None:
        return 1
    storm, load_before, load_after = done
    print(f"\nimtui dashboard at {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} cores, its engine delivering "
          f"{STORM_ORDERS:,} orders to the sandbox WMS ({STORM_LATENCY * 1000:.0f} ms a request)")  # fmt: skip
    print(f"machine: before {load_before}; after {load_after}")
    print("\n".join(storm_report(storm)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard-storm.json").write_text(
        json.dumps(
            {"storm": storm, "machine": {"before": load_before, "after": load_after}}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
