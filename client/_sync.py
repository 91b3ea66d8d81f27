"""The blocking client: drives the shared flow with ``httpx.Client`` and ``time.sleep``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ._base import BaseClient, DigestingBody, Endpoint, Outcome, Send
from ._task_list import TaskListing
from .models import Completion, RunEvent, Task, reject_result

T = TypeVar("T")


class CommandCenterClient(BaseClient[httpx.Client]):
    """Client of the /v1 human-task API.

    >>> with CommandCenterClient(url, token, "acme", "proj") as cc:  # doctest: +SKIP
    ...     for task in cc.list_pending_tasks(): ...
    """

    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _default_http_client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, follow_redirects=False)

    def _run(self, endpoint: Endpoint[T]) -> T:
        flow = self._flow(endpoint)
        action = next(flow)
        while True:
            outcome: Outcome
            if isinstance(action, Send):
                try:
                    outcome = self._receive(action.request, endpoint)
                except httpx.TransportError as exc:
                    outcome = exc
            else:
                self._sleep(action.seconds)
                outcome = None
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                response: httpx.Response = stop.value
                return self._parse(response, endpoint)

    def _receive(self, request: httpx.Request, endpoint: Endpoint[Any]) -> httpx.Response:
        """Send and read the whole answer (hashing it as it arrives, if the endpoint asks)."""
        response = self._http.send(request, stream=True)
        try:
            if not (endpoint.digest_body and response.is_success):
                response.read()
                return response
            body = DigestingBody(endpoint.known_digest)
            for chunk in response.iter_bytes():
                body.feed(chunk)
            return body.response(response)
        finally:
            response.close()

    def list_pending_tasks(self) -> list[Task]:
        """The tenant inbox: every pending task the token may see."""
        return self._run(self._ep_list_pending_tasks())

    def poll_pending_tasks(self, since: TaskListing | None = None) -> TaskListing:
        """The inbox, skipping all parsing when the answer is byte-for-byte ``since``'s.

        For pollers: pass the previous listing back each time; ``changed`` says whether to look.
        """
        return self._run(self._ep_poll_pending_tasks(since))

    def list_run_pending_tasks(self, workflow_id: str, run_id: str) -> list[Task]:
        return self._run(self._ep_list_run_pending_tasks(workflow_id, run_id))

    def list_run_events(self, workflow_id: str, run_id: str) -> list[RunEvent]:
        return self._run(self._ep_list_run_events(workflow_id, run_id))

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
