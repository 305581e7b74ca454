"""A scrolling text area (help, detail) that moves with the keys the panes use — j/k, g/G,
ctrl+f/ctrl+b, arrows, page keys — one line per key however fast they come: Textual's own
scrolling animates towards a target, so keys in one burst were lost."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll


class ScrollText(VerticalScroll):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "lines(1)", show=False),
        Binding("up,k", "lines(-1)", show=False),
        Binding("pagedown,ctrl+f", "pages(1)", show=False),
        Binding("pageup,ctrl+b", "pages(-1)", show=False),
        Binding("home,g", "ends(0)", show=False),
        Binding("end,G", "ends(1)", show=False),
    ]

    def action_lines(self, count: int) -> None:
        self.scroll_to(y=self.scroll_y + count, animate=False, immediate=True)

    def action_pages(self, count: int) -> None:
        page = self.scrollable_content_region.height
        self.scroll_to(y=self.scroll_y + count * page, animate=False, immediate=True)

    def action_ends(self, end: int) -> None:
        self.scroll_to(y=self.max_scroll_y if end else 0, animate=False, immediate=True)
