"""How long a CLI command takes from a cold process, as a script calling it sees it:
``python benchmarks/cli_start.py [--runs 10]``.

Each command is started afresh ``--runs`` times (the real ``imtui`` console script), the
commands alternated so all see the same machine, and its wall time, CPU time and peak memory
are reported as medians next to the targets and next to ``python -c pass`` measured in the same
run (the interpreter's own start, which no change to imtui can remove):

- ``imtui --help``: listed from the lazy command table (imtui/cli/app.py ``COMMANDS``), no
  command imported. Target ≤ 0.15 s.
- ``imtui alerts list --json`` on the dashboard benchmark's database (1,000,000 orders,
  100,000 alerts of which 10,000 are open; built once by benchmarks/dashboard.py and cached
  under benchmarks/results/). Target ≤ 0.35 s.

Two more lines put those in context: the same help printed the way it was before the lazy
table (every command module imported to print its line), and the floor under any list: a
process that only imports the store and runs the same query, without the CLI.

The load average is printed before and after: on a busy machine the figures mean little.
imtui's modules are byte-compiled first, as an installed package's are.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import database, machine_load, prepare  # benchmarks/ is no package

TARGET_HELP_S = 0.15
TARGET_LIST_S = 0.35

EAGER_HELP = """
import click
from imtui.cli.app import COMMANDS, ImtuiGroup, cli, load_command
for name in COMMANDS:
    load_command(name)
ImtuiGroup.format_commands = click.Group.format_commands
cli.main(["--help"], prog_name="imtui")
"""
"""``imtui --help`` as it was before the lazy table: click imports every command to list it."""

STORE_ONLY = """
import sys
from imtui.store import alert_reads
from imtui.store.database import Database
from imtui.store.rows import AlertFilter
db = Database(sys.argv[1])
with db.read() as session:
    alert_reads.list_alerts(session, AlertFilter(states=("open",)), after=None, limit=50)
db.dispose()
"""
"""The query ``alerts list`` makes, through the store alone: the floor under the command."""


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_mb: float


def imtui_command() -> list[str]:
    """The console script next to this Python, as a person runs it (else ``-m imtui.cli``)."""
    script = Path(sys.executable).with_name("imtui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "imtui.cli"]


def commands(db: Path) -> dict[str, list[str]]:
    imtui = imtui_command()
    listing = ["--db", str(db), "alerts", "list", "--json"]
    return {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "imtui --help": [*imtui, "--help"],
        "imtui --help, every command imported": [sys.executable, "-c", EAGER_HELP],
        "imtui alerts list --json (1M orders)": [*imtui, *listing],
        "store alone: the same query": [sys.executable, "-c", STORE_ONLY, f"sqlite:///{db}"],
    }


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("IMTUI_")}


RUNNER = """
import json, os, sys, time
quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
for line in sys.stdin:
    argv, env = json.loads(line)
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=quiet)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps([wall, cpu, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]), flush=True)
"""
"""Starts each command and times it. A process's peak memory counts that of the process it was
spawned from (Linux records the old image's high-water mark at exec), so the commands are
spawned from this small process rather than from the benchmark with its imports."""


class Runner:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-c", RUNNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, argv: list[str]) -> Run:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([argv, environment()]) + "\n")
        self.process.stdin.flush()
        wall, cpu, peak_kb, code = json.loads(self.process.stdout.readline())
        if code != 0:
            raise RuntimeError(f"{' '.join(argv[:4])}… exited with status {code}")
        return Run(wall, cpu, peak_kb / 1024)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def measure(argvs: dict[str, list[str]], runs: int) -> dict[str, list[Run]]:
    """Every command once per round, ``runs`` rounds, after one round to warm the file cache."""
    runner = Runner()
    try:
        for argv in argvs.values():
            runner.run(argv)
        results: dict[str, list[Run]] = {name: [] for name in argvs}
        for _ in range(runs):
            for name, argv in argvs.items():
                results[name].append(runner.run(argv))
        return results
    finally:
        runner.close()


def medians(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.cpu_s for r in runs),
        statistics.median(r.peak_mb for r in runs),
    )


def report(results: dict[str, list[Run]], runs: int) -> list[str]:
    figures = {name: medians(values) for name, values in results.items()}
    base = next(iter(figures.values()))
    targets = {"imtui --help": TARGET_HELP_S, "imtui alerts list --json (1M orders)": TARGET_LIST_S}
    title = f"median of {runs} cold starts"
    lines = [f"{title:40} {'wall':>9} {'over pass':>10} {'CPU':>9} {'peak':>8}  target"]
    for name, f in figures.items():
        target = targets.get(name)
        verdict = (
            f"≤ {target:.2f} s ({'met' if f.wall_s <= target else 'NOT met'})" if target else ""
        )
        lines.append(
            f"{name:40} {f.wall_s * 1000:6.0f} ms {(f.wall_s - base.wall_s) * 1000:+7.0f} ms "
            f"{f.cpu_s * 1000:6.0f} ms {f.peak_mb:5.0f} MB  {verdict}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="cold starts of each command")
    runs = parser.parse_args().runs
    prepare()
    db = database()
    load_before = machine_load()
    print(f"machine before: {load_before}", flush=True)
    try:
        results = measure(commands(db), runs)
    except (OSError, RuntimeError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    load_after = machine_load()
    print(f"\nimtui cold starts, {os.cpu_count()} cores")
    print(f"machine: before {load_before}; after {load_after}")
    print("\n".join(report(results, runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
