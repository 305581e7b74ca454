"""A table that draws only the rows it is given — a window onto a list of any length.

The pane that owns it fetches a window of rows the height of the table (a keyset page) and hands
it over with :meth:`RecordTable.show`; the table keeps the cursor inside that window and asks the
pane, with a :class:`RecordTable.Scroll` message, for the next window when the cursor would leave
it. Lines are drawn with ``render_line`` from plain segments (nothing is parsed as markup) and a
new window repaints only what changed: a line whose row, mark or cursor changed, or — when only
some cells of a row changed, as an age or a countdown does every so often — just those cells.
On a slow SSH link an idle dashboard sends next to nothing, and a live change sends one line.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget


class Column(NamedTuple):
    key: str
    title: str
    width: int
    """Cells wide; 0 for the one column that takes what is left."""
    drop: int = 0
    """Dropped first (highest first) when the table is too narrow; 0 is always shown."""
    right: bool = False
    instead_of: str = ""
    """Shown only when the column with this key was dropped: a one-character state, say,
    standing in for the word on a narrow terminal."""
    max_width: int = 0
    """Grown up to this on a wide terminal, once the flexible column has all it can use."""


class TableRow(NamedTuple):
    key: int
    cells: tuple[str, ...]
    """One safe, single-line string per column, in column order."""
    tone: str = ""
    """"", "warn", "bad", "ok" or "muted": how the row is coloured."""


class ScrollKind(StrEnum):
    DOWN = "down"
    """One row past the last."""
    UP = "up"
    """One row before the first."""
    PAGE_DOWN = "page_down"
    PAGE_UP = "page_up"
    FIRST = "first"
    LAST = "last"


FLEX_MIN = 12
FLEX_WANTED = 28
"""Narrower than this, the message-like column is worth more than the droppable ones."""
FLEX_AMPLE = 40
FLEX_STEP = 8
"""Wider than this, the message-like column gives room to columns that can grow."""
MARK = "●"
WAIT_LIMIT_S = 3.0
"""Longest keys wait for a window a key asked for (a read that failed never answers)."""


class RecordTable(Widget, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "first", "Top", show=False, id="table.top"),
        Binding("end,G", "last", "Bottom", show=False, id="table.bottom"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header",
        "record-table--cursor",
        "record-table--cursor-blurred",
        "record-table--marked",
        "record-table--warn",
        "record-table--bad",
        "record-table--ok",
        "record-table--muted",
        "record-table--empty",
    }

    DEFAULT_CSS = """
    RecordTable { height: 1fr; min-height: 3; }
    RecordTable > .record-table--header { text-style: bold; color: $text-muted; }
    RecordTable > .record-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    RecordTable > .record-table--cursor-blurred { background: $block-cursor-blurred-background; }
    RecordTable > .record-table--marked { color: $accent; }
    RecordTable > .record-table--warn { color: $warning; }
    RecordTable > .record-table--bad { color: $error; }
    RecordTable > .record-table--ok { color: $success; }
    RecordTable > .record-table--muted { color: $text-muted; }
    RecordTable > .record-table--empty { color: $text-muted; text-style: italic; }
    """

    class Scroll(Message):
        """The cursor wants to leave the window: the pane fetches the next one."""

        def __init__(self, table: RecordTable, kind: ScrollKind) -> None:
            super().__init__()
            self.table = table
            self.kind = kind

    class Resized(Message):
        def __init__(self, table: RecordTable, rows: int) -> None:
            super().__init__()
            self.table = table
            self.rows = rows

    class Selected(Message):
        """Enter, or a double click, on a row."""

        def __init__(self, table: RecordTable, key: int) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self,
        columns: list[Column],
        *,
        empty_text: str = "nothing here",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = columns
        self.empty_text = empty_text
        self.rows: list[TableRow] = []
        self.cursor = 0
        self.marked: frozenset[int] = frozenset()
        self._layout: list[tuple[int, int]] = []
        """(column index, width) of the columns shown at the current width."""
        self._flex_needs = FLEX_AMPLE
        """What the flexible column's text needs (see :meth:`_flex_need`)."""
        self._drawn: dict[int, tuple[object, ...]] = {}
        self._strips: dict[int, Strip] = {}
        self._last_rows_fit = -1
        self._waiting = 0
        """Non-zero while the window a key asked for is on its way (the ask's number)."""
        self._deferred: list[Callable[[], object]] = []

    # -- what the pane calls ---------------------------------------------------------------

    @property
    def rows_fit(self) -> int:
        """How many rows fit below the header."""
        return max(1, self.size.height - 1)

    @property
    def cursor_key(self) -> int | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].key
        return None

    def show(
        self,
        rows: list[TableRow],
        *,
        cursor_key: int | None = None,
        cursor_index: int | None = None,
        marked: frozenset[int] | None = None,
    ) -> None:
        """Show a new window; the cursor stays on ``cursor_key`` if it is there."""
        self.rows = rows
        if marked is not None:
            self.marked = marked
        keys = [row.key for row in rows]
        if cursor_key is not None and cursor_key in keys:
            self.cursor = keys.index(cursor_key)
        elif cursor_index is not None:
            self.cursor = cursor_index
        self.cursor = max(0, min(self.cursor, len(rows) - 1))
        need = self._flex_need(rows)
        if need != self._flex_needs and self.size.width:
            # The message-like column's longest text moved past a step: lay out again, so
            # room it does not use goes to the columns that can grow (a ship method cut short
            # beside short addresses).
            self._flex_needs = need
            self._layout = self._fit_columns(self.size.width)
            self._drawn.clear()
            self._strips.clear()
        self._repaint_changed()

    def _flex_need(self, rows: list[TableRow]) -> int:
        """The cells the flexible column's text takes in ``rows``, rounded up to a step of
        FLEX_STEP (so a window that scrolls does not lay the table out at every row)."""
        flex = next((i for i, c in enumerate(self.columns) if not c.width), None)
        if flex is None or not rows:
            return FLEX_AMPLE
        longest = max(cell_len(row.cells[flex]) for row in rows)
        return max(FLEX_MIN, -(-longest // FLEX_STEP) * FLEX_STEP)

    # -- keys in the order typed ---------------------------------------------------------------
    #
    # g, G, page keys and j/k past the window move the cursor only once the pane has read the
    # new window. Keys typed behind them — j, enter, r, d, space — would otherwise act on the
    # row the cursor was on before: they wait for the window instead, and run in turn.

    def when_settled(self, do: Callable[[], object]) -> None:
        """Run ``do`` now, or once the window a key before it asked for is shown."""
        if self._waiting:
            self._deferred.append(do)
        else:
            do()

    def settled(self) -> None:
        """The window asked for is shown (or none was needed): what waited for it runs."""
        self._waiting = 0
        while self._deferred and not self._waiting:
            self._deferred.pop(0)()

    def _ask(self, kind: ScrollKind) -> None:
        self._waiting += 1
        asked = self._waiting
        self.post_message(self.Scroll(self, kind))
        # Should the window not come (a failed or very slow read), keys are not held for ever.
        self.set_timer(WAIT_LIMIT_S, lambda: self._give_up() if self._waiting == asked else None)

    def _give_up(self) -> None:
        """The window asked for has not come: the keys typed behind the one that asked for it
        are dropped, not run on the rows still shown — r or d there would act on a record the
        person did not mean."""
        dropped = len(self._deferred)
        self._deferred.clear()
        self._waiting = 0
        if dropped:
            self.app.notify(
                f"The rows did not come within {WAIT_LIMIT_S:g} s: {dropped} key(s) typed "
                "after the move were not used.",
                severity="warning",
            )

    def set_marked(self, marked: frozenset[int]) -> None:
        self.marked = marked
        self._repaint_changed()

    def move_cursor(self, index: int) -> None:
        if self.rows:
            self.cursor = max(0, min(index, len(self.rows) - 1))
            self._repaint_changed()

    # -- keys ------------------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.when_settled(self._down)

    def _down(self) -> None:
        if self.cursor < len(self.rows) - 1:
            self.move_cursor(self.cursor + 1)
        else:
            self._ask(ScrollKind.DOWN)

    def action_cursor_up(self) -> None:
        self.when_settled(self._up)

    def _up(self) -> None:
        if self.cursor > 0:
            self.move_cursor(self.cursor - 1)
        else:
            self._ask(ScrollKind.UP)

    def action_page_down(self) -> None:
        self.when_settled(lambda: self._ask(ScrollKind.PAGE_DOWN))

    def action_page_up(self) -> None:
        self.when_settled(lambda: self._ask(ScrollKind.PAGE_UP))

    def action_first(self) -> None:
        self.when_settled(lambda: self._ask(ScrollKind.FIRST))

    def action_last(self) -> None:
        self.when_settled(lambda: self._ask(ScrollKind.LAST))

    def on_click(self, event: events.Click) -> None:
        index = event.y - 1
        if 0 <= index < len(self.rows):
            self.move_cursor(index)
            if event.chain >= 2:
                self.post_message(self.Selected(self, self.rows[index].key))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.post_message(self.Scroll(self, ScrollKind.DOWN))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.post_message(self.Scroll(self, ScrollKind.UP))

    def on_focus(self) -> None:
        self._repaint_changed()

    def on_blur(self) -> None:
        self._repaint_changed()

    def on_resize(self, event: events.Resize) -> None:
        self._layout = self._fit_columns(event.size.width)
        self._drawn.clear()
        self._strips.clear()
        self.refresh()
        if self.rows_fit != self._last_rows_fit:
            self._last_rows_fit = self.rows_fit
            self.post_message(self.Resized(self, self.rows_fit))

    # -- drawing ---------------------------------------------------------------------------

    def _fit_columns(self, width: int) -> list[tuple[int, int]]:
        shown = [i for i, c in enumerate(self.columns) if not c.instead_of]
        for level in sorted({c.drop for c in self.columns if c.drop}, reverse=True):
            if self._needed(shown) <= width:
                break
            shown = [i for i in shown if self.columns[i].drop != level]
        kept = {self.columns[i].key for i in shown}
        stand_ins = [
            i for i, c in enumerate(self.columns) if c.instead_of and c.instead_of not in kept
        ]
        shown = sorted(shown + stand_ins)
        widths = {i: self.columns[i].width for i in shown}
        fixed = sum(w + 1 for w in widths.values() if w)
        # The mark and its space take 2 cells; the flexible column keeps what its text needs
        # (up to FLEX_AMPLE), the rest goes to the columns that can grow.
        spare = width - fixed - 2 - min(FLEX_AMPLE, self._flex_needs)
        for i in shown:  # a wide terminal: first the columns that are often cut short
            column = self.columns[i]
            if spare <= 0:
                break
            if column.width and column.max_width > column.width:
                grow = min(spare, column.max_width - column.width)
                widths[i] += grow
                spare -= grow
                fixed += grow
        flex = max(FLEX_MIN, width - fixed - 2)
        return [(i, widths[i] or flex) for i in shown]

    def _needed(self, shown: list[int]) -> int:
        return sum((self.columns[i].width or FLEX_WANTED) + 1 for i in shown) + 1

    def _signature(self, y: int) -> tuple[object, ...]:
        if y == 0:
            return ("header", self.size.width)
        index = y - 1
        if index >= len(self.rows):
            first = not self.rows and y == 1  # the line that says why there are no rows
            return ("empty", first, self.empty_text if first else "", self.size.width)
        row = self.rows[index]
        on_cursor = index == self.cursor
        # Focus shows on the cursor line only: the other lines stay as drawn when it moves.
        return (
            row,
            row.key in self.marked,
            on_cursor,
            on_cursor and self.has_focus,
            self.size.width,
        )

    def _repaint_changed(self) -> None:
        for y in range(self.size.height):
            signature = self._signature(y)
            drawn = self._drawn.get(y)
            if drawn == signature:
                continue
            self._strips.pop(y, None)
            for x, cell_width in self._changed_cells(drawn, signature):
                self.refresh(Region(x, y, cell_width, 1))

    def _changed_cells(
        self, drawn: tuple[object, ...] | None, signature: tuple[object, ...]
    ) -> list[tuple[int, int]]:
        """Where a line changed: (x, width) of each changed cell when the same row is drawn
        the same way and only cell text differs; otherwise the whole line."""
        whole = [(0, self.size.width)]
        if drawn is None or len(drawn) != len(signature) or drawn[1:] != signature[1:]:
            return whole
        old, new = drawn[0], signature[0]
        if not (isinstance(old, TableRow) and isinstance(new, TableRow)):
            return whole
        if old.key != new.key or old.tone != new.tone:
            return whole
        changed: list[tuple[int, int]] = []
        x = 2  # the mark and the space after it
        for index, cell_width in self._layout:
            before = old.cells[index] if index < len(old.cells) else ""
            after = new.cells[index] if index < len(new.cells) else ""
            if before != after:
                changed.append((x, cell_width))
            x += cell_width + 1
        return changed or whole

    def render_line(self, y: int) -> Strip:
        signature = self._signature(y)
        strip = self._strips.get(y)
        if strip is None or self._drawn.get(y) != signature:
            strip = self._draw(y)
            self._strips[y] = strip
            self._drawn[y] = signature
        return strip

    def _draw(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if not self._layout:
            self._layout = self._fit_columns(width)
        if y == 0:
            style = base + self.get_component_rich_style("record-table--header")
            cells = [self.columns[i].title for i, _ in self._layout]
            return self._line([" ", *cells], style, width)
        index = y - 1
        if index >= len(self.rows):
            if not self.rows and index == 0:
                style = base + self.get_component_rich_style("record-table--empty")
                return Strip([Segment(set_cell_size(f" {self.empty_text}", width), style)], width)
            return Strip.blank(width, base)
        row = self.rows[index]
        style = base
        if row.tone:
            style += self.get_component_rich_style(f"record-table--{row.tone}")
        marked = row.key in self.marked
        if marked:
            style += self.get_component_rich_style("record-table--marked")
        if index == self.cursor:
            name = "record-table--cursor" if self.has_focus else "record-table--cursor-blurred"
            style += self.get_component_rich_style(name)
        cells = [row.cells[i] if i < len(row.cells) else "" for i, _ in self._layout]
        return self._line([MARK if marked else " ", *cells], style, width)

    def _line(self, cells: list[str], style: Style, width: int) -> Strip:
        parts = [cells[0]]
        for (i, cell_width), text in zip(self._layout, cells[1:], strict=True):
            text = text.replace("\n", " ")
            length = cell_len(text)
            if length > cell_width:  # cut short, and seen to be: the detail has it all
                fitted = set_cell_size(text, cell_width - 1) + "…" if cell_width > 1 else "…"
            elif self.columns[i].right:
                fitted = " " * (cell_width - length) + text
            else:
                fitted = set_cell_size(text, cell_width)
            parts.append(fitted)
        line = set_cell_size(" ".join(parts), width)
        return Strip([Segment(line, style)], width)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width
