"""The asyncio/trio client: the shared flow driven by ``httpx.AsyncClient`` and ``anyio.sleep``.

The deadline: the whole exchange (connect, headers, body) runs in ``anyio.fail_after``, and the
elapsed time is also checked after every chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx

from ._base import BaseClient, Endpoint, Outcome, Send, check_address
from ._body import BodyProblem
from ._light import TaskReport, reject_result
from ._net import Budget, DeadlineExceeded, scrub_frames, verifying_tls
from ._run_feed import RunFeed
from ._runs import RunListing, StopMode
from ._stream import StreamUnavailableError, run_events, stream_url
from ._task_list import TaskListing, Tasks

if TYPE_CHECKING:
    from .models import Completion, RunCommandResult, RunContext, RunEvent, Task

T = TypeVar("T")

# Bodies above this are decoded in a worker thread (about 100 tasks).
OFFLOAD_PARSE_BYTES = 64 * 1024


class AsyncCommandCenterClient(BaseClient[httpx.AsyncClient]):
    """Async twin of :class:`client.CommandCenterClient`: same methods, awaitable."""

    _sleep: Callable[[float], Awaitable[None]] = staticmethod(anyio.sleep)

    def _default_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=self.trust_env,
            verify=verifying_tls(self.trust_env),
        )

    async def _run(self, endpoint: Endpoint[T]) -> T:
        try:
            return await self._drive(endpoint)
        except BaseException as exc:
            scrub_frames(exc)  # no raw request bytes in a crash report's locals
            raise

    async def _drive(self, endpoint: Endpoint[T]) -> T:
        flow = self._flow(endpoint)
        action = next(flow)
        while True:
            outcome: Outcome
            if isinstance(action, Send):
                try:
                    outcome = await self._receive(action, endpoint)
                except httpx.TransportError as exc:
                    outcome = exc
                except BodyProblem as problem:
                    raise self._body_error(problem, endpoint) from None
                except httpx.InvalidURL as exc:
                    request = action.request
                    raise self._invalid_url(request.method, request.url.path, exc) from None
            else:
                await self._sleep(action.seconds)
                outcome = None
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                response: httpx.Response = stop.value
                break
        if len(response.content) < OFFLOAD_PARSE_BYTES:
            return self._parse(response, endpoint)
        # A large listing takes long to decode: keep the event loop (and a UI on it) free.
        return await anyio.to_thread.run_sync(self._parse, response, endpoint)

    async def _receive(self, send: Send, endpoint: Endpoint[Any]) -> httpx.Response:
        """Send and read the whole answer within the deadline and the body limits."""
        request = send.request
        budget = Budget(send.deadline)
        try:
            with anyio.fail_after(send.deadline):
                return await self._exchange(request, endpoint, budget)
        except TimeoutError:
            if send.deadline is None:  # fail_after(None) never times out: not ours
                raise
            raise DeadlineExceeded(send.deadline, request=request) from None

    async def _exchange(
        self, request: httpx.Request, endpoint: Endpoint[Any], budget: Budget
    ) -> httpx.Response:
        response = await self._http.send(request, stream=True)
        try:
            budget.check(request)
            reader = self._reader(response, endpoint, budget)
            if response.is_stream_consumed:  # built in memory (a mock): decoded already
                async for chunk in response.aiter_bytes():
                    if not reader.feed_decoded(chunk):
                        break
            else:
                async for raw in response.aiter_raw():
                    if not reader.feed(raw):
                        break
            return reader.finish()
        finally:
            # Closing must finish even when the deadline has cancelled the scope.
            with anyio.CancelScope(shield=True):
                await response.aclose()

    async def list_pending_tasks(self) -> Tasks:
        """The tenant inbox: every readable pending task the token may see.

        Entries that are not tasks are left out; :meth:`list_pending_tasks_report` lists them.
        """
        return await self._run(self._ep_list_pending_tasks())

    async def list_pending_tasks_report(self) -> TaskReport:
        """The tenant inbox, with each entry of the answer that is not a readable task."""
        return await self._run(self._ep_list_pending_tasks_report())

    async def poll_pending_tasks(self, since: TaskListing | None = None) -> TaskListing:
        """The inbox, skipping all parsing when the answer is byte-for-byte ``since``'s.

        For pollers: pass the previous listing back each time; ``changed`` says whether to look.
        """
        return await self._run(self._ep_poll_pending_tasks(since))

    async def list_run_pending_tasks(self, workflow_id: str, run_id: str) -> Tasks:
        return await self._run(self._ep_list_run_pending_tasks(workflow_id, run_id))

    async def list_run_pending_tasks_report(self, workflow_id: str, run_id: str) -> TaskReport:
        return await self._run(self._ep_list_run_pending_tasks_report(workflow_id, run_id))

    async def list_run_events(self, workflow_id: str, run_id: str) -> list[RunEvent]:
        return await self._run(self._ep_list_run_events(workflow_id, run_id))

    async def list_runs(self) -> RunListing:
        """The tenant-wide runs feed (``GET /v1/runs``), the Command Center's data source.

        Entries that are not runs are in ``unreadable``; the readable ones are listed all the same.
        """
        return await self._run(self._ep_list_runs())

    async def poll_runs(self, since: RunFeed | None = None) -> RunFeed:
        """The runs feed, compared with ``since`` (see the blocking client's ``poll_runs``)."""
        return await self._run(self._ep_poll_runs(since))

    async def list_workflow_runs(self, workflow_id: str) -> RunListing:
        """One workflow's runs (``GET /v1/workflows/{id}/runs``)."""
        return await self._run(self._ep_list_workflow_runs(workflow_id))

    async def stream_run_events(
        self, workflow_id: str, run_id: str | None = None
    ) -> AsyncIterator[RunEvent]:
        """A workflow's run events as they happen (``GET …/stream``, a WebSocket), of one run
        if ``run_id`` is given. Raises :class:`StreamUnavailableError` when the stream cannot be
        opened or breaks – poll the events instead. A client on a transport handed in (tests,
        in-process apps) has no network to open it on."""
        check_address(workflow_id, run_id or "run")
        if not self._owns_http:
            raise StreamUnavailableError("this client's transport cannot open a WebSocket")
        headers = self._headers(self._ep_list_run_events(workflow_id, run_id or "run"))
        url = stream_url(self.base_url, workflow_id, run_id)
        tls = verifying_tls(self.trust_env) if url.startswith("wss:") else None
        wanted = {"Authorization", "X-Tenant-Id", "X-Project-Id", "User-Agent"}
        async for event in run_events(
            url, {k: v for k, v in headers.items() if k.title() in wanted}, run_id=run_id, tls=tls
        ):
            yield event

    async def get_run_context(self, workflow_id: str, run_id: str) -> RunContext:
        """A run's variables and step results."""
        return await self._run(self._ep_get_run_context(workflow_id, run_id))

    async def pause_run(
        self, workflow_id: str, run_id: str, *, idempotency_key: str | None = None
    ) -> RunCommandResult:
        """Pause a run: no new steps are scheduled until it is resumed; steps in flight may end."""
        return await self._run(
            self._ep_run_command(workflow_id, run_id, "pause", idempotency_key=idempotency_key)
        )

    async def resume_run(
        self, workflow_id: str, run_id: str, *, idempotency_key: str | None = None
    ) -> RunCommandResult:
        """Resume a paused run. A stopped or failed run never resumes (409)."""
        return await self._run(
            self._ep_run_command(workflow_id, run_id, "resume", idempotency_key=idempotency_key)
        )

    async def stop_run(
        self,
        workflow_id: str,
        run_id: str,
        *,
        mode: StopMode = "immediate",
        idempotency_key: str | None = None,
    ) -> RunCommandResult:
        """Stop a run, for good: ``immediate`` halts it now, ``graceful`` lets it drain first.

        Every retry of this call reuses one ``Idempotency-Key``, as a completion's do.
        """
        return await self._run(
            self._ep_run_command(
                workflow_id, run_id, "stop", mode=mode, idempotency_key=idempotency_key
            )
        )

    async def complete_task(
        self,
        workflow_id: str,
        run_id: str,
        task_id: str,
        *,
        approved: bool,
        result: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Completion:
        """Complete a task; every retry of this call reuses one ``Idempotency-Key``."""
        return await self._run(
            self._ep_complete_task(
                workflow_id,
                run_id,
                task_id,
                approved=approved,
                result=result,
                idempotency_key=idempotency_key,
            )
        )

    async def approve(
        self,
        task: Task,
        result: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Completion:
        return await self.complete_task(
            *task.key, approved=True, result=result, idempotency_key=idempotency_key
        )

    async def reject(
        self, task: Task, reason: str | None = None, *, idempotency_key: str | None = None
    ) -> Completion:
        return await self.complete_task(
            *task.key,
            approved=False,
            result=reject_result(reason),
            idempotency_key=idempotency_key,
        )

    async def aclose(self) -> None:
        """Close the connection pool, unless it was handed in by the caller."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncCommandCenterClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
