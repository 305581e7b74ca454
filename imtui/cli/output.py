"""How the CLI prints: plain fixed-column tables that fit the terminal (80 columns when it is not
one), JSON for scripts, and UTC times. Every cell goes through :func:`printable` first, so no
order field or remote message can drive the terminal.

A list whose values are worth reading whole (the audit log's details) may ask for them whole when
its output goes to a pipe or a file: each column then as wide as its widest value, nothing cut,
still one line per row."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click

from imtui.domain.text import printable

DEFAULT_WIDTH = 80
WIDE = 120
"""Terminals at least this wide get the columns marked ``wide``."""
ELLIPSIS = "…"
MIN_FLEX = 10


@dataclass(frozen=True, slots=True)
class TextColumn:
    title: str
    value: Callable[[Any], object]
    width: int = 0
    """Characters; 0 makes it the flexible column that takes what is left."""
    right: bool = False
    wide: bool = False


def stdout_is_a_terminal() -> bool:
    """One place to ask, so that tests (whose output is never a terminal) can say it is."""
    return sys.stdout.isatty()


def terminal_width() -> int:
    if stdout_is_a_terminal():
        return max(shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns, 40)
    return DEFAULT_WIDTH


def render_table(rows: Iterable[Any], columns: Sequence[TextColumn], width: int) -> list[str]:
    shown = [column for column in columns if not column.wide or width >= WIDE]
    fixed = sum(column.width for column in shown) + len(shown) - 1
    flex = max(width - fixed, MIN_FLEX)
    widths = [column.width or flex for column in shown]
    lines = [_line([column.title for column in shown], widths, shown)]
    for row in rows:
        cells = [_text(column.value(row)) for column in shown]
        lines.append(_line(cells, widths, shown))
    return lines


def render_whole(rows: Iterable[Any], columns: Sequence[TextColumn]) -> list[str]:
    """Every column, each as wide as its widest value: a reader of a pipe or a file gets each
    value whole (times to the second), where a terminal's table cuts them to fit."""
    body = [[_whole_text(column.value(row)) for column in columns] for row in rows]
    titles = [column.title for column in columns]
    widths = [
        max(display_width(cell) for cell in cells) for cells in zip(titles, *body, strict=True)
    ]
    return [_line(cells, widths, columns) for cells in (titles, *body)]


def _whole_text(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _text(value)


def _line(cells: Sequence[str], widths: Sequence[int], columns: Sequence[TextColumn]) -> str:
    parts = [
        fit(cell, width, right=column.right)
        for cell, width, column in zip(cells, widths, columns, strict=True)
    ]
    return " ".join(parts).rstrip()


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return short_time(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return printable(str(value))


def fit(text: str, width: int, *, right: bool = False) -> str:
    """Cut to ``width`` terminal cells (with an ellipsis) and pad to it: Rich's cell widths,
    the ones the dashboard draws with (wide East Asian characters take two cells, combining
    marks none)."""
    from rich.cells import set_cell_size

    if display_width(text) > width:
        text = set_cell_size(text, max(width - 1, 0)).rstrip(" ") + ELLIPSIS
    padding = " " * max(width - display_width(text), 0)
    return padding + text if right else text + padding


def display_width(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def short_time(value: datetime | None) -> str:
    """``11-02 09:00`` in UTC, for table cells."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%m-%d %H:%M")


def full_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def echo_table(
    rows: Sequence[Any],
    columns: Sequence[TextColumn],
    *,
    empty: str,
    next_cursor: str | None = None,
    whole_when_piped: bool = False,
) -> None:
    if not rows:
        click.echo(empty)
        return
    whole = whole_when_piped and not stdout_is_a_terminal()
    lines = render_whole(rows, columns) if whole else render_table(rows, columns, terminal_width())
    for line in lines:
        click.echo(line)
    more_hint(next_cursor)


def more_hint(next_cursor: str | None) -> None:
    """Where the next page starts; on stderr so that stdout stays the rows alone."""
    if next_cursor is not None:
        click.echo(f"more: add --after {next_cursor}", err=True)


def echo_json(value: Any) -> None:
    """JSON with every non-ASCII character escaped: safe on any terminal, exact for any parser."""
    click.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=True))


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a row (imtui.store.rows)
        return {name: jsonable(item) for name, item in zip(value._fields, value, strict=True)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def emit(
    rows: Sequence[Any],
    columns: Sequence[TextColumn],
    *,
    as_json: bool,
    empty: str,
    next_cursor: str | None = None,
    whole_when_piped: bool = False,
) -> None:
    """Rows as JSON, or as a table; ``whole_when_piped`` prints each value whole when stdout is
    not a terminal (the other lists keep the 80-column table there that ``imtui --help``
    promises)."""
    if as_json:
        echo_json(list(rows))
        more_hint(next_cursor)
    else:
        echo_table(
            rows,
            columns,
            empty=empty,
            next_cursor=next_cursor,
            whole_when_piped=whole_when_piped,
        )


def echo_fields(pairs: Iterable[tuple[str, object]], *, indent: str = "  ") -> None:
    """``label  value`` lines, values made printable, for the ``show`` commands."""
    items = list(pairs)
    label_width = max((len(label) for label, _ in items), default=0)
    for label, value in items:
        click.echo(f"{indent}{label.ljust(label_width)}  {_text(value)}")


def echo_block(text: str, *, indent: str = "    ") -> None:
    """A multi-line untrusted message (a remote system's error), verbatim but harmless."""
    for line in printable(text, keep_newlines=True).splitlines() or [""]:
        click.echo(f"{indent}{line}")


def first_line(text: str | None) -> str:
    stripped = (text or "").strip()
    return printable(stripped.splitlines()[0]) if stripped else ""
