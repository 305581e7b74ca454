"""``key=value`` arguments, and secrets that need not appear on the command line.

A secret typed as ``client_secret=abc`` is visible to every user of the machine through ``ps``;
``client_secret=@ENVVAR`` reads it from an environment variable and ``client_secret=-`` from
standard input (one line per ``-``, prompted without echo on a terminal). ``@@`` at the start
stands for a literal ``@``. Error messages name the key, never the value.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from imtui.cli.context import CliError

SECRET_HELP = (
    "KEY=VALUE; VALUE may be @ENVVAR to read it from that environment variable, or - to read "
    "it from standard input (prompted without echo on a terminal), which keeps it out of ps. "
    "@@ at the start stands for a literal @."
)


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` → ``{"a": "1", "b": "2"}``; one clear line for anything else."""
    parsed: dict[str, str] = {}
    for position, pair in enumerate(pairs, start=1):
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f"{what} #{position} is not KEY=VALUE")
        if key in parsed:
            raise CliError(f"{what} {key!r} is given twice")
        parsed[key] = value
    return parsed


def parse_secrets(pairs: Sequence[str], what: str = "credential") -> dict[str, str]:
    return {key: _secret_value(key, value, what) for key, value in parse_pairs(pairs, what).items()}


def _secret_value(key: str, value: str, what: str) -> str:
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@"):
        name = value[1:]
        found = os.environ.get(name)
        if not name or not found:
            raise CliError(f"{what} {key!r}: environment variable {name!r} is not set")
        return found
    if value == "-":
        return _read_stdin(key, what)
    if not value:
        raise CliError(f"{what} {key!r} is empty")
    return value


def _read_stdin(key: str, what: str) -> str:
    stdin = sys.stdin
    if stdin.isatty():
        return str(click.prompt(key, hide_input=True, err=True)).strip()
    line = stdin.readline().strip()
    if not line:
        raise CliError(f"{what} {key!r}: nothing on standard input")
    return line
