# ruff: noqa: E501 - the generated rows and the report table read best one per line
"""How the dashboard feels on a big database, measured for real: ``python benchmarks/dashboard.py``.

It builds (once; the file is cached under benchmarks/results/) a database with 1,000,000 orders,
100,000 alerts of which 10,000 are open, and 50,000 rows in the retry queue, then runs
``imtui --db <it>`` — the real command, its engine included — in a pseudo-terminal of 80x24, as
a person over SSH would, and next to it a bare Textual app that shows one label. It reads what
each writes to the terminal and reports, with the targets beside them:

- process start to first full paint (the first rows of the pane on screen),
- keystroke to finished repaint for cursor move, page down, jump to end and applying a filter
  on the million-order pane (p50/p95 over repeated presses),
- peak memory (VmHWM of the process),
- bytes written to the terminal per second and CPU while idle,
- the delay from a commit by another process (this one) to its row on screen.

The benchmark writes the database directly with sqlite3: it plays the other process, and bulk
inserts are the only way to make a million rows in seconds.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import sqlite3
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


# -- the database -----------------------------------------------------------------------------


def stamp(when: datetime) -> str:
    return when.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def build_database(path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from imtui.store.database import Database

    if path.exists():
        path.unlink()
    Database(f"sqlite:///{path}").dispose()  # the schema, by the real migrations
    now = datetime.now(UTC)
    t = stamp(now)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("INSERT INTO account (id, name, kind, created_at) VALUES (1, 'Bench Outdoors', 'merchant', ?)", (t,))  # fmt: skip
    for cid, name, role, platform in ((1, "Shop", "source", "shopify"), (2, "3PL", "wms", "wms_3pl")):  # fmt: skip
        con.execute(
            "INSERT INTO connection (id, account_id, name, role, platform, base_url, credentials,"
            " settings, poll_interval_s, paused, paused_reason, created_at, updated_at)"
            " VALUES (?, 1, ?, ?, ?, 'http://127.0.0.1:9', '{}', '{}', 300, 1, 'benchmark', ?, ?)",
            (cid, name, role, platform, t, t),
        )
    statuses = ["fulfilled"] * 90 + ["delivered"] * 5 + ["shipped"] * 3 + ["held", "queued"]
    methods = ["UPS_GROUND", "FEDEX_GROUND", "USPS_PRIORITY", "SAME_DAY_COURIER"]
    rows = (
        (
            n, 1, 1, str(n), f"#{n}", f"BENCH-{n}", methods[n % 4], "", f"Customer {n}", "", "",
            "", "Austin", "TX", "78701", "US", "", statuses[n % 100],
            "unmapped_ship_method" if statuses[n % 100] == "held" else None,
            stamp(now - timedelta(seconds=ORDERS - n)), stamp(now - timedelta(seconds=ORDERS - n)),
        )
        for n in range(1, ORDERS + 1)
    )  # fmt: skip
    con.executemany(
        'INSERT INTO "order" (id, account_id, source_connection_id, source_order_id, number,'
        " reference, ship_method_code, ship_method_title, ship_name, ship_company, ship_address1,"
        " ship_address2, ship_city, ship_state, ship_zip, ship_country, ship_phone, status,"
        " hold_reason, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    kinds = ["remote_error", "unreachable", "unknown_sku", "incomplete_address"]
    alert_rows = (
        (
            n, 1, 2, kinds[n % 4], "record", f"bench:{n}",
            "open" if n > ALERTS - OPEN_ALERTS else "resolved", int(n % 4 >= 2),
            f"benchmark alert {n}: HTTP 503 Service Unavailable", n * 10, f"#{n * 10}",
            f"deliver:{n * 10}", 503, 1 + n % 5,
            stamp(now - timedelta(seconds=ALERTS - n)), stamp(now - timedelta(seconds=ALERTS - n)),
            None if n > ALERTS - OPEN_ALERTS else t,
            None if n > ALERTS - OPEN_ALERTS else "auto",
        )
        for n in range(1, ALERTS + 1)
    )  # fmt: skip
    con.executemany(
        "INSERT INTO alert (id, account_id, connection_id, kind, scope, fingerprint, state,"
        " needs_person, message, order_id, order_number, subject, http_status, count, first_seen,"
        " last_seen, resolved_at, resolved_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        alert_rows,
    )
    states = ["due"] * 8 + ["held", "skipped"]
    retry_rows = (
        (
            n, 1, 2, "deliver_order", ORDERS - n, f"#{ORDERS - n}", states[n % 10], n % 20,
            n % 20, "HTTP 503 Service Unavailable", "transient",
            stamp(now + timedelta(seconds=n * 7)) if states[n % 10] == "due" else None,
            stamp(now + timedelta(days=15)), t, t,
        )
        for n in range(1, RETRIES + 1)
    )  # fmt: skip
    con.executemany(
        "INSERT INTO retry_item (id, account_id, connection_id, operation, subject_id,"
        " subject_label, state, attempts, consecutive_failures, last_error, last_failure_class,"
        " next_attempt_at, deadline_at, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        retry_rows,
    )
    con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


def database() -> Path:
    path = RESULTS / f"dashboard-{DATA_VERSION}.db"
    if not path.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        print(f"building {path.name}: {ORDERS:,} orders, {ALERTS:,} alerts, {RETRIES:,} retries…")
        build_database(path)
        print(f"  built in {time.perf_counter() - started:.1f} s (cached for next runs)")
    return path


# -- a program in a pseudo-terminal -----------------------------------------------------------


@dataclass
class Terminal:
    argv: list[str]
    env: dict[str, str]
    chunks: list[tuple[float, bytes]] = field(default_factory=list)

    def start(self) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            self.argv, stdin=slave, stdout=slave, stderr=slave, env=self.env, close_fds=True,
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.chunks.append((time.monotonic(), data))

    def mark(self) -> int:
        with self.lock:
            return len(self.chunks)

    def text_since(self, index: int) -> bytes:
        with self.lock:
            return b"".join(data for _, data in self.chunks[index:])

    def wait_for(self, marker: bytes, since: int = 0, timeout: float = 30.0) -> float:
        """When ``marker`` was written (monotonic), looking at output from chunk ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                seen = b""
                for at, data in self.chunks[since:]:
                    seen += data
                    if marker in seen:
                        return at
            time.sleep(0.002)
        raise TimeoutError(f"{marker!r} never appeared")

    def repaint_after(self, keys: bytes, timeout: float = 5.0) -> float:
        """Seconds from writing ``keys`` until the repaint they cause is finished."""
        since = self.mark()
        sent = time.monotonic()
        os.write(self.master, keys)
        deadline = sent + timeout
        while time.monotonic() < deadline:
            with self.lock:
                after = self.chunks[since:]
            if after and time.monotonic() - after[-1][0] >= QUIET_S:
                return after[-1][0] - sent
            time.sleep(0.002)
        raise TimeoutError(f"no repaint after {keys!r}")

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                last = self.chunks[-1][0] if self.chunks else self.started
            if time.monotonic() - last >= quiet:
                return
            time.sleep(0.01)

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
        try:
            os.write(self.master, b"q")
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    env.update(TERM="xterm-256color", COLUMNS=str(SIZE[0]), LINES=str(SIZE[1]), PYTHONPATH=str(ROOT))  # fmt: skip
    env["IMTUI_KEYS"] = "/nonexistent"  # default keys, whatever the user's file says
    return env


# -- the runs ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_bare(idle_s: float) -> dict[str, float]:
    term = Terminal([sys.executable, "-c", BARE_APP], environment())
    term.start()
    painted = term.wait_for(b"bare-ready") - term.started
    term.settle()
    rate, cpu = term.idle(idle_s)
    memory = term.peak_memory_mb()
    term.stop()
    return {"first_paint_s": painted, "idle_bytes_s": rate, "idle_cpu": cpu, "memory_mb": memory}


def run_dashboard(db: Path, presses: int, idle_s: float) -> dict[str, object]:
    newest_alert = f"benchmark alert {ALERTS}".encode()
    term = Terminal([sys.executable, "-m", "imtui.cli", "--db", str(db)], environment())
    term.start()
    painted = term.wait_for(newest_alert) - term.started
    term.settle(0.5)
    results: dict[str, object] = {"first_paint_s": painted}

    term.send(b"2")  # the million orders
    term.wait_for(f"#{ORDERS}".encode(), since=0)
    term.settle()
    keys: dict[str, list[float]] = {"cursor move": [], "page down": [], "jump to end": [], "filter": []}  # fmt: skip
    for i in range(presses):
        keys["cursor move"].append(term.repaint_after(b"j" if i % 2 == 0 else b"k"))
    for _ in range(presses):
        keys["page down"].append(term.repaint_after(b"\x1b[6~"))
    for i in range(presses):
        keys["jump to end"].append(term.repaint_after(b"G" if i % 2 == 0 else b"g"))
    for i in range(presses):
        term.send(b"/")
        term.settle(0.05)
        text = b"status:held" if i % 2 == 0 else b"#" + str(ORDERS - 7 * i).encode()
        term.send(text)
        term.settle(0.05)
        keys["filter"].append(term.repaint_after(b"\r"))
        term.send(b"\x1b")  # clear the filter again
        term.settle(0.1)
    results["keys"] = {
        name: {"p50_ms": statistics.median(v) * 1000, "p95_ms": percentile(v, 95) * 1000}
        for name, v in keys.items()
    }
    term.send(b"1")
    term.settle(1.0)
    rate, cpu = term.idle(idle_s)
    results["idle_bytes_s"], results["idle_cpu"] = rate, cpu

    delays = []
    con = sqlite3.connect(db)
    for n in range(5):
        alert_id = ALERTS + 1000 + n + int(time.time()) % 100000 * 10
        message = f"committed elsewhere {alert_id}"
        since = term.mark()
        t = stamp(datetime.now(UTC))
        con.execute(
            "INSERT INTO alert (id, account_id, connection_id, kind, scope, fingerprint, state,"
            " needs_person, message, count, first_seen, last_seen)"
            " VALUES (?, 1, 2, 'remote_error', 'record', ?, 'open', 0, ?, 1, ?, ?)",
            (alert_id, f"elsewhere:{alert_id}", message, t, t),
        )
        con.commit()
        committed = time.monotonic()
        delays.append(term.wait_for(str(alert_id).encode(), since=since, timeout=10) - committed)
        term.settle(0.3)
    con.execute("DELETE FROM alert WHERE fingerprint LIKE 'elsewhere:%'")
    con.commit()
    con.close()
    results["commit_to_screen_s"] = max(delays)
    results["memory_mb"] = term.peak_memory_mb()
    term.stop()
    return results


def report(bare: dict[str, float], dash: dict[str, object]) -> list[str]:
    keys = dash["keys"]
    assert isinstance(keys, dict)
    first = float(dash["first_paint_s"])  # type: ignore[arg-type]
    lines = [
        f"{'measure':38} {'dashboard':>14} {'bare app':>10}  target",
        f"{'start → first full paint':38} {first:>12.2f} s {bare['first_paint_s']:>8.2f} s"
        f"  ≤ 1.5 s and ≤ bare + 0.5 s ({'ok' if first <= 1.5 and first - bare['first_paint_s'] <= 0.5 else 'MISSED'})",
    ]  # fmt: skip
    for name, figures in keys.items():
        ok = "ok" if figures["p95_ms"] <= 50 else "MISSED"
        lines.append(
            f"{'key → repaint, ' + name + ' (p50/p95)':38} {figures['p50_ms']:>5.0f}/{figures['p95_ms']:>4.0f} ms"
            f" {'':>10}  p95 ≤ 50 ms ({ok})"
        )  # fmt: skip
    memory = float(dash["memory_mb"])  # type: ignore[arg-type]
    rate = float(dash["idle_bytes_s"])  # type: ignore[arg-type]
    cpu = float(dash["idle_cpu"]) * 100  # type: ignore[arg-type]
    commit = float(dash["commit_to_screen_s"])  # type: ignore[arg-type]
    lines += [
        f"{'peak memory':38} {memory:>11.0f} MB {bare['memory_mb']:>7.0f} MB  ≤ 200 MB ({'ok' if memory <= 200 else 'MISSED'})",
        f"{'idle: bytes to the terminal':38} {rate:>10.0f} B/s {bare['idle_bytes_s']:>6.0f} B/s  ≤ 200 B/s ({'ok' if rate <= 200 else 'MISSED'})",
        f"{'idle: CPU (one core)':38} {cpu:>12.1f} % {bare['idle_cpu'] * 100:>8.1f} %  ≤ 2 % ({'ok' if cpu <= 2 else 'MISSED'})",
        f"{'commit elsewhere → row on screen (max)':38} {commit:>12.2f} s {'':>10}  ≤ 1 s ({'ok' if commit <= 1 else 'MISSED'})",
    ]  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=20, help="presses per key measured")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    args = parser.parse_args()
    db = database()
    bare = run_bare(args.idle)
    dash = run_dashboard(db, args.presses, args.idle)
    lines = report(bare, dash)
    print(f"\nimtui dashboard at {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} cores, {ORDERS:,} orders / "
          f"{ALERTS:,} alerts ({OPEN_ALERTS:,} open) / {RETRIES:,} retry rows")  # fmt: skip
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps({"bare": bare, "dashboard": dash}, indent=2))


if __name__ == "__main__":
    main()
