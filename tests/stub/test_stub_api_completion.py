"""Completing tasks over the API: answers, idempotency, 404/409/422, and the events that follow."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.models import Completion, EventList, TaskList
from server_stub import StubState

PR_RUN = "/v1/workflows/wf_pr_review/runs/run_7f3a9c1e5b2d"
PR_COMPLETE = f"{PR_RUN}/tasks/approve-review/complete"
EMAIL_RUN = "/v1/workflows/wf_customer_reply/runs/run_c1a7e2f04b19"
CRM_RUN = "/v1/workflows/wf_crm_extraction/runs/run_7a1d3c9e6f02"
CONTRACT_RUN = "/v1/workflows/wf_vendor_contract/runs/run_4c8b1f6e2a93"


def assert_error(response: httpx.Response, status: int, code: str, *phrases: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code"} and body["code"] == code
    for phrase in phrases:
        assert phrase in body["error"], body["error"]


async def events_of(api: httpx.AsyncClient, run: str, headers: dict[str, str]) -> list[Any]:
    response = await api.get(f"{run}/events", headers=headers)
    assert response.status_code == 200
    return EventList.model_validate_json(response.content).events


def step(events: list[Any], step_id: str, kind: str = "step_started") -> Any:
    return next(e for e in events if e.step_id == step_id and e.type == kind)


async def test_completing_answers_the_documented_body(
    api: httpx.AsyncClient, contributor: dict[str, str], stub_state: StubState
) -> None:
    response = await api.post(PR_COMPLETE, headers=contributor, json={"approved": True})

    assert response.status_code == 200
    assert response.json() == {"status": "completed", "task_id": "approve-review", "approved": True}
    assert Completion.model_validate_json(response.content).approved is True
    assert "Idempotent-Replayed" not in response.headers
    assert not stub_state.is_pending("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")
    inbox = TaskList.model_validate_json(
        (await api.get("/v1/tasks/pending", headers=contributor)).content
    )
    assert len(inbox.tasks) == 11
    run_tasks = await api.get(f"{PR_RUN}/tasks/pending", headers=contributor)
    assert run_tasks.json() == {"tasks": []}


async def test_a_retry_with_the_same_key_replays_the_first_answer(
    api: httpx.AsyncClient, contributor: dict[str, str], stub_state: StubState
) -> None:
    headers = contributor | {"Idempotency-Key": "decision-1"}
    first = await api.post(
        PR_COMPLETE, headers=headers, json={"approved": False, "result": {"reason": "no"}}
    )
    # The same request, spelled differently: key order and spacing do not matter.
    again = await api.post(
        PR_COMPLETE, headers=headers, content=b'{ "result": {"reason": "no"},  "approved": false }'
    )

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stub_state.completed_count == 1


async def test_a_completed_task_conflicts_without_the_same_key(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    await api.post(
        PR_COMPLETE, headers=contributor | {"Idempotency-Key": "k1"}, json={"approved": True}
    )

    no_key = await api.post(PR_COMPLETE, headers=contributor, json={"approved": True})
    other_key = await api.post(
        PR_COMPLETE, headers=contributor | {"Idempotency-Key": "k2"}, json={"approved": True}
    )

    assert_error(no_key, 409, "CONFLICT", "already completed")
    assert_error(other_key, 409, "CONFLICT", "already completed")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (PR_COMPLETE, {"approved": False}),
        (PR_COMPLETE, {"approved": True, "result": {"comment_body": "other"}}),
        (f"{EMAIL_RUN}/tasks/approve-email/complete", {"approved": True}),
    ],
    ids=["other-decision", "other-result", "other-task"],
)
async def test_reusing_a_key_for_another_request_conflicts(
    api: httpx.AsyncClient,
    contributor: dict[str, str],
    stub_state: StubState,
    path: str,
    body: dict[str, Any],
) -> None:
    headers = contributor | {"Idempotency-Key": "reused"}
    await api.post(PR_COMPLETE, headers=headers, json={"approved": True})

    response = await api.post(path, headers=headers, json=body)

    assert_error(response, 409, "CONFLICT", "different request")
    assert stub_state.is_pending("wf_customer_reply", "run_c1a7e2f04b19", "approve-email")


@pytest.mark.parametrize(
    ("content", "mentions"),
    [
        (b"{not json", "Invalid JSON"),
        (b"", "Invalid JSON"),
        (b"{}", "approved: Field required"),
        (b'{"result": {}}', "approved: Field required"),
        (b'{"approved": "yes"}', "approved: Input should be a valid boolean"),
        (b'{"approved": "true"}', "approved: Input should be a valid boolean"),
        (b'{"approved": 1}', "approved: Input should be a valid boolean"),
        (b'{"approved": null}', "approved: Input should be a valid boolean"),
        (b'{"approved": true, "result": "edited"}', "result: Input should be an object"),
        (b'{"approved": true, "result": [1, 2]}', "result: Input should be an object"),
        (b'{"approved": true, "reason": "x"}', "reason: Extra inputs are not permitted"),
        (b"[true]", "body: Input should be an object"),
    ],
    ids=[
        "invalid-json",
        "empty",
        "empty-object",
        "approved-missing",
        "yes",
        "string-true",
        "one",
        "null",
        "result-string",
        "result-list",
        "unknown-key",
        "array",
    ],
)
async def test_malformed_bodies_are_422(
    api: httpx.AsyncClient,
    contributor: dict[str, str],
    stub_state: StubState,
    content: bytes,
    mentions: str,
) -> None:
    response = await api.post(
        PR_COMPLETE, headers=contributor | {"Content-Type": "application/json"}, content=content
    )

    assert_error(response, 422, "VALIDATION_ERROR", mentions)
    assert stub_state.is_pending("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    approved=st.recursive(
        st.none()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=5,
    )
)
def test_only_a_json_boolean_approves(
    stub_app: FastAPI, contributor: dict[str, str], approved: Any
) -> None:
    async def attempt() -> httpx.Response:
        transport = httpx.ASGITransport(app=stub_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://stub.test") as api:
            return await api.post(
                PR_COMPLETE, headers=contributor, content=json.dumps({"approved": approved})
            )

    response = asyncio.run(attempt())

    assert_error(response, 422, "VALIDATION_ERROR", "approved")


@pytest.mark.parametrize(
    ("path", "names"),
    [
        (
            "/v1/workflows/wf_nope/runs/run_7f3a9c1e5b2d/tasks/approve-review/complete",
            "workflow 'wf_nope'",
        ),
        (
            "/v1/workflows/wf_pr_review/runs/run_nope/tasks/approve-review/complete",
            "run 'run_nope'",
        ),
        (f"{PR_RUN}/tasks/nope/complete", "task 'nope'"),
    ],
    ids=["workflow", "run", "task"],
)
async def test_unknown_ids_are_404_naming_which(
    api: httpx.AsyncClient, contributor: dict[str, str], path: str, names: str
) -> None:
    response = await api.post(path, headers=contributor, json={"approved": True})

    assert_error(response, 404, "NOT_FOUND", names)


@pytest.mark.parametrize("suffix", ["tasks/pending", "events"])
async def test_run_reads_of_unknown_ids_are_404(
    api: httpx.AsyncClient, contributor: dict[str, str], suffix: str
) -> None:
    no_workflow = await api.get(
        f"/v1/workflows/wf_nope/runs/run_7f3a9c1e5b2d/{suffix}", headers=contributor
    )
    no_run = await api.get(
        f"/v1/workflows/wf_pr_review/runs/run_nope/{suffix}", headers=contributor
    )

    assert_error(no_workflow, 404, "NOT_FOUND", "workflow 'wf_nope'")
    assert_error(no_run, 404, "NOT_FOUND", "run 'run_nope'")


async def test_unknown_routes_and_methods_answer_in_the_error_shape(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    unknown = await api.get("/v1/nothing/here", headers=contributor)
    wrong_method = await api.delete("/v1/tasks/pending", headers=contributor)

    assert_error(unknown, 404, "NOT_FOUND")
    assert_error(wrong_method, 405, "METHOD_NOT_ALLOWED", "DELETE")
    assert wrong_method.headers["Allow"] == "GET"


async def test_events_after_a_plain_approve(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    await api.post(
        f"{EMAIL_RUN}/tasks/approve-email/complete", headers=contributor, json={"approved": True}
    )

    events = await events_of(api, EMAIL_RUN, contributor)

    assert step(events, "approve-email", "step_completed").data == {"result": {"approved": True}}
    sent = step(events, "send-email").data["input"]
    assert sent["subject"] == "Re: Refund for order ORD-558102"
    assert sent["body"].startswith("Hi Dana,\n\n")
    assert sent["to"] == "dana.whitfield@example.com"
    assert step(events, "send-email", "step_completed").data["input"] == sent
    assert (events[-1].type, events[-1].data) == (
        "state_changed",
        {"from": "running", "to": "completed"},
    )


async def test_events_after_approve_with_edits(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    edits = {"subject": "Your refund is on its way", "body": "Hi Dana,\n\nDone.\n\nSam"}

    response = await api.post(
        f"{EMAIL_RUN}/tasks/approve-email/complete",
        headers=contributor,
        json={"approved": True, "result": edits},
    )

    assert response.status_code == 200
    events = await events_of(api, EMAIL_RUN, contributor)
    assert step(events, "approve-email", "step_completed").data == {
        "result": {**edits, "approved": True}
    }
    assert step(events, "send-email").data["input"] == {"to": "dana.whitfield@example.com", **edits}


async def test_typed_edits_reach_the_crm_update(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    edits = {
        "company_name": "Northwind Traders AG",
        "employee_count": 260,
        "annual_revenue_usd": 19_250_000.5,
        "existing_customer": True,
        "industry": "retail",
        "contact_email": "j.keller@northwind.example",
    }
    await api.post(
        f"{CRM_RUN}/tasks/review-extraction/complete",
        headers=contributor,
        json={"approved": True, "result": edits},
    )

    written = step(await events_of(api, CRM_RUN, contributor), "update-crm").data["input"]

    assert written == edits
    assert type(written["employee_count"]) is int and written["existing_customer"] is True


async def test_events_after_a_rejection(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    await api.post(
        PR_COMPLETE, headers=contributor, json={"approved": False, "result": {"reason": "Wrong PR"}}
    )

    events = await events_of(api, PR_RUN, contributor)

    assert not [e for e in events if e.step_id == "post-review-comment"]
    assert step(events, "notify-author").data["input"] == {
        "repository": "acme/api",
        "pull_request": 1432,
        "reason": "Wrong PR",
    }
    assert events[-1].data == {"from": "running", "to": "stopped"}


async def test_a_two_task_run_stays_paused_after_the_first(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    await api.post(
        f"{CONTRACT_RUN}/tasks/legal-review/complete", headers=contributor, json={"approved": True}
    )

    still = await api.get(f"{CONTRACT_RUN}/tasks/pending", headers=contributor)
    events = await events_of(api, CONTRACT_RUN, contributor)
    assert [t["id"] for t in still.json()["tasks"]] == ["budget-approval"]
    assert events[-1].type == "step_completed" and events[-1].step_id == "legal-review"
    assert not [e for e in events if e.step_id == "countersign-contract"]

    await api.post(
        f"{CONTRACT_RUN}/tasks/budget-approval/complete",
        headers=contributor,
        json={"approved": True},
    )

    events = await events_of(api, CONTRACT_RUN, contributor)
    assert step(events, "countersign-contract")
    assert events[-1].data == {"from": "running", "to": "completed"}
