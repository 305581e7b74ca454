"""Is the schema current? What the two ways of asking cost a process that starts:
``python benchmarks/schema_check.py``.

Every ``imtui`` start (the dashboard, each CLI command) asks whether the database's revision is
the newest. ``store/migrate.py`` reads the version files' ``revision`` lines; Alembic's own
answer (``ScriptDirectory.get_current_head()``) imports Alembic first. Each is timed in fresh
processes (the median of ``--runs``), next to a baseline: a process that only starts Python
and imports imtui's store package.

Target: the line reading adds under 10 ms to the baseline; if Alembic's own answer cost as
little, the line reading would go (issue 13).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WAYS = {
    "baseline (python, import imtui.store)": "import imtui.store",
    "revision lines (store/migrate.py)": (
        "from imtui.store.migrate import head_revision; assert head_revision()"
    ),
    "Alembic's ScriptDirectory": (
        "from alembic.script import ScriptDirectory; "
        "from imtui.store.migrate import MIGRATIONS; "
        "assert ScriptDirectory(str(MIGRATIONS)).get_current_head()"
    ),
}


def timed(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    medians = {}
    for name, code in WAYS.items():
        timed(code)  # warm the file cache
        medians[name] = statistics.median(timed(code) for _ in range(runs))
    baseline = next(iter(medians.values()))
    print(f"schema check at start, median of {runs} fresh processes each")
    for name, seconds in medians.items():
        extra = seconds - baseline
        print(f"  {name:<40} {seconds * 1000:7.1f} ms   (+{extra * 1000:6.1f} ms)")
    lines = medians["revision lines (store/migrate.py)"] - baseline
    alembic = medians["Alembic's ScriptDirectory"] - baseline
    verdict = "kept" if alembic - lines > 0.010 else "could go"
    print(
        f"target: line reading adds < 10 ms: {lines * 1000:.1f} ms; Alembic adds "
        f"{alembic * 1000:.1f} ms -> the line reading is {verdict}"
    )


if __name__ == "__main__":
    main()
