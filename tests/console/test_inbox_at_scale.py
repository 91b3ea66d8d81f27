"""The inbox at tens of thousands of tasks: prefetch, threaded filter, no-op refresh, ticks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from textual.widgets import Input

from console.inbox_model import InboxModel, SortKey
from console.screens import inbox as inbox_screen
from console.widgets.task_table import TaskTable
from server_stub import (
    DEMO_TENANT,
    StubServer,
    StubState,
    create_app,
    generate_tasks,
)
from tests.listings import listed

from .conftest import ConsoleFactory, asgi_client, wait_for
from .test_console_flows import loaded, status_text, table

# The threshold of a view worked out in a thread, lowered here so that a test inbox reaches it.
INLINE_ROWS = 20_000
MANY = INLINE_ROWS + 5_000  # enough that a first keystroke's scan goes to a thread


@pytest.fixture(autouse=True)
def threaded_views(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox_screen, "VIEW_INLINE_ROWS", INLINE_ROWS)


@pytest.fixture(scope="module")
def many_state() -> StubState:
    state = StubState()
    generate_tasks(state, MANY, seed=7)
    return state


@pytest.fixture
def many_app(many_state: StubState) -> FastAPI:
    return create_app(many_state)


@pytest.fixture
def live_many(many_state: StubState) -> Iterator[StubServer]:
    with StubServer(many_state) as server:
        yield server


async def test_the_first_refresh_uses_the_prefetched_listing(
    live_stub: StubServer, make_console: ConsoleFactory
) -> None:
    # The prefetch is the poll client's first request; the console goes on with that client.
    app = make_console(base_url=live_stub.url, network=True, prefetch=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        assert app.services.inbox.total == live_stub.state.pending_count == 12
        assert app.services.prefetch is None  # used once
        task = table(app).rows[0].task
        live_stub.state.complete(*task.key, approved=True, tenant=DEMO_TENANT)
        await pilot.press("R")  # the next refresh: the same client, its own request
        await wait_for(lambda: app.services.inbox.total == 11, pilot.pause)


async def test_a_failed_prefetch_is_reported_like_a_failed_refresh(
    live_stub: StubServer, make_console: ConsoleFactory
) -> None:
    app = make_console(base_url=live_stub.url, token="pat_not_a_real_token", prefetch=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.services.connection.failures == 1, pilot.pause)
        await pilot.pause()
        assert "retrying in" in status_text(app)
        assert "token" in (app.services.connection.last_error or "").lower()
        assert "pat_not_a_real_token" not in status_text(app)


async def test_filtering_a_big_inbox_in_a_thread_ends_on_the_last_keystroke(
    make_console: ConsoleFactory, many_app: FastAPI, many_state: StubState
) -> None:
    app = make_console(http_client=asgi_client(many_app))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.services.inbox.total == MANY, pilot.pause, within=60)
        inbox = app.services.inbox
        assert (
            inbox.view_cost(inbox.request(text="e")) > inbox_screen.VIEW_INLINE_ROWS
        )  # to a thread
        await pilot.press("slash")
        for key in "email":  # keystrokes faster than the scans: older ones are cancelled
            await pilot.press(key)
        await wait_for(lambda: inbox.filter_text == "email", pilot.pause, within=30)
        await pilot.pause()
        expected = InboxModel()
        expected.apply(listed(many_state.list_pending(DEMO_TENANT)))
        expected.filter_text = "email"
        assert [r.key for r in table(app).rows] == [r.key for r in expected.rows()]
        assert 0 < inbox.shown < MANY
        assert f"{inbox.shown}/{MANY} tasks" in status_text(app)
        # Backspace widens the filter again: a full scan, also in a thread.
        app.screen.query_one(Input).value = ""
        await wait_for(lambda: inbox.filter_text == "", pilot.pause, within=30)
        await pilot.pause()
        assert len(table(app).rows) == MANY
        # A first sort by workflow is a sort of every row: in a thread too, then announced.
        app.screen.query_one("#tasks", TaskTable).focus()
        await pilot.press("s")  # newest first
        await wait_for(lambda: inbox.sort_key is SortKey.NEWEST, pilot.pause, within=30)
        assert inbox.view_cost(inbox.request(sort=SortKey.WORKFLOW)) > inbox_screen.VIEW_INLINE_ROWS
        await pilot.press("s")
        await wait_for(lambda: inbox.sort_key is SortKey.WORKFLOW, pilot.pause, within=30)
        await pilot.pause()
        labels = [r.task.workflow_label.casefold() for r in table(app).rows]
        assert labels == sorted(labels) and len(labels) == MANY
        assert "sort: workflow" in status_text(app)
        assert "Sorted by workflow" in [n.message for n in app._notifications]


async def test_an_unchanged_refresh_repaints_nothing_and_a_change_is_a_diff(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        rows = table(app).rows
        diff = await app.services.refresh_inbox()
        assert not diff
        assert table(app).rows is rows  # nothing re-read, nothing re-shown
        key = rows[3].key
        stub_state.complete(*key, approved=True, tenant=DEMO_TENANT)
        diff = await app.services.refresh_inbox()
        assert diff.removed == [key] and not diff.added and not diff.changed


async def test_ages_on_screen_follow_the_clock_without_a_refresh(
    make_console: ConsoleFactory, fixed_now: datetime
) -> None:
    now = [fixed_now]
    app = make_console(clock=lambda: now[0])
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        last = table(app).rows[-1]
        before = table(app).age_of(last)
        line = len(table(app).rows)  # the youngest task is the last row (line 0 is the header)
        assert before in table(app).render_line(line).text
        now[0] = fixed_now + timedelta(days=3)
        await pilot.pause(1.3)  # one tick
        after = table(app).age_of(last)
        assert after != before and after.endswith("d")
        painted = table(app)._painted[line]  # what the last repaint of that line showed
        assert painted[0] is last and painted[1] == after


def test_status_count_of_stalled_tasks_is_exact_at_the_boundary(fixed_now: datetime) -> None:
    state = StubState()
    generate_tasks(state, 500, seed=3)
    tasks = listed(state.list_pending())
    for offset in (timedelta(0), timedelta(minutes=30), timedelta(days=2)):
        model = InboxModel(clock=lambda offset=offset: fixed_now + offset)
        model.apply(tasks)
        assert model.stalled_count() == sum(model.is_stalled(t) for t in tasks)


async def test_an_empty_table_says_why_it_is_empty(
    make_console: ConsoleFactory, stub_app: FastAPI
) -> None:
    def empty_line(app: Any) -> str:
        return str(table(app).render_line(1).text).strip()

    failing = make_console(token="pat_not_a_real_token")
    async with failing.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: failing.services.connection.failures == 1, pilot.pause)
        await pilot.pause()
        assert empty_line(failing).startswith("The inbox could not be loaded yet")

    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("slash", *"zzzz-no-such-task")
        await wait_for(lambda: app.services.inbox.shown == 0, pilot.pause)
        await pilot.pause()
        assert empty_line(app).startswith("No task matches the filter")

    empty = make_console(http_client=asgi_client(create_app(StubState())))
    async with empty.run_test(size=(100, 30)) as pilot:
        await loaded(empty, pilot)
        assert empty_line(empty) == "No pending tasks."


async def test_a_slow_poll_spaces_out_the_next_one(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        services = app.services
        assert services.last_refresh_took > 0  # measured on the real refresh
        services.last_refresh_took = 0.05
        assert services.next_refresh_in() == services.settings.refresh_active
        services.last_refresh_took = 2.5  # e.g. 75 MB at 100,000 tasks
        assert services.next_refresh_in() == 10.0


async def test_over_the_network_the_inbox_is_polled_in_a_thread(
    live_stub: StubServer, make_console: ConsoleFactory
) -> None:
    app = make_console(base_url=live_stub.url, network=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        services = app.services
        assert services.inbox.total == live_stub.state.pending_count
        assert not await services.refresh_inbox()  # unchanged: nothing to do
        task = table(app).rows[0].task
        live_stub.state.complete(*task.key, approved=True, tenant=DEMO_TENANT)
        diff = await services.refresh_inbox()
        assert diff.removed == [task.key]


async def test_closing_the_console_closes_the_poll_clients_pool(
    live_stub: StubServer, make_console: ConsoleFactory
) -> None:
    app = make_console(base_url=live_stub.url, network=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        owner = app.services._poll_owner
        assert owner is not None and not owner._http.is_closed
    assert owner._http.is_closed
