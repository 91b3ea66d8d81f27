"""The blocking client: drives the shared flow with ``httpx.Client`` and ``time.sleep``.

The deadline: every socket wait of a client built here ends by it (:class:`DeadlineBackend`,
headers included); with a client handed in, each read is bounded by ``min(timeout, deadline)``
and the elapsed time is checked after every chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ._base import BaseClient, Endpoint, Outcome, Send
from ._body import BodyProblem
from ._light import TaskReport, reject_result
from ._net import (
    Budget,
    DeadlineExceeded,
    budget_scope,
    install_deadline_backend,
    scrub_frames,
    verifying_tls,
)
from ._run_feed import RunFeed
from ._runs import RunListing, StopMode
from ._task_list import TaskListing, Tasks

if TYPE_CHECKING:
    from .models import Completion, RunCommandResult, RunContext, RunEvent, Task

T = TypeVar("T")


class CommandCenterClient(BaseClient[httpx.Client]):
    """Client of the /v1 human-task API.

    >>> with CommandCenterClient(url, token, "acme", "proj") as cc:  # doctest: +SKIP
    ...     for task in cc.list_pending_tasks(): ...
    """

    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _default_http_client(self) -> httpx.Client:
        http = httpx.Client(
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=self.trust_env,
            verify=verifying_tls(self.trust_env),
        )
        install_deadline_backend(http)
        return http

    def _run(self, endpoint: Endpoint[T]) -> T:
        try:
            return self._drive(endpoint)
        except BaseException as exc:
            scrub_frames(exc)  # no raw request bytes in a crash report's locals
            raise

    def _drive(self, endpoint: Endpoint[T]) -> T:
        flow = self._flow(endpoint)
        action = next(flow)
        while True:
            outcome: Outcome
            if isinstance(action, Send):
                try:
                    outcome = self._receive(action, endpoint)
                except httpx.TransportError as exc:
                    outcome = exc
                except BodyProblem as problem:
                    raise self._body_error(problem, endpoint) from None
                except httpx.InvalidURL as exc:
                    request = action.request
                    raise self._invalid_url(request.method, request.url.path, exc) from None
            else:
                self._sleep(action.seconds)
                outcome = None
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                response: httpx.Response = stop.value
                return self._parse(response, endpoint)

    def _receive(self, send: Send, endpoint: Endpoint[Any]) -> httpx.Response:
        """Send and read the whole answer within the deadline and the body limits."""
        request = send.request
        with budget_scope(Budget(send.deadline)) as budget:
            try:
                response = self._http.send(request, stream=True)
                try:
                    budget.check(request)
                    reader = self._reader(response, endpoint, budget)
                    if response.is_stream_consumed:  # built in memory (a mock): decoded already
                        for chunk in response.iter_bytes():
                            if not reader.feed_decoded(chunk):
                                break
                    else:
                        for raw in response.iter_raw():
                            if not reader.feed(raw):
                                break
                    return reader.finish()
                finally:
                    response.close()
            except httpx.TimeoutException as exc:
                if isinstance(exc, DeadlineExceeded):
                    raise
                if send.deadline is not None and budget.exceeded():
                    raise DeadlineExceeded(send.deadline, request=request) from exc
                raise

    def list_pending_tasks(self) -> Tasks:
        """The tenant inbox: every readable pending task the token may see.

        Entries that are not tasks are left out; :meth:`list_pending_tasks_report` lists them.
        """
        return self._run(self._ep_list_pending_tasks())

    def list_pending_tasks_report(self) -> TaskReport:
        """The tenant inbox, with each entry of the answer that is not a readable task."""
        return self._run(self._ep_list_pending_tasks_report())

    def poll_pending_tasks(self, since: TaskListing | None = None) -> TaskListing:
        """The inbox, skipping all parsing when the answer is byte-for-byte ``since``'s.

        For pollers: pass the previous listing back each time; ``changed`` says whether to look.
        """
        return self._run(self._ep_poll_pending_tasks(since))

    def list_run_pending_tasks(self, workflow_id: str, run_id: str) -> Tasks:
        return self._run(self._ep_list_run_pending_tasks(workflow_id, run_id))

    def list_run_pending_tasks_report(self, workflow_id: str, run_id: str) -> TaskReport:
        return self._run(self._ep_list_run_pending_tasks_report(workflow_id, run_id))

    def list_run_events(self, workflow_id: str, run_id: str) -> list[RunEvent]:
        return self._run(self._ep_list_run_events(workflow_id, run_id))

    def list_runs(self) -> RunListing:
        """The tenant-wide runs feed (``GET /v1/runs``), the Command Center's data source.

        Entries that are not runs are in ``unreadable``; the readable ones are listed all the same.
        """
        return self._run(self._ep_list_runs())

    def poll_runs(self, since: RunFeed | None = None) -> RunFeed:
        """The runs feed, compared with ``since`` (the last answer): unchanged, it is ``since``
        again with ``changed=False`` (a 304, or the same bytes), and nothing is re-read."""
        return self._run(self._ep_poll_runs(since))

    def list_workflow_runs(self, workflow_id: str) -> RunListing:
        """One workflow's runs (``GET /v1/workflows/{id}/runs``)."""
        return self._run(self._ep_list_workflow_runs(workflow_id))

    def get_run_context(self, workflow_id: str, run_id: str) -> RunContext:
        """A run's variables and step results."""
        return self._run(self._ep_get_run_context(workflow_id, run_id))

    def pause_run(
        self, workflow_id: str, run_id: str, *, idempotency_key: str | None = None
    ) -> RunCommandResult:
        """Pause a run: no new steps are scheduled until it is resumed; steps in flight may end."""
        return self._run(
            self._ep_run_command(workflow_id, run_id, "pause", idempotency_key=idempotency_key)
        )

    def resume_run(
        self, workflow_id: str, run_id: str, *, idempotency_key: str | None = None
    ) -> RunCommandResult:
        """Resume a paused run. A stopped or failed run never resumes (409)."""
        return self._run(
            self._ep_run_command(workflow_id, run_id, "resume", idempotency_key=idempotency_key)
        )

    def stop_run(
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
        return self._run(
            self._ep_run_command(
                workflow_id, run_id, "stop", mode=mode, idempotency_key=idempotency_key
            )
        )

    def complete_task(
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
        return self._run(
            self._ep_complete_task(
                workflow_id,
                run_id,
                task_id,
                approved=approved,
                result=result,
                idempotency_key=idempotency_key,
            )
        )

    def approve(
        self,
        task: Task,
        result: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Completion:
        return self.complete_task(
            *task.key, approved=True, result=result, idempotency_key=idempotency_key
        )

    def reject(
        self, task: Task, reason: str | None = None, *, idempotency_key: str | None = None
    ) -> Completion:
        return self.complete_task(
            *task.key,
            approved=False,
            result=reject_result(reason),
            idempotency_key=idempotency_key,
        )

    def close(self) -> None:
        """Close the connection pool, unless it was handed in by the caller."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> CommandCenterClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
