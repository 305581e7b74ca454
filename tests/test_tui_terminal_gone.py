"""A dashboard whose terminal goes away leaves, whether or not a hang-up signal says so: the
terminal a program runs on is not always its controlling one, and Textual's input thread then
reads end-of-file in a loop that spins a core (found with a dashboard left behind by a
benchmark: 97 % of a core for 14 minutes, its engine still running)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.terminal import Terminal

pytestmark = pytest.mark.slow


def cpu_seconds(pid: int) -> float:
    """The process's user and system time so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime: clock ticks (USER_HZ 100)


@pytest.mark.parametrize("controlling", [False, True], ids=["no-signal", "hang-up-signal"])
def test_a_dashboard_whose_terminal_is_gone_leaves_within_seconds(
    tmp_path: Path, controlling: bool
) -> None:
    database = tmp_path / "imtui.db"
    with Terminal(tmp_path, ["--db", str(database)], controlling=controlling) as terminal:
        terminal.wait_for(b"All acc")
        terminal.read(1.0)
        process = terminal.hang_up()
        gone = time.monotonic()
        before = cpu_seconds(process.pid)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            spent = cpu_seconds(process.pid) - before
            pytest.fail(f"still running 10 s after its terminal went, {spent:.1f} s of CPU")
        assert time.monotonic() - gone < 8  # the engine's grace to record what it sent
