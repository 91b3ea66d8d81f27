"""The client against the real stub: in-process (ASGI) and over loopback HTTP, sync and async."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from client import (
    APIConnectionError,
    AsyncCommandCenterClient,
    AuthenticationError,
    CommandCenterClient,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RetryPolicy,
    Task,
)
from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    DEMO_VIEWER_TOKEN,
    FaultInjector,
    FaultKind,
    RunState,
    StubServer,
    StubState,
    create_app,
)

AnyClient = CommandCenterClient | AsyncCommandCenterClient


class Call:
    """Calls a sync or async client the same way."""

    async def __call__(self, client: AnyClient, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(client, method)(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result


call = Call()


class Connector:
    """Makes clients for one transport: in-process ASGI or loopback HTTP, sync or async."""

    def __init__(self, kind: str, app: FastAPI, url: str | None) -> None:
        self.kind = kind
        self.app = app
        self.url = url
        self._closers: list[Any] = []

    def client(self, token: str = DEMO_CONTRIBUTOR_TOKEN, **kwargs: Any) -> AnyClient:
        tenant = kwargs.pop("tenant", DEMO_TENANT)
        project = kwargs.pop("project", DEMO_PROJECT)
        if self.kind == "asgi-async":
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
            self._closers.append(http.aclose)
            return AsyncCommandCenterClient(
                "http://stub.test", token, tenant, project, http_client=http, **kwargs
            )
        if self.kind == "asgi-sync":
            test_client = TestClient(self.app)
            self._closers.append(test_client.close)
            return CommandCenterClient(
                "http://testserver", token, tenant, project, http_client=test_client, **kwargs
            )
        assert self.url is not None
        cls = CommandCenterClient if self.kind == "loopback-sync" else AsyncCommandCenterClient
        client = cls(self.url, token, tenant, project, **kwargs)
        self._closers.append(
            client.close if isinstance(client, CommandCenterClient) else client.aclose
        )
        return client

    async def close(self) -> None:
        for closer in self._closers:
            result = closer()
            if inspect.isawaitable(result):
                await result


@pytest.fixture(params=["asgi-async", "asgi-sync", "loopback-sync", "loopback-async"])
async def connect(
    request: pytest.FixtureRequest, stub_state: StubState
) -> AsyncIterator[Connector]:
    app = create_app(stub_state)
    if request.param.startswith("loopback"):
        with StubServer(app=app) as server:
            connector = Connector(request.param, app, server.url)
            yield connector
            await connector.close()
    else:
        connector = Connector(request.param, app, None)
        yield connector
        await connector.close()


async def test_lists_every_pending_task(connect: Connector, stub_state: StubState) -> None:
    tasks = await call(connect.client(), "list_pending_tasks")
    assert len(tasks) == stub_state.pending_count >= 10
    assert len({t.key for t in tasks}) == len(tasks)
    assert all(isinstance(t, Task) and t.title for t in tasks)
    assert len({t.workflow_id for t in tasks}) >= 4


async def test_polling_skips_an_unchanged_answer_and_reads_a_changed_one(
    connect: Connector, stub_state: StubState
) -> None:
    client = connect.client()
    first = await call(client, "poll_pending_tasks")
    assert first.changed and len(first.tasks) == stub_state.pending_count
    again = await call(client, "poll_pending_tasks", first)
    assert not again.changed
    assert again.body is first.body and again.tasks is first.tasks  # nothing re-read
    done = first.tasks[0]
    await call(client, "complete_task", *done.key, approved=True)
    after = await call(client, "poll_pending_tasks", again)
    assert after.changed and after.body != first.body
    assert {t.key for t in after.tasks} == {t.key for t in first.tasks} - {done.key}
    kept = {t.key: t for t in first.tasks}
    assert all(t is kept[t.key] for t in after.tasks)  # unchanged tasks keep their objects
    assert [t.full().model_dump() for t in after.tasks] == [
        t.model_dump() for t in await call(client, "list_pending_tasks")
    ]


async def test_run_with_two_pending_tasks_and_its_events(connect: Connector) -> None:
    client = connect.client()
    tasks = await call(client, "list_pending_tasks")
    runs: dict[tuple[str, str], list[Task]] = {}
    for task in tasks:
        runs.setdefault((task.workflow_id, task.run_id), []).append(task)
    (wf, run), pair = next((key, ts) for key, ts in runs.items() if len(ts) == 2)
    listed = await call(client, "list_run_pending_tasks", wf, run)
    assert {t.key for t in listed} == {t.key for t in pair}
    events = await call(client, "list_run_events", wf, run)
    assert events[0].type == "run_started"
    assert events[-1].type == "state_changed" and events[-1].data == {
        "from": "running",
        "to": "paused",
    }


def _email_task(tasks: list[Task]) -> Task:
    return next(t for t in tasks if {"subject", "body"} <= set(t.editable_values()))


async def test_approve_with_edits_reaches_the_next_step(
    connect: Connector, stub_state: StubState
) -> None:
    client = connect.client()
    task = _email_task(await call(client, "list_pending_tasks"))
    edited = task.editable_values() | {"body": "Edited by the operator."}
    done = await call(client, "approve", task, edited)
    assert (done.status, done.task_id, done.approved) == ("completed", task.id, True)
    assert stub_state.completion_of(*task.key) == {"approved": True, **edited}
    events = await call(client, "list_run_events", task.workflow_id, task.run_id)
    consumed = [e for e in events if e.step_id != task.step_id and e.type == "step_completed"]
    assert any("Edited by the operator." in str(e.data) for e in consumed)
    assert stub_state.run_state(task.workflow_id, task.run_id) is RunState.COMPLETED
    assert task.key not in {t.key for t in await call(client, "list_pending_tasks")}


async def test_reject_with_reason_stops_the_run(connect: Connector, stub_state: StubState) -> None:
    client = connect.client()
    task = _email_task(await call(client, "list_pending_tasks"))
    done = await call(client, "reject", task, "wrong customer")
    assert done.approved is False
    assert stub_state.completion_of(*task.key) == {"approved": False, "reason": "wrong customer"}
    assert stub_state.run_state(task.workflow_id, task.run_id) is RunState.STOPPED


async def test_repeated_key_replays_and_a_new_key_conflicts(connect: Connector) -> None:
    client = connect.client()
    task = (await call(client, "list_pending_tasks"))[0]
    first = await call(client, "complete_task", *task.key, approved=True, idempotency_key="k-1")
    again = await call(client, "complete_task", *task.key, approved=True, idempotency_key="k-1")
    assert again.raw == first.raw
    with pytest.raises(ConflictError) as info:
        await call(client, "complete_task", *task.key, approved=True)
    assert info.value.maybe_ours is False and info.value.code == "CONFLICT"


async def test_status_errors_from_the_stub(connect: Connector) -> None:
    task = (await call(connect.client(), "list_pending_tasks"))[0]
    with pytest.raises(AuthenticationError) as auth:
        await call(connect.client("pat_unknown"), "list_pending_tasks")
    assert auth.value.code == "UNAUTHORIZED" and "pat_unknown" not in str(auth.value)
    with pytest.raises(PermissionDeniedError) as role:
        await call(connect.client(DEMO_VIEWER_TOKEN), "approve", task)
    assert "project_contributor" in role.value.error or "workflow:run" in role.value.error
    with pytest.raises(PermissionDeniedError) as tenant:
        await call(connect.client(tenant="someone-else"), "list_pending_tasks")
    assert "tenant" in tenant.value.error.lower()
    with pytest.raises(NotFoundError) as gone:
        await call(
            connect.client(), "complete_task", task.workflow_id, task.run_id, "nope", approved=True
        )
    assert gone.value.code == "NOT_FOUND"
    with pytest.raises(NotFoundError):
        await call(connect.client(), "list_run_events", task.workflow_id, "run_missing")


def test_dropped_answer_after_apply_then_the_same_key_gets_the_first_answer(
    stub_state: StubState,
) -> None:
    """The completion lands but every answer is lost; once the network heals, a retry with the
    same key gets the original answer – a replay, not a 409."""
    faults = FaultInjector(0.0, kinds=[FaultKind.DROP_AFTER])
    with StubServer(stub_state, faults=faults) as server:
        client = CommandCenterClient(
            server.url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, max_retries=2
        )
        client._sleep = lambda _seconds: None  # type: ignore[method-assign,assignment]
        task = client.list_pending_tasks()[0]
        faults.fail_rate = 1.0
        with pytest.raises(APIConnectionError):
            client.complete_task(*task.key, approved=True, idempotency_key="once")
        assert stub_state.completion_of(*task.key) == {"approved": True}
        assert faults.counts[FaultKind.DROP_AFTER] == 3  # the first try and two retries
        faults.fail_rate = 0.0
        done = client.complete_task(*task.key, approved=True, idempotency_key="once")
        assert (done.approved, done.task_id) == (True, task.id)
        client.close()


async def test_503s_are_retried_with_backoff_until_the_stub_recovers(
    stub_state: StubState,
) -> None:
    faults = FaultInjector(1.0, kinds=[FaultKind.UNAVAILABLE])
    sleeps: list[float] = []

    async def heal_after_two(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            faults.fail_rate = 0.0

    with StubServer(stub_state, faults=faults) as server:
        async with AsyncCommandCenterClient(
            server.url,
            DEMO_CONTRIBUTOR_TOKEN,
            DEMO_TENANT,
            DEMO_PROJECT,
            retry_policy=RetryPolicy(max_retries=5, rng=lambda: 0.0),
        ) as client:
            client._sleep = heal_after_two  # type: ignore[method-assign,assignment]
            tasks = await client.list_pending_tasks()
    assert len(tasks) == stub_state.pending_count
    assert sleeps == [0.5, 1.0]
    assert faults.counts[FaultKind.UNAVAILABLE] == 2


@pytest.mark.parametrize("tags", [True, False], ids=["etags", "no-etags"])
def test_an_unchanged_poll_is_a_304_or_a_byte_comparison(stub_state: StubState, tags: bool) -> None:
    """A server that tags its listing answers an unchanged poll with 304 and no body; one that
    does not sends the whole body again, which the client compares instead of decoding."""
    statuses: list[int] = []
    sizes: list[int] = []

    def seen(response: httpx.Response) -> None:
        statuses.append(response.status_code)
        sizes.append(int(response.headers.get("content-length", "0")))

    app = create_app(stub_state, entity_tags=tags)
    with (
        StubServer(app=app) as server,
        httpx.Client(event_hooks={"response": [seen]}) as http,
        CommandCenterClient(
            server.url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, http_client=http
        ) as cc,
    ):
        first = cc.poll_pending_tasks()
        again = cc.poll_pending_tasks(first)
        assert not again.changed and again.tasks is first.tasks
        done = first.tasks[0]
        cc.complete_task(*done.key, approved=True)
        after = cc.poll_pending_tasks(again)
        assert after.changed and done.key not in {t.key for t in after.tasks}
        assert (after.etag is not None) is tags
        assert after.etag != first.etag or not tags
    polls = [s for i, s in enumerate(statuses) if i != 2]  # the completion is the third
    if tags:
        assert polls == [200, 304, 200] and sizes[1] == 0
    else:
        assert polls == [200, 200, 200] and sizes[1] == sizes[0] > 0
