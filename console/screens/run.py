"""One run's story: its pending tasks and its events, before and after the decision."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from client import APIError, RunEvent, Task

from ..error_text import describe_error
from ..services import RunStory
from ..widgets.safe_text import LINE_MAX, clean, safe
from ._console_screen import ConsoleScreen

# Event types as words with a symbol, so the timeline reads without colour.
EVENT_SYMBOLS = {
    "run_started": "▶",
    "step_started": "→",
    "step_completed": "✓",
    "step_failed": "✗",
    "state_changed": "◆",
}


def _event_data(event: RunEvent) -> str:
    if not event.data:
        return ""
    return json.dumps(event.data, ensure_ascii=False, sort_keys=True)


def events_table(events: list[RunEvent]) -> Table:
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None)
    table.add_column("Time", no_wrap=True, width=8)
    table.add_column("Event", no_wrap=True, max_width=18)
    table.add_column("Step", no_wrap=True, max_width=20, overflow="ellipsis")
    table.add_column("Data", overflow="fold", ratio=1)
    for event in events:
        when = event.at.astimezone().strftime("%H:%M:%S") if event.at else "?"
        symbol = EVENT_SYMBOLS.get(event.type, "·")
        table.add_row(
            when,
            safe(f"{symbol} {event.type}", max_len=LINE_MAX, multiline=False),
            safe(event.step_id or "", max_len=LINE_MAX, multiline=False),
            safe(clean(_event_data(event), max_len=2000)),
        )
    if not events:
        table.add_row("", Text("(no events)", style="dim"), "", "")
    return table


def pending_table(tasks: list[Task]) -> Table:
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None)
    table.add_column("Task", no_wrap=True, max_width=24)
    table.add_column("Type", no_wrap=True, max_width=12)
    table.add_column("Title", overflow="ellipsis", no_wrap=True, ratio=1)
    for task in tasks:
        table.add_row(
            safe(task.id, max_len=LINE_MAX, multiline=False),
            safe(task.task_type or "", max_len=LINE_MAX, multiline=False),
            safe(task.title, max_len=LINE_MAX, multiline=False),
        )
    if not tasks:
        table.add_row(
            Text("(none pending: the run is not waiting on a person)", style="dim"), "", ""
        )
    return table


class RunScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("R", "reload", "Refresh", id="run.refresh"),
        Binding("escape,q", "back", "Back", id="run.back"),
    ]

    def __init__(self, workflow_id: str, run_id: str) -> None:
        super().__init__()
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.story: RunStory | None = None

    def compose(self) -> ComposeResult:
        head = safe(
            f"Run {self.run_id} · workflow {self.workflow_id}", max_len=LINE_MAX, multiline=False
        )
        yield Static(head, classes="status-line", id="run-head")
        with VerticalScroll(id="run-body"):
            yield Static("Pending tasks", classes="section")
            yield Static(Text("loading…", style="dim"), id="pending")
            yield Static("Events", classes="section")
            yield Static(Text("loading…", style="dim"), id="events")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#run-body").focus()
        self.action_reload()
        # While the run is resuming after a decision, keep its story current.
        self.set_interval(self.services.settings.refresh_active, self.action_reload)

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="run-view")
    async def load(self) -> None:
        try:
            story = await self.services.run_story(self.workflow_id, self.run_id)
        except APIError as exc:
            message = describe_error(exc, doing="loading the run")
            self.query_one("#events", Static).update(Text(f"✗ {message}"))
            if self.story is None:  # keep what an earlier load showed; never "loading…" forever
                unknown = Text("✗ not loaded – R tries again", style="dim")
                self.query_one("#pending", Static).update(unknown)
            return
        self.story = story
        self.query_one("#pending", Static).update(pending_table(story.pending))
        self.query_one("#events", Static).update(events_table(story.events))

    def action_back(self) -> None:
        self.dismiss()
