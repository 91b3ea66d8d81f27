"""A platform that answers garbage: the console says which call got what, and keeps what it had.

A transport in front of the in-process stub turns the answers to one kind of request into
garbage on demand – an HTML page with 200 or 502, truncated JSON, wrong types, a missing list,
an empty body – after good answers first. The inbox keeps its last good rows and says it is
retrying; the run view shows the error in place of the events; a completion whose answer cannot
be read is kept in the outbox and sent again with the same key, because the platform may well
have applied it (here it did).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from textual.widgets import Static

from console.audit import AuditLog
from console.outbox import EntryState, Outbox, Outcome
from console.screens.inbox import InboxScreen
from console.screens.modals import NoticeScreen
from console.screens.run import RunScreen
from console.screens.unreadable import UnreadableScreen
from server_stub import StubState

from .conftest import ConsoleFactory, answer, wait_for
from .test_console_flows import loaded, notes, select, status_text, table

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
    b"<body><form action='/login'><input name=user></form></body></html>\n"
)
BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    b"<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
JSON = "application/json"


def garbage_answers(key: str) -> dict[str, tuple[int, str, bytes, str]]:
    """For a ``{key: [...]}`` list: status, content type, body, and the words the error says."""
    return {
        "html-200": (200, "text/html; charset=utf-8", HTML_PAGE, "not JSON (text/html"),
        "html-502": (502, "text/html", BAD_GATEWAY, "failed (502)"),
        "truncated-json": (200, JSON, b'{"' + key.encode() + b'":[{"id":"approve-rev', "not JSON"),
        "list-is-a-string": (200, JSON, b'{"' + key.encode() + b'": "x"}', "a valid list"),
        "item-is-only-an-id": (200, JSON, b'{"' + key.encode() + b'": [{"id": 1}]}', "required"),
        "no-list-key": (200, JSON, b'{"items": []}', f"{key}: Field required"),
        "empty-body": (200, JSON, b"", "not JSON"),
    }


# A listing whose only fault is one bad entry is not garbage: the good tasks are shown and the
# entry gets an "unreadable" row (test_an_unreadable_entry_gets_its_own_row_and_no_actions).
INBOX_GARBAGE = {
    kind: answer
    for kind, answer in garbage_answers("tasks").items()
    if kind != "item-is-only-an-id"
}
EVENTS_GARBAGE = garbage_answers("events")
COMPLETION_GARBAGE = {
    "html-200": (200, "text/html", HTML_PAGE, "cannot read"),
    "html-502": (502, "text/html", BAD_GATEWAY, "failed (502)"),
    "truncated-json": (200, JSON, b'{"status":"compl', "cannot read"),
    "a-list": (200, JSON, b"[1, 2]", "cannot read"),
    "approved-is-a-word": (200, JSON, b'{"approved": "maybe"}', "cannot read"),
    "empty-body": (200, JSON, b"", "cannot read"),
}


class GarbageTransport(httpx.AsyncBaseTransport):
    """The real stub behind, until ``serve`` makes the answers to matching requests garbage.

    A matching POST still reaches the stub first: the platform did the work, only its answer
    is garbage.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.answer: tuple[int, str, bytes] | None = None
        self.matches: Callable[[httpx.Request], bool] = lambda request: False
        self.served = 0

    def serve(self, answer: tuple[int, str, bytes, str], matches: Callable[..., bool]) -> None:
        self.answer, self.matches = answer[:3], matches

    def stop(self) -> None:
        self.answer = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.answer is None or not self.matches(request):
            return await self.inner.handle_async_request(request)
        if request.method == "POST":
            real = await self.inner.handle_async_request(request)
            await real.aread()
        status, content_type, body = self.answer
        self.served += 1
        return httpx.Response(status, headers={"content-type": content_type}, content=body)


def inbox_poll(request: httpx.Request) -> bool:
    return request.method == "GET" and request.url.path == "/v1/tasks/pending"


def run_events(request: httpx.Request) -> bool:
    return request.method == "GET" and request.url.path.endswith("/events")


def completion(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/complete")


async def _no_sleep(_seconds: float) -> None:
    return None


def console_with(make_console: ConsoleFactory, garbage: GarbageTransport) -> Any:
    app = make_console(http_client=httpx.AsyncClient(transport=garbage))
    app.services.client._sleep = _no_sleep  # retries of a 502 need not wait here
    return app


@pytest.fixture
def garbage(stub_app: Any) -> GarbageTransport:
    return GarbageTransport(httpx.ASGITransport(app=stub_app))


@pytest.mark.parametrize("kind", list(INBOX_GARBAGE))
async def test_garbage_inbox_names_the_endpoint_and_keeps_the_last_good_rows(
    make_console: ConsoleFactory, garbage: GarbageTransport, kind: str
) -> None:
    app = console_with(make_console, garbage)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        rows = [row.key for row in table(app).rows]
        assert rows
        garbage.serve(INBOX_GARBAGE[kind], inbox_poll)
        app.refresh_inbox()
        await wait_for(lambda: app.services.connection.failures > 0, pilot.pause)
        await pilot.pause()

        error = app.services.connection.last_error or ""
        assert "GET /v1/tasks/pending" in error, error
        assert INBOX_GARBAGE[kind][3] in error, error
        assert "retrying in" in status_text(app)
        assert [row.key for row in table(app).rows] == rows  # the last good inbox stays
        assert f"{len(rows)}/{len(rows)} tasks" in status_text(app)
        assert app.is_running and app.return_code is None

        garbage.stop()  # sense again: the next poll is live
        app.refresh_inbox()
        await wait_for(lambda: app.services.connection.failures == 0, pilot.pause)
        await pilot.pause()
        assert "● live" in status_text(app)
        assert [row.key for row in table(app).rows] == rows


@pytest.mark.parametrize("kind", list(EVENTS_GARBAGE))
async def test_garbage_run_events_are_told_in_the_run_view(
    make_console: ConsoleFactory, garbage: GarbageTransport, kind: str
) -> None:
    app = console_with(make_console, garbage)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: True)
        garbage.serve(EVENTS_GARBAGE[kind], run_events)
        await pilot.press("o")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        events = screen.query_one("#events", Static)
        await wait_for(lambda: "✗" in str(events.content), pilot.pause)
        shown = str(events.content)
        assert f"GET /v1/workflows/{task.workflow_id}/runs/{task.run_id}/events" in shown, shown
        assert EVENTS_GARBAGE[kind][3] in shown, shown
        assert screen.story is None
        pending = str(screen.query_one("#pending", Static).content)
        assert "loading" not in pending and "R tries again" in pending
        assert app.is_running and app.return_code is None

        garbage.stop()
        screen.action_reload()
        await wait_for(lambda: screen.story is not None, pilot.pause)
        assert screen.story is not None and screen.story.events
        assert "✗" not in str(events.content)


@pytest.mark.parametrize("kind", list(COMPLETION_GARBAGE))
async def test_an_unreadable_completion_answer_is_kept_and_confirmed_by_the_resend(
    make_console: ConsoleFactory,
    garbage: GarbageTransport,
    stub_state: StubState,
    outbox: Outbox,
    audit: AuditLog,
    kind: str,
) -> None:
    app = console_with(make_console, garbage)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True  # no poll may race the decision
        task = select(app, lambda t: True)
        garbage.serve(COMPLETION_GARBAGE[kind], completion)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: bool(app._notifications), pilot.pause)
        await pilot.pause()

        # The platform applied it; we could not read that it did.
        assert stub_state.completion_of(*task.key) == {"approved": True}
        (note,) = app._notifications
        assert note.title.startswith("Queued:") and note.severity == "warning"
        assert COMPLETION_GARBAGE[kind][3] in note.message, note.message
        assert f"/runs/{task.run_id}/tasks/{task.id}/complete" in note.message, note.message
        assert "kept in the outbox and will be sent again with the same key" in note.message
        assert not any(n.startswith("Approved") for n in notes(app))  # not told as done
        (entry,) = outbox.entries()
        assert entry.state is EntryState.QUEUED
        assert "⧗ 1 queued" in status_text(app)
        assert app.is_running and app.return_code is None

        garbage.stop()
        app.drain_outbox()  # the same key again: the platform replays its first answer
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        await pilot.pause()
        assert any(n.startswith("Approved") for n in notes(app))
        (done,) = outbox.entries([EntryState.DONE])
        assert done.key == entry.key and done.outcome is Outcome.APPLIED
        (line,) = audit.read().records
        assert line["outcome"] == "applied"
        assert task.key not in app.services.inbox
        steps = [
            e
            for e in stub_state.events(task.workflow_id, task.run_id)
            if e["type"] == "step_completed" and e.get("step_id") == (task.step_id or task.id)
        ]
        assert len(steps) == 1  # applied once, however often it was sent


async def test_an_unreadable_entry_gets_its_own_row_and_no_actions(
    make_console: ConsoleFactory, garbage: GarbageTransport
) -> None:
    """One bad entry beside good ones: the good tasks stay, the bad one is a row that says so,
    opens as raw JSON, and refuses every decision."""
    app = console_with(make_console, garbage)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        good = [json.loads(json.dumps(row.task.raw)) for row in table(app).rows]
        body = json.dumps({"tasks": [*good, {"id": 1, "note": "no run, no workflow"}]}).encode()
        garbage.serve((200, JSON, body, ""), inbox_poll)
        app.refresh_inbox()
        await wait_for(lambda: bool(app.services.unreadable), pilot.pause)
        await pilot.pause(1.1)
        assert app.services.connection.failures == 0
        assert "⚠ 1 unreadable" in status_text(app)
        assert f"{len(good) + 1}/{len(good) + 1} tasks" in status_text(app)
        (key,) = app.services.unreadable
        assert table(app).move_to_key(key)
        await pilot.pause()
        await pilot.press("a")
        assert isinstance(app.screen, NoticeScreen) and "not a readable task" in app.screen.message
        await pilot.press("escape", "enter")
        assert isinstance(app.screen, UnreadableScreen)
        shown = str(app.screen.query_one("#raw", Static).content)
        assert "no run, no workflow" in shown
        await pilot.press("escape")
        assert isinstance(app.screen, InboxScreen)
        assert not app.services.decisions.unsettled()
