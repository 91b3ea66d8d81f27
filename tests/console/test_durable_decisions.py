"""Decisions survive network loss and restarts, and settle exactly once (outbox + audit)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from textual.widgets import DataTable

from client import AsyncCommandCenterClient, RetryPolicy
from console.app import CommandCenterApp
from console.audit import AuditLog
from console.outbox import EntryState, Outbox, Outcome
from console.screens.inbox import InboxScreen
from console.screens.modals import ConfirmScreen, NoticeScreen
from console.screens.outbox import OutboxScreen
from server_stub import DEMO_TENANT, DEMO_VIEWER_TOKEN, StubState

from .conftest import ConsoleFactory, answer, wait_for
from .test_console_flows import FlakyTransport, loaded, notes, select, status_text, table


class NoIdempotencyTransport(httpx.AsyncBaseTransport):
    """A platform that ignores Idempotency-Key and loses the first answer to each completion."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.dropped: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key is not None:
            del request.headers["idempotency-key"]
        response = await self.inner.handle_async_request(request)
        if key is not None and key not in self.dropped:
            self.dropped.add(key)
            await response.aread()
            raise httpx.RemoteProtocolError("connection dropped after the request", request=request)
        return response


async def test_network_loss_queues_the_decision_and_recovery_sends_it_once(
    make_console: ConsoleFactory,
    stub_app: Any,
    stub_state: StubState,
    outbox: Outbox,
    audit: AuditLog,
) -> None:
    flaky = FlakyTransport(httpx.ASGITransport(app=stub_app))
    app = make_console(http_client=httpx.AsyncClient(transport=flaky))
    app.services.client.retry_policy = RetryPolicy(max_retries=0)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        flaky.down = True
        await pilot.press("x", *"no longer needed", "enter")
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        await pilot.pause()
        (entry,) = outbox.entries()
        assert entry.state is EntryState.QUEUED and entry.result == {"reason": "no longer needed"}
        assert "⧗ 1 queued" in status_text(app)
        assert any("kept in the outbox and will be sent again" in n for n in notes(app))
        assert task.key in app.services.inbox  # not confirmed: still on screen, marked
        assert stub_state.completion_of(*task.key) is None

        flaky.down = False
        app.drain_outbox()
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        await pilot.pause()
        assert stub_state.completion_of(*task.key) == {
            "approved": False,
            "reason": "no longer needed",
        }
        assert task.key not in app.services.inbox
        (done,) = outbox.entries([EntryState.DONE])
        assert done.key == entry.key and done.attempts == 2 and done.outcome is Outcome.APPLIED
        (line,) = audit.read().records
        assert line["outcome"] == "applied" and line["idempotency_key"] == entry.key


async def test_a_restarted_console_resumes_the_queue(
    make_console: ConsoleFactory, stub_app: Any, stub_state: StubState, outbox: Outbox
) -> None:
    flaky = FlakyTransport(httpx.ASGITransport(app=stub_app))
    first = make_console(http_client=httpx.AsyncClient(transport=flaky))
    first.services.client.retry_policy = RetryPolicy(max_retries=0)
    async with first.run_test(size=(100, 30)) as pilot:
        await loaded(first, pilot)
        task = select(first, lambda t: True)
        flaky.down = True
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: bool(outbox.entries()), pilot.pause)
        await wait_for(lambda: not first.services.in_flight, pilot.pause)
    assert stub_state.completion_of(*task.key) is None  # quit with the decision unsent

    second = make_console()  # the network is back; same outbox file
    async with second.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: not outbox.entries(), pilot.pause)
        await loaded(second, pilot)
        assert stub_state.completion_of(*task.key) == {"approved": True}
        assert task.key not in second.services.inbox


async def test_409_after_our_own_lost_attempt_is_resolved_by_the_runs_events(
    make_console: ConsoleFactory, stub_app: Any, stub_state: StubState, audit: AuditLog
) -> None:
    lossy = NoIdempotencyTransport(httpx.ASGITransport(app=stub_app))
    app = make_console(http_client=httpx.AsyncClient(transport=lossy))
    app.services.client._sleep = _no_sleep  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: True)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: bool(audit.read().records), pilot.pause)
        await pilot.pause()
        (line,) = audit.read().records
        assert line["outcome"] == "applied by our earlier attempt"
        assert stub_state.completion_of(*task.key) == {"approved": True}
        # The events show exactly our decision: applied, by the attempt whose answer was lost.
        assert any("applied by your earlier attempt" in n for n in notes(app))
        assert task.key not in app.services.inbox


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_someone_else_first_is_recorded_and_not_retried(
    make_console: ConsoleFactory,
    other_operator: AsyncCommandCenterClient,
    outbox: Outbox,
    audit: AuditLog,
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await other_operator.complete_task(*task.key, approved=False)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: bool(audit.read().records), pilot.pause)
        (done,) = outbox.entries([EntryState.DONE])
        assert done.outcome is Outcome.ELSEWHERE and done.attempts == 1
        assert audit.read().records[0]["outcome"] == "completed by someone else"


async def test_refused_decisions_wait_in_the_outbox_screen_for_retry_or_discard(
    make_console: ConsoleFactory, outbox: Outbox
) -> None:
    app: CommandCenterApp = make_console(token=DEMO_VIEWER_TOKEN)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: True)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        (entry,) = outbox.entries()
        assert entry.state is EntryState.FAILED and "403" in (entry.last_error or "")
        await pilot.press("a")  # a second decision is refused while one is unsettled
        assert isinstance(app.screen, NoticeScreen)
        assert "waits in the outbox" in app.screen.message
        await pilot.press("escape")
        assert isinstance(app.screen, InboxScreen)
        await pilot.press("O")
        assert isinstance(app.screen, OutboxScreen)
        assert app.screen.query_one(DataTable).row_count == 1
        await pilot.press("r")  # retried: the viewer is still refused, so it fails again
        await wait_for(lambda: outbox.get(entry.key).attempts == 2, pilot.pause)  # type: ignore[union-attr]
        await wait_for(lambda: outbox.get(entry.key).state is EntryState.FAILED, pilot.pause)  # type: ignore[union-attr]
        await pilot.press("d")  # asks first: it cannot be taken back
        assert isinstance(app.screen, ConfirmScreen)
        assert outbox.get(entry.key).state is EntryState.FAILED  # type: ignore[union-attr]
        await answer(pilot, "y")
        await pilot.pause()
        assert outbox.get(entry.key).state is EntryState.DISCARDED  # type: ignore[union-attr]
        assert app.screen.query_one(DataTable).row_count == 0
        await pilot.press("escape")
        assert task.key not in app.services.unsettled


async def test_409_when_resending_a_queued_decision_is_ours_by_the_events(
    make_console: ConsoleFactory,
    stub_app: Any,
    stub_state: StubState,
    audit: AuditLog,
    outbox: Outbox,
) -> None:
    """The answer was lost and the client gave up; the outbox's resend meets a 409 on its own
    first try – but the stored attempt count says an earlier one may have landed."""
    lossy = NoIdempotencyTransport(httpx.ASGITransport(app=stub_app))
    app = make_console(http_client=httpx.AsyncClient(transport=lossy))
    app.services.client.retry_policy = RetryPolicy(max_retries=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: task.key in app.services.unsettled, pilot.pause)
        assert stub_state.completion_of(*task.key) == {"approved": True}  # it did land
        app.drain_outbox()
        await wait_for(lambda: bool(audit.read().records), pilot.pause)
        (done,) = outbox.entries([EntryState.DONE])
        assert done.outcome is Outcome.APPLIED_EARLIER and done.attempts == 2


class HeldPolls(httpx.AsyncBaseTransport):
    """The stub, except that an inbox poll, once ``hold`` is set, reads the listing at once and
    hands it over only when ``hold`` is released: an answer still on its way."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.hold: asyncio.Event | None = None
        self.waiting = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.hold is not None and request.url.path == "/v1/tasks/pending":
            await response.aread()  # the listing as it is now
            self.waiting += 1
            await self.hold.wait()
        return response


async def test_a_listing_still_on_its_way_never_brings_back_a_task_just_decided(
    make_console: ConsoleFactory, stub_app: Any, stub_state: StubState
) -> None:
    held = HeldPolls(httpx.ASGITransport(app=stub_app))
    app = make_console(http_client=httpx.AsyncClient(transport=held))
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        app.services.paused = True
        task = select(app, lambda t: True)
        # Something else changed meanwhile, so the held listing is news (not the same bytes).
        other = next(row.task.full() for row in table(app).rows if row.key != task.key)
        stub_state.complete(*other.key, approved=False, tenant=DEMO_TENANT)
        held.hold = asyncio.Event()
        app.refresh_inbox()  # it reads the listing with the task still pending, and waits
        await wait_for(lambda: held.waiting == 1, pilot.pause)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(lambda: stub_state.completion_of(*task.key) is not None, pilot.pause)
        await wait_for(lambda: task.key not in app.services.inbox, pilot.pause)
        refreshed = app.services.last_refresh_took
        held.hold.set()  # the stale listing arrives
        await wait_for(lambda: app.services.last_refresh_took != refreshed, pilot.pause)
        await pilot.pause()
        assert other.key not in app.services.inbox  # the listing was applied …
        assert task.key not in app.services.inbox  # … without the task decided meanwhile
        assert task.key not in {row.key for row in table(app).rows}
