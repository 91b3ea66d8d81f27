"""New-task flags and alerts, the preview pane, named views (issue 13.2, 13.3, 13.4) at the keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from console.widgets.task_preview import TaskPreview
from server_stub import StubState, generate_tasks

from .conftest import ConsoleFactory, asgi_client, wait_for
from .test_console_flows import _palette_hits, loaded, status_text, table


def preview_text(app: Any) -> str:
    pane = app.screen.query_one(TaskPreview)
    return "\n".join(line.text for line in pane.render_lines(pane.region.reset_offset))


async def test_tasks_that_arrive_are_flagged_until_the_cursor_passes_and_n_finds_them(
    make_console: ConsoleFactory, stub_state: StubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    alerts: list[tuple[str, int, list[str]]] = []
    monkeypatch.setattr(
        "console.app.send_alert",
        lambda app, kind, count, labels: alerts.append((kind, count, list(labels))) or True,
    )
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        inbox = app.services.inbox
        assert inbox.new_count == 0 and alerts == []  # the first listing is not news
        generate_tasks(stub_state, 3, seed=11)
        app.refresh_inbox()
        await wait_for(lambda: inbox.new_count == 3, pilot.pause)
        await pilot.pause()
        assert "● 3 new" in status_text(app)
        assert [(kind, count) for kind, count, _ in alerts] == [("bell", 3)]
        assert len(alerts[0][2]) == 3  # one workflow label per task, for the alert's words
        fresh = {row.key for row in inbox.new_rows()}
        flagged = [i for i, row in enumerate(table(app).rows) if row.key in fresh]
        assert all("●" in table(app).render_line(i + 1).text[:4] for i in flagged if i < 25)
        # n: to the first new task after the cursor; the cursor on it makes it seen.
        here = table(app).cursor_row  # not moved by the refresh: nothing seen yet
        await pilot.press("n")
        assert table(app).cursor_row == next((i for i in flagged if i > here), flagged[0])
        assert inbox.new_count == 2 and "● 2 new" in status_text(app)
        await pilot.press("n", "n")
        assert inbox.new_count == 0 and "new" not in status_text(app)
        await pilot.press("n")
        assert "No new tasks." in [n.message for n in app._notifications]
        # A second burst within 30 s: flagged, but no second alert yet.
        generate_tasks(stub_state, 2, seed=12)
        app.refresh_inbox()
        await wait_for(lambda: inbox.new_count == 2, pilot.pause)
        assert len(alerts) == 1


async def test_notify_off_never_alerts(
    make_console: ConsoleFactory, stub_state: StubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr("console.app.send_alert", lambda *a: calls.append(a) or True)
    app = make_console(notify="off")
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        generate_tasks(stub_state, 2, seed=13)
        app.refresh_inbox()
        await wait_for(lambda: app.services.inbox.new_count == 2, pilot.pause)
        assert calls == []


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


async def test_the_preview_follows_the_cursor_without_a_request(
    make_console: ConsoleFactory, stub_app: FastAPI
) -> None:
    transport = CountingTransport(asgi_client(stub_app)._transport)
    http = httpx.AsyncClient(transport=transport, base_url="http://stub.test")
    app = make_console(http_client=http)
    async with app.run_test(size=(160, 45)) as pilot:  # from 140 columns: beside the list
        await loaded(app, pilot)
        app.services.paused = True
        await pilot.pause(0.2)
        pane = app.screen.query_one(TaskPreview)
        assert pane.display and pane.region.x > 80  # on the right
        asked = len(transport.paths)
        for _ in range(3):
            await pilot.press("j")
        await pilot.pause(0.2)
        task = app.services.inbox.get(table(app).cursor_key)  # type: ignore[arg-type]
        assert task is not None
        assert task.title[:40] in preview_text(app)
        assert "Fields  (✎ = editable)" in preview_text(app)
        assert len(transport.paths) == asked  # read from the listing, no request


async def test_v_toggles_the_pane_and_the_profile_remembers(
    make_console: ConsoleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMAND_CENTER_STATE_DIR", str(tmp_path / "ui-state"))
    app = make_console(profile="prod")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(app, pilot)
        pane = app.screen.query_one(TaskPreview)
        assert not pane.display  # below 140 columns: off until asked for
        await pilot.press("v")
        await pilot.pause(0.2)
        assert pane.display and pane.region.y > 5  # the lower half
        assert table(app).cursor_key is not None
        saved = json.loads((tmp_path / "ui-state" / "ui.json").read_text())
        assert saved["profiles"]["prod"]["preview"] is True
    again = make_console(profile="prod")
    async with again.run_test(size=(80, 24)) as pilot:
        await loaded(again, pilot)
        assert again.screen.query_one(TaskPreview).display  # remembered
        await pilot.press("v")
        await pilot.pause()
        assert not again.screen.query_one(TaskPreview).display


async def test_named_views_cycle_with_brackets_and_the_palette_lists_them(
    make_console: ConsoleFactory,
) -> None:
    views = {"stalled-crm": "workflow:crm stalled", "reviews": "type:review"}
    app = make_console(views=views)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        inbox = app.services.inbox
        await pilot.press("right_square_bracket")
        await wait_for(lambda: inbox.filter_text == "workflow:crm stalled", pilot.pause)
        assert "view: stalled-crm" in status_text(app)
        assert all("crm" in r.task.workflow_label.casefold() for r in table(app).rows)
        await pilot.press("right_square_bracket")
        await wait_for(lambda: inbox.filter_text == "type:review", pilot.pause)
        assert {r.task.task_type for r in table(app).rows} == {"review"}
        await pilot.press("right_square_bracket")  # past the last: no view
        await wait_for(lambda: inbox.filter_text == "", pilot.pause)
        await pilot.press("left_square_bracket")
        await wait_for(lambda: inbox.filter_text == "type:review", pilot.pause)
        await pilot.press("escape")
        await pilot.press("ctrl+p", *"View: stalled")
        await wait_for(lambda: _palette_hits(app) > 0, pilot.pause)
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_for(lambda: inbox.filter_text == "workflow:crm stalled", pilot.pause)


async def test_the_console_starts_with_the_filter_it_was_given(
    make_console: ConsoleFactory,
) -> None:
    app = make_console(
        start_filter="type:review", start_view="reviews", views={"reviews": "type:review"}
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await wait_for(lambda: len(table(app).rows) > 0, pilot.pause)
        assert {r.task.task_type for r in table(app).rows} == {"review"}
        assert "view: reviews" in status_text(app)


async def test_a_filter_term_being_typed_says_what_it_lacks(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(app, pilot)
        total = app.services.inbox.total
        await pilot.press("slash", *"age>")
        await wait_for(lambda: app.services.inbox.filter_text == "age>", pilot.pause)
        assert len(table(app).rows) == total  # nothing filtered by half a term
        assert "✗ age> needs a duration" in status_text(app)
        await pilot.press(*"2h")
        await wait_for(lambda: app.services.inbox.filter_text == "age>2h", pilot.pause)
        assert 0 < len(table(app).rows) < total and "✗" not in status_text(app)


async def test_slash_after_a_view_or_a_kept_filter_adds_terms_typed_at_full_speed(
    make_console: ConsoleFactory,
) -> None:
    """Textual's select-all on focus landed between the keys typed after "/": the next key
    replaced what came before it, so keys were lost (tmux, typing fast)."""
    app = make_console(views={"reviews": "type:review"})
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(app, pilot)
        inbox = app.services.inbox
        await pilot.press("right_square_bracket", "slash", *"age>2h", "enter")
        await wait_for(lambda: inbox.filter_text == "type:review age>2h", pilot.pause)
        rows = list(table(app).rows)
        assert rows and all(r.task.task_type == "review" for r in rows)
        assert all(inbox.age(r.task).total_seconds() > 7200 for r in rows)  # type: ignore[union-attr]
        await pilot.press("slash", *"!tick", "enter")
        await wait_for(lambda: inbox.filter_text == "type:review age>2h !tick", pilot.pause)
