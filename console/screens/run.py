"""One run: its status and failure, pending tasks, event timeline and context, live.

Live while open: the workflow's event stream (a WebSocket) where the platform offers it, so a
change shows within a second; polling at the inbox's rhythm otherwise. ``c`` controls the run.
"""

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
from textual.widgets import Collapsible, Static

from client import APIError, InvalidIdError, RunEvent, RunNames, Task

from ..error_text import describe_error
from ..inbox_model import format_age
from ..run_commands import status_look
from ..safe_text import LINE_MAX, clean, safe, safe_json
from ..services import RunStory
from ..widgets.key_bar import KeyBar
from ..widgets.status_line import StatusLine
from ._console_screen import ConsoleScreen

# A stream event refreshes the story this long after it (s): a burst of events is one load.
STREAM_SETTLE = 0.15

# Event types as words with a symbol, so the timeline reads without colour.
EVENT_SYMBOLS = {
    "run_started": "▶",
    "step_started": "→",
    "step_completed": "✓",
    "step_failed": "✗",
    "step_cancelled": "⊘",
    "state_changed": "◆",
    "run_rejected": "✗",
}
_STEP_ENDS = {"step_completed", "step_failed", "step_cancelled"}


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


def durations(events: list[RunEvent]) -> list[str]:
    """How long each step took, on the event that ended it (``step_completed``, ``…_failed``,
    ``…_cancelled``), from its ``step_started``; "" elsewhere."""
    started: dict[str, datetime] = {}
    took: list[str] = []
    for event in events:
        when, step = event.at, event.step_id
        text = ""
        if step and when is not None:
            if event.type == "step_started":
                started[step] = when
            elif event.type in _STEP_ENDS and step in started:
                text = format_age(when - started.pop(step))
        took.append(text)
    return took


def events_table(events: list[RunEvent], now: datetime) -> Table:
    """The run's events, oldest first; ``now`` decides which are today's (time only)."""
    ordered = in_time_order(events)
    times = [event_time(event.at, now) for event in ordered]
    took = durations(ordered)
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None)
    # Right-aligned: today's times stand under the time part of a dated one.
    width = max((len(t) for t in times), default=8)
    table.add_column("Time", no_wrap=True, width=max(8, width), justify="right")
    table.add_column("Event", no_wrap=True, max_width=18)
    table.add_column("Step", no_wrap=True, max_width=20, overflow="ellipsis")
    table.add_column("Took", no_wrap=True, width=4, justify="right")
    table.add_column("Data", overflow="fold", ratio=1)
    for event, when, duration in zip(ordered, times, took, strict=True):
        symbol = EVENT_SYMBOLS.get(event.type, "·")
        table.add_row(
            when,
            safe(f"{symbol} {event.type}", max_len=LINE_MAX, multiline=False),
            safe(event.step_id or "", max_len=LINE_MAX, multiline=False),
            duration,
            safe(clean(_event_data(event), max_len=2000)),
        )
    if not events:
        table.add_row("", Text("(no events)", style="dim"), "", "", "")
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


def latest_state(events: list[RunEvent], after: datetime | None) -> str | None:
    """The status the newest ``state_changed`` event moved the run to, if it is newer than
    ``after`` (the feed's last change): the stream is ahead of the feed."""
    for event in reversed(in_time_order(events)):
        if event.type == "state_changed" and event.data and isinstance(event.data.get("to"), str):
            if after is None or (event.at is not None and event.at > after):
                return str(event.data["to"])
            return None
    return None


def run_summary(
    run: RunNames | None, now: datetime, command: str | None, events: list[RunEvent] | None = None
) -> Text:
    """The status line of the run view's top: status in words, failure code and meaning, ages."""
    from client import failure_meaning

    if run is None:
        return Text("status not in the runs feed (yet)", style="dim")
    newer = latest_state(events or [], run.updated_at)
    symbol, word = status_look(newer or run.status)
    text = Text()
    text.append(f"{symbol} {word}", style="bold")
    if newer is not None:
        text.append(" (from the run's events; the runs feed still says ")
        text.append(f"{run.status})")
    if command:
        text.append(f" · {command}")
    if run.started_at is not None:
        text.append(f" · started {format_age(now - run.started_at)} ago")
    if run.updated_at is not None:
        text.append(f" · last change {format_age(now - run.updated_at)} ago")
    if run.failure_code:
        meaning = failure_meaning(run.failure_code)
        text.append("\n")
        text.append_text(safe(run.failure_code, max_len=60, multiline=False))
        if meaning:
            text.append(f" – {meaning}")
    if run.error:
        text.append("\n")
        text.append_text(safe(run.error, max_len=500))
    return text


class RunScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "control", "Control", id="run.control"),
        Binding("R", "reload", "Refresh", id="run.refresh"),
        Binding("escape,q", "back", "Back", id="run.back"),
    ]

    def __init__(self, workflow_id: str, run_id: str) -> None:
        super().__init__()
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.story: RunStory | None = None
        self.streaming = False  # the event stream is connected: no polling needed
        self._load_due = False

    def compose(self) -> ComposeResult:
        head = safe(
            f"Run {self.run_id} · workflow {self.workflow_id}", max_len=LINE_MAX, multiline=False
        )
        yield StatusLine(head, id="run-head")
        with VerticalScroll(id="run-body"):
            yield Static(id="run-status")
            yield Static(Text("", style="dim"), id="liveness")
            yield Static("Pending tasks", classes="section")
            yield Static(Text("loading…", style="dim"), id="pending")
            yield Static("Events", classes="section")
            yield Static(Text("loading…", style="dim"), id="events")
            yield Static("Context", classes="section")
            with Collapsible(title="Variables", collapsed=True, id="variables-box"):
                yield Static(Text("loading…", style="dim"), id="variables")
            with Collapsible(title="Step results", collapsed=True, id="steps-box"):
                yield Static(Text("loading…", style="dim"), id="steps")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#run-body").focus()
        self.show_badges()
        self._show_status()
        self.action_reload()
        self.follow()
        # Polling while no stream is connected: a run resuming after a decision stays current.
        self.set_interval(self.services.settings.refresh_active, self._poll)

    def _poll(self) -> None:
        if not self.streaming:
            self.load()

    @work(exclusive=True, group="run-stream")
    async def follow(self) -> None:
        """The workflow's event stream, for this run; on any failure, polling carries on."""
        liveness = self.query_one("#liveness", Static)
        every = self.services.settings.refresh_active
        liveness.update(
            Text(
                f"◌ polling every {every:g} s; the event stream is open, no event yet", style="dim"
            )
        )
        try:
            async for _event in self.services.client.stream_run_events(
                self.workflow_id, self.run_id
            ):
                if not self.streaming:
                    self.streaming = True
                    liveness.update(Text("● live: the platform's event stream", style="dim"))
                self._load_soon()
        except Exception as exc:
            reason = clean(str(exc), max_len=80, multiline=False) or type(exc).__name__
            liveness.update(
                Text(f"◌ polling every {every:g} s (no event stream: {reason})", style="dim")
            )
        else:
            liveness.update(Text(f"◌ polling every {every:g} s (the stream ended)", style="dim"))
        finally:
            self.streaming = False

    def _load_soon(self) -> None:
        if not self._load_due:
            self._load_due = True

            def load() -> None:
                self._load_due = False
                self.load()

            self.set_timer(STREAM_SETTLE, load)

    def runs_changed(self) -> None:
        self._show_status()

    def _run(self) -> RunNames | None:
        return self.services.runs.get((self.workflow_id, self.run_id))

    def _show_status(self) -> None:
        runs = self.services.runs
        key = (self.workflow_id, self.run_id)
        events = self.story.events if self.story is not None else None
        summary = run_summary(self._run(), self.services.clock(), runs.command_of(key), events)
        self.query_one("#run-status", Static).update(summary)

    def action_control(self) -> None:
        self.control_run(self._run())

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
        self._show_context(story)
        self._show_status()

    def _show_context(self, story: RunStory) -> None:
        context = story.context
        if context is None:
            why = Text(f"✗ {story.context_problem or 'not available'}", style="dim")
            self.query_one("#variables", Static).update(why)
            self.query_one("#steps", Static).update(why)
            return
        empty = Text("(none)", style="dim")
        variables, steps = context.variables, context.steps
        self.query_one("#variables", Static).update(safe_json(variables) if variables else empty)
        self.query_one("#steps", Static).update(safe_json(steps) if steps else empty)

    def action_back(self) -> None:
        self.dismiss()
