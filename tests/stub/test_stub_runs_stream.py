"""The WebSocket of run events, ``/v1/workflows/{id}/stream``: frames as things happen (commands,
completions, drains ending by the clock), filters and replays, refusals with close codes – in
process through Starlette's TestClient, and once over real loopback with aiohttp's client."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_TOKENS,
    DEMO_VIEWER_TOKEN,
    ManualClock,
    Principal,
    StubServer,
    StubState,
    create_app,
    seed_demo,
)

from .conftest import headers_for

DIGEST = "/v1/workflows/wf_support_digest"
DIGEST_RUN = "run_d51c0a8e7f24"
LEAD_RUN = "run_8b2f4e1a9c63"
T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
CONTRIBUTOR = headers_for(DEMO_CONTRIBUTOR_TOKEN)


def receive(ws: WebSocketTestSession, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame as JSON, or TimeoutError (TestClient's own receive waits for ever)."""

    async def next_message() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(next_message)
    if message["type"] == "websocket.close":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    frame: dict[str, Any] = json.loads(message["text"])
    return frame


def refusal(client: TestClient, path: str, headers: dict[str, str]) -> WebSocketDisconnect:
    with (
        client.websocket_connect(path, headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        receive(ws)
    return closed.value


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def state(clock: ManualClock) -> StubState:
    state = StubState(now=clock)
    seed_demo(state)
    return state


@pytest.fixture
def client(state: StubState) -> Iterator[TestClient]:
    with TestClient(create_app(state, stream_poll=0.05)) as client:
        yield client


def test_a_command_reaches_the_stream(client: TestClient, state: StubState) -> None:
    with client.websocket_connect(f"{DIGEST}/stream", headers=CONTRIBUTOR) as ws:
        answer = client.post(
            f"{DIGEST}/command",
            headers=CONTRIBUTOR,
            json={"command": "pause", "params": {"run_id": DIGEST_RUN}},
        )
        frame = receive(ws)

    assert answer.status_code == 200
    assert frame == {
        "id": "evt_d51c0a8e7f24_05",
        "type": "state_changed",
        "run_id": DIGEST_RUN,
        "workflow_id": "wf_support_digest",
        "at": "2026-11-25T12:00:00Z",
        "data": {"from": "running", "to": "paused", "command": "pause"},
    }
    assert frame == {**state.events("wf_support_digest", DIGEST_RUN)[-1], **frame}


def test_a_completion_streams_the_steps_that_follow(client: TestClient) -> None:
    run = "/v1/workflows/wf_pr_review/runs/run_7f3a9c1e5b2d"
    with client.websocket_connect("/v1/workflows/wf_pr_review/stream", headers=CONTRIBUTOR) as ws:
        client.post(
            f"{run}/tasks/approve-review/complete",
            headers=CONTRIBUTOR,
            json={"approved": True, "result": {"comment_body": "Ship it"}},
        )
        frames = [receive(ws) for _ in range(5)]

    assert [(f["type"], f.get("step_id")) for f in frames] == [
        ("step_completed", "approve-review"),
        ("state_changed", None),
        ("step_started", "post-review-comment"),
        ("step_completed", "post-review-comment"),
        ("state_changed", None),
    ]
    assert frames[0]["data"] == {"result": {"comment_body": "Ship it", "approved": True}}
    assert frames[2]["data"]["input"]["comment_body"] == "Ship it"
    assert frames[-1]["data"] == {"from": "running", "to": "completed"}
    assert {f["run_id"] for f in frames} == {"run_7f3a9c1e5b2d"}


def test_a_drain_ending_by_the_clock_reaches_the_stream_unprompted(
    client: TestClient, state: StubState, clock: ManualClock
) -> None:
    with client.websocket_connect(f"{DIGEST}/stream", headers=CONTRIBUTOR) as ws:
        state.command("wf_support_digest", "stop", DIGEST_RUN, mode="graceful")
        assert receive(ws)["data"]["to"] == "draining"
        with pytest.raises(TimeoutError):
            receive(ws, timeout=0.2)  # the drain takes the state's 5 s

        clock.advance(5)  # nobody reads: the socket's own look at the clock finds it
        frames = [receive(ws), receive(ws)]

    assert [(f["type"], f["at"]) for f in frames] == [
        ("step_completed", "2026-11-25T12:00:05Z"),
        ("state_changed", "2026-11-25T12:00:05Z"),
    ]
    assert (
        frames[1]["data"]["to"] == "stopped" and frames[1]["data"]["failure_code"] == "RUN_STOPPED"
    )


def test_one_run_can_be_followed_alone(client: TestClient, state: StubState) -> None:
    lead = "/v1/workflows/wf_lead_enrichment"
    with client.websocket_connect(f"{lead}/stream?run_id={LEAD_RUN}", headers=CONTRIBUTOR) as ws:
        state.command("wf_lead_enrichment", "stop", "run_c0b8a6e4f213")  # another run
        state.command("wf_support_digest", "pause", DIGEST_RUN)  # another workflow
        state.command("wf_lead_enrichment", "pause", LEAD_RUN)
        frame = receive(ws)
        with pytest.raises(TimeoutError):
            receive(ws, timeout=0.2)

    assert (frame["run_id"], frame["data"]["to"]) == (LEAD_RUN, "paused")


def test_since_replays_what_followed_then_goes_on(client: TestClient, state: StubState) -> None:
    state.command("wf_support_digest", "pause", DIGEST_RUN)
    state.command("wf_support_digest", "resume", DIGEST_RUN)
    pause = state.events("wf_support_digest", DIGEST_RUN)[-2]
    assert pause["data"]["command"] == "pause"

    path = f"{DIGEST}/stream?since={pause['id']}"
    with client.websocket_connect(path, headers=CONTRIBUTOR) as ws:
        replayed = receive(ws)
        state.command("wf_support_digest", "stop", DIGEST_RUN)
        live = [receive(ws), receive(ws)]

    # The resume; the step in flight went on through the pause, so no new step started.
    assert replayed["id"] == "evt_d51c0a8e7f24_06" and replayed["data"]["command"] == "resume"
    assert [f["id"] for f in live] == ["evt_d51c0a8e7f24_07", "evt_d51c0a8e7f24_08"]
    assert [f["type"] for f in live] == ["step_cancelled", "state_changed"]


def test_events_recorded_in_another_thread_reach_the_socket(
    client: TestClient, state: StubState
) -> None:
    with client.websocket_connect(f"{DIGEST}/stream", headers=CONTRIBUTOR) as ws:
        worker = threading.Thread(
            target=state.command, args=("wf_support_digest", "stop", DIGEST_RUN)
        )
        worker.start()
        worker.join(5)
        frames = [receive(ws, timeout=2), receive(ws, timeout=2)]

    assert [f["type"] for f in frames] == ["step_cancelled", "state_changed"]


def test_a_viewer_may_follow(client: TestClient, state: StubState) -> None:
    with client.websocket_connect(f"{DIGEST}/stream", headers=headers_for(DEMO_VIEWER_TOKEN)) as ws:
        state.command("wf_support_digest", "pause", DIGEST_RUN)
        assert receive(ws)["data"]["to"] == "paused"


NO_AUTH = {k: v for k, v in CONTRIBUTOR.items() if k != "Authorization"}
NO_PROJECT = {k: v for k, v in CONTRIBUTOR.items() if k != "X-Project-Id"}


@pytest.mark.parametrize(
    ("path", "headers", "code", "words"),
    [
        (f"{DIGEST}/stream", NO_AUTH, 4401, "missing credentials"),
        (f"{DIGEST}/stream", CONTRIBUTOR | {"Authorization": "Bearer pat_nope"}, 4401, "unknown"),
        (f"{DIGEST}/stream", CONTRIBUTOR | {"Authorization": "Basic eDp5"}, 4401, "malformed"),
        (f"{DIGEST}/stream", CONTRIBUTOR | {"X-Tenant-Id": "acme"}, 4403, "wrong tenant"),
        (f"{DIGEST}/stream", NO_PROJECT, 4403, "missing X-Project-Id"),
        (f"{DIGEST}/stream", CONTRIBUTOR | {"X-Project-Id": "p2"}, 4403, "wrong project"),
        (f"{DIGEST}/stream", headers_for("pat_run_only"), 4403, 'missing scope "workflow:read"'),
        ("/v1/workflows/wf_nope/stream", CONTRIBUTOR, 4404, "workflow 'wf_nope' not found"),
        ("/v1/workflows/wf_acme/stream", CONTRIBUTOR, 4404, "workflow 'wf_acme' not found"),
        (f"{DIGEST}/stream?run_id=run_nope", CONTRIBUTOR, 4404, "run 'run_nope' not found"),
        (f"{DIGEST}/stream?since=evt_nope_01", CONTRIBUTOR, 4404, "event 'evt_nope_01'"),
    ],
    ids=[
        "no-token",
        "unknown-token",
        "basic",
        "wrong-tenant",
        "no-project",
        "wrong-project",
        "no-read-scope",
        "unknown-workflow",
        "foreign-workflow",
        "unknown-run",
        "unknown-since",
    ],
)
def test_refusals_close_with_a_code_and_the_reason(
    state: StubState, path: str, headers: dict[str, str], code: int, words: str
) -> None:
    from server_stub.state import Workflow

    state.add_workflow(Workflow("wf_acme", "Acme", tenant="acme", project="demo-project"))
    tokens = {
        **DEMO_TOKENS,
        "pat_run_only": Principal(
            "demo", frozenset({"demo-project"}), "project_contributor", frozenset({"workflow:run"})
        ),
    }
    with TestClient(create_app(state, tokens)) as client:
        closed = refusal(client, path, headers)

    assert closed.code == code
    assert words in closed.reason
    assert DEMO_CONTRIBUTOR_TOKEN not in closed.reason


def test_a_long_reason_is_cut_to_what_a_close_frame_holds(state: StubState) -> None:
    long_id = "wf_" + "x" * 200
    with TestClient(create_app(state)) as client:
        closed = refusal(client, f"/v1/workflows/{long_id}/stream", CONTRIBUTOR)

    assert closed.code == 4404
    assert len(closed.reason.encode()) <= 123 and closed.reason.endswith("...")


def _uvicorn_speaks_websocket() -> bool:
    return any(importlib.util.find_spec(name) for name in ("websockets", "wsproto"))


@pytest.mark.e2e
@pytest.mark.skipif(
    not _uvicorn_speaks_websocket(),
    reason="uvicorn serves WebSockets only with the websockets or wsproto package installed",
)
async def test_the_stream_over_real_loopback(stub_state: StubState) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    with StubServer(stub_state) as server:
        url = f"{server.url}{DIGEST}/stream"
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.ws_connect(url, headers=CONTRIBUTOR) as ws:
                async with httpx.AsyncClient(base_url=server.url) as http:
                    answer = await http.post(
                        f"{DIGEST}/command",
                        headers=CONTRIBUTOR,
                        json={"command": "stop", "params": {"run_id": DIGEST_RUN}},
                    )
                frames = [await ws.receive_json(timeout=5), await ws.receive_json(timeout=5)]
            async with session.ws_connect(url, headers=NO_AUTH) as refused:
                closing = await refused.receive(timeout=5)
            await asyncio.sleep(0)

    assert answer.json()["status"] == "stopped"
    assert [f["type"] for f in frames] == ["step_cancelled", "state_changed"]
    assert frames[1]["data"]["failure_code"] == "RUN_STOPPED"
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == 4401 and "missing credentials" in closing.extra
