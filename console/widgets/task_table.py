"""The inbox table: a Line-API widget that renders only the rows on screen.

Textual's DataTable rebuilds every row on each re-fill, which costs seconds at 10,000 tasks; here a
refresh or a filter keystroke just swaps the row list and repaints the visible lines. The cursor
follows a task's key, not a row number, so new tasks never move the operator off their task.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .._view_rows import ViewRows
from ..inbox_model import InboxRow, TaskKey, format_age
from ..outbox import EntryState, OutboxEntry
from ..safe_text import clean

# Row markers: a symbol for the narrow column, a word where there is room. Never colour alone.
STALLED = ("⚠", "stalled")
SENDING = ("⟳", "sending")
QUEUED = ("⧗", "queued")
FAILED = ("✗", "failed")
HELD = ("↶", "held")
UNREADABLE = ("⚠", "unreadable")
DRAFT = ("✎", "draft")
NEW = ("●", "new")
MARK = "✓"  # the mark column's symbol (space, *)


def entry_marker(entry: OutboxEntry, now: datetime | None = None) -> tuple[str, str]:
    """The row marker of a stored decision; a held one counts down its undo window."""
    if entry.state is EntryState.HELD:
        left = 0
        if entry.send_after is not None:
            moment = now or datetime.now(UTC)
            left = max(0, math.ceil((entry.send_after - moment).total_seconds()))
        return (HELD[0], f"{HELD[1]} {left}s · u undo")
    if entry.state is EntryState.QUEUED:
        return QUEUED
    return FAILED


@dataclass(frozen=True)
class Column:
    name: str
    width: int


@functools.lru_cache(maxsize=8)
def layout_columns(width: int) -> tuple[Column, ...]:
    """Column widths for a ``width``-cell table: small fixed columns, the title takes the rest.

    At 80 columns the workflow column shrinks and the marker is a single symbol; wide screens get
    a worded status column and more room for names.
    """
    mark = Column(MARK, 1)
    wide = width >= 96  # the list beside the preview pane at 160 columns
    # From 140 columns a held row has room to say how to take it back: "↶ held 4s · u undo".
    status = Column("Status", 20 if width >= 140 else 10) if wide else Column("!", 1)
    age = Column("Age", 4)
    run = Column("Run", 8)
    kind = Column("Type", 12 if wide else 9)
    workflow_width = max(10, min(30, (width - 40) // 3))
    workflow = Column("Workflow", workflow_width)
    fixed = [mark, status, age, workflow, run, kind]
    gaps = len(fixed)  # one space between columns
    title = Column("Title", max(10, width - sum(c.width for c in fixed) - gaps))
    return (*fixed, title)


class TaskTable(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows of tasks with a key-tracking cursor.

    No scrollbar: the header's right end says where the cursor is (``12 of 74,597``), which
    at thousands of rows says more than a one-cell thumb, and costs no repaint of a bar on
    each filter keystroke (docs/performance.md has the figures). The wheel scrolls.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("g,home", "first", "First", show=False),
        Binding("G,end", "last", "Last", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "task-table--header",
        "task-table--cursor",
        "task-table--stalled",
        "task-table--sending",
        "task-table--marked",
        "task-table--empty",
    }

    DEFAULT_CSS = """
    TaskTable { height: 1fr; overflow-x: hidden; overflow-y: hidden; }
    TaskTable > .task-table--header { text-style: bold; background: $panel; }
    TaskTable > .task-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    TaskTable:blur > .task-table--cursor {
        background: $block-cursor-blurred-background;
        text-style: none;
    }
    TaskTable > .task-table--stalled { color: $warning; }
    TaskTable > .task-table--sending { color: $text-muted; text-style: italic; }
    TaskTable > .task-table--marked { text-style: bold; }
    TaskTable > .task-table--empty { color: $text-muted; }
    """

    AGE_COLUMN = 2  # the column looks_of()'s first value is painted in

    # No repaint of its own: a move repaints just the two rows it touches.
    cursor_row: reactive[int] = reactive(0, always_update=True, init=False, repaint=False)

    class Selected(Message):
        """Enter (or a click on the selected row) on a task."""

        def __init__(self, key: TaskKey) -> None:
            super().__init__()
            self.key = key

    def __init__(
        self,
        *,
        age_of: Callable[[InboxRow], str] | None = None,
        marker_of: Callable[[InboxRow], tuple[str, str] | None] | None = None,
        marked_of: Callable[[InboxRow], bool] | None = None,
        on_cursor: Callable[[InboxRow, bool], None] | None = None,
        empty_text: str = "No pending tasks.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rows = ViewRows()
        self._cursor_key: TaskKey | None = None
        self._cursor_item: InboxRow | None = None
        # What each screen line last showed: the row and its looks_of(), to repaint only what
        # changed.
        self._painted: dict[int, tuple[Any, ...]] = {}
        self.age_of = age_of or (lambda row: format_age(None))
        self.marker_of = marker_of or (lambda row: None)
        self.marked_of = marked_of or (lambda row: False)
        # Told of the row under the cursor after each move, and whether the operator moved it
        # (the inbox clears "new" flags and fills its preview).
        self.on_cursor = on_cursor or (lambda row, moved: None)
        self.empty_text = empty_text
        self._pass: _LinePass | None = None
        self._cell_cache: dict[tuple[InboxRow, int], str] = {}

    # -- data -----------------------------------------------------------------------------------

    @property
    def rows(self) -> ViewRows:
        return self._rows

    @property
    def cursor_key(self) -> TaskKey | None:
        return self._cursor_key

    def set_rows(self, rows: ViewRows) -> None:
        """Show these rows; the cursor stays on its task if the task is still shown."""
        self._rows = rows
        key = self._cursor_key
        index = self._find(key)
        if index is None:
            # The task under the cursor left: stay at the same height rather than jump to the top.
            index = min(self.cursor_row, max(len(rows) - 1, 0))
        self._update_virtual_size()
        self._move(index, moved=False)
        self.refresh()

    def _find(self, key: TaskKey | None) -> int | None:
        return None if key is None else self._rows.find(key, self._cursor_item)

    def move_to_key(self, key: TaskKey) -> bool:
        index = self._find(key)
        if index is None:
            return False
        self._move(index)
        return True

    def move_to(self, index: int) -> None:
        self._move(index)

    def _key_at(self, index: int) -> TaskKey | None:
        return self._rows[index].key if 0 <= index < len(self._rows) else None

    @property
    def allow_vertical_scroll(self) -> bool:
        """The wheel scrolls, though no scrollbar is drawn."""
        return not self.disabled and self.max_scroll_y > 0

    def _update_virtual_size(self) -> None:
        # Never wider than the viewport: a phantom horizontal scrollbar cost a row and ~2 KB
        # of colour codes on every repaint.
        new = Size(self.scrollable_content_region.width, len(self._rows) + 1)
        old = self.virtual_size
        if new == old:
            return
        if new.width == old.width:
            # Only the number of rows changed (a filter keystroke): with no scrollbar nothing
            # else on screen moves, and the layout pass a new virtual size costs would render
            # the whole screen again.
            self.set_reactive(TaskTable.virtual_size, new)
            if self.scroll_y > self.max_scroll_y:
                self.scroll_to(y=self.max_scroll_y, animate=False)
            return
        self.virtual_size = new

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self._scroll_cursor_into_view()

    # -- cursor ---------------------------------------------------------------------------------

    def _move(self, index: int, *, moved: bool = True) -> None:
        """Put the cursor on row ``index``; ``moved``: the operator did (not a refresh)."""
        index = max(0, min(index, len(self._rows) - 1)) if self._rows else 0
        self._cursor_key = self._key_at(index)
        self._cursor_item = self._rows[index] if self._rows else None
        if self._cursor_item is not None:
            self.on_cursor(self._cursor_item, moved)
        old_index = self.cursor_row
        if index != old_index:
            self.cursor_row = index
            self.refresh(Region(0, 0, self.size.width, 1))  # the header's "12 of 74,597"
        self._scroll_cursor_into_view()
        self._refresh_row(old_index)
        self._refresh_row(index)

    def _refresh_row(self, index: int) -> None:
        """Repaint one row's line (a cursor move is two lines, not a screen, over SSH)."""
        line = index - round(self.scroll_y) + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def refresh_cursor_row(self) -> None:
        self._refresh_row(self.cursor_row)

    def refresh_stale(self) -> None:
        """Repaint only the age and status cells whose text changed since they were painted.

        Called every second; an idle inbox must cost an SSH link next to nothing.
        """
        width = self.scrollable_content_region.width
        columns = self.columns_for(width)
        age = self.AGE_COLUMN
        age_x = sum(c.width + 1 for c in columns[:age])
        top = round(self.scroll_y)
        for line in range(1, self.size.height):
            index = top + line - 1
            if index >= len(self._rows):
                break
            row = self._rows[index]
            painted = self._painted.get(line)
            looks = self.looks_of(row)
            if painted is None or painted[0] is not row or painted[2:] != looks[1:]:
                self.refresh(Region(0, line, width, 1))  # a marker colours the whole row
            elif painted[1] != looks[0]:
                self.refresh(Region(age_x, line, columns[age].width, 1))  # only the age moved

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)  # minus the header line
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        self._move(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self._move(self.cursor_row - 1)

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self._rows) - 1)

    def action_page_down(self) -> None:
        self._move(self.cursor_row + self._page())

    def action_page_up(self) -> None:
        self._move(self.cursor_row - self._page())

    def action_select(self) -> None:
        if self._cursor_key is not None:
            self.post_message(self.Selected(self._cursor_key))

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        index = round(self.scroll_y) + event.y - 1
        if 0 <= index < len(self._rows):
            already = index == self.cursor_row
            self._move(index)
            if already or event.chain > 1:
                self.action_select()

    # -- rendering ------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of one repaint shares, worked out once for all of them.
        self._pass = _LinePass.of(self)
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    def render_line(self, y: int) -> Strip:
        line = self._pass or _LinePass.of(self)
        width, columns = line.width, line.columns
        if y == 0:
            return _strip(self._header(width, columns), width, line.header)
        index = round(self.scroll_y) + y - 1
        if not self._rows:
            if y == 1:
                text = clean(self.empty_text, max_len=width, multiline=False)
                return _strip(text, width, line.empty)
            return Strip.blank(width, line.base)
        if index >= len(self._rows):
            return Strip.blank(width, line.base)
        row = self._rows[index]
        looks = self.looks_of(row)
        self._painted[y] = (row, *looks)
        return self.row_strip(row, looks, index == self.cursor_row, line)

    # -- what a subclass of rows changes (see RunTable) -----------------------------------------

    def columns_for(self, width: int) -> tuple[Column, ...]:
        return layout_columns(width)

    def looks_of(self, row: Any) -> tuple[Any, ...]:
        """What a row's line shows besides the row itself: the age first (repainted alone
        when only it moved), then whatever else colours the line."""
        return (self.age_of(row), self.marker_of(row), self.marked_of(row))

    def row_strip(self, row: Any, looks: tuple[Any, ...], cursor: bool, line: _LinePass) -> Strip:
        width, columns = line.width, line.columns
        age, marker, marked = looks
        status = ""
        style = line.base
        if marker is not None:
            symbol, word = marker
            status = f"{symbol} {word}" if columns[1].width > 1 else symbol
            if marker in (STALLED, UNREADABLE):
                style = line.stalled
            elif marker is not NEW:
                style = line.sending
        if marked:
            style = style + line.marked
        if cursor:
            style = style + line.cursor
        head = _cells(columns[:3], [MARK if marked else "", status, age])
        return _strip(f"{head} {self._named_cells(row, width, columns)}", width, style)

    def _header(self, width: int, columns: tuple[Column, ...]) -> str:
        """The column names, and at the right end where the cursor is: ``12 of 74,597``."""
        names = _cells(columns, [c.name for c in columns])
        if not self._rows:
            return names
        where = f" {self.cursor_row + 1:,} of {len(self._rows):,} "
        return set_cell_size(names, max(0, width - len(where))) + where

    def _named_cells(self, row: InboxRow, width: int, columns: tuple[Column, ...]) -> str:
        """A row's workflow, run, type and title cells: they change only with the row (a new
        row object), so each row's are made once per width, not on every repaint."""
        key = (row, width)
        text = self._cell_cache.get(key)
        if text is None:
            if len(self._cell_cache) > _CELL_CACHE_ROWS:
                self._cell_cache.clear()
            task = row.task
            values = [task.workflow_label, task.short_run_id, task.task_type or "", task.title]
            text = self._cell_cache[key] = _cells(columns[3:], values)
        return text


@dataclass(frozen=True)
class _LinePass:
    """The width, columns and styles of one repaint of the table."""

    width: int
    columns: tuple[Column, ...]
    base: Style
    header: Style
    empty: Style
    stalled: Style
    sending: Style
    marked: Style
    cursor: Style

    @classmethod
    def of(cls, table: TaskTable) -> _LinePass:
        width = table.scrollable_content_region.width
        base = table.rich_style
        part = table.get_component_rich_style
        return cls(
            width,
            table.columns_for(width),
            base,
            part("task-table--header"),
            part("task-table--empty"),
            base + part("task-table--stalled"),
            base + part("task-table--sending"),
            part("task-table--marked"),
            part("task-table--cursor"),
        )


# Rows whose name cells are kept (a few screens' worth; the cache starts over beyond).
_CELL_CACHE_ROWS = 512


def _cells(columns: Sequence[Column], values: list[str]) -> str:
    """One table line as plain text: each value made safe, cut to its column and padded.

    Plain strings, one style per line: a filter keystroke repaints the whole table, and
    building Rich ``Text`` objects per cell made that cost several milliseconds.
    """
    cells = []
    for column, value in zip(columns, values, strict=True):
        # max_len first: measuring a whole 1 MB name on every repaint froze the inbox.
        cell = clean(value, max_len=column.width, multiline=False)
        cells.append(set_cell_size(cell, column.width))
    return " ".join(cells)


def _strip(text: str, width: int, style: Style) -> Strip:
    return Strip([Segment(set_cell_size(text, width), style)], width)
