"""The program run on a real pseudo-terminal, as a person runs it over SSH: keys written to the
terminal's side, every byte the program writes read back from it (for tests that must see
what reaches a terminal, not what a test harness renders)."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from types import TracebackType

BOOTSTRAP = (
    "import fcntl, runpy, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "sys.argv[0] = 'imtui'; runpy.run_module('imtui.cli', run_name='__main__')"
)
"""Made the terminal's controlling process, as a login shell's child would be."""

BOOTSTRAP_DETACHED = BOOTSTRAP.replace("fcntl.ioctl(0, termios.TIOCSCTTY, 0); ", "")
"""On the terminal without it being the controlling one: its end sends no hang-up signal."""


class Terminal:
    """``imtui ARGS`` on an 80x24 (or ``size``) pseudo-terminal, TERM=xterm-256color, with its
    per-user files in ``home``."""

    def __init__(
        self,
        home: Path,
        args: list[str],
        *,
        size: tuple[int, int] = (80, 24),
        controlling: bool = True,
    ) -> None:
        self.home = home
        self.args = args
        self.size = size
        self._bootstrap = BOOTSTRAP if controlling else BOOTSTRAP_DETACHED
        self.written = b""
        self._since = 0
        """Where the output after the last keys sent begins."""
        self._main = -1
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Terminal:
        main, child = os.openpty()
        columns, lines = self.size
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "COLUMNS": str(columns),
            "LINES": str(lines),
            "HOME": str(self.home),
            "XDG_STATE_HOME": str(self.home / "state"),
            "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "IMTUI_KEYS": str(self.home / "no-keys.toml"),
        }
        for name in ("TEXTUAL", "TEXTUAL_DRIVER", "NO_COLOR", "IMTUI_DB"):
            env.pop(name, None)
        self._process = subprocess.Popen(
            [sys.executable, "-c", self._bootstrap, *self.args],
            stdin=child,
            stdout=child,
            stderr=child,
            env=env,
            cwd=str(self.home),
            start_new_session=True,
        )
        os.close(child)
        self._main = main
        return self

    def read(self, seconds: float) -> None:
        """Read what the program writes for ``seconds``."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self._main], [], [], min(left, 0.05))
            if ready:
                try:
                    chunk = os.read(self._main, 65536)
                except OSError:  # the other side has closed: the program has gone
                    return
                if not chunk:
                    return
                self.written += chunk

    def wait_for(self, shown: bytes, timeout: float = 15.0) -> None:
        """Read until ``shown`` has been written since the last keys were sent."""
        start = self._since
        end = time.monotonic() + timeout
        while shown not in self.written[start:]:
            if time.monotonic() > end:
                tail = self.written[-2000:]
                raise AssertionError(f"{shown!r} was not written in {timeout} s: {tail!r}")
            if self._process is not None and self._process.poll() is not None:
                self.read(0.1)
                if shown in self.written[start:]:
                    return
                raise AssertionError(f"the program ended: {self.written[-2000:]!r}")
            self.read(0.05)

    def hang_up(self) -> subprocess.Popen[bytes]:
        """Close the terminal's side, as a dropped SSH connection does; the program's process."""
        os.close(self._main)
        self._main = -1
        assert self._process is not None
        return self._process

    def keys(self, data: bytes, *, settle: float = 0.3) -> None:
        self._since = len(self.written)
        os.write(self._main, data)
        self.read(settle)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process = self._process
        try:
            if process is not None and process.poll() is None and self._main >= 0:
                os.write(self._main, b"\x11")  # ctrl+q
                end = time.monotonic() + 5.0
                while process.poll() is None and time.monotonic() < end:
                    self.read(0.1)
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    self.read(1.0)
        finally:
            if process is not None:
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=10)
            if self._main >= 0:
                os.close(self._main)
