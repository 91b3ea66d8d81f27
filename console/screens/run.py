"""One run's story: its pending tasks and its events, before and after the decision."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import pairwise
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from client import APIError, InvalidIdError, RunEvent, Task

from ..error_text import describe_error
from ..safe_text import LINE_MAX, clean, safe
from ..services import RunStory
from ..widgets.key_bar import KeyBar
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


def _local(at: datetime | None) -> datetime | None:
    """``at`` in local time; None if unknown or beyond what the platform's clock functions take."""
    if at is None:
        return None
    try:
        return at.astimezone()
    except (OverflowError, OSError, ValueError):  # year 1 or 9999 near the zone's edge
        return None


def event_time(at: datetime | None, now: datetime) -> str:
    """When an event happened: the time alone for today's, with the date for any other day.

    Local time, as the operator's own clock reads; the year only when it is not this one.
    """
    when, today = _local(at), _local(now)
    if when is None:
        return "?"
    if today is not None and when.date() == today.date():
        return when.strftime("%H:%M:%S")
    if today is not None and when.year == today.year:
        return when.strftime("%m-%d %H:%M:%S")
    return when.strftime("%Y-%m-%d %H:%M:%S")


def in_time_order(events: list[RunEvent]) -> list[RunEvent]:
    """The events as received, unless their times say otherwise: then sorted by time, stably.

    Events with no (usable) time cannot be placed: they keep their order, after the others.
    """
    timed = [(when, e) for e in events if (when := _local(e.at)) is not None]
    if all(a[0] <= b[0] for a, b in pairwise(timed)):
        return events
    untimed = [e for e in events if _local(e.at) is None]
    return [e for _, e in sorted(timed, key=lambda pair: pair[0])] + untimed


def events_table(events: list[RunEvent], now: datetime) -> Table:
    """The run's events, oldest first; ``now`` decides which are today's (time only)."""
    ordered = in_time_order(events)
    times = [event_time(event.at, now) for event in ordered]
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None)
    # Right-aligned: today's times stand under the time part of a dated one.
    width = max((len(t) for t in times), default=8)
    table.add_column("Time", no_wrap=True, width=max(8, width), justify="right")
    table.add_column("Event", no_wrap=True, max_width=18)
    table.add_column("Step", no_wrap=True, max_width=20, overflow="ellipsis")
    table.add_column("Data", overflow="fold", ratio=1)
    for event, when in zip(ordered, times, strict=True):
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
        yield KeyBar()

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
        except (APIError, InvalidIdError) as exc:
            message = describe_error(exc, doing="loading the run")
            self.query_one("#events", Static).update(Text(f"✗ {message}"))
            if self.story is None:  # keep what an earlier load showed; never "loading…" forever
                unknown = Text("✗ not loaded – R tries again", style="dim")
                self.query_one("#pending", Static).update(unknown)
            return
        self.story = story
        self.query_one("#pending", Static).update(pending_table(story.pending))
        now = self.services.clock()
        self.query_one("#events", Static).update(events_table(story.events, now))

    def action_back(self) -> None:
        self.dismiss()
