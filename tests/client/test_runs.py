"""Runs: the feed in both documented shapes, a run's context, and pause/resume/stop commands.

Scripted answers (respx), sync and async alike; command bodies are asserted byte for byte as
API.md part 1b documents them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from client import (
    FAILURE_CODES,
    APIResponseValidationError,
    ConflictError,
    InvalidIdError,
    ListedRun,
    NotFoundError,
    PermissionDeniedError,
    Run,
    RunCommandResult,
    RunContext,
    RunListing,
    RunStatus,
    Task,
    UnprocessableEntityError,
    failure_meaning,
)

from .test_http_behaviour import BASE, Harness, harness, mock

__all__ = ["harness", "mock"]  # the fixtures, imported to be found by pytest

RUNS_URL = f"{BASE}/v1/runs"
COMMAND_URL = f"{BASE}/v1/workflows/wf_pr_review/command"
RUN_ID = "run_7f3a9c1e5b2d"

# Our stub's contract (API.md part 2).
OURS = {
    "id": RUN_ID,
    "workflow_id": "wf_pr_review",
    "workflow_name": "PR review assistant",
    "status": "paused",
    "started_at": "2026-11-25T09:14:03.120Z",
    "updated_at": "2026-11-25T09:15:00Z",
    "failure_code": None,
    "pending_tasks": 1,
}
# The older published spec (API.md part 3b).
OLDER = {
    "run_id": "run_29d8e7a4c0f6",
    "workflow_id": "wf_invoices",
    "status": "cancelled",
    "started_at": "2026-11-24T08:00:00+02:00",
    "completed_at": "2026-11-24T09:30:00",
    "inputs": {"invoice": 17},
    "outputs": {"total": 3},
}


def _error(status: int, error: str, code: str | None = None) -> httpx.Response:
    body = {"error": error} | ({"code": code} if code else {})
    return httpx.Response(status, json=body)


# -- the model ---------------------------------------------------------------------------------


def test_our_shape_reads_every_documented_key() -> None:
    run = Run.model_validate(OURS)
    assert (run.id, run.workflow_id, run.workflow_name) == (
        RUN_ID,
        "wf_pr_review",
        OURS["workflow_name"],
    )
    assert run.status == "paused" and run.state is RunStatus.PAUSED
    assert run.started_at == datetime(2026, 11, 25, 9, 14, 3, 120000, tzinfo=UTC)
    assert run.updated_at == datetime(2026, 11, 25, 9, 15, tzinfo=UTC)
    assert run.pending_tasks == 1 and run.failure_code is None and run.error is None
    assert run.active and not run.terminal
    assert run.workflow_label == "PR review assistant"
    assert run.raw == OURS
    assert run.key == ("wf_pr_review", RUN_ID)


def test_older_shape_reads_with_its_names() -> None:
    run = Run.model_validate(OLDER)
    assert run.id == "run_29d8e7a4c0f6" and run.workflow_name is None
    assert run.workflow_label == "wf_invoices"  # the id when there is no name
    assert run.status == "cancelled" and run.state is RunStatus.STOPPED and run.terminal
    assert run.updated_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # naive means UTC
    assert run.started_at == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert run.pending_tasks is None and run.failure_code is None
    assert run.raw["inputs"] == {"invoice": 17}  # kept for the raw view


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("running", RunStatus.RUNNING),
        (" RUNNING ", RunStatus.RUNNING),
        ("Draining", RunStatus.DRAINING),
        ("queued", RunStatus.QUEUED),
        ("canceled", RunStatus.STOPPED),
        ("CANCELLED", RunStatus.STOPPED),
        ("hibernating", RunStatus.UNKNOWN),
        ("", RunStatus.UNKNOWN),
        (None, RunStatus.UNKNOWN),
        (7, RunStatus.UNKNOWN),
        ({"phase": "x"}, RunStatus.UNKNOWN),
    ],
)
def test_any_status_is_read_never_an_error(status: Any, state: RunStatus) -> None:
    run = Run.model_validate({"id": "r", "workflow_id": "w", "status": status})
    assert run.state is state
    if isinstance(status, str):
        assert run.status == status.strip()  # as sent, stripped
    if state is RunStatus.UNKNOWN:
        assert not run.active and not run.terminal


def test_a_run_without_status_is_unknown() -> None:
    run = Run.model_validate({"id": "r", "workflow_id": "w"})
    assert run.status == "" and run.state is RunStatus.UNKNOWN


def test_active_and_terminal_are_the_documented_groups() -> None:
    active = {s for s in RunStatus if s.active}
    terminal = {s for s in RunStatus if s.terminal}
    assert {s.value for s in active} == {
        "running", "paused", "pending", "queued", "starting", "draining",
    }  # fmt: skip
    assert {s.value for s in terminal} == {"failed", "stopped", "completed"}
    assert RunStatus.UNKNOWN not in active | terminal


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"updated_at": "2026-01-01T00:00:01Z"}, 1),
        ({"ended_at": "2026-01-01T00:00:02Z"}, 2),
        ({"completed_at": "2026-01-01T00:00:03Z"}, 3),
        ({"ended_at": "2026-01-01T00:00:02Z", "completed_at": "2026-01-01T00:00:03Z"}, 2),
        ({"completed_at": None}, None),
        ({"updated_at": "not a time"}, None),
    ],
)
def test_last_change_comes_from_the_first_present_name(
    keys: dict[str, Any], expected: int | None
) -> None:
    run = Run.model_validate({"id": "r", "workflow_id": "w", **keys})
    seconds = None if run.updated_at is None else run.updated_at.second
    assert seconds == expected


def test_error_and_counts_are_tolerated() -> None:
    def run(**keys: Any) -> Run:
        return Run.model_validate({"id": "r", "workflow_id": "w", **keys})

    assert run(error="boom").error == "boom"
    assert run(error={"message": "tool x failed", "code": "E1"}).error == "tool x failed"
    assert run(error={"nothing": "readable"}).error is None
    assert run(pending_tasks=[{"id": "a"}, {"id": "b"}]).pending_tasks == 2
    assert run(pending_tasks="3").pending_tasks == 3
    assert run(pending_tasks=True).pending_tasks is None
    assert run(pending_tasks=-1).pending_tasks is None
    assert run(failure_code={"x": 1}).failure_code is None
    assert run(id=12345678901).id == "12345678901"


def test_short_id_is_the_rule_tasks_use() -> None:
    run = Run.model_validate(OURS)
    task = Task.model_validate({"id": "t", "workflow_id": "wf_pr_review", "run_id": RUN_ID})
    assert run.short_id == task.short_run_id == "run_7f3a"


def test_every_documented_failure_code_has_a_meaning() -> None:
    documented = {
        "MCP_TOOL_FAILED", "LLM_REQUEST_FAILED", "INSUFFICIENT_CREDITS",
        "RUN_STALLED_OR_TIMED_OUT", "RUN_STOPPED", "DRAIN_TIMEOUT", "HUMAN_TASK_FAILED",
        "UPSTREAM_ERROR", "DEPENDENCY_UNAVAILABLE",
    }  # fmt: skip
    assert set(FAILURE_CODES) == documented
    assert all(meaning.endswith(".") for meaning in FAILURE_CODES.values())
    assert failure_meaning("mcp_tool_failed") == "An MCP tool returned an error."
    assert failure_meaning("INSUFFICIENT_CREDITS") == "The workspace is out of credits."
    assert failure_meaning("SOMETHING_NEW") is None and failure_meaning(None) is None
    run = Run.model_validate({"id": "r", "workflow_id": "w", "failure_code": "DRAIN_TIMEOUT"})
    assert run.failure_meaning == FAILURE_CODES["DRAIN_TIMEOUT"]


def test_run_names_load_without_pydantic() -> None:
    code = (
        "import sys, client\n"
        "from client import RunStatus, RunListing, FAILURE_CODES, failure_meaning\n"
        "assert 'pydantic' not in sys.modules\n"
        "from client import Run\n"
        "assert 'pydantic' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- listings ----------------------------------------------------------------------------------


async def test_runs_feed_in_our_shape(harness: Harness, mock: Any) -> None:
    route = mock.get(RUNS_URL).mock(return_value=httpx.Response(200, json={"runs": [OURS]}))
    listing = await harness.call(harness.client(), "list_runs")
    assert isinstance(listing, RunListing)
    assert [r.id for r in listing.runs] == [RUN_ID]
    assert listing.total is None and listing.unreadable == ()
    sent = route.calls.last.request
    assert sent.headers["x-tenant-id"] == "acme" and sent.headers["x-project-id"] == "proj-1"
    assert "idempotency-key" not in sent.headers


async def test_runs_feed_in_the_older_shape_with_total(harness: Harness, mock: Any) -> None:
    body = {"runs": [OLDER, OURS], "total": 40}
    mock.get(RUNS_URL).mock(return_value=httpx.Response(200, json=body))
    listing = await harness.call(harness.client(), "list_runs")
    assert [r.state for r in listing.runs] == [RunStatus.STOPPED, RunStatus.PAUSED]
    assert listing.total == 40


async def test_runs_feed_as_a_bare_list(harness: Harness, mock: Any) -> None:
    mock.get(RUNS_URL).mock(return_value=httpx.Response(200, json=[OURS, OLDER]))
    listing = await harness.call(harness.client(), "list_runs")
    assert [r.id for r in listing.runs] == [RUN_ID, "run_29d8e7a4c0f6"]
    assert listing.total is None


async def test_entries_that_are_not_runs_are_kept_aside(harness: Harness, mock: Any) -> None:
    body = {"runs": [OURS, 17, {"id": "run_x"}, "run_y", OLDER], "total": "many"}
    mock.get(RUNS_URL).mock(return_value=httpx.Response(200, json=body))
    listing = await harness.call(harness.client(), "list_runs")
    assert [r.id for r in listing.runs] == [RUN_ID, "run_29d8e7a4c0f6"]
    assert [(u.index, u.raw) for u in listing.unreadable] == [
        (1, 17), (2, {"id": "run_x"}), (3, "run_y"),
    ]  # fmt: skip
    assert listing.unreadable[0].reason == "not a JSON object (a number)"
    assert listing.unreadable[1].reason == "workflow_id: Field required"
    assert listing.total is None  # not a count


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"items": []}, "unexpected shape: runs: Field required"),
        ({"runs": {"id": "x"}}, "unexpected shape: runs"),
        ("runs", "unexpected shape"),
    ],
)
async def test_a_body_of_another_shape_is_an_error(
    harness: Harness, mock: Any, body: Any, needle: str
) -> None:
    mock.get(RUNS_URL).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(APIResponseValidationError) as info:
        await harness.call(harness.client(), "list_runs")
    assert "GET /v1/runs" in str(info.value) and needle in str(info.value)


async def test_workflow_runs_escape_the_workflow_id(harness: Harness, mock: Any) -> None:
    route = mock.get(f"{BASE}/v1/workflows/wf%2Fx/runs").mock(
        return_value=httpx.Response(200, json={"runs": [OURS]})
    )
    listing = await harness.call(harness.client(), "list_workflow_runs", "wf/x")
    assert route.called and [r.id for r in listing.runs] == [RUN_ID]
    with pytest.raises(InvalidIdError):
        await harness.call(harness.client(), "list_workflow_runs", "..")


# -- context -----------------------------------------------------------------------------------

CONTEXT_URL = f"{BASE}/v1/workflows/wf_pr_review/runs/{RUN_ID}/context"


@pytest.mark.parametrize(
    ("body", "variables", "steps"),
    [
        ({"variables": {"pr": 1}, "steps": {"draft": {"ok": 1}}}, {"pr": 1}, {"draft": {"ok": 1}}),
        ({"inputs": {"pr": 1}, "outputs": {"s": 2}}, {"pr": 1}, {"s": 2}),
        ({"context": {"a": 1}, "step_results": {"b": 2}}, {"a": 1}, {"b": 2}),
        ({"variables": None, "steps": [1, 2]}, {}, {"value": [1, 2]}),
        ({"something": "else"}, {}, {}),
    ],
)  # fmt: skip
async def test_context_reads_every_alias(
    harness: Harness, mock: Any, body: dict[str, Any], variables: Any, steps: Any
) -> None:
    mock.get(CONTEXT_URL).mock(return_value=httpx.Response(200, json=body))
    context = await harness.call(harness.client(), "get_run_context", "wf_pr_review", RUN_ID)
    assert isinstance(context, RunContext)
    assert (context.variables, context.steps) == (variables, steps)
    assert context.raw == body


async def test_context_that_is_not_an_object_is_an_error(harness: Harness, mock: Any) -> None:
    mock.get(CONTEXT_URL).mock(return_value=httpx.Response(200, json=[1, 2]))
    with pytest.raises(APIResponseValidationError):
        await harness.call(harness.client(), "get_run_context", "wf_pr_review", RUN_ID)


# -- commands ----------------------------------------------------------------------------------


def _answer(status: str) -> httpx.Response:
    return httpx.Response(
        200, json={"run_id": RUN_ID, "workflow_id": "wf_pr_review", "status": status}
    )


@pytest.mark.parametrize(
    ("method", "kwargs", "body", "status"),
    [
        ("pause_run", {}, {"command": "pause", "params": {"run_id": RUN_ID}}, "paused"),
        ("resume_run", {}, {"command": "resume", "params": {"run_id": RUN_ID}}, "running"),
        (
            "stop_run",
            {},
            {"command": "stop", "params": {"run_id": RUN_ID, "mode": "immediate"}},
            "stopped",
        ),
        (
            "stop_run",
            {"mode": "graceful"},
            {"command": "stop", "params": {"run_id": RUN_ID, "mode": "graceful"}},
            "draining",
        ),
    ],
)
async def test_command_bodies_are_as_documented(
    harness: Harness,
    mock: Any,
    method: str,
    kwargs: dict[str, Any],
    body: dict[str, Any],
    status: str,
) -> None:
    route = mock.post(COMMAND_URL).mock(return_value=_answer(status))
    result = await harness.call(harness.client(), method, "wf_pr_review", RUN_ID, **kwargs)
    assert isinstance(result, RunCommandResult)
    assert (result.run_id, result.workflow_id, result.status) == (RUN_ID, "wf_pr_review", status)
    assert result.state is RunStatus(status)
    sent = route.calls.last.request
    assert json.loads(sent.content) == body
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["idempotency-key"]
    assert sent.headers["x-tenant-id"] == "acme" and sent.headers["x-project-id"] == "proj-1"


async def test_one_key_across_a_retried_503(harness: Harness, mock: Any) -> None:
    route = mock.post(COMMAND_URL).mock(
        side_effect=[_error(503, "maintenance", "INTERNAL_ERROR"), _answer("draining")]
    )
    result = await harness.call(
        harness.client(), "stop_run", "wf_pr_review", RUN_ID, mode="graceful"
    )
    assert result.state is RunStatus.DRAINING
    assert route.call_count == 2 and len(harness.sleeps) == 1
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert len(keys) == 1
    bodies = {call.request.content for call in route.calls}
    assert len(bodies) == 1


async def test_given_key_is_sent_and_calls_get_their_own(harness: Harness, mock: Any) -> None:
    route = mock.post(COMMAND_URL).mock(return_value=_answer("paused"))
    client = harness.client()
    await harness.call(client, "pause_run", "wf_pr_review", RUN_ID, idempotency_key="k-1")
    await harness.call(client, "pause_run", "wf_pr_review", RUN_ID)
    await harness.call(client, "pause_run", "wf_pr_review", RUN_ID)
    keys = [call.request.headers["idempotency-key"] for call in route.calls]
    assert keys[0] == "k-1" and len(set(keys)) == 3


async def test_409_is_a_conflict_that_may_be_ours_after_a_retry(
    harness: Harness, mock: Any
) -> None:
    mock.post(COMMAND_URL).mock(
        return_value=_error(409, "run is stopped; it cannot be resumed", "CONFLICT")
    )
    with pytest.raises(ConflictError) as info:
        await harness.call(harness.client(), "resume_run", "wf_pr_review", RUN_ID)
    assert info.value.maybe_ours is False
    assert (info.value.error, info.value.code) == (
        "run is stopped; it cannot be resumed",
        "CONFLICT",
    )

    mock.post(COMMAND_URL).mock(
        side_effect=[_error(503, "busy"), _error(409, "run is already stopped", "CONFLICT")]
    )
    with pytest.raises(ConflictError) as info:
        await harness.call(harness.client(), "stop_run", "wf_pr_review", RUN_ID)
    assert info.value.maybe_ours is True  # the 503'd attempt may have stopped it

    mock.post(COMMAND_URL).mock(
        side_effect=[httpx.ReadTimeout("lost"), _error(409, "run is already paused")]
    )
    with pytest.raises(ConflictError) as info:
        await harness.call(harness.client(), "pause_run", "wf_pr_review", RUN_ID)
    assert info.value.maybe_ours is True


@pytest.mark.parametrize(
    ("status", "cls"),
    [(404, NotFoundError), (422, UnprocessableEntityError), (403, PermissionDeniedError)],
)
async def test_final_errors_are_typed_and_not_retried(
    harness: Harness, mock: Any, status: int, cls: type[Exception]
) -> None:
    route = mock.post(COMMAND_URL).mock(return_value=_error(status, "nope", "SOME_CODE"))
    with pytest.raises(cls) as info:
        await harness.call(harness.client(), "pause_run", "wf_pr_review", RUN_ID)
    assert type(info.value) is cls
    assert "POST /v1/workflows/wf_pr_review/command" in str(info.value)
    assert route.call_count == 1 and harness.sleeps == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(204),
        httpx.Response(200, text="<html>ok</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, json=["accepted"]),
        httpx.Response(202, json="accepted"),
        httpx.Response(200, text='{"status": '),
        httpx.Response(200, json={"status": {"phase": "x"}, "run_id": None}),
    ],
)
async def test_a_2xx_of_any_shape_is_tolerated(
    harness: Harness, mock: Any, answer: httpx.Response
) -> None:
    route = mock.post(COMMAND_URL).mock(return_value=answer)
    result = await harness.call(harness.client(max_retries=3), "stop_run", "wf_pr_review", RUN_ID)
    assert (result.run_id, result.workflow_id, result.status) == (None, None, None)
    assert result.state is RunStatus.UNKNOWN
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("workflow_id", "run_id"), [("wf", ".."), ("wf", ""), ("", RUN_ID), ("wf", "run\n1")]
)
async def test_ids_are_refused_before_sending(
    harness: Harness, mock: Any, workflow_id: str, run_id: str
) -> None:
    route = mock.post(url__regex=r".*/command$").mock(return_value=_answer("paused"))
    with pytest.raises(InvalidIdError):
        await harness.call(harness.client(), "pause_run", workflow_id, run_id)
    assert not route.called


async def test_a_stop_mode_not_documented_is_refused(harness: Harness, mock: Any) -> None:
    route = mock.post(COMMAND_URL).mock(return_value=_answer("stopped"))
    with pytest.raises(ValueError, match="mode must be"):
        await harness.call(harness.client(), "stop_run", "wf_pr_review", RUN_ID, mode="now")
    assert not route.called


async def test_workflow_id_is_one_path_segment(harness: Harness, mock: Any) -> None:
    route = mock.post(f"{BASE}/v1/workflows/wf%2F..%2Fx/command").mock(
        return_value=_answer("paused")
    )
    await harness.call(harness.client(), "pause_run", "wf/../x", RUN_ID)
    assert route.called


async def test_polling_the_feed_again_reads_nothing_when_it_did_not_change(
    harness: Harness, mock: Any
) -> None:
    """A 304 to If-None-Match, or the same bytes from a server without ETags, is the last
    listing again (``changed`` False): 10,000 runs are not validated on every poll."""
    route = mock.get(RUNS_URL)
    route.side_effect = [
        httpx.Response(200, json={"runs": [OURS]}, headers={"ETag": '"v1"'}),
        httpx.Response(304, headers={"ETag": '"v1"'}),
        httpx.Response(200, json={"runs": [OURS, OLDER]}, headers={"ETag": '"v2"'}),
    ]
    client = harness.client()
    first = await harness.call(client, "poll_runs", None)
    assert first.changed and first.etag == '"v1"' and len(first.runs) == 1
    again = await harness.call(client, "poll_runs", first)
    assert route.calls[1].request.headers["if-none-match"] == '"v1"'
    assert not again.changed and again.runs is first.runs  # the same objects, unread
    newer = await harness.call(client, "poll_runs", again)
    assert newer.changed and len(newer.runs) == 2 and newer.etag == '"v2"'
    # Our shape is read by msgspec; the older one (run_id, cancelled) by the tolerant models,
    # into the same light heads with the same meaning.
    assert all(isinstance(run, ListedRun) for run in (*first.runs, *newer.runs))
    assert [run.state for run in newer.runs] == [RunStatus.PAUSED, RunStatus.STOPPED]
    assert newer.runs[1].id == "run_29d8e7a4c0f6" and newer.runs[1].short_id == "run_29d8"
