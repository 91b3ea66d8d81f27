"""The home screen: every pending task, oldest first, live."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from ..filter_query import Kind
from ..inbox_model import InboxRow, RowDiff, SortKey, TaskKey, View, ViewRequest, format_age
from ..runs_model import Section
from ..safe_text import clean
from ..widgets.key_bar import KeyBar
from ..widgets.run_table import RunTable
from ..widgets.task_preview import TaskPreview
from ..widgets.task_table import (
    DRAFT,
    FAILED,
    HELD,
    MARK,
    NEW,
    QUEUED,
    SENDING,
    STALLED,
    UNREADABLE,
    TaskTable,
    entry_marker,
)
from ._console_screen import badges
from ._task_screen import TaskScreen

_KEY_OF = attrgetter("key")

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
# From this width the preview pane sits beside the list, and is shown unless turned off (v).
PREVIEW_SIDE_WIDTH = 140
# The pane follows the cursor once keys pause this long (s): a held j is not slowed by it.
PREVIEW_PAUSE = 0.03


_TASK_ONLY_KEYS = frozenset({"approve", "reject", "edit", "mark"})


def _failure_text(code: str | None) -> str:
    """A failure code with its meaning from the platform's docs: ``MCP_TOOL_FAILED – …``."""
    from client import failure_meaning

    meaning = failure_meaning(code)
    return f"{code} – {meaning}" if meaning else (code or "")


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
        Binding("space", "mark", "Mark", id="inbox.mark"),
        Binding("asterisk", "mark_all", "Mark all shown", show=False, id="inbox.mark_all"),
        Binding("n", "next_new", "Next new task", show=False, id="inbox.next_new"),
        Binding("v", "toggle_preview", "Preview", show=False, id="inbox.preview"),
        Binding("right_square_bracket", "view(1)", "Next view", show=False, id="inbox.view_next"),
        Binding(
            "left_square_bracket", "view(-1)", "Previous view", show=False, id="inbox.view_prev"
        ),
        Binding("s", "sort", "Sort", show=False, id="inbox.sort"),
        Binding("R", "refresh", "Refresh", show=False, id="inbox.refresh"),
        Binding("p", "pause", "Pause", show=False, id="inbox.pause"),
        Binding("O", "outbox", "Outbox", id="inbox.outbox"),
        Binding("L", "link", "Link details", show=False, id="inbox.link"),
        Binding(
            "escape", "clear", "Clear marks, filter", show=False, priority=True, id="inbox.clear"
        ),
        Binding("q", "quit", "Quit", id="inbox.quit"),
        Binding("c", "run_control", "Control", id="inbox.run_control"),
        Binding("tab", "next_section", "Next section", show=False, id="inbox.next_section"),
        Binding(
            "shift+tab", "previous_section", "Previous section", show=False, id="inbox.prev_section"
        ),
        # No description: one help line covers the four (see HELP_EXTRA).
        *[
            Binding(str(n), f"section({n})", "", show=False, id=f"inbox.section{n}")
            for n in range(1, 5)
        ],
    ]
    HELP_EXTRA: ClassVar[list[tuple[str, str]]] = [
        ("1 … 4", "Awaiting approval, Running now, Stopping gracefully, Failed recently"),
        ("enter / o", "Open the task, or in a runs section the run"),
        ("j / k / ↑ / ↓", "Move"),
        ("g / G / PgUp / PgDn", "First, last, page"),
    ]

    _status_text = ""
    _bar_text = ""
    _view_request = 0  # numbers filter/sort/restrict requests; only the newest is shown
    _preview_due = False  # a preview update is scheduled
    _view_name: str | None = None  # the named view ([ ]) the filter came from
    section = Section.APPROVAL  # which of the Command Center's four sections is shown

    def compose(self) -> ComposeResult:
        yield Static(id="status", classes="status-line")
        yield Static(id="sections", classes="section-bar")
        yield FilterInput(
            placeholder="Filter: words, workflow:, type:, run:, age>30m, stalled, new, marked, !…",
            id="filter",
            # Not Textual's select-all on focus: it lands after keys typed right behind "/",
            # and the next key then replaced them (and the filter) – keys lost when typing fast.
            select_on_focus=False,
        )
        with Container(id="inbox-body"):
            yield TaskTable(
                id="tasks",
                age_of=self._age,
                marker_of=self._marker,
                marked_of=self._marked,
                on_cursor=self._cursor_on,
            )
            yield TaskPreview(id="preview")
        services = self.services
        yield RunTable(
            id="runs",
            now=services.clock,
            command_of=services.runs.command_of,
            failure_text=_failure_text,
        )
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(RunTable).display = False
        filter_box = self.query_one(FilterInput)
        filter_box.display = False
        filter_box.cursor_blink = self.services.settings.cursor_blink
        self.query_one("#tasks", TaskTable).focus()
        start = self.services.settings.start_filter
        if start:
            self._view_name = self.services.settings.start_view
            filter_box.value = start
            filter_box.display = True
        self._show_rows()
        self._place_preview()
        self.status_changed()
        self.set_interval(1.0, self._tick)

    def on_resize(self) -> None:
        self._place_preview()

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
        if services.inbox.is_new(row.key):
            return NEW
        if services.inbox.is_stalled(row.task):
            return STALLED
        return None

    def _marked(self, row: InboxRow) -> bool:
        return self.services.inbox.is_marked(row.key)

    def _cursor_on(self, row: InboxRow, moved: bool) -> None:
        """The cursor is on ``row``: passed over by the operator, a new task is seen."""
        if moved and self.services.inbox.seen(row.key):
            self.status_changed()
        self._schedule_preview()

    # -- the preview pane -----------------------------------------------------------------------

    def _preview_wanted(self) -> bool:
        services = self.services
        chosen = services.preview_choice()
        return self.size.width >= PREVIEW_SIDE_WIDTH if chosen is None else chosen

    def _place_preview(self) -> None:
        body = self.query_one("#inbox-body")
        wanted = self._preview_wanted()
        side = wanted and self.size.width >= PREVIEW_SIDE_WIDTH
        body.set_class(side, "-side")
        body.set_class(wanted and not side, "-below")
        if wanted:
            self._schedule_preview()

    def _schedule_preview(self) -> None:
        if self._preview_due or not self._preview_wanted():
            return
        self._preview_due = True
        self.set_timer(PREVIEW_PAUSE, self._fill_preview)

    def _fill_preview(self) -> None:
        self._preview_due = False
        if not self._preview_wanted():
            return
        table = self.query_one("#tasks", TaskTable)
        key = table.cursor_key
        pane = self.query_one(TaskPreview)
        services = self.services
        if key is None:
            pane.show(None, empty="No task selected.")
            return
        if key in services.unreadable:
            pane.show(None, empty="⚠ This entry is not a readable task. Enter shows its raw JSON.")
            return
        task = services.inbox.get(key)
        if task is None:
            pane.show(None, empty="No task selected.")
            return
        meta = [task.task_type or "task", f"age {format_age(services.inbox.age(task))}"]
        if services.inbox.is_marked(key):
            meta.append(f"{MARK} marked")
        marker = self._marker(table.rows[table.cursor_row]) if table.rows else None
        if marker is not None:
            meta.append(f"{marker[0]} {marker[1]}")
        pane.show(task, " · ".join(meta))

    def action_toggle_preview(self) -> None:
        """``v``: the pane on or off, at any width; remembered for the profile."""
        if not self._tasks_only("preview"):
            return
        shown = not self._preview_wanted()
        problem = self.services.choose_preview(shown)
        self._place_preview()
        if problem is not None:
            self.notify(problem, title="Preview choice not saved", severity="warning")

    def _show_rows(self) -> None:
        self.query_one("#tasks", TaskTable).set_rows(self.services.inbox.rows())
        self._schedule_preview()

    def _tick(self) -> None:
        # Ages and "retrying in N s" move with the clock, even without a refresh.
        inbox = self.services.inbox
        if inbox.stale():  # a filter on ages or "stalled": the minute moved
            self._show_view(inbox.request())
        self.query_one("#tasks", TaskTable).refresh_stale()
        if self.section is not Section.APPROVAL:
            self.query_one(RunTable).refresh_stale()
        self.status_changed()

    def select(self, key: TaskKey) -> bool:
        """Put the cursor on a task, if the view shows it."""
        return self.query_one("#tasks", TaskTable).move_to_key(key)

    def current_task(self) -> Task | None:
        if self.section is not Section.APPROVAL:
            return None
        key = self.query_one("#tasks", TaskTable).cursor_key
        return self.services.inbox.get(key) if key else None

    def no_task_reason(self) -> str:
        if self.section is not Section.APPROVAL:
            return (
                f"This is {self.section.title}: its rows are runs. Decisions are made on "
                "tasks – 1 shows the tasks awaiting approval; c controls the run."
            )
        return super().no_task_reason()

    def _tasks_only(self, doing: str) -> bool:
        """Whether the tasks are shown; else refuse ``doing`` in a dialog (keys typed next go
        nowhere)."""
        if self.section is Section.APPROVAL:
            return True
        self.refuse(f"Cannot {doing} here", self.no_task_reason())
        return False

    def inbox_changed(self, diff: RowDiff) -> None:
        if diff.added or diff.removed:
            self._show_rows()
            self.services.runs_awaiting()
            if self.section is not Section.APPROVAL:
                self._show_runs()
        else:
            # Same tasks: repaint only the changed rows' cells (markers, ages, titles).
            self._show_rows_in_place()
        self.status_changed()

    def runs_changed(self) -> None:
        if self.section is not Section.APPROVAL:
            self._show_runs()
        self.status_changed()

    def _show_rows_in_place(self) -> None:
        table = self.query_one("#tasks", TaskTable)
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
        if self.section is Section.APPROVAL:
            parts.extend(self._task_parts())
        else:
            parts.extend(self._run_parts())
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
        sort = inbox.sort_key if self.section is Section.APPROVAL else services.runs.sort
        parts.append(f"sort: {sort.value}")
        if inbox.workflow is not None and self.section is Section.APPROVAL:
            label = next(
                (w.label for w in inbox.workflows() if w.workflow_id == inbox.workflow),
                inbox.workflow,
            )
            parts.append(f"workflow: {clean(label, max_len=24, multiline=False)}")
        if inbox.filter_text:
            name = self._view_name
            if name is not None and settings.views.get(name) == inbox.filter_text:
                parts.append(f"view: {clean(name, max_len=20, multiline=False)}")
            else:
                parts.append(f"filter: {clean(inbox.filter_text, max_len=20, multiline=False)}")
            problems = inbox.query.problems
            if problems:
                parts.append(f"✗ {clean(problems[0], max_len=50, multiline=False)}")
        scope = settings.tenant + (f"/{settings.project}" if settings.project else "")
        parts.append(f"{scope} @ {clean(settings.where, multiline=False)}")
        self._set_empty_text()
        self._show_section_bar()
        text = " · ".join(parts)
        if text == self._status_text:
            return  # unchanged: nothing goes to the terminal
        self._status_text = text
        # One line, always: no layout pass, which would cost another frame.
        status = self.query_one("#status", Static)
        status.update(Text(text, no_wrap=True, overflow="ellipsis"), layout=False)

    def _task_parts(self) -> list[str]:
        services = self.services
        inbox = services.inbox
        parts = [badges(services), f"{inbox.shown}/{inbox.total} tasks"]
        if inbox.marked_count:
            parts.append(f"{MARK} {inbox.marked_count:,} marked")
        if inbox.new_count:
            parts.append(f"{NEW[0]} {inbox.new_count:,} {NEW[1]}")
        batch = services.batch
        if batch is not None and not batch.done:
            parts.append(batch.progress())
        if services.unreadable:
            parts.append(f"{UNREADABLE[0]} {len(services.unreadable)} {UNREADABLE[1]}")
        stalled = inbox.stalled_shown()  # of the rows shown: "3/9 tasks · ⚠ 1 stalled"
        if stalled:
            parts.append(f"{STALLED[0]} {stalled} {STALLED[1]}")
        return parts

    def _run_parts(self) -> list[str]:
        """A runs section's counts, with the badges: ``● 4 pending · 1 draining``."""
        runs = self.services.runs
        shown = len(self.query_one(RunTable).rows)
        parts = [badges(self.services), f"{shown}/{runs.count(self.section)} runs"]
        if runs.problem is not None:
            parts.append(f"✗ runs: {clean(runs.problem.text, max_len=60, multiline=False)}")
        return parts

    def _show_section_bar(self) -> None:
        """``▸1 Awaiting approval 12 │ 2 Running now 5 │ …``: the current one marked, not only
        coloured; short names below 100 columns."""
        services = self.services
        wide = self.size.width >= 100
        cells = []
        for section in Section:
            runs = services.runs
            if section is Section.APPROVAL:
                count = f"{services.inbox.total:,}"
            elif runs.loaded and runs.problem is None:
                count = f"{runs.count(section):,}"
            else:
                count = "?"  # not read (yet): no number rather than a false 0
            name = section.title if wide else section.title.split()[0]
            here = section is self.section
            cells.append(f"{'▸' if here else ' '}{section.value} {name} {count}")
        text = " │ ".join(cells)
        if text != self._bar_text:
            self._bar_text = text
            bar = Text(no_wrap=True, overflow="ellipsis")
            for i, (cell, section) in enumerate(zip(cells, Section, strict=True)):
                if i:
                    bar.append(" │ ")
                bar.append(cell, style="reverse bold" if section is self.section else "")
            self.query_one("#sections", Static).update(bar, layout=False)

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
        table = self.query_one("#tasks", TaskTable)
        if text != table.empty_text:
            table.empty_text = text
            if not table.rows:
                table.refresh()

    # -- actions --------------------------------------------------------------------------------

    @on(TaskTable.Selected)
    def _open_selected(self, event: TaskTable.Selected) -> None:
        self._open(event.key)

    @on(RunTable.RunSelected)
    def _open_run_selected(self, event: RunTable.RunSelected) -> None:
        self._open_run(event.key)

    def action_open(self) -> None:
        box = self.query_one(FilterInput)
        if self.focused is box:  # Enter in the filter box: keep the filter, back to the rows
            box.display = bool(box.value)
            focus_now(self._table())
            return
        if self.section is not Section.APPROVAL:
            run_key = self.query_one(RunTable).cursor_key
            if run_key is not None:
                self._open_run(run_key)  # type: ignore[arg-type]
            return
        key = self.query_one("#tasks", TaskTable).cursor_key
        if key is not None:
            self._open(key)

    def _table(self) -> TaskTable:
        """The table the section shows (the tasks', or a runs section's)."""
        if self.section is Section.APPROVAL:
            return self.query_one("#tasks", TaskTable)
        return self.query_one(RunTable)

    def _open_run(self, key: tuple[str, str]) -> None:
        from .run import RunScreen

        self.app.push_screen(RunScreen(*key))

    def action_run_view(self) -> None:
        if self.section is Section.APPROVAL:
            super().action_run_view()
            return
        key = self.query_one(RunTable).cursor_key
        if key is None:
            self.refuse("No run", "This section has no run selected.")
            return
        self._open_run(key)  # type: ignore[arg-type]

    # -- the Command Center's sections -----------------------------------------------------------

    def action_section(self, number: int) -> None:
        self.show_section(Section(number))

    def action_next_section(self) -> None:
        self.show_section(Section(self.section % len(Section) + 1))

    def action_previous_section(self) -> None:
        self.show_section(Section((self.section - 2) % len(Section) + 1))

    def key_bar_hidden(self) -> frozenset[str]:
        """Actions the key bar leaves out: in a runs section, the tasks' keys (they still
        answer, with a refusal in words; they just take no room there)."""
        if self.section is Section.APPROVAL:
            return frozenset()
        return _TASK_ONLY_KEYS

    def show_section(self, section: Section) -> None:
        if section is self.section:
            return
        self.section = section
        self.query_one(KeyBar).refresh()
        runs = section is not Section.APPROVAL
        self.query_one("#inbox-body").display = not runs
        self.query_one(RunTable).display = runs
        if runs:
            self._show_runs()
        if self.focused is not self.query_one(FilterInput):
            focus_now(self._table())
        self.status_changed()

    def _show_runs(self) -> None:
        runs = self.services.runs
        table = self.query_one(RunTable)
        text = self.query_one(FilterInput).value
        table.set_rows(runs.rows(self.section, text))
        if runs.problem is not None:
            empty = f"The runs could not be read: {runs.problem.text}"
        elif not runs.loaded:
            empty = "Loading the runs…"
        elif runs.count(self.section):
            empty = "No run of this section matches the filter. Esc clears it."
        else:
            empty = f"No runs {self.section.title.lower()}."
        if empty != table.empty_text:
            table.empty_text = empty
            table.refresh()

    def action_run_control(self) -> None:
        """``c``: pause, resume or stop the run under the cursor (or the selected task's)."""
        runs = self.services.runs
        if self.section is Section.APPROVAL:
            task = self.current_task()
            if task is None:
                self.refuse("No run", "No task is selected.")
                return
            self.control_run(runs.get((task.workflow_id, task.run_id)))
            return
        key = self.query_one(RunTable).cursor_key
        self.control_run(runs.get(key) if key is not None else None)  # type: ignore[arg-type]

    def action_copy_run(self) -> None:
        if self.section is Section.APPROVAL:
            super().action_copy_run()
            return
        key = self.query_one(RunTable).cursor_key
        if key is None:
            self.refuse("Nothing to copy", "This section has no run selected.")
            return
        self._copy(key[1], "Run ID")

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
        if box.value and not box.value.endswith(" "):
            box.value += " "  # what is typed next is one more term of the kept filter
        box.cursor_position = len(box.value)
        focus_now(box)

    def filter_typed(self, text: str) -> None:
        self._show_view(self.services.inbox.request(text=text))
        if self.section is not Section.APPROVAL:
            self._show_runs()
            self.status_changed()

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
        """Esc: clear the marks, then the filter, then the workflow restriction; the inbox
        never quits on Esc."""
        inbox = self.services.inbox
        box = self.query_one(FilterInput)
        if inbox.marked_count and self.focused is not box and self.section is Section.APPROVAL:
            count = inbox.clear_marks()
            self.notify(f"{count:,} mark(s) cleared.", timeout=3)
            self._marks_changed()
        elif inbox.filter_text:
            box.value = ""
            box.display = False
        elif inbox.workflow is not None:
            self._show_view(inbox.request(workflow=None))
        focus_now(self._table())
        self.status_changed()

    # -- marks --------------------------------------------------------------------------------

    def _marks_changed(self) -> None:
        table = self.query_one("#tasks", TaskTable)
        if self.services.inbox.query.uses(Kind.MARKED):
            self._show_view(self.services.inbox.request())  # a "marked" filter follows them
        else:
            table.refresh()
        self.status_changed()
        self._schedule_preview()

    def action_mark(self) -> None:
        """``space``: mark or unmark the task under the cursor, then move down."""
        if not self._tasks_only("mark"):
            return
        table = self.query_one("#tasks", TaskTable)
        key = table.cursor_key
        if key is None:
            self.app.bell()
            return
        self.services.inbox.toggle_mark(key)
        table.refresh_cursor_row()
        table.action_cursor_down()
        self._marks_changed()

    def action_mark_all(self) -> None:
        """``*``: mark every task the current filter and workflow show."""
        if not self._tasks_only("mark"):
            return
        inbox = self.services.inbox
        rows = self.query_one("#tasks", TaskTable).rows
        if not rows:
            self.app.bell()
            return
        added = inbox.mark(map(_KEY_OF, rows))
        if added == len(rows):
            self.notify(f"All {len(rows):,} shown tasks marked.", timeout=3)
        elif added:
            self.notify(f"{added:,} more marked: all {len(rows):,} shown are.", timeout=3)
        else:
            self.notify(
                f"All {len(rows):,} shown tasks were already marked. Esc clears the marks.",
                timeout=4,
            )
        self._marks_changed()

    def action_next_new(self) -> None:
        """``n``: the next task that arrived since you last looked (wrapping)."""
        if not self._tasks_only("jump to a new task"):
            return
        table = self.query_one("#tasks", TaskTable)
        index = self.services.inbox.next_new(table.cursor_row)
        if index is None:
            self.notify(
                "No new task in this view." if self.services.inbox.new_count else "No new tasks.",
                timeout=3,
            )
            return
        table.move_to(index)

    def action_approve(self) -> None:
        if self.services.inbox.marked_count and self.section is Section.APPROVAL:
            self._decide_marked(approved=True)
        else:
            super().action_approve()

    def action_reject(self) -> None:
        if self.services.inbox.marked_count and self.section is Section.APPROVAL:
            self._decide_marked(approved=False)
        else:
            super().action_reject()

    def action_edit(self) -> None:
        count = self.services.inbox.marked_count
        if count and self.section is Section.APPROVAL:
            self.refuse(
                "Cannot edit with marks",
                f"{count:,} task(s) are marked: a and x act on all of them, e edits one task at "
                "a time. Esc clears the marks.",
            )
            return
        super().action_edit()

    def _decide_marked(self, *, approved: bool) -> None:
        from ..bulk import plan_batch
        from .batch_confirm import BatchApproveScreen, BatchRejectScreen

        services = self.services
        if services.decisions.outbox is None:
            self.refuse(
                f"Cannot {'approve' if approved else 'reject'}",
                services.decisions.outbox_problem or "No outbox.",
            )
            return
        if services.batch is not None and not services.batch.done:
            self.refuse(
                "A batch is on its way",
                f"{services.batch.progress()[2:]} settled so far: wait for its summary before "
                "deciding the next one.",
            )
            return
        plan = plan_batch(
            services.inbox.marked_rows(),
            approved=approved,
            blocker=services.decision_blocker,
            suspects=services.unreadable.keys()
            | services.in_flight.keys()
            | services.unsettled.keys(),
            drafts=services.drafts.keys(),
        )
        if not plan.rows:
            lines = "\n".join(plan.left_out_lines())
            self.refuse(f"Nothing to {plan.verb}", f"No marked task can be decided now:\n{lines}")
            return

        def answered(reason: str | None) -> None:
            if reason is not None:
                self.cc.submit_batch(plan, reason or None)

        if approved:
            self.app.push_screen(BatchApproveScreen(plan), answered)
        else:
            self.app.push_screen(BatchRejectScreen(plan), answered)

    # -- views ---------------------------------------------------------------------------------

    def action_view(self, step: int) -> None:
        """``]`` / ``[``: the profile's next or previous named view (then no view)."""
        views = self.services.settings.views
        if not views:
            profile = self.services.settings.profile or "default"
            self.refuse(
                "No views",
                f"Profile {profile!r} has no named views. Add some, for example:\n"
                f"[profiles.{profile}.views]\n"
                'stalled-crm = "workflow:crm stalled"',
            )
            return
        names: list[str | None] = [None, *views]
        at = names.index(self._view_name) if self._view_name in names else 0
        self.show_named_view(names[(at + step) % len(names)])

    def show_named_view(self, name: str | None) -> None:
        """Filter by a named view of the profile (None: no filter)."""
        box = self.query_one(FilterInput)
        self._view_name = name
        text = self.services.settings.views.get(name, "") if name is not None else ""
        box.value = text
        box.cursor_position = len(text)
        box.display = bool(text)
        focus_now(self._table())
        self.status_changed()

    def action_sort(self) -> None:
        if self.section is not Section.APPROVAL:
            runs = self.services.runs
            runs.sort = runs.sort.next()
            self._show_runs()
            self.status_changed()
            self.notify(f"Runs sorted by {runs.sort.value}", timeout=2)
            return
        self.set_sort(self.services.inbox.sort_key.next())

    def set_sort(self, key: SortKey) -> None:
        self._show_view(
            self.services.inbox.request(sort=key),
            done=lambda: self.notify(f"Sorted by {key.value}", timeout=2),
        )

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
