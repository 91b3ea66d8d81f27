"""Trust at the keyboard: what a fast or hurried operator types decides exactly what they meant.

Pilot-driven against the in-process stub. Every test asserts what reached the platform (the
stub's recorded completions), what the outbox and the audit log hold, the screen stack and the
words the operator was told – never only that no exception was raised.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from textual import events
from textual.screen import Screen
from textual.widgets import DataTable, Input, Label, Static

from client import AsyncCommandCenterClient, RetryPolicy, Task
from console._loop_transport import LoopTransport
from console._prefetch import polling_client
from console.app import CommandCenterApp
from console.audit import AuditLog
from console.decisions import MAX_ODD_ANSWERS
from console.launch import build_app
from console.outbox import EntryState, Outbox, Outcome
from console.screens.edit import EditScreen
from console.screens.inbox import FilterInput, InboxScreen
from console.screens.modals import (
    ARM_SECONDS,
    TOO_FAST,
    ConfirmApproveScreen,
    ConfirmScreen,
    NoticeScreen,
)
from console.screens.outbox import OutboxScreen
from console.services import ConsoleServices
from console.settings import ConsoleSettings
from console.widgets.task_table import TaskTable
from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    DEMO_VIEWER_TOKEN,
    StubState,
)

from .conftest import STUB_URL, ConsoleFactory, answer, asgi_client, wait_for
from .test_console_flows import FlakyTransport, loaded, notes, select, status_text, table

ALL_STATES = list(EntryState)
TYPED = "just ask jay"  # a reject reason typed for a box that never opened: j, u, s, a, y …

Answer = Callable[[httpx.Request, int], httpx.Response | None]


class CompletionTransport(httpx.AsyncBaseTransport):
    """The stub behind a hook on ``POST …/complete``: record, block, or answer it ourselves.

    ``answer(request, n)`` is asked about the n-th completion request (1-based) before it is
    forwarded; a response it returns is given instead. With ``forward_first`` the request
    reaches the stub (and is applied) before ``answer`` replaces the stub's answer.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        answer: Answer | None = None,
        forward_first: bool = False,
    ) -> None:
        self.inner = inner
        self.answer = answer
        self.forward_first = forward_first
        self.gate: asyncio.Event | None = None  # while set to an unset event, completions wait
        self.bodies: list[dict[str, Any]] = []
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network is unreachable", request=request)
        if request.method != "POST" or not request.url.path.endswith("/complete"):
            return await self.inner.handle_async_request(request)
        self.bodies.append(json.loads(request.content))
        if self.gate is not None:
            await self.gate.wait()
        number = len(self.bodies)
        if self.forward_first:
            forwarded = await self.inner.handle_async_request(request)
            await forwarded.aread()
        replaced = self.answer(request, number) if self.answer is not None else None
        if replaced is not None:
            return replaced
        return await self.inner.handle_async_request(request)


def told(app: CommandCenterApp) -> list[str]:
    """Every notification as "title: message", so a test can read both."""
    return [f"{n.title}: {n.message}" for n in app._notifications]


def record_pushes(app: CommandCenterApp) -> list[Screen[Any]]:
    """The screens pushed from now on, kept after they close (a burst opens and closes one)."""
    pushed: list[Screen[Any]] = []
    original = app.push_screen

    def push(screen: Any, *args: Any, **kwargs: Any) -> Any:
        pushed.append(screen)
        return original(screen, *args, **kwargs)

    app.push_screen = push  # type: ignore[method-assign]
    return pushed


def no_retries(app: CommandCenterApp) -> None:
    """One request per attempt: the outbox, not the client, decides about sending again."""
    app.services.client.retry_policy = RetryPolicy(max_retries=0)


def approved_with(task: Task, **changes: Any) -> dict[str, Any]:
    """The merged step result the stub records for an approval of ``task``."""
    return {**task.editable_values(), **changes, "approved": True}


def guard_text(app: CommandCenterApp) -> str:
    return str(app.screen.query_one("#guard", Label).content)


async def approve_now(app: CommandCenterApp, pilot: Any) -> None:
    """a, then y once the dialog is armed: a deliberate approval."""
    await pilot.press("a")
    assert isinstance(app.screen, ConfirmApproveScreen)
    await answer(pilot, "y")


# -- 1. the reported incident, at full speed ------------------------------------------------


async def test_reject_typed_at_full_speed_on_a_queued_decision_does_nothing_else(
    make_console: ConsoleFactory, stub_app: FastAPI, stub_state: StubState, outbox: Outbox
) -> None:
    """x is refused (queued) and the reason typed after it must not run as inbox keys."""
    flaky = FlakyTransport(httpx.ASGITransport(app=stub_app))
    app = make_console(http_client=httpx.AsyncClient(transport=flaky))
    no_retries(app)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        flaky.down = True
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        await wait_for(lambda: not app.services.in_flight, pilot.pause)
        await pilot.pause()
        assert app.services.unsettled[task.key].state is EntryState.QUEUED
        assert "⧗ 1 queued" in status_text(app)
        cursor = table(app).cursor_key

        pushed = record_pushes(app)
        await pilot.press("x", *TYPED, "enter")
        await pilot.pause()

        (notice,) = pushed
        assert isinstance(notice, NoticeScreen)
        assert "queued" in notice.message
        assert notice.swallowed == len(TYPED)
        assert isinstance(app.screen, InboxScreen) and len(app.screen_stack) == 2
        assert table(app).cursor_key == cursor  # j did not move the cursor
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.task_key == task.key and entry.approved

        flaky.down = False
        app.drain_outbox()
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        assert stub_state.completion_of(*task.key) == approved_with(task)
        assert stub_state.completed_count == 1
        assert len(outbox.entries(ALL_STATES)) == 1


async def test_reject_typed_at_full_speed_while_sending_does_nothing_else(
    make_console: ConsoleFactory, stub_app: FastAPI, stub_state: StubState, outbox: Outbox
) -> None:
    """x is refused because the approval is on the wire; the letters after it are dropped."""
    gated = CompletionTransport(httpx.ASGITransport(app=stub_app))
    gated.gate = asyncio.Event()
    app = make_console(http_client=httpx.AsyncClient(transport=gated))
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.in_flight, pilot.pause)
        await wait_for(lambda: len(gated.bodies) == 1, pilot.pause)
        cursor = table(app).cursor_key

        pushed = record_pushes(app)
        await pilot.press("x", *TYPED, "enter")
        await pilot.pause()

        (notice,) = pushed
        assert isinstance(notice, NoticeScreen)
        assert "being sent right now" in notice.message
        assert notice.swallowed == len(TYPED)
        assert isinstance(app.screen, InboxScreen) and len(app.screen_stack) == 2
        assert table(app).cursor_key == cursor
        assert len(outbox.entries(ALL_STATES)) == 1

        gated.gate.set()
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        assert stub_state.completion_of(*task.key) == approved_with(task)
        assert stub_state.completed_count == 1
        assert len(gated.bodies) == 1
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.state is EntryState.DONE and entry.outcome is Outcome.APPLIED


async def test_reject_typed_at_full_speed_on_a_held_decision_does_not_undo_it(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    """x is refused ("held … press u"); the u inside "just" must not take the approval back.

    A 3 s window (not 5 s) keeps the test short; the burst takes a fraction of it, even on a
    loaded CI machine.
    """
    app = make_console(undo_seconds=3.0)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        assert app.services.unsettled[task.key].state is EntryState.HELD
        cursor = table(app).cursor_key

        pushed = record_pushes(app)
        await pilot.press("x", *TYPED, "enter")
        await pilot.pause()

        (notice,) = pushed
        assert isinstance(notice, NoticeScreen)
        assert "held" in notice.message and "press u" in notice.message
        assert notice.swallowed == len(TYPED)
        assert isinstance(app.screen, InboxScreen) and len(app.screen_stack) == 2
        assert table(app).cursor_key == cursor
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.state is EntryState.HELD  # not undone by the u in "just"
        assert not any("Undone" in n for n in told(app))

        await wait_for(lambda: not outbox.entries(), pilot.pause)
        assert stub_state.completion_of(*task.key) == approved_with(task)
        assert stub_state.completed_count == 1
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.state is EntryState.DONE and entry.attempts == 1


# -- 2. type-ahead ---------------------------------------------------------------------------


async def test_a_then_y_in_one_burst_does_not_approve(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    """A y typed before the dialog could be read is refused in words; a later one counts."""
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: True)
        await pilot.press("a", "y")
        assert isinstance(app.screen, ConfirmApproveScreen)
        assert "Too fast" in guard_text(app) and guard_text(app) == TOO_FAST
        assert outbox.entries(ALL_STATES) == []

        await answer(pilot, "y")
        await wait_for(lambda: stub_state.completion_of(*task.key) is not None, pilot.pause)
        assert stub_state.completion_of(*task.key) == approved_with(task)
        assert isinstance(app.screen, InboxScreen)


async def test_a_dialog_slow_to_build_still_refuses_the_y_typed_ahead(
    make_console: ConsoleFactory, outbox: Outbox, monkeypatch: Any
) -> None:
    """The reading time starts when the question is on screen, not when it was made: a loaded
    machine that takes half a second to build the dialog must not let a typed-ahead y through."""
    import time

    build = ConfirmApproveScreen.compose

    def slow_compose(self: ConfirmApproveScreen) -> Any:
        time.sleep(ARM_SECONDS + 0.2)  # blocks the event loop, as a busy machine does
        return build(self)

    monkeypatch.setattr(ConfirmApproveScreen, "compose", slow_compose)
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        select(app, lambda t: True)
        await pilot.press("a", "y")
        assert isinstance(app.screen, ConfirmApproveScreen)
        assert guard_text(app) == TOO_FAST
        assert outbox.entries(ALL_STATES) == []


async def test_a_stray_key_then_y_in_one_burst_does_not_approve(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    """A stray key re-arms the dialog, so the y right after it is still too fast."""
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        select(app, lambda t: True)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmApproveScreen)
        await pilot.pause(0.5)  # armed by now …
        await pilot.press("j", "y")  # … but typing goes on: the y is part of a burst
        assert isinstance(app.screen, ConfirmApproveScreen)
        assert "Too fast" in guard_text(app)
        assert outbox.entries(ALL_STATES) == []
        assert stub_state.completed_count == 0


async def test_a_j_y_burst_from_the_inbox_does_not_approve(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    """The literal burst "a", "j", "y": nothing is approved, the dialog stays open."""
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        select(app, lambda t: True)
        await pilot.press("a", "j", "y")
        assert isinstance(app.screen, ConfirmApproveScreen)
        assert "Too fast" in guard_text(app)
        assert outbox.entries(ALL_STATES) == []
        assert stub_state.completed_count == 0


def burst(app: CommandCenterApp, keys: list[str]) -> None:
    """Keys as one read of a fast typist's burst: all queued before the first is handled."""
    named = {"/": ("slash", "/"), "escape": ("escape", "\x1b"), "enter": ("enter", "\r")}
    for key in keys:
        app.post_message(events.Key(*named.get(key, (key, key))))


async def test_a_filter_typed_in_one_burst_after_slash_is_all_filter(
    make_console: ConsoleFactory, outbox: Outbox
) -> None:
    """ "/review" at full speed: every character is filter text, none an inbox key (e opens the
    editor, a approves) – also when the box is still shown from an earlier filter."""
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        box = app.screen.query_one(FilterInput)
        burst(app, list("/review"))
        await pilot.pause()
        assert isinstance(app.screen, InboxScreen) and box.value == "review" and box.has_focus
        burst(app, ["escape", "j", *"/approve"])  # Esc leaves the box; j moves the cursor
        await pilot.pause()
        assert isinstance(app.screen, InboxScreen), app.screen
        assert box.value == "approve" and box.has_focus
        # Enter keeps the filter and hands the keys back to the rows: j moves the cursor.
        table = app.screen.query_one("#tasks", TaskTable)
        burst(app, ["escape", *"/review", "enter", "j"])
        await pilot.pause()
        assert isinstance(app.screen, InboxScreen) and box.value == "review"
        assert table.has_focus and table.cursor_row == 1
        assert outbox.entries(ALL_STATES) == []


# -- 3. the undo window ----------------------------------------------------------------------


async def test_a_wide_inbox_says_on_the_held_row_how_to_take_it_back(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    app = make_console(undo_seconds=30.0)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
        await pilot.press("v")  # the preview pane off: the table has the whole width
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        await pilot.pause()
        row = table(app).render_line(table(app).cursor_row + 1).text[2:]  # past the ✓ column
        assert re.match(r"↶ held (30|29)s · u undo ", row), row
        await pilot.press("u")
        await pilot.pause()
        assert stub_state.completion_of(*task.key) is None


async def test_u_takes_back_a_held_decision_which_is_never_sent(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox, audit: AuditLog
) -> None:
    """Held: marked ↶, counted, nothing sent; u undoes it for good (waited past the window)."""
    app = make_console(undo_seconds=3.0)  # room for the checks below, even under load
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        await pilot.pause()
        row = table(app).render_line(table(app).cursor_row + 1).text[2:]  # past the ✓ column
        assert row.startswith("↶"), row
        assert "↶ 1 held · u undo" in status_text(app)
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.state is EntryState.HELD
        assert stub_state.completion_of(*task.key) is None

        await pilot.press("u")
        await pilot.pause()
        assert any("Undone" in n for n in notes(app))
        assert outbox.get(entry.key).state is EntryState.UNDONE  # type: ignore[union-attr]

        await pilot.pause(3.3)  # past the window: the release timer must find nothing to send
        assert stub_state.completion_of(*task.key) is None
        assert stub_state.completed_count == 0
        assert outbox.get(entry.key).state is EntryState.UNDONE  # type: ignore[union-attr]
        assert outbox.get(entry.key).attempts == 0  # type: ignore[union-attr]
        assert [r["outcome"] for r in audit.read().records] == [str(Outcome.UNDONE)]
        assert "undone" in audit.read().records[0]["outcome"]
        assert task.key in app.services.inbox


async def test_without_u_the_held_decision_is_sent_once_after_the_window(
    make_console: ConsoleFactory,
    stub_app: FastAPI,
    stub_state: StubState,
    outbox: Outbox,
    audit: AuditLog,
) -> None:
    """The window ends on its own: one request, one completion, one audit line."""
    counting = CompletionTransport(httpx.ASGITransport(app=stub_app))
    app = make_console(undo_seconds=1.5, http_client=httpx.AsyncClient(transport=counting))
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        assert stub_state.completion_of(*task.key) is None
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        await pilot.pause(0.3)
        assert stub_state.completion_of(*task.key) == approved_with(task)
        assert len(counting.bodies) == 1
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.state is EntryState.DONE and entry.attempts == 1
        assert [r["outcome"] for r in audit.read().records] == ["applied"]


async def test_u_after_the_window_says_too_late(
    make_console: ConsoleFactory, stub_app: FastAPI, stub_state: StubState, outbox: Outbox
) -> None:
    """u pressed while the released decision is on the wire cannot undo it: "Too late"."""
    gated = CompletionTransport(httpx.ASGITransport(app=stub_app))
    gated.gate = asyncio.Event()
    app = make_console(undo_seconds=0.5, http_client=httpx.AsyncClient(transport=gated))
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.in_flight, pilot.pause)
        await pilot.press("u")
        await pilot.pause()
        gated.gate.set()
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        assert stub_state.completion_of(*task.key) == approved_with(task)
        assert any("Too late" in n for n in told(app)), told(app)


# -- 4. a held decision left by a crash ------------------------------------------------------


async def test_a_held_decision_left_by_a_crash_is_sent_at_start_and_said(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    """The console that held it is gone; the next one sends it and tells the operator."""
    raw = stub_state.list_pending(DEMO_TENANT, [DEMO_PROJECT])[0]
    task = Task.model_validate(raw)
    entry = outbox.submit(
        profile="default",
        base_url=STUB_URL,
        tenant=DEMO_TENANT,
        project=DEMO_PROJECT,
        task_key=task.key,
        title=task.title,
        approved=True,
        result=task.editable_values() or None,
        hold_seconds=60,
    )
    assert entry.state is EntryState.HELD
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: stub_state.completion_of(*task.key) is not None, pilot.pause)
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        assert stub_state.completion_of(*task.key) == approved_with(task)
        assert any(
            "undo window when the console last stopped" in n and "held" in n.lower()
            for n in told(app)
        ), told(app)
        assert outbox.get(entry.key).outcome is Outcome.APPLIED  # type: ignore[union-attr]


# -- 5. quitting -----------------------------------------------------------------------------


async def test_quit_with_a_queued_decision_asks_and_lists_it(
    make_console: ConsoleFactory, stub_app: FastAPI
) -> None:
    """q names the queued decision; n keeps the console, q + y quits."""
    flaky = FlakyTransport(httpx.ASGITransport(app=stub_app))
    app = make_console(http_client=httpx.AsyncClient(transport=flaky))
    no_retries(app)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        flaky.down = True
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        await wait_for(lambda: not app.services.in_flight, pilot.pause)

        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        assert any("queued" in str(line) for line in app.screen.lines)
        await pilot.press("n")
        assert app.is_running and isinstance(app.screen, InboxScreen)

        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await answer(pilot, "y")
        await wait_for(lambda: not app.is_running, asyncio.sleep)  # y quit, not the harness
    assert not app.is_running


async def test_quit_with_nothing_unsettled_exits_at_once(make_console: ConsoleFactory) -> None:
    """No question when nothing could be lost."""
    app = make_console()
    pushed = record_pushes(app)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        before = len(pushed)
        await pilot.press("q")
        assert not any(isinstance(s, ConfirmScreen) for s in pushed[before:])
    assert not app.is_running


# -- 6. a kept draft -------------------------------------------------------------------------


async def _keep_a_draft(app: CommandCenterApp, pilot: Any) -> Task:
    """e, change the subject, Esc: the draft is kept, not sent."""
    task = select(app, lambda t: "subject" in t.editable_values())
    await pilot.press("e")
    assert isinstance(app.screen, EditScreen)
    field = app.focused
    assert isinstance(field, Input)
    field.value = "Draft subject"
    await pilot.press("escape")
    assert isinstance(app.screen, InboxScreen)
    return task


def _modal_notes(app: CommandCenterApp) -> str:
    return " ".join(str(label.content) for label in app.screen.query(Label))


async def test_a_kept_draft_is_shown_and_y_sends_it_with_every_value(
    make_console: ConsoleFactory, stub_state: StubState, audit: AuditLog
) -> None:
    """The dialog names the changed field; y sends the edit and all other editable values."""
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(app, pilot)
        task = await _keep_a_draft(app, pilot)
        await pilot.press("a")
        screen = app.screen
        assert isinstance(screen, ConfirmApproveScreen) and screen.has_draft
        assert list(screen.plan.draft_changes) == ["subject"]
        assert "draft that changes subject" in _modal_notes(app)
        assert "Draft subject" in str(screen.query_one("#body", Static).content)
        await answer(pilot, "y")
        await wait_for(lambda: bool(audit.read().records), pilot.pause)
        assert stub_state.completion_of(*task.key) == approved_with(task, subject="Draft subject")
        (line,) = audit.read().records
        assert line["edits"] == {
            "subject": {"from": task.editable_values()["subject"], "to": "Draft subject"}
        }


async def test_w_sends_the_tasks_own_values_after_showing_the_draft(
    make_console: ConsoleFactory, stub_state: StubState, audit: AuditLog
) -> None:
    """w approves without the draft – never silently: the dialog showed the draft first."""
    app = make_console()
    pushed = record_pushes(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(app, pilot)
        task = await _keep_a_draft(app, pilot)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmApproveScreen)
        assert "draft that changes subject" in _modal_notes(app)
        assert "w without them" in _modal_notes(app)
        await answer(pilot, "w")
        await wait_for(lambda: bool(audit.read().records), pilot.pause)
        assert stub_state.completion_of(*task.key) == approved_with(task)
        (line,) = audit.read().records
        assert line["edits"] == {}
        shown = [s for s in pushed if isinstance(s, ConfirmApproveScreen)]
        assert len(shown) == 1 and shown[0].has_draft


# -- 7. the body rule ------------------------------------------------------------------------


async def test_approving_sends_every_editable_value_or_just_approved(
    make_console: ConsoleFactory, stub_app: FastAPI, stub_state: StubState
) -> None:
    """All editable values go in result; a task without any sends exactly {"approved": true}."""
    recording = CompletionTransport(httpx.ASGITransport(app=stub_app))
    app = make_console(http_client=httpx.AsyncClient(transport=recording))
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        rich = select(app, lambda t: len(t.editable_values()) > 1)
        await approve_now(app, pilot)
        await wait_for(lambda: stub_state.completion_of(*rich.key) is not None, pilot.pause)
        assert recording.bodies[0] == {"approved": True, "result": rich.editable_values()}
        assert stub_state.completion_of(*rich.key) == approved_with(rich)

        await wait_for(lambda: rich.key not in app.services.inbox, pilot.pause)
        await pilot.pause()
        bare = select(app, lambda t: not t.editable_values())
        await approve_now(app, pilot)
        await wait_for(lambda: stub_state.completion_of(*bare.key) is not None, pilot.pause)
        assert recording.bodies[1] == {"approved": True}
        assert stub_state.completion_of(*bare.key) == {"approved": True}


# -- 8. the outbox screen --------------------------------------------------------------------


async def test_outbox_screen_moves_asks_before_discarding_and_discards(
    make_console: ConsoleFactory, outbox: Outbox
) -> None:
    """Two refused decisions: j/k move, d asks, n keeps, d + y discards – and says so."""
    app = make_console(token=DEMO_VIEWER_TOKEN)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        first = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: first.key in app.services.unsettled, pilot.pause)
        await wait_for(lambda: not app.services.in_flight, pilot.pause)
        second = select(app, lambda t: t.key != first.key)
        await approve_now(app, pilot)
        await wait_for(lambda: second.key in app.services.unsettled, pilot.pause)
        await wait_for(lambda: not app.services.in_flight, pilot.pause)
        entries = outbox.entries()
        assert [e.state for e in entries] == [EntryState.FAILED, EntryState.FAILED]

        await pilot.press("O")
        assert isinstance(app.screen, OutboxScreen)
        grid = app.screen.query_one(DataTable)
        assert grid.row_count == 2 and grid.cursor_row == 0
        await pilot.press("j")
        assert grid.cursor_row == 1
        await pilot.press("k")
        assert grid.cursor_row == 0

        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, OutboxScreen)
        assert [e.state for e in outbox.entries()] == [EntryState.FAILED, EntryState.FAILED]

        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await answer(pilot, "y")
        await pilot.pause()
        assert isinstance(app.screen, OutboxScreen)
        assert outbox.get(entries[0].key).state is EntryState.DISCARDED  # type: ignore[union-attr]
        assert outbox.get(entries[1].key).state is EntryState.FAILED  # type: ignore[union-attr]
        assert app.screen.query_one(DataTable).row_count == 1
        from console.widgets.status_line import StatusLine

        head = str(app.screen.query_one("#outbox-head", StatusLine).head)
        # "not confirmed" is the truth; a discard must never read as confirmed.
        assert re.search(r"(?<!not )confirmed", head) is None, head
        assert "1 failed" in head
        assert any("Discarded" in n and "will not be sent" in n for n in notes(app))


# -- 9. counts -------------------------------------------------------------------------------


async def test_status_says_sending_not_queued_while_in_flight(
    make_console: ConsoleFactory, stub_app: FastAPI, outbox: Outbox
) -> None:
    """A decision on the wire is "⟳ sending", counted once, never also "⧗ queued"."""
    gated = CompletionTransport(httpx.ASGITransport(app=stub_app))
    gated.gate = asyncio.Event()
    app = make_console(http_client=httpx.AsyncClient(transport=gated))
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.in_flight, pilot.pause)
        await wait_for(lambda: len(gated.bodies) == 1, pilot.pause)
        await pilot.pause()
        counts = app.services.counts()
        assert counts["sending"] == 1 and counts["queued"] == 0
        line = status_text(app)
        assert "⟳ 1 sending" in line and "⧗ 1 queued" not in line, line
        gated.gate.set()
        await wait_for(lambda: not outbox.entries(), pilot.pause)


# -- 10. the audit line fails after an applied decision --------------------------------------


async def test_an_unwritable_audit_log_never_reads_as_not_sent(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox, audit: AuditLog
) -> None:
    """The decision was applied: say so, say the line is missing, write it once later.

    The audit path is a directory: unwritable as a file even for root.
    """
    audit.path.mkdir(parents=True)
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: stub_state.completion_of(*task.key) is not None, pilot.pause)
        await wait_for(lambda: any("audit line" in n for n in notes(app)), pilot.pause)
        said = " ".join(told(app))
        assert "Approved" in said and "audit line could not be written" in said
        assert "not sent" not in said.lower()
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.state is EntryState.DONE and entry.audited is False
        assert entry.outcome is Outcome.APPLIED

        audit.path.rmdir()
        assert app.services.decisions.flush_audit() is None
        assert app.services.decisions.flush_audit() is None  # nothing left: not written twice
        (line,) = audit.read().records
        assert line["idempotency_key"] == entry.key and line["outcome"] == "applied"
        assert outbox.get(entry.key).audited is True  # type: ignore[union-attr]


# -- 11. success is judged by the body -------------------------------------------------------


async def test_a_200_that_says_failed_is_not_an_approval(
    make_console: ConsoleFactory, stub_app: FastAPI, stub_state: StubState, outbox: Outbox
) -> None:
    """200 {"status": "failed"} (not forwarded: the stub never sees it) is told as not done."""
    refusing = CompletionTransport(
        httpx.ASGITransport(app=stub_app),
        answer=lambda request, n: httpx.Response(
            200, json={"status": "failed", "error": "quota exceeded"}, request=request
        ),
    )
    app = make_console(http_client=httpx.AsyncClient(transport=refusing))
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        await wait_for(lambda: not app.services.in_flight, pilot.pause)
        await pilot.pause()
        assert any("Not approved" in n and "quota exceeded" in n for n in told(app)), told(app)
        assert not any(n.startswith("Done") for n in told(app))
        assert task.key in app.services.inbox
        assert task.key in {r.key for r in table(app).rows}
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.state is EntryState.FAILED and entry.outcome is Outcome.NOT_COMPLETED
        assert len(refusing.bodies) == 1
        assert stub_state.completion_of(*task.key) is None


async def test_a_204_is_resent_a_bounded_number_of_times_then_fails(
    make_console: ConsoleFactory, stub_app: FastAPI, stub_state: StubState, outbox: Outbox
) -> None:
    """204 (the stub applied it first) is unconfirmed: queued, resent, then failed for good."""
    silent = CompletionTransport(
        httpx.ASGITransport(app=stub_app),
        answer=lambda request, n: httpx.Response(204, request=request),
        forward_first=True,
    )
    app = make_console(http_client=httpx.AsyncClient(transport=silent))
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: len(silent.bodies) == 1, pilot.pause)
        await wait_for(lambda: not app.services.in_flight, pilot.pause)
        (entry,) = outbox.entries(ALL_STATES)
        assert entry.state is EntryState.QUEUED and entry.odd_answers == 1

        for attempt in range(2, MAX_ODD_ANSWERS + 1):
            app.drain_outbox()
            await wait_for(
                lambda a=attempt: (
                    outbox.get(entry.key).attempts == a  # type: ignore[union-attr]
                    and not app.services.in_flight
                ),
                pilot.pause,
            )
            await pilot.pause()
        done = outbox.get(entry.key)
        assert done is not None
        assert done.state is EntryState.FAILED and done.outcome is Outcome.UNCONFIRMED
        assert done.attempts == MAX_ODD_ANSWERS == len(silent.bodies)

        app.drain_outbox()  # nothing queued any more: never resent forever
        await pilot.pause(0.2)
        assert len(silent.bodies) == MAX_ODD_ANSWERS
        assert stub_state.completion_of(*task.key) == approved_with(task)
        assert any(f"after {MAX_ODD_ANSWERS} undocumented answers" in n for n in notes(app))


# -- 12. evidence for a 409 after an ambiguous attempt ---------------------------------------


async def test_a_409_after_an_unapplied_503_is_someone_elses_by_the_events(
    make_console: ConsoleFactory,
    stub_app: FastAPI,
    stub_state: StubState,
    outbox: Outbox,
    audit: AuditLog,
    other_operator: AsyncCommandCenterClient,
) -> None:
    """Our 503 was never applied; the other operator rejected; the resend's 409 is theirs."""
    unavailable = CompletionTransport(
        httpx.ASGITransport(app=stub_app),
        answer=lambda request, n: (
            httpx.Response(503, json={"error": "unavailable"}, request=request) if n == 1 else None
        ),
    )
    app = make_console(http_client=httpx.AsyncClient(transport=unavailable))
    no_retries(app)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await approve_now(app, pilot)
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        await wait_for(lambda: not app.services.in_flight, pilot.pause)
        (entry,) = outbox.entries()
        assert entry.state is EntryState.QUEUED and entry.ambiguous
        assert stub_state.completion_of(*task.key) is None

        await other_operator.complete_task(*task.key, approved=False)
        app.drain_outbox()
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        await pilot.pause()
        (note,) = [n for n in notes(app) if "Someone else completed" in n]
        assert "(approved=false)" in note and "was not applied" in note
        done = outbox.get(entry.key)
        assert done is not None and done.outcome is Outcome.ELSEWHERE
        assert done.outcome is not Outcome.APPLIED_EARLIER
        assert [r["outcome"] for r in audit.read().records] == ["completed by someone else"]
        assert stub_state.completion_of(*task.key) == {"approved": False}
        assert len(unavailable.bodies) == 2


# -- 13. a damaged or unavailable outbox at start --------------------------------------------


def _settings(**overrides: Any) -> ConsoleSettings:
    return ConsoleSettings(
        base_url=STUB_URL,
        tenant=DEMO_TENANT,
        project=DEMO_PROJECT,
        cursor_blink=False,
        undo_seconds=0.0,
        **overrides,
    )


async def test_a_damaged_outbox_is_moved_aside_and_said_at_start(
    stub_app: FastAPI, tmp_path: Path
) -> None:
    """The operator learns where the damaged file went; the fresh outbox takes decisions."""
    path = tmp_path / "damaged" / "outbox.sqlite3"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(b"this is not an sqlite database \x00\xff" * 200)
    fresh = Outbox(path)
    assert fresh.recovery is not None
    app = build_app(
        _settings(),
        DEMO_CONTRIBUTOR_TOKEN,
        http_client=asgi_client(stub_app),
        outbox=fresh,
        audit=AuditLog(tmp_path / "damaged" / "audit.jsonl"),
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        said = [n for n in notes(app) if "was moved to" in n]
        assert said, notes(app)
        assert str(fresh.recovery.moved_to) in said[0] and ".damaged-" in said[0]
        assert fresh.recovery.moved_to.exists()
        assert app.services.decisions.outbox is fresh


async def test_without_an_outbox_the_inbox_reads_and_decisions_are_refused(
    stub_app: FastAPI, stub_state: StubState, tmp_path: Path
) -> None:
    """No outbox, no decisions: said at start, and a refuses in a dialog with the reason."""
    problem = "The outbox at /state/outbox.sqlite3 cannot be opened: read-only file system."
    settings = _settings()
    http = asgi_client(stub_app)
    client = AsyncCommandCenterClient(
        STUB_URL, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, http_client=http
    )
    services = ConsoleServices(
        settings,
        client,
        outbox=None,
        outbox_problem=problem,
        audit=AuditLog(tmp_path / "audit.jsonl"),
        poll_client=polling_client(
            settings, DEMO_CONTRIBUTOR_TOKEN, httpx.Client(transport=LoopTransport(http))
        ),
    )
    app = CommandCenterApp(services)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        assert app.services.inbox.total > 0
        assert any("Decisions are off" in n and "read-only" in n for n in notes(app)), notes(app)
        select(app, lambda t: True)
        await pilot.press("a")
        assert isinstance(app.screen, NoticeScreen)
        assert "read-only" in app.screen.message
        await pilot.press("escape")
        assert isinstance(app.screen, InboxScreen)
        await pilot.press("x")
        assert isinstance(app.screen, NoticeScreen)
        await pilot.press("escape")
        assert stub_state.completed_count == 0
        assert not (tmp_path / "audit.jsonl").exists()


# -- the cursor moves on ------------------------------------------------------------------------


def _detail_key(app: CommandCenterApp) -> Any:
    from console.screens.detail import DetailScreen

    screen = app.screen
    return screen.about_task() if isinstance(screen, DetailScreen) else None


async def test_a_decision_on_a_task_screen_opens_the_next_task_of_the_view(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    """a y, x reason Enter … works through the queue; a y typed at once on the next task is
    still refused until its dialog has been read."""
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        first, second, third = (row.task.key for row in list(table(app).rows)[:3])
        await pilot.press("enter")
        assert _detail_key(app) == first
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: _detail_key(app) == second, pilot.pause)
        await wait_for(lambda: stub_state.completion_of(*first) is not None, pilot.pause)
        await pilot.press("a", "y")  # the burst of a tired operator on the task just opened
        assert isinstance(app.screen, ConfirmApproveScreen) and guard_text(app) == TOO_FAST
        await pilot.press("escape")
        await pilot.press("x")
        await answer(pilot, *"no", "enter")
        await wait_for(lambda: _detail_key(app) == third, pilot.pause)
        await wait_for(lambda: stub_state.completion_of(*second) is not None, pilot.pause)
        assert stub_state.completion_of(*second)["approved"] is False
        assert stub_state.completion_of(*third) is None
        await pilot.press("escape")
        assert isinstance(app.screen, InboxScreen) and table(app).cursor_key == third


async def test_after_decision_inbox_goes_back_and_the_last_task_says_so(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    app = make_console(after_decision="inbox")
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        first = table(app).rows[0].task.key
        await pilot.press("enter", "a")
        await answer(pilot, "y")
        await wait_for(lambda: isinstance(app.screen, InboxScreen), pilot.pause)
        await wait_for(lambda: stub_state.completion_of(*first) is not None, pilot.pause)
        assert isinstance(app.screen, InboxScreen) and table(app).cursor_row == 0
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        last = table(app).rows[-1].task
        await pilot.press("slash", *f"{last.run_id} {last.id}", "enter")  # a view of one task
        assert [r.key for r in table(app).rows] == [last.key]
        await pilot.press("enter", "a")
        await answer(pilot, "y")
        await wait_for(lambda: isinstance(app.screen, InboxScreen), pilot.pause)
        assert any("No other task of this view" in note for note in told(app))
