"""A screen's top line: what the screen is about on the left, the Command Center's badges on
the right (``● 4 pending · 1 draining``), so every screen says what waits elsewhere."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class StatusLine(Static):
    def __init__(self, head: Text | str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="status-line")
        self.head = head if isinstance(head, Text) else Text(head)
        self.badges = ""

    def set_badges(self, badges: str) -> None:
        if badges != self.badges:
            self.badges = badges
            self.refresh()

    def set_head(self, head: Text | str) -> None:
        self.head = head if isinstance(head, Text) else Text(head)
        self.refresh()

    def render(self) -> RenderableType:
        line = Table.grid(expand=True)
        line.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        line.add_column(no_wrap=True, justify="right")
        head = self.head.copy()
        head.no_wrap, head.overflow = True, "ellipsis"
        line.add_row(head, Text(f" {self.badges}" if self.badges else ""))
        return line
