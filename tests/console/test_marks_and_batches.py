"""Marks and batch decisions (issue 13.1): space, *, Esc; a and x on the marked set, once each."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI
from textual.widgets import Static

from client import AsyncCommandCenterClient
from console.outbox import EntryState, Outbox
from console.screens.batch_confirm import BatchApproveScreen, BatchRejectScreen
from console.screens.modals import TOO_FAST, NoticeScreen
from server_stub import DEMO_TENANT, StubState

from .conftest import ConsoleFactory, answer, asgi_client, wait_for
from .test_console_flows import loaded, notes, status_text, table
from .test_trust_at_the_keyboard import ALL_STATES, CompletionTransport


def row_line(app: Any, index: int) -> str:
    tasks = table(app)
    return tasks.render_line(index + 1 - round(tasks.scroll_y)).text


def marked_keys(app: Any) -> set[Any]:
    return set(app.services.inbox.marks)


async def test_space_marks_and_moves_down_star_marks_the_view_esc_clears_marks_first(
    make_console: ConsoleFactory,
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        first, second = table(app).rows[0].key, table(app).rows[1].key
        await pilot.press("space", "space")
        assert marked_keys(app) == {first, second}
        assert table(app).cursor_row == 2
        assert row_line(app, 0).startswith("✓") and row_line(app, 1).startswith("✓")
        assert not row_line(app, 2).startswith("✓")
        assert "✓ 2 marked" in status_text(app)
        await pilot.press("k", "space")  # space again unmarks
        assert marked_keys(app) == {first}
        # * marks what the filter shows, and only that.
        await pilot.press("slash", *"review", "enter")
        await wait_for(lambda: app.services.inbox.filter_text == "review", pilot.pause)
        shown = {row.key for row in table(app).rows}
        await pilot.press("asterisk")
        assert marked_keys(app) == shown | {first}
        # Esc: the marks first, then the filter.
        await pilot.press("escape")
        assert marked_keys(app) == set() and app.services.inbox.filter_text == "review"
        await pilot.press("escape")
        assert app.services.inbox.filter_text == ""


async def test_a_batch_approval_sends_each_task_once_after_one_confirmation(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        keys = [row.key for row in table(app).rows[:3]]
        await pilot.press("space", "space", "space", "a")
        screen = app.screen
        assert isinstance(screen, BatchApproveScreen)
        assert [row.key for row in screen.plan.rows] == keys
        await answer(pilot, "y")
        await wait_for(lambda: all(not stub_state.is_pending(*k) for k in keys), pilot.pause)
        await wait_for(lambda: any("3 applied" in n for n in notes(app)), pilot.pause)
        entries = outbox.entries(ALL_STATES)
        assert sorted(e.task_key for e in entries) == sorted(keys)  # one decision per task
        assert len({e.key for e in entries}) == 3  # each its own idempotency key
        assert all(e.state is EntryState.DONE for e in entries)
        assert all(stub_state.completion_of(*k)["approved"] is True for k in keys)  # type: ignore[index]
        assert marked_keys(app) == set()  # decided: the marks went with the tasks
        assert not any(k in app.services.inbox for k in keys)


async def test_a_then_y_in_one_burst_decides_nothing(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("asterisk", "a", "y", "y")  # typed ahead: never read
        assert isinstance(app.screen, BatchApproveScreen)
        assert TOO_FAST in str(app.screen.query_one("#guard").render())
        await pilot.press("escape")
        await pilot.press("x", "enter")  # the reject dialog in a burst too
        assert isinstance(app.screen, BatchRejectScreen)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert outbox.entries(ALL_STATES) == []
        assert stub_state.completed_count == 0


async def test_u_takes_back_the_whole_batch_in_its_window(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    app = make_console(undo_seconds=5.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        await pilot.press("space", "space", "space", "space", "a")
        await answer(pilot, "y")
        await wait_for(lambda: app.services.counts()["held"] == 4, pilot.pause)
        assert "⟳ batch 0/4" in status_text(app)
        await pilot.press("u")
        await wait_for(lambda: any("Undone: 4 approvals" in n for n in notes(app)), pilot.pause)
        assert {e.state for e in outbox.entries(ALL_STATES)} == {EntryState.UNDONE}
        await pilot.pause(0.3)
        assert stub_state.completed_count == 0
        assert len(marked_keys(app)) == 4  # nothing was decided: the marks stay


async def test_a_batch_rejection_sends_one_reason_to_each(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        keys = [row.key for row in table(app).rows[:2]]
        await pilot.press("space", "space", "x")
        assert isinstance(app.screen, BatchRejectScreen)
        await pilot.pause(0.5)
        await pilot.press(*"duplicate run", "enter")
        await wait_for(lambda: all(not stub_state.is_pending(*k) for k in keys), pilot.pause)
        for key in keys:
            completion = stub_state.completion_of(*key)
            assert completion is not None and completion["approved"] is False
            assert completion["reason"] == "duplicate run"


async def test_the_summary_counts_each_outcome_and_failures_stay_marked(
    make_console: ConsoleFactory,
    stub_app: FastAPI,
    stub_state: StubState,
    other_operator: AsyncCommandCenterClient,
) -> None:
    """One task completed by someone else after it was marked, one refused by the platform."""
    refused: list[str] = []

    def answer_for(request: httpx.Request, number: int) -> httpx.Response | None:
        if refused and refused[0] in request.url.path:
            body = {"error": "result.subject must be shorter", "code": "VALIDATION_ERROR"}
            return httpx.Response(422, json=body)
        return None

    transport = CompletionTransport(asgi_client(stub_app)._transport, answer=answer_for)
    http = httpx.AsyncClient(transport=transport, base_url="http://stub.test")
    app = make_console(http_client=http)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        rows = list(table(app).rows[:4])
        elsewhere, failing = rows[1].task.full(), rows[2]
        refused.append(f"/tasks/{failing.key[2]}/complete")
        await pilot.press("space", "space", "space", "space")
        await other_operator.complete_task(
            elsewhere.workflow_id, elsewhere.run_id, elsewhere.id, approved=False
        )
        await pilot.press("a")
        await answer(pilot, "y")
        summary = "2 applied · 1 completed elsewhere · 1 failed"
        await wait_for(lambda: any(summary in n for n in notes(app)), pilot.pause)
        assert marked_keys(app) == {failing.key}  # the failure stays marked, to act on again
        assert "✓ 1 marked" in status_text(app)
        assert stub_state.completion_of(*elsewhere.key)["approved"] is False  # type: ignore[index]
        assert stub_state.is_pending(*failing.key)


async def test_marked_tasks_that_cannot_be_decided_are_left_out_and_said(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    app = make_console(undo_seconds=30.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        held = table(app).rows[0]
        await pilot.press("a")
        await answer(pilot, "y")  # the first task: a single decision, held for 30 s
        await wait_for(lambda: held.key in app.services.unsettled, pilot.pause)
        second = table(app).rows[1].key
        await pilot.press("g", "space", "space", "a")
        screen = app.screen
        assert isinstance(screen, BatchApproveScreen)
        assert [row.key for row in screen.plan.rows] == [second]
        assert [row.key for row, _ in screen.plan.left_out] == [held.key]
        text = str(screen.query_one("#facts", Static).render())
        assert "Left out, still marked (1)" in text and "held in its undo window" in text


async def test_e_is_refused_with_marks_and_the_keys_typed_after_go_nowhere(
    make_console: ConsoleFactory, stub_state: StubState, outbox: Outbox
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("space", "e", *"ay", "x")  # e refused; the rest lands in the notice
        assert isinstance(app.screen, NoticeScreen)
        assert "a and x act on all of them" in app.screen.message
        await pilot.press("escape")
        assert outbox.entries(ALL_STATES) == []


async def test_marks_survive_refreshes_and_a_task_that_left_is_said(
    make_console: ConsoleFactory,
    stub_state: StubState,
    other_operator: AsyncCommandCenterClient,
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        kept, gone = table(app).rows[0], table(app).rows[1]
        await pilot.press("space", "space")
        task = gone.task.full()
        await other_operator.complete_task(task.workflow_id, task.run_id, task.id, approved=True)
        app.refresh_inbox()
        await wait_for(lambda: gone.key not in app.services.inbox, pilot.pause)
        await pilot.pause()
        assert marked_keys(app) == {kept.key}
        assert any("no longer pending, so no longer marked" in n for n in notes(app))


def test_the_batch_plan_and_its_request_bodies_are_what_the_dialog_says(
    stub_state: StubState,
) -> None:
    """The plan's reasons and counts, pure: drafts stay out of an approval, not a rejection."""
    from console.bulk import plan_batch
    from console.inbox_model import InboxModel
    from tests.listings import listed

    model = InboxModel()
    model.apply(listed(json.loads(stub_state.pending_body(DEMO_TENANT))["tasks"]))
    rows = list(model.rows())[:3]
    drafted = rows[1].key
    held = rows[2].key
    blocker = {held: "held in its undo window"}.get
    approve = plan_batch(rows, approved=True, blocker=blocker, suspects={held}, drafts={drafted})
    assert [r.key for r in approve.rows] == [rows[0].key]
    assert [r.key for r, _ in approve.left_out] == [drafted, held]
    assert "kept draft" in approve.left_out_lines()[0]
    assert "held" in approve.left_out_lines()[1]
    approve = plan_batch(rows, approved=True, blocker=blocker, suspects=(), drafts={drafted})
    assert [r.key for r in approve.rows] == [rows[0].key, rows[2].key]
    assert [r.key for r, _ in approve.left_out] == [drafted]
    assert "kept draft" in approve.left_out_lines()[0]
    reject = plan_batch(rows, approved=False, blocker=blocker, suspects=(), drafts={drafted})
    assert len(reject.rows) == 3 and not reject.left_out
    assert sum(n for _, n in reject.by_workflow()) == 3
