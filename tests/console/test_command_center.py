"""The whole Command Center at the keys (issue 14): sections, run control, the run view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from client import AsyncCommandCenterClient
from console.runs_model import Section
from console.screens.modals import TOO_FAST, ConfirmScreen, NoticeScreen
from console.screens.run import RunScreen
from console.screens.run_control import RunControlScreen
from console.widgets.run_table import RunTable
from server_stub import DEMO_PROJECT, DEMO_TENANT, StubState

from .conftest import ConsoleFactory, answer, wait_for
from .test_console_flows import loaded, notes, status_text


def runs_table(app: Any) -> RunTable:
    return app.screen.query_one(RunTable)


async def runs_loaded(app: Any, pilot: Any) -> None:
    await loaded(app, pilot)
    await wait_for(lambda: app.services.runs.loaded, pilot.pause)
    await pilot.pause()


def bar_text(app: Any) -> str:
    return str(app.screen.query_one("#sections").render())


def status_of(stub: StubState, workflow_id: str, run_id: str) -> str:
    (found,) = [r for r in stub.list_runs(DEMO_TENANT) if r["id"] == run_id]
    return str(found["status"])


def select_run(app: Any, status: str) -> Any:
    table = runs_table(app)
    row = next(r for r in table.rows if r.run.status == status)
    assert table.move_to_key(row.key)
    return row.run


async def test_the_four_sections_their_counts_and_the_badges(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        runs = app.services.runs
        counts = {s: runs.count(s) for s in Section if s is not Section.APPROVAL}
        assert all(counts.values())  # the demo has runs in every section
        assert f"2 Running now {counts[Section.RUNNING]}" in bar_text(app)
        assert f"● {app.services.inbox.total} pending · {counts[Section.DRAINING]} draining" in (
            status_text(app)
        )
        for key, section in (
            ("2", Section.RUNNING),
            ("3", Section.DRAINING),
            ("4", Section.FAILED),
        ):
            await pilot.press(key)
            assert app.screen.section is section
            rows = list(runs_table(app).rows)
            assert len(rows) == counts[section]
            assert f"▸{section.value}" in bar_text(app)
        assert {r.run.state.value for r in runs_table(app).rows} <= {"failed", "stopped"}
        await pilot.press("tab")  # wraps to the tasks
        assert app.screen.section is Section.APPROVAL
        await pilot.press("shift+tab")
        assert app.screen.section is Section.FAILED
        await pilot.press("slash", *"mcp", "enter")
        await wait_for(lambda: len(runs_table(app).rows) == 1, pilot.pause)
        assert runs_table(app).rows[0].run.failure_code == "MCP_TOOL_FAILED"
        line = runs_table(app).render_line(1).text
        assert "MCP_TOOL_FAILED – An MCP tool returned an error." in line


async def test_pause_from_the_keyboard_is_confirmed_shown_and_audited(
    make_console: ConsoleFactory, stub_state: StubState, tmp_path: Path
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        app.services.paused = True
        await pilot.press("2")
        run = select_run(app, "running")
        await pilot.press("c")
        menu = app.screen
        assert isinstance(menu, RunControlScreen)
        assert set(menu.options) == {"p", "g", "i"}  # no resume for a running run
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)
        text = " ".join(str(line) for line in app.screen.lines)
        assert run.id in text and "no new steps start until the run is resumed" in text
        await answer(pilot, "y")
        await wait_for(
            lambda: status_of(stub_state, run.workflow_id, run.id) == "paused", pilot.pause
        )
        await wait_for(lambda: any("paused now" in n for n in notes(app)), pilot.pause)
        line = json.loads((tmp_path / "state" / "audit.jsonl").read_text().splitlines()[-1])
        assert line["kind"] == "run_command" and line["command"] == "pause"
        assert line["run_id"] == run.id and line["outcome"] == "applied"


async def test_c_i_y_in_one_burst_stops_nothing(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        await pilot.press("2")
        run = select_run(app, "running")
        await pilot.press("c", "i", "y", "y")
        assert isinstance(app.screen, ConfirmScreen)
        assert TOO_FAST in str(app.screen.query_one("#guard").render())
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert status_of(stub_state, run.workflow_id, run.id) == "running"


async def test_a_conflict_is_explained_from_the_runs_status(
    make_console: ConsoleFactory, stub_state: StubState, other_operator: AsyncCommandCenterClient
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        app.services.paused = True
        await pilot.press("2")
        run = select_run(app, "running")
        await other_operator.stop_run(run.workflow_id, run.id, mode="immediate")  # elsewhere
        await pilot.press("c", "p")
        await answer(pilot, "y")
        await wait_for(lambda: any("already stopped" in n for n in notes(app)), pilot.pause)
        assert not any("paused now" in n for n in notes(app))


async def test_decisions_are_refused_in_a_runs_section_and_the_keys_after_go_nowhere(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        from console.widgets.key_bar import KeyBar

        assert "Approve" in str(app.screen.query_one(KeyBar).render())
        await pilot.press("2")
        keys = str(app.screen.query_one(KeyBar).render())
        assert "Control" in keys and "Approve" not in keys and "Mark" not in keys
        await pilot.press("a", "y", "x")  # not shown, but still answered: in words
        assert isinstance(app.screen, NoticeScreen)
        assert "Decisions are made on tasks" in app.screen.message
        await pilot.press("escape")
        assert stub_state.completed_count == 0


async def test_a_finished_run_offers_nothing_and_says_why(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        await pilot.press("4")
        select_run(app, "failed")
        await pilot.press("c")
        assert isinstance(app.screen, NoticeScreen)
        assert "failed runs do not resume" in app.screen.message


async def test_the_run_view_shows_status_failure_timeline_and_context(
    make_console: ConsoleFactory,
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        await pilot.press("4")
        run = select_run(app, "failed")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_for(lambda: screen.story is not None, pilot.pause)
        await pilot.pause()
        head = str(screen.query_one("#run-status").render())
        assert "✗ failed" in head and str(run.failure_code) in head
        assert screen.story is not None and screen.story.context is not None
        liveness = str(screen.query_one("#liveness").render())
        assert "polling" in liveness  # in-process: no socket, so polling says so


@pytest.mark.e2e
async def test_the_run_view_is_live_over_the_event_stream(
    make_console: ConsoleFactory, live_stub: Any
) -> None:
    """Real loopback HTTP: the stream carries another operator's pause in well under a poll."""
    app = make_console(base_url=live_stub.url, network=True, refresh_active=30.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        await pilot.press("2")
        run = select_run(app, "running")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_for(lambda: screen.story is not None, pilot.pause)
        seen = len(screen.story.events)  # type: ignore[union-attr]
        live_stub.state.command(
            run.workflow_id, "pause", run.id, tenant=DEMO_TENANT, project=DEMO_PROJECT
        )
        await wait_for(
            lambda: screen.story is not None and len(screen.story.events) > seen,
            pilot.pause,
            within=3.0,  # the poll is every 30 s here: only the stream can be this quick
        )
        assert screen.streaming
        assert "⏸ paused" in str(screen.query_one("#run-status").render())


async def test_marks_do_not_reach_a_runs_section(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    """Tasks marked in section 1 stay marked, but a and x in a runs section decide nothing."""
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        await pilot.press("space", "space", "2", "a")
        assert isinstance(app.screen, NoticeScreen)
        await pilot.press("escape", "x")
        assert isinstance(app.screen, NoticeScreen)
        await pilot.press("escape")
        assert app.services.inbox.marked_count == 2 and stub_state.completed_count == 0


async def test_every_screen_carries_the_badges(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(120, 40)) as pilot:
        await runs_loaded(app, pilot)
        await pilot.press("enter")  # a task's detail screen
        await pilot.pause()
        from console.widgets.status_line import StatusLine

        line = app.screen.query_one(StatusLine)
        assert line.badges.startswith(f"● {app.services.inbox.total} pending")
        assert "draining" in line.badges  # the demo has a run draining
