"""Every key path of the console, driven by Pilot against the stub in-process."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from rich.console import Console
from textual import events
from textual.widgets import Input, Static, TextArea

from client import AsyncCommandCenterClient, Task
from console.app import CommandCenterApp
from console.screens.detail import DetailScreen
from console.screens.edit import EditScreen, ReviewScreen
from console.screens.inbox import InboxScreen
from console.screens.modals import ConfirmApproveScreen, NoticeScreen, RejectScreen
from console.screens.run import RunScreen
from console.widgets.task_table import TaskTable
from server_stub import DEMO_VIEWER_TOKEN

from .conftest import ConsoleFactory, answer, wait_for


def table(app: CommandCenterApp) -> TaskTable:
    return app.screen.query_one("#tasks", TaskTable)


def status_text(app: CommandCenterApp) -> str:
    return str(app.screen.query_one("#status", Static).content)


def plain(renderable: Any) -> str:
    console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def notes(app: CommandCenterApp) -> list[str]:
    return [n.message for n in app._notifications]


async def loaded(app: CommandCenterApp, pilot: Any) -> None:
    await wait_for(lambda: app.services.last_refresh is not None, pilot.pause)
    await pilot.pause()


def select(app: CommandCenterApp, predicate: Any) -> Task:
    rows = table(app).rows
    row = next(r for r in rows if predicate(r.task.full()))
    assert table(app).move_to_key(row.key)
    return row.task.full()


async def human_result(client: AsyncCommandCenterClient, task: Task) -> dict[str, Any] | None:
    events = await client.list_run_events(task.workflow_id, task.run_id)
    for event in events:
        if event.type == "step_completed" and event.step_id == (task.step_id or task.id):
            assert event.data is not None
            result: dict[str, Any] = event.data["result"]
            return result
    return None


async def test_inbox_lists_tasks_oldest_first_with_stalled_marks(
    make_console: ConsoleFactory,
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(app, pilot)
        rows = table(app).rows
        assert len(rows) == app.services.inbox.total >= 10
        ages = [r.task.created_at for r in rows]
        assert ages == sorted(ages)  # oldest first
        line = status_text(app)
        assert f"{len(rows)}/{len(rows)} tasks" in line and "● live" in line
        assert "⚠" in line and "stalled" in line


async def test_approve_confirm_and_cancel(
    make_console: ConsoleFactory, other_operator: AsyncCommandCenterClient
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: True)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmApproveScreen)
        await pilot.press("n")  # cancel: nothing sent
        assert isinstance(app.screen, InboxScreen)
        await pilot.press("a", "enter")  # Enter hits the focused, safe Cancel button
        assert isinstance(app.screen, InboxScreen)
        assert task.key in app.services.inbox
        assert await human_result(other_operator, task) is None

        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: task.key not in app.services.inbox, pilot.pause)
        assert await human_result(other_operator, task) == {"approved": True}
        assert any("Approved" in n for n in notes(app))
        assert task.key not in {r.key for r in table(app).rows}


async def test_reject_with_reason(
    make_console: ConsoleFactory, other_operator: AsyncCommandCenterClient
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: True)
        await pilot.press("x")
        assert isinstance(app.screen, RejectScreen)
        await pilot.press(*"wrong customer", "enter")
        await wait_for(lambda: task.key not in app.services.inbox, pilot.pause)
        assert await human_result(other_operator, task) == {
            "approved": False,
            "reason": "wrong customer",
        }


async def test_edit_review_diff_and_approve_sends_all_editable_values(
    make_console: ConsoleFactory, other_operator: AsyncCommandCenterClient
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 40)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: "body" in t.editable_values())
        original = task.editable_values()
        await pilot.press("e")
        assert isinstance(app.screen, EditScreen)
        # Focus starts on the first editable field; Tab to the body's text area.
        for _ in range(10):
            if isinstance(app.focused, TextArea):
                break
            await pilot.press("tab")
        area = app.focused
        assert isinstance(area, TextArea)
        area.text = area.text + "\nP.S. Your refund is on its way."
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ReviewScreen)
        diff = plain(app.screen.query_one("#diff", Static).content)
        assert "+P.S. Your refund is on its way." in diff
        assert "~ " in diff  # the changed field is named with a symbol, not colour alone
        await pilot.press("escape")  # back to editing, draft intact
        assert isinstance(app.screen, EditScreen)
        await pilot.press("ctrl+s")
        await answer(pilot, "y")
        await wait_for(lambda: task.key not in app.services.inbox, pilot.pause)
        expected = dict(original)
        expected["body"] = original["body"] + "\nP.S. Your refund is on its way."
        assert await human_result(other_operator, task) == {"approved": True, **expected}
        assert isinstance(app.screen, InboxScreen)


async def test_esc_leaves_the_form_keeping_the_draft(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(100, 40)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: "subject" in t.editable_values())
        await pilot.press("e")
        first = app.focused
        assert isinstance(first, Input)
        first.value = "Draft subject"
        await pilot.press("escape")
        assert isinstance(app.screen, InboxScreen)
        assert app.services.drafts[task.key]["subject"] == "Draft subject"
        await pilot.press("e")
        assert isinstance(app.focused, Input) and app.focused.value == "Draft subject"


async def test_filter_keeps_on_enter_and_clears_on_escape(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        total = len(table(app).rows)
        target = table(app).rows[-1].task
        word = target.workflow_label.split()[0]
        await pilot.press("slash", *word)
        shown = table(app).rows
        assert 0 < len(shown) < total
        assert all(word.casefold() in r.search_text for r in shown)
        await pilot.press("enter")
        assert isinstance(app.focused, TaskTable) and len(table(app).rows) == len(shown)
        assert f"{len(shown)}/{total} tasks" in status_text(app)
        await pilot.press("escape")
        assert len(table(app).rows) == total


async def test_the_filter_finds_words_of_the_payload_typed_at_full_speed(
    make_console: ConsoleFactory,
) -> None:
    """A repository named only in a field value, a word only in a description: both found."""
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        tasks = [r.task.full() for r in table(app).rows]
        for word in ("acme/api", "drafted"):
            expected = {
                t.key
                for t in tasks
                if any(
                    word in str(text).casefold()
                    for text in (t.description, *(f.value for f in t.fields))
                )
            }
            assert expected and all(
                word not in t.title.casefold() for t in tasks if t.key in expected
            )
            await pilot.press("slash", *word)
            await wait_for(lambda w=word: app.services.inbox.filter_text == w, pilot.pause)
            assert {r.key for r in table(app).rows} == expected
            await pilot.press("escape")


async def test_sort_cycles_and_workflow_keys_restrict(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("s")
        created = [r.created for r in table(app).rows]
        assert created == sorted(created, reverse=True) and "sort: newest" in status_text(app)
        await pilot.press("s")
        labels = [r.task.workflow_label.casefold() for r in table(app).rows]
        assert labels == sorted(labels) and "sort: workflow" in status_text(app)
        await pilot.press("s")
        kinds = [(r.task.task_type or "").casefold() for r in table(app).rows]
        assert kinds == sorted(kinds)
        first = app.services.inbox.workflows()[0]
        app.screen.restrict_to(1)  # the palette's "Show only workflow: …"
        await wait_for(lambda: app.services.inbox.workflow == first.workflow_id, pilot.pause)
        assert {r.task.workflow_id for r in table(app).rows} == {first.workflow_id}
        await pilot.press("escape")  # Esc lifts the restriction
        assert len(table(app).rows) == app.services.inbox.total


async def test_task_completed_elsewhere_leaves_and_open_detail_says_so(
    make_console: ConsoleFactory, other_operator: AsyncCommandCenterClient
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: True)
        other = table(app).rows[-1].task
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await other_operator.complete_task(*task.key, approved=True)
        await other_operator.complete_task(*other.key, approved=False)
        app.refresh_inbox()
        await wait_for(lambda: task.key not in app.services.inbox, pilot.pause)
        await pilot.pause()
        assert app.screen.gone  # type: ignore[attr-defined]
        assert any("completed elsewhere" in n for n in notes(app))
        await pilot.press("a")  # nothing to approve any more: said in a dialog
        assert isinstance(app.screen, NoticeScreen)
        assert "no longer pending" in app.screen.message
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape")
        keys = {r.key for r in table(app).rows}
        assert task.key not in keys and other.key not in keys


async def test_conflict_when_someone_else_completed_first(
    make_console: ConsoleFactory, other_operator: AsyncCommandCenterClient
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True  # no refresh may hide the race
        task = select(app, lambda t: True)
        await other_operator.complete_task(*task.key, approved=False)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: any("Someone else" in n for n in notes(app)), pilot.pause)
        # The run's events say what the other operator decided; ours was not applied.
        (note,) = [n for n in notes(app) if "Someone else" in n]
        assert "(approved=false)" in note and "was not applied" in note
        assert task.key not in app.services.inbox


async def test_viewer_token_is_told_which_role_and_scope_are_missing(
    make_console: ConsoleFactory,
) -> None:
    app = make_console(token=DEMO_VIEWER_TOKEN)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: True)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: any("403" in n for n in notes(app)), pilot.pause)
        text = " ".join(notes(app))
        assert "project_contributor" in text and "workflow:run" in text
        assert task.key in app.services.inbox


async def test_unknown_token_shows_401_sentence_in_status(make_console: ConsoleFactory) -> None:
    app = make_console(token="pat_not_a_real_token")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.services.connection.failures > 0, pilot.pause)
        assert "401" in (app.services.connection.last_error or "")
        assert "retrying in" in status_text(app)
        assert "pat_not_a_real_token" not in status_text(app)


class FlakyTransport(httpx.AsyncBaseTransport):
    """Loses the network on demand, in front of the real in-process stub."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network is unreachable", request=request)
        return await self.inner.handle_async_request(request)


async def test_offline_then_recovery(make_console: ConsoleFactory, stub_app: Any) -> None:
    flaky = FlakyTransport(httpx.ASGITransport(app=stub_app))
    app = make_console(http_client=httpx.AsyncClient(transport=flaky))
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        before = len(table(app).rows)
        flaky.down = True
        for expected in ("retrying in", "retrying in", "offline since"):
            failures = app.services.connection.failures
            app.refresh_inbox()
            await wait_for(lambda f=failures: app.services.connection.failures > f, pilot.pause)
            await pilot.pause()
            assert expected in status_text(app)
        assert len(table(app).rows) == before  # the last good inbox stays on screen
        flaky.down = False
        app.refresh_inbox()
        await wait_for(lambda: app.services.connection.failures == 0, pilot.pause)
        await pilot.pause()
        assert "● live" in status_text(app)


async def test_keys_back_and_quit(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("J")
        assert app.screen.query_one("#raw-json").display
        await pilot.press("o")
        assert isinstance(app.screen, RunScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("q")  # q goes back on inner screens
        assert isinstance(app.screen, InboxScreen)
        await pilot.press("escape", "escape")  # Esc never quits
        assert app.is_running
        await pilot.press("question_mark")
        help_text = plain(app.screen.query_one(Static).content)
        assert "Approve" in help_text and "Filter" in help_text and "⚠ stalled" in help_text
        await pilot.press("escape")
        await pilot.press("q")
    assert not app.is_running


async def test_run_view_shows_the_edited_value_reaching_the_next_step(
    make_console: ConsoleFactory,
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: "body" in t.editable_values())
        await pilot.press("e")
        app.screen.query_one(TextArea).text = "Edited body for the run view"
        await pilot.press("ctrl+s")
        await answer(pilot, "y")
        await wait_for(lambda: task.key not in app.services.inbox, pilot.pause)
        select(app, lambda t: True)
        app.push_screen(RunScreen(task.workflow_id, task.run_id))
        await wait_for(lambda: app.screen.story is not None, pilot.pause)  # type: ignore[attr-defined]
        story = app.screen.story  # type: ignore[attr-defined]
        downstream = [e for e in story.events if e.step_id != (task.step_id or task.id)]
        assert any("Edited body for the run view" in str(e.data) for e in downstream)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_table_uses_the_width(make_console: ConsoleFactory, size: tuple[int, int]) -> None:
    app = make_console()
    async with app.run_test(size=size) as pilot:
        await loaded(app, pilot)
        header = table(app).render_line(0).text
        assert "Title" in header and "Run" in header
        assert ("Status" in header) is (size[0] >= 110)


async def test_the_header_says_where_the_cursor_is_and_the_wheel_scrolls(
    make_console: ConsoleFactory, stub_state: Any
) -> None:
    """No scrollbar: the header's right end is the position, which follows keys and filters."""
    from server_stub import generate_tasks

    generate_tasks(stub_state, 60, seed=3)
    app = make_console()
    async with app.run_test(size=(100, 20)) as pilot:
        await loaded(app, pilot)
        total = len(table(app).rows)
        assert table(app).render_line(0).text.rstrip().endswith(f"1 of {total}")
        await pilot.press("j", "j")
        assert table(app).render_line(0).text.rstrip().endswith(f"3 of {total}")
        await pilot.press("G")
        assert table(app).render_line(0).text.rstrip().endswith(f"{total} of {total}")
        assert table(app).scroll_y > 0 and not table(app).show_vertical_scrollbar
        await pilot.press("g")
        wheel = events.MouseScrollDown(table(app), 5, 5, 0, 1, 0, False, False, False)
        table(app).post_message(wheel)  # the wheel moves the rows, not the cursor
        await pilot.pause()
        assert table(app).scroll_y > 0 and table(app).cursor_row == 0
        word = table(app).rows[0].task.workflow_label.split()[0]
        await pilot.press("slash", *word)
        shown = len(table(app).rows)
        assert table(app).render_line(0).text.rstrip().endswith(f" of {shown}")


async def test_the_key_bar_shows_whole_keys_and_a_click_runs_one(
    make_console: ConsoleFactory,
) -> None:
    from console.screens.inbox import FilterInput
    from console.widgets.key_bar import KeyBar

    app = make_console()
    async with app.run_test(size=(60, 20)) as pilot:
        await loaded(app, pilot)
        bar = app.screen.query_one(KeyBar)
        text = bar.render().plain
        assert text.startswith("a Approve") and text.rstrip().endswith("^p palette")
        assert len(text) == 60 and "Quit" not in text  # no room: dropped whole, not cut
        assert text.count(" ") >= 2 and "Appr…" not in text
        filter_at = text.index("/ Filter")
        await pilot.click(KeyBar, offset=(filter_at + 2, 0))
        assert app.screen.query_one(FilterInput).has_focus


async def test_new_tasks_do_not_move_the_cursor_off_its_task(
    make_console: ConsoleFactory, stub_state: Any
) -> None:
    from server_stub import generate_tasks

    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("j", "j", "j")
        key = table(app).cursor_key
        index = table(app).cursor_row
        generate_tasks(stub_state, 20, seed=7)  # ages up to a week: many land above the cursor
        app.refresh_inbox()
        await wait_for(lambda: app.services.inbox.total > 20, pilot.pause)
        await pilot.pause()
        assert table(app).cursor_key == key
        assert table(app).cursor_row != index  # rows moved; the cursor followed its task


async def test_keymap_from_settings_remaps_a_binding(make_console: ConsoleFactory) -> None:
    app = make_console(keymap={"task.approve": "A"})
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("a")
        assert isinstance(app.screen, InboxScreen)  # the old key no longer approves
        await pilot.press("A")
        assert isinstance(app.screen, ConfirmApproveScreen)


def _palette_hits(app: CommandCenterApp) -> int:
    from textual.command import CommandList

    lists = app.screen.query(CommandList)
    return lists.first().option_count if lists else 0


async def test_command_palette_reaches_actions_and_workflows(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("ctrl+p", *"Reject")
        await wait_for(lambda: _palette_hits(app) > 0, pilot.pause)
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, RejectScreen), pilot.pause)
        await pilot.press("escape")
        workflow = app.services.inbox.workflows()[-1]
        await pilot.press("ctrl+p", *"Show only workflow")
        await pilot.pause(0.3)
        await pilot.press(*workflow.label[:12])
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(lambda: app.services.inbox.workflow == workflow.workflow_id, pilot.pause)
        assert {r.task.workflow_id for r in table(app).rows} == {workflow.workflow_id}


async def test_a_hanging_server_times_out_into_retrying_and_the_ui_answers(
    make_console: ConsoleFactory, stub_state: Any
) -> None:
    from server_stub import FaultInjector, StubServer

    faults = FaultInjector(0.0, latency_ms=0)
    with StubServer(stub_state, faults=faults) as server:
        app = make_console(
            base_url=server.url, http_client=httpx.AsyncClient(), request_timeout=0.3
        )
        async with app.run_test(size=(100, 30)) as pilot:
            await loaded(app, pilot)
            faults.latency_ms = 3000  # the server now hangs well past the timeout
            app.refresh_inbox()
            await pilot.press("j")  # keys are answered while the poll waits
            assert table(app).cursor_row == 1
            await wait_for(lambda: app.services.connection.failures > 0, pilot.pause)
            await pilot.pause()
            assert "retrying in" in status_text(app)
            assert "answering too slowly" in (app.services.connection.last_error or "")
            faults.latency_ms = 0
