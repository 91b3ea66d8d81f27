"""The home screen: every pending task, oldest first, live."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from ..inbox_model import InboxRow, RowDiff, SortKey, TaskKey, View, ViewRequest, format_age
from ..safe_text import clean
from ..widgets.key_bar import KeyBar
from ..widgets.task_table import (
    DRAFT,
    FAILED,
    HELD,
    QUEUED,
    SENDING,
    STALLED,
    UNREADABLE,
    TaskTable,
    entry_marker,
)
from ._task_screen import TaskScreen

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.app import ComposeResult
    from textual.widget import Widget

    from client import Task

# A filter/sort visiting up to this many rows runs inline, in the keystroke's own frame (a scan
# of the search texts is a list comprehension over strings); more goes to a thread, which the
# next keystroke cancels. A thread costs a 100,000-row scan more than it saves: it shares the
# interpreter with the event loop in turns (docs/performance.md).
VIEW_INLINE_ROWS = 150_000


def focus_now(widget: Widget) -> None:
    """Move the focus before the next key is read. ``Widget.focus()`` moves it only after the
    keys already typed: "/review" typed fast then ran r, e (the editor) … as inbox keys."""
    widget.screen.set_focus(widget)


class FilterInput(Input):
    """The ``/`` filter box: Enter keeps the filter, Esc clears it (the inbox's own keys).

    The inbox follows the value as it changes, in the same frame as the typed character (the
    Changed message would arrive a frame or two later).
    """

    def watch_value(self, value: str) -> None:
        screen = self.screen
        if isinstance(screen, InboxScreen) and self.is_mounted:
            screen.filter_typed(value)

    @property
    def content_width(self) -> int:
        """At least the box's width: the text's own width changes with every key, and each
        change cost the whole screen a layout pass (docs/performance.md)."""
        return max(super().content_width, self.scrollable_content_region.width)


class InboxScreen(TaskScreen):
    # Enter, / and Esc move the focus between the table and the filter box. As priority keys
    # they run as soon as they are read, so the keys typed after them go where they meant:
    # otherwise "/approve" typed fast reached the table (a: approve) before the box had focus.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=False, priority=True, id="inbox.open"),
        *TaskScreen.BINDINGS,
        Binding("slash", "filter", "Filter", priority=True, id="inbox.filter"),
        Binding("s", "sort", "Sort", show=False, id="inbox.sort"),
        Binding("R", "refresh", "Refresh", show=False, id="inbox.refresh"),
        Binding("p", "pause", "Pause", show=False, id="inbox.pause"),
        Binding("O", "outbox", "Outbox", id="inbox.outbox"),
        Binding("L", "link", "Link details", show=False, id="inbox.link"),
        Binding("escape", "clear", "Clear", show=False, priority=True, id="inbox.clear"),
        Binding("q", "quit", "Quit", id="inbox.quit"),
        # No description: one help line covers all ten (see HELP_EXTRA).
        *[
            Binding(str(n), f"workflow({n})", "", show=False, id=f"inbox.workflow{n}")
            for n in range(10)
        ],
    ]
    HELP_EXTRA: ClassVar[list[tuple[str, str]]] = [
        ("1 … 9", "Show only the n-th workflow (as in the palette)"),
        ("0", "Show all workflows"),
        ("enter", "Open the task"),
        ("j / k / ↑ / ↓", "Move"),
        ("g / G / PgUp / PgDn", "First, last, page"),
    ]

    _status_text = ""
    _view_request = 0  # numbers filter/sort/restrict requests; only the newest is shown

    def compose(self) -> ComposeResult:
        yield Static(id="status", classes="status-line")
        yield FilterInput(placeholder="Filter: workflow, run, title, field values…", id="filter")
        yield TaskTable(id="tasks", age_of=self._age, marker_of=self._marker)
        yield KeyBar()

    def on_mount(self) -> None:
        filter_box = self.query_one(FilterInput)
        filter_box.display = False
        filter_box.cursor_blink = self.services.settings.cursor_blink
        self.query_one(TaskTable).focus()
        self._show_rows()
        self.status_changed()
        self.set_interval(1.0, self._tick)

    # -- what the table shows -------------------------------------------------------------------

    def _age(self, row: InboxRow) -> str:
        return format_age(self.services.inbox.age(row.task))

    def _marker(self, row: InboxRow) -> tuple[str, str] | None:
        services = self.services
        if row.key in services.unreadable:
            return UNREADABLE
        if row.key in services.in_flight:
            return SENDING
        entry = services.unsettled.get(row.key)
        if entry is not None:
            return entry_marker(entry)
        if row.key in services.drafts:
            return DRAFT
        if services.inbox.is_stalled(row.task):
            return STALLED
        return None

    def _show_rows(self) -> None:
        self.query_one(TaskTable).set_rows(self.services.inbox.rows())

    def _tick(self) -> None:
        # Ages and "retrying in N s" move with the clock, even without a refresh.
        self.query_one(TaskTable).refresh_stale()
        self.status_changed()

    def select(self, key: TaskKey) -> bool:
        """Put the cursor on a task, if the view shows it."""
        return self.query_one(TaskTable).move_to_key(key)

    def current_task(self) -> Task | None:
        key = self.query_one(TaskTable).cursor_key
        return self.services.inbox.get(key) if key else None

    def inbox_changed(self, diff: RowDiff) -> None:
        if diff.added or diff.removed:
            self._show_rows()
        else:
            # Same tasks: repaint only the changed rows' cells (markers, ages, titles).
            self._show_rows_in_place()
        self.status_changed()

    def _show_rows_in_place(self) -> None:
        table = self.query_one(TaskTable)
        rows = self.services.inbox.rows()
        if rows is table.rows:
            table.refresh_stale()
        else:
            table.set_rows(rows)

    def status_changed(self) -> None:
        services = self.services
        inbox = services.inbox
        settings = services.settings
        now = services.clock()
        parts = [services.connection.describe(now, stale_after=services.stale_after())]
        if services.paused:
            parts.append("⏸ paused")
        parts.append(f"{inbox.shown}/{inbox.total} tasks")
        if services.unreadable:
            parts.append(f"{UNREADABLE[0]} {len(services.unreadable)} {UNREADABLE[1]}")
        stalled = inbox.stalled_shown()  # of the rows shown: "3/9 tasks · ⚠ 1 stalled"
        if stalled:
            parts.append(f"{STALLED[0]} {stalled} {STALLED[1]}")
        counts = services.counts()
        for marker, state in (
            (SENDING, "sending"),
            (HELD, "held"),
            (QUEUED, "queued"),
            (FAILED, "failed"),
        ):
            if counts[state]:
                undo = " · u undo" if state == "held" else ""
                parts.append(f"{marker[0]} {counts[state]} {marker[1]}{undo}")
        if services.last_refresh is not None and services.connection.failures:
            # While live, "● live" says enough; a time that ticks on every poll would cost an
            # SSH link a repaint every 3 s.
            parts.append(f"last ok {services.last_refresh.astimezone().strftime('%H:%M:%S')}")
        parts.append(f"sort: {inbox.sort_key.value}")
        if inbox.workflow is not None:
            label = next(
                (w.label for w in inbox.workflows() if w.workflow_id == inbox.workflow),
                inbox.workflow,
            )
            parts.append(f"workflow: {clean(label, max_len=24, multiline=False)}")
        if inbox.filter_text:
            parts.append(f"filter: {clean(inbox.filter_text, max_len=20, multiline=False)}")
        scope = settings.tenant + (f"/{settings.project}" if settings.project else "")
        parts.append(f"{scope} @ {clean(settings.where, multiline=False)}")
        self._set_empty_text()
        text = " · ".join(parts)
        if text == self._status_text:
            return  # unchanged: nothing goes to the terminal
        self._status_text = text
        # One line, always: no layout pass, which would cost another frame.
        status = self.query_one("#status", Static)
        status.update(Text(text, no_wrap=True, overflow="ellipsis"), layout=False)

    def _set_empty_text(self) -> None:
        """What an empty table says: loading is not "no tasks", nor is a filter with no match."""
        services = self.services
        if services.last_refresh is None:
            text = (
                "The inbox could not be loaded yet (see the status line); retrying."
                if services.connection.failures
                else "Loading the inbox…"
            )
        elif services.inbox.total:
            text = "No task matches the filter or workflow. Esc clears them."
        else:
            text = "No pending tasks."
        table = self.query_one(TaskTable)
        if text != table.empty_text:
            table.empty_text = text
            if not table.rows:
                table.refresh()

    # -- actions --------------------------------------------------------------------------------

    @on(TaskTable.Selected)
    def _open_selected(self, event: TaskTable.Selected) -> None:
        self._open(event.key)

    def action_open(self) -> None:
        box = self.query_one(FilterInput)
        if self.focused is box:  # Enter in the filter box: keep the filter, back to the rows
            box.display = bool(box.value)
            focus_now(self.query_one(TaskTable))
            return
        key = self.query_one(TaskTable).cursor_key
        if key is not None:
            self._open(key)

    def _open(self, key: TaskKey) -> None:
        from .detail import DetailScreen

        entry = self.services.unreadable.get(key)
        if entry is not None:
            from .unreadable import UnreadableScreen

            self.app.push_screen(UnreadableScreen(entry))
            return
        task = self.services.inbox.get(key)
        if task is not None:
            self.app.push_screen(DetailScreen(task))

    def action_filter(self) -> None:
        box = self.query_one(FilterInput)
        if self.focused is box:  # (not has_focus: it follows a step behind)
            raise SkipAction  # a "/" in the filter text ("acme/api")
        box.display = True
        focus_now(box)

    def filter_typed(self, text: str) -> None:
        self._show_view(self.services.inbox.request(text=text))

    def _show_view(self, request: ViewRequest, done: Callable[[], None] | None = None) -> None:
        """Filter/sort/restrict inline when cheap (within a frame), else in a thread.

        Each request supersedes the ones before it: a newer keystroke cancels an older scan, and
        an older result arriving late is dropped.
        """
        self._view_request += 1
        inbox = self.services.inbox
        if inbox.view_cost(request) <= VIEW_INLINE_ROWS:
            self.workers.cancel_group(self, "inbox-view")
            view = inbox.view_for(request)
            assert view is not None
            self._adopt(self._view_request, view, done)
        else:
            self._view_in_thread(self._view_request, request, done)

    @work(thread=True, exclusive=True, group="inbox-view")
    def _view_in_thread(
        self, number: int, request: ViewRequest, done: Callable[[], None] | None
    ) -> None:
        worker = get_current_worker()
        view = self.services.inbox.view_for(request, cancelled=lambda: worker.is_cancelled)
        if view is not None and not worker.is_cancelled:
            self.app.call_from_thread(self._adopt, number, view, done)

    def _adopt(self, number: int, view: View, done: Callable[[], None] | None) -> None:
        if number != self._view_request:
            return  # a newer request is on its way
        if not self.services.inbox.show(view):
            self._show_view(view.request, done)  # a refresh came in meanwhile: on the new rows
            return
        self._show_rows()
        self.status_changed()
        if done is not None:
            done()

    def action_clear(self) -> None:
        """Esc: clear the filter, then the workflow restriction; the inbox never quits on Esc."""
        inbox = self.services.inbox
        box = self.query_one(FilterInput)
        if inbox.filter_text:
            box.value = ""
            box.display = False
        elif inbox.workflow is not None:
            self._show_view(inbox.request(workflow=None))
        focus_now(self.query_one(TaskTable))
        self.status_changed()

    def action_sort(self) -> None:
        self.set_sort(self.services.inbox.sort_key.next())

    def set_sort(self, key: SortKey) -> None:
        self._show_view(
            self.services.inbox.request(sort=key),
            done=lambda: self.notify(f"Sorted by {key.value}", timeout=2),
        )

    def action_workflow(self, number: int) -> None:
        """``1``…``9`` restrict to the n-th workflow (as listed in the palette); ``0`` shows all."""
        self.restrict_to(None if number == 0 else number)

    def restrict_to(self, number: int | None, workflow_id: str | None = None) -> None:
        inbox = self.services.inbox
        if number is not None:
            workflows = inbox.workflows()
            if not 1 <= number <= len(workflows):
                self.app.bell()
                return
            workflow_id = workflows[number - 1].workflow_id
        self._show_view(inbox.request(workflow=workflow_id))

    def action_refresh(self) -> None:
        self.cc.refresh_inbox()

    def action_pause(self) -> None:
        self.cc.toggle_pause()
        self.notify("Auto-refresh paused" if self.services.paused else "Auto-refresh resumed")

    def action_outbox(self) -> None:
        from .outbox import OutboxScreen

        self.app.push_screen(OutboxScreen())

    def action_link(self) -> None:
        from .connection import ConnectionScreen

        self.app.push_screen(ConnectionScreen(self.services))

    def action_quit(self) -> None:
        self.cc.action_quit()
