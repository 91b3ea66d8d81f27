"""The run routes over HTTP: the feeds, a run's context, run commands, their errors and replays,
and that the client's own run models read every answer."""

from __future__ import annotations

import httpx
import pytest

from server_stub import StubState
from server_stub._run_models import RunCommandAnswer, RunContextBody, RunFeed
from server_stub.state import NewTask, Workflow

DIGEST = "/v1/workflows/wf_support_digest"
DIGEST_RUN = "run_d51c0a8e7f24"
PR_RUN = "/v1/workflows/wf_pr_review/runs/run_7f3a9c1e5b2d"


def assert_error(response: httpx.Response, status: int, code: str, *phrases: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code"} and body["code"] == code
    for phrase in phrases:
        assert phrase in body["error"], body["error"]


def command(name: str, run_id: str = DIGEST_RUN, **params: str) -> dict[str, object]:
    return {"command": name, "params": {"run_id": run_id, **params}}


async def test_the_runs_feed(api: httpx.AsyncClient, contributor: dict[str, str]) -> None:
    response = await api.get("/v1/runs", headers=contributor)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    runs = RunFeed.model_validate_json(response.content).runs
    assert len(runs) == 26
    assert [r.updated_at for r in runs] == sorted((r.updated_at for r in runs), reverse=True)
    first = response.json()["runs"][0]
    assert first == {
        "id": "run_c0b8a6e4f213",
        "workflow_id": "wf_lead_enrichment",
        "workflow_name": "Lead enrichment",
        "status": "draining",
        "started_at": "2026-11-25T11:54:00Z",
        "updated_at": "2026-11-25T11:59:56Z",
        "pending_tasks": 0,
    }
    failed = next(r for r in response.json()["runs"] if r["id"] == "run_9d3a7f1c0e52")
    assert failed["failure_code"] == "MCP_TOOL_FAILED" and "clearbit" in failed["error"]


async def test_the_feed_is_tagged_and_changes_with_a_command(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    first = await api.get("/v1/runs", headers=contributor)
    etag = first.headers["ETag"]
    unchanged = await api.get("/v1/runs", headers=contributor | {"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""

    await api.post(f"{DIGEST}/command", headers=contributor, json=command("pause"))
    changed = await api.get("/v1/runs", headers=contributor | {"If-None-Match": etag})

    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json()["runs"][0]["id"] == DIGEST_RUN
    assert changed.json()["runs"][0]["status"] == "paused"


async def test_one_workflows_runs(api: httpx.AsyncClient, contributor: dict[str, str]) -> None:
    response = await api.get(f"{DIGEST}/runs", headers=contributor)

    assert response.status_code == 200
    runs = response.json()["runs"]
    assert {r["workflow_id"] for r in runs} == {"wf_support_digest"}
    assert [r["status"] for r in runs] == ["running", "stopped", "failed"]
    etag = response.headers["ETag"]
    again = await api.get(f"{DIGEST}/runs", headers=contributor | {"If-None-Match": etag})
    assert again.status_code == 304


async def test_unknown_and_foreign_workflows_are_404(
    api: httpx.AsyncClient, contributor: dict[str, str], stub_state: StubState
) -> None:
    stub_state.add_workflow(Workflow("wf_acme", "Acme", tenant="acme", project="demo-project"))
    stub_state.add_run("wf_acme", "run_acme", tasks=[NewTask("t", {"title": "theirs"})])

    for path in [
        "/v1/workflows/wf_nope/runs",
        "/v1/workflows/wf_acme/runs",
        "/v1/workflows/wf_acme/runs/run_acme/context",
    ]:
        assert_error(await api.get(path, headers=contributor), 404, "NOT_FOUND", "'wf_")
    stop = await api.post(
        "/v1/workflows/wf_acme/command", headers=contributor, json=command("stop", "run_acme")
    )
    assert_error(stop, 404, "NOT_FOUND", "workflow 'wf_acme' not found")
    assert stub_state.run_state("wf_acme", "run_acme") == "paused"
    feed = (await api.get("/v1/runs", headers=contributor)).json()["runs"]
    assert "run_acme" not in {r["id"] for r in feed}


async def test_a_runs_context(api: httpx.AsyncClient, contributor: dict[str, str]) -> None:
    await api.post(
        f"{PR_RUN}/tasks/approve-review/complete",
        headers=contributor,
        json={"approved": True, "result": {"comment_body": "Ship it"}},
    )

    response = await api.get(f"{PR_RUN}/context", headers=contributor)

    assert response.status_code == 200
    context = RunContextBody.model_validate_json(response.content)
    assert context.run_id == "run_7f3a9c1e5b2d" and context.workflow_id == "wf_pr_review"
    assert context.variables["repository"] == "acme/api"
    human = response.json()["steps"]["approve-review"]
    assert human == {
        "status": "completed",
        "result": {"comment_body": "Ship it", "approved": True},
        "task_id": "approve-review",
    }
    assert response.json()["steps"]["post-review-comment"]["input"]["comment_body"] == "Ship it"
    missing = await api.get("/v1/workflows/wf_pr_review/runs/run_nope/context", headers=contributor)
    assert_error(missing, 404, "NOT_FOUND", "run 'run_nope' not found")


async def test_commands_answer_the_status_after_them(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    path = f"{DIGEST}/command"
    steps = [
        (command("pause"), "paused"),
        (command("resume"), "running"),
        (command("stop", mode="graceful"), "draining"),
        (command("stop", mode="immediate"), "stopped"),
    ]
    for body, status in steps:
        response = await api.post(path, headers=contributor, json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "run_id": DIGEST_RUN,
            "workflow_id": "wf_support_digest",
            "status": status,
        }
        RunCommandAnswer.model_validate_json(response.content)
        assert "Idempotent-Replayed" not in response.headers
    started = await api.post(path, headers=contributor, json={"command": "start"})
    assert started.status_code == 200 and started.json()["status"] == "running"
    assert started.json()["started_at"] == "2026-11-25T12:00:00Z"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (command("resume", "run_46d0b9e3a7f5"), "a stopped run cannot be resumed"),
        (command("pause", "run_46d0b9e3a7f5"), "a stopped run cannot be paused"),
        (command("stop", "run_46d0b9e3a7f5"), "the run is already stopped"),
        (command("resume", "run_5f0e2d8b4a17"), "a failed run cannot be resumed"),
        (command("resume"), "the run is not paused (it is running)"),
    ],
)
async def test_impossible_transitions_are_409(
    api: httpx.AsyncClient, contributor: dict[str, str], body: dict[str, object], words: str
) -> None:
    response = await api.post(f"{DIGEST}/command", headers=contributor, json=body)

    assert_error(response, 409, "CONFLICT", words)


async def test_runs_waiting_on_tasks_and_draining_runs_refuse_the_odd_command(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    pr, lead = "/v1/workflows/wf_pr_review/command", "/v1/workflows/wf_lead_enrichment/command"

    resume = await api.post(pr, headers=contributor, json=command("resume", "run_7f3a9c1e5b2d"))
    pause = await api.post(pr, headers=contributor, json=command("pause", "run_7f3a9c1e5b2d"))
    drain = await api.post(
        lead, headers=contributor, json=command("stop", "run_c0b8a6e4f213", mode="graceful")
    )

    assert_error(resume, 409, "CONFLICT", "complete the task to resume it")
    assert_error(pause, 409, "CONFLICT", "already paused: it waits for a human task")
    assert_error(drain, 409, "CONFLICT", "already draining; escalate with mode immediate")


async def test_a_stopped_runs_task_cannot_be_completed(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    stop = await api.post(
        "/v1/workflows/wf_pr_review/command",
        headers=contributor,
        json=command("stop", "run_7f3a9c1e5b2d"),
    )
    complete = await api.post(
        f"{PR_RUN}/tasks/approve-review/complete", headers=contributor, json={"approved": True}
    )
    inbox = (await api.get("/v1/tasks/pending", headers=contributor)).json()["tasks"]

    assert stop.json()["status"] == "stopped"
    assert_error(complete, 409, "CONFLICT", "no longer pending: its run was stopped")
    assert "run_7f3a9c1e5b2d" not in {t["run_id"] for t in inbox} and len(inbox) == 11


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"command": "frobnicate", "params": {"run_id": DIGEST_RUN}}, "command: unknown command"),
        ({"params": {"run_id": DIGEST_RUN}}, "command: Field required"),
        ({"command": "pause", "params": {}}, "params.run_id: Field required"),
        ({"command": "pause"}, "params: Field required"),
        ({"command": "pause", "params": {"run_id": ""}}, "params.run_id: String should have"),
        ({"command": "pause", "params": {"run_id": 7}}, "params.run_id: Input should be a valid"),
        (command("stop", mode="slowly"), "params.mode: Input should be 'immediate' or 'graceful'"),
        (command("pause", mode="graceful"), "params.mode: only stop takes a mode"),
        ({**command("pause"), "force": True}, "force: Extra inputs are not permitted"),
        ({"command": "start", "params": []}, "params: Input should be an object"),
        (["pause"], "body: Input should be an object"),
    ],
)
async def test_malformed_commands_are_422(
    api: httpx.AsyncClient,
    contributor: dict[str, str],
    stub_state: StubState,
    body: object,
    words: str,
) -> None:
    response = await api.post(f"{DIGEST}/command", headers=contributor, json=body)

    assert_error(response, 422, "VALIDATION_ERROR", "invalid command body: ", words)
    assert stub_state.run_state("wf_support_digest", DIGEST_RUN) == "running"


async def test_a_body_that_is_not_json_is_422(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    response = await api.post(f"{DIGEST}/command", headers=contributor, content=b"pause it")

    assert_error(response, 422, "VALIDATION_ERROR", "invalid command body: ", "Invalid JSON")


async def test_an_unknown_run_is_404(api: httpx.AsyncClient, contributor: dict[str, str]) -> None:
    response = await api.post(
        f"{DIGEST}/command", headers=contributor, json=command("pause", "run_000000000000")
    )

    assert_error(response, 404, "NOT_FOUND", "run 'run_000000000000' not found")


async def test_a_retried_command_with_its_key_replays_the_first_answer(
    api: httpx.AsyncClient, contributor: dict[str, str], stub_state: StubState
) -> None:
    headers = contributor | {"Idempotency-Key": "stop-digest-1"}
    first = await api.post(
        f"{DIGEST}/command", headers=headers, json=command("stop", mode="graceful")
    )
    await api.post(f"{DIGEST}/command", headers=contributor, json=command("stop"))
    # The same request, spelled differently: key order and spacing do not matter.
    again = await api.post(
        f"{DIGEST}/command",
        headers=headers,
        content=b'{"params": {"mode": "graceful", "run_id": "run_d51c0a8e7f24"}, "command":"stop"}',
    )
    other = await api.post(f"{DIGEST}/command", headers=headers, json=command("pause"))

    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.json()["status"] == "draining"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_error(other, 409, "CONFLICT", "Idempotency-Key was already used")
    assert stub_state.run_state("wf_support_digest", DIGEST_RUN) == "stopped"


async def test_the_client_reads_every_run_answer(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    models = pytest.importorskip("client.models")
    runs_module = pytest.importorskip("client._runs")

    feed = (await api.get("/v1/runs", headers=contributor)).json()
    listing = runs_module.parse_run_listing(feed)
    assert len(listing.runs) == 26 and not listing.unreadable
    by_id = {run.id: run for run in listing.runs}
    assert {run.status for run in listing.runs} == {
        "running",
        "paused",
        "queued",
        "pending",
        "draining",
        "failed",
        "stopped",
        "completed",
    }
    assert by_id["run_9d3a7f1c0e52"].failure_code == "MCP_TOOL_FAILED"
    assert by_id["run_4c8b1f6e2a93"].pending_tasks == 2
    assert by_id["run_c0b8a6e4f213"].updated_at is not None
    context = (await api.get(f"{PR_RUN}/context", headers=contributor)).json()
    assert models.RunContext.model_validate(context).variables["pull_request"] == 1432
    answer = await api.post(f"{DIGEST}/command", headers=contributor, json=command("pause"))
    result = models.RunCommandResult.model_validate(answer.json())
    assert (result.run_id, result.workflow_id, result.status) == (
        DIGEST_RUN,
        "wf_support_digest",
        "paused",
    )
