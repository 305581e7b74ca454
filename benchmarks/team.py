"""A team on one PostgreSQL database: ``python benchmarks/team.py``.

1, 2 and 4 workers (``imtui worker`` processes) on one database deliver 10,000 due orders to the
sandbox WMS (50 ms a request, in a process of its own); printed for each: orders/s, next to
the single worker's figure measured in the same run and the ideal (n × single), and whether
every order reached the WMS exactly once. The clock starts when the orders are committed, the
workers already running (so their start-up is not counted), and stops when the database says
the last one was delivered.

Then the idle dashboards: the four workers stay on, idle, and a writer commits constantly to
another database of the same server (itself an imtui database, so its own triggers notify
too). Dashboards run headless (``DashboardApp`` over a ``Backend`` as ``imtui dashboard
--no-worker`` builds them, each in a process of its own) and count every statement they send:
SQLAlchemy's ``before_cursor_execute`` on their engine, plus the change probe's own. Printed:
the busiest dashboard's statements per second and re-reads per second (target: ≤ 1 statement/s
whatever other databases do), next to the probe as it was — the server's WAL position, asked
four times a second, which moves with every commit on the server — in the same run.

The scratch databases are created on the server and dropped at the end.

Run:  python benchmarks/team.py [--orders 10000] [--latency 0.05] [--server URL]
      [--dashboards 2] [--idle-seconds 20] [--no-signal]
      (--server: any database of the server, to create the scratch ones from; default
      IMTUI_TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/test; --no-signal drops
      migration 0009's triggers from the team database, to measure what they cost the workers)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url, text

from imtui.store.changes import ChangeProbe
from imtui.store.database import Database

sys.path.insert(0, str(Path(__file__).parent))
from delivery_throughput import load_due_orders, sandbox_process, wire

TEAMS = (1, 2, 4)
TICK_S = 0.2
"""The workers' tick: how soon an idle worker finds new due orders."""
TARGET_IDLE_RATE = 1.0
"""Statements a second an idle dashboard may send, whatever other databases do."""
CHURN_PER_S = 200
"""Commits a second on the other database during the idle measurement."""
LIMIT_S = 300.0
"""How long a team may take to deliver before the run is called off."""
WARMUP_S = 6.0
"""A dashboard's first paint, its engine built, its first reads: before counting starts."""


# -- the server's scratch databases -----------------------------------------------------------


class Server:
    def __init__(self, url: str) -> None:
        self.url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self._made: list[str] = []

    def new_database(self, role: str) -> str:
        name = f"imtui_bench_{role}_{uuid.uuid4().hex[:8]}"
        with self._admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        self._made.append(name)
        return self.url.set(database=name, query={}).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._admin.connect() as conn:
            for name in self._made:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self._admin.dispose()


def drop_signal(url: str) -> None:
    """The database as before migration 0009: no triggers, no NOTIFY (a writer's cost)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP FUNCTION imtui_signal_change() CASCADE"))
    engine.dispose()


# -- workers ----------------------------------------------------------------------------------


def start_workers(url: str, n: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for i in range(n):
        log = (logs / f"worker-{n}-{i}.log").open("wb")
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "imtui.cli", "--db", url, "worker", "--tick", str(TICK_S)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return workers


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scalar(db: Database, sql: str) -> int:
    with db.read() as session:
        return int(session.execute(text(sql)).scalar() or 0)


def wait_for_beats(db: Database, n: int, limit_s: float = 60.0) -> None:
    """Until every worker has started and run a cycle (each notes a beat)."""
    deadline = time.monotonic() + limit_s
    while scalar(db, "SELECT count(*) FROM engine_beat") < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} workers did not start within {limit_s:.0f} s")
        time.sleep(0.2)


def delivered(db: Database) -> int:
    return scalar(
        db, "SELECT count(*) FROM retry_item WHERE operation = 'deliver_order' AND state = 'done'"
    )


@dataclass
class TeamRun:
    workers: int
    seconds: float
    exactly_once: bool
    commits_per_s: float
    """The team database's commits a second while delivering (reads included, ours too)."""
    url: str
    processes: list[subprocess.Popen[bytes]]
    """Left running, for the idle dashboards; the caller stops them."""


def run_team(
    server: Server, remotes: Any, urls: Any, n: int, orders: int, logs: Path, *, signal: bool
) -> TeamRun:
    """``n`` workers deliver ``orders`` due orders, timed from their commit to the last one
    delivered."""
    url = server.new_database(f"team{n}")
    db = Database(url)
    if not signal:
        drop_signal(url)
    now = datetime.now(UTC)
    _, wms_id = wire(db, urls, now)
    workers = start_workers(url, n, logs)
    try:
        wait_for_beats(db, n)
        references = load_due_orders(db, wms_id, orders, n * 1_000_000, now)
        started, committed = time.perf_counter(), commits(url)
        deadline = time.monotonic() + LIMIT_S
        while (done := delivered(db)) < orders:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} workers delivered {done:,} of {orders:,} in {LIMIT_S} s")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        committed = commits(url) - committed
    except BaseException:
        stop(workers)
        raise
    finally:
        db.dispose()
    remotes.send(references)
    created, posts = remotes.recv()
    once = all(c == 1 for c in created) and all(p == 1 for p in posts)
    return TeamRun(n, seconds, once, committed / seconds, url, workers)


# -- the other database's writer --------------------------------------------------------------


def churn(url: str, per_second: int) -> None:
    """Child process: commit to ``url`` (an imtui database: its triggers notify) until killed."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO account (name, kind, created_at) VALUES (%s, 'merchant', now())"
            " RETURNING id",
            (f"elsewhere {uuid.uuid4().hex}",),
        ).fetchone()
        assert row is not None
        pause = 1.0 / per_second
        n = 0
        while True:
            n += 1
            conn.execute("UPDATE account SET name = %s WHERE id = %s", (f"elsewhere {n}", row[0]))
            time.sleep(pause)


def commits(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        ).scalar()
    engine.dispose()
    return int(count or 0)


def commit_ceiling(url: str, *, signal: bool, threads: int = 8, seconds: float = 3.0) -> float:
    """One-row updates committed a second by ``threads`` connections on ``url`` (an imtui
    database), with the change triggers or without: PostgreSQL serialises the commits of
    notifying transactions server-wide (a lock held through the commit's WAL flush), so this is
    what the signal can cost a writer that commits that often."""
    import threading

    import psycopg

    dsn = url.replace("+psycopg", "")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE account {'ENABLE' if signal else 'DISABLE'} TRIGGER USER")
        ids = [
            conn.execute(
                "INSERT INTO account (name, kind, created_at) VALUES (%s, 'merchant', now())"
                " RETURNING id",
                (f"ceiling {uuid.uuid4().hex}",),
            ).fetchone()[0]  # type: ignore[index]
            for _ in range(threads)
        ]
    done = [0] * threads
    until = time.monotonic() + seconds

    def commit(k: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.monotonic() < until:
                conn.execute("UPDATE account SET kind = 'merchant' WHERE id = %s", (ids[k],))
                done[k] += 1

    workers = [threading.Thread(target=commit, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / seconds


# -- dashboards -------------------------------------------------------------------------------


class WalPositionProbe(ChangeProbe):
    """The probe as it was before migration 0009: the server's WAL position, asked each time."""

    def version(self) -> object:
        with self._lock:
            if self._connection is None:
                self._connection = self._db.read_engine.raw_connection()
            cursor = self._connection.cursor()
            try:
                cursor.execute("SELECT pg_current_wal_lsn()::text")
                row = cursor.fetchone()
                self._connection.commit()
            finally:
                cursor.close()
            self.queries += 1
            return row[0] if row else object()


async def watch(url: str, seconds: float, probe: str) -> dict[str, float]:
    """A headless dashboard, as ``imtui dashboard --no-worker`` runs it: what it sent while
    idle."""
    from functools import partial

    from imtui.cli.dashboard import build_engine
    from imtui.tui.app import DashboardApp
    from imtui.tui.backend import Backend

    db = Database(url, migrate=False)
    statements = [0]

    @event.listens_for(db.read_engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        statements[0] += 1

    backend = Backend(db, engine_factory=partial(build_engine, worker=False, tick=5.0))
    if probe == "wal":
        backend.probe = WalPositionProbe(db)
    rereads = [0]
    asked = backend.changed

    def changed() -> bool:
        answer = asked()
        rereads[0] += answer
        return answer

    backend.changed = changed  # type: ignore[method-assign]
    app = DashboardApp(backend)
    running = asyncio.create_task(app.run_async(headless=True, size=(120, 40)))
    await asyncio.sleep(WARMUP_S)
    before = (statements[0], backend.probe.queries, rereads[0])
    await asyncio.sleep(seconds)
    after = (statements[0], backend.probe.queries, rereads[0])
    app.exit()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(running, 15)
    await backend.stop_engine(grace=5.0)
    db.dispose()
    return {
        "reads": (after[0] - before[0]) / seconds,
        "probe": (after[1] - before[1]) / seconds,
        "rereads": (after[2] - before[2]) / seconds,
    }


def run_dashboards(url: str, count: int, seconds: float, probe: str) -> list[dict[str, float]]:
    """``count`` dashboards at once, each in a process of its own."""
    command = [sys.executable, __file__, "--dashboard", url, "--probe", probe]
    children = [
        subprocess.Popen(
            [*command, "--idle-seconds", str(seconds)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    results = []
    for child in children:
        out, _ = child.communicate(timeout=seconds + WARMUP_S + 60)
        lines = out.decode().strip().splitlines()
        if child.returncode != 0 or not lines:
            raise RuntimeError(f"a dashboard failed (exit {child.returncode})")
        results.append(json.loads(lines[-1]))
    return results


@contextlib.contextmanager
def churning(url: str, per_second: int) -> Iterator[None]:
    ctx = mp.get_context("spawn")
    writer = ctx.Process(target=churn, args=(url, per_second), daemon=True)
    writer.start()
    try:
        time.sleep(1.0)
        yield
        if not writer.is_alive():
            raise RuntimeError("the other database's writer stopped")
    finally:
        writer.terminate()
        writer.join(timeout=10)


# -- the report -------------------------------------------------------------------------------


def busiest(results: list[dict[str, float]]) -> dict[str, float]:
    return max(results, key=lambda r: r["reads"] + r["probe"])


def describe(result: dict[str, float]) -> str:
    total = result["reads"] + result["probe"]
    return (
        f"{total:5.2f} statements/s ({result['probe']:.2f} probe + {result['reads']:.2f} reads), "
        f"{result['rereads']:.2f} re-reads/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument(
        "--server",
        default=os.environ.get("IMTUI_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--dashboards", type=int, default=2)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--no-signal", action="store_true")
    parser.add_argument("--dashboard", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--probe", default="signal", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dashboard:
        print(json.dumps(asyncio.run(watch(args.dashboard, args.idle_seconds, args.probe))))
        return 0

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    server = Server(args.server)
    ctx = mp.get_context("spawn")
    remotes, child = ctx.Pipe()
    sandbox = ctx.Process(target=sandbox_process, args=(child, args.latency), daemon=True)
    sandbox.start()
    urls = remotes.recv()
    runs: list[TeamRun] = []
    try:
        with tempfile.TemporaryDirectory(prefix="imtui-team-") as folder:
            for n in TEAMS:
                if runs:
                    stop(runs[-1].processes)
                run = run_team(
                    server, remotes, urls, n, args.orders, Path(folder), signal=not args.no_signal
                )
                runs.append(run)
                print(
                    f"  {n} worker(s): {args.orders:,} in {run.seconds:.1f} s = "
                    f"{args.orders / run.seconds:,.0f}/s",
                    flush=True,
                )
            other_url = server.new_database("other")
            Database(other_url).dispose()  # an imtui database too: its writes notify there
            ceiling = {False: 0.0, True: 0.0}
            for signal in (False, True, False, True):  # alternated: the best of two each
                ceiling[signal] = max(ceiling[signal], commit_ceiling(other_url, signal=signal))
            with churning(other_url, CHURN_PER_S):
                before, at = commits(other_url), time.monotonic()
                signalled = run_dashboards(
                    runs[-1].url, args.dashboards, args.idle_seconds, "signal"
                )
                wal = run_dashboards(runs[-1].url, args.dashboards, args.idle_seconds, "wal")
                churned = (commits(other_url) - before) / (time.monotonic() - at)
    finally:
        for run in runs:
            stop(run.processes)
        remotes.send("stop")
        sandbox.join(timeout=10)
        server.drop_all()

    signal = "without migration 0009's triggers" if args.no_signal else "change signal on"
    print(
        f"\nimtui team benchmark — postgresql, {args.orders:,} orders, latency "
        f"{args.latency * 1000:.0f} ms, workers tick {TICK_S} s, {signal}, "
        f"{os.cpu_count()} cores"
    )
    single = args.orders / runs[0].seconds
    print(
        f"{'workers':<8} {'orders/s':>9} {'ideal (n × single)':>19} {'of ideal':>9} "
        f"{'commits/s':>10}  exactly once"
    )
    for run in runs:
        rate, ideal = args.orders / run.seconds, run.workers * single
        print(
            f"{run.workers:<8} {rate:>9,.0f} {ideal:>19,.0f} {rate / ideal:>9.0%} "
            f"{run.commits_per_s:>10,.0f}  {'yes' if run.exactly_once else 'NO'}"
        )
    print(
        f"commit ceiling, 8 connections committing one-row updates: {ceiling[False]:,.0f}/s "
        f"without the triggers, {ceiling[True]:,.0f}/s with them (best of two each); the team "
        f"commits {max(r.commits_per_s for r in runs):,.0f}/s at most while delivering"
    )
    quiet = busiest(signalled)
    old = busiest(wal)
    print(
        f"\nidle dashboards ({args.dashboards} at once, {args.idle_seconds:.0f} s each) on the "
        f"4-worker database, its workers idle; another database of the server committing "
        f"{churned:,.0f}/s"
    )
    listen = "no triggers: every answer 'changed'" if args.no_signal else "LISTEN"
    print(f"busiest, change signal ({listen})   {describe(quiet)}   target <= {TARGET_IDLE_RATE:g}")
    print(f"busiest, WAL position (before)    {describe(old)}")
    met = quiet["reads"] + quiet["probe"] <= TARGET_IDLE_RATE and all(r.exactly_once for r in runs)
    print("\nall targets met" if met else "\nSOME TARGETS MISSED")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
