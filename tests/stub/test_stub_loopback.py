"""The stub over real loopback: life cycle, concurrency, spawning, the CLI entry point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
import pytest

from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_VIEWER_TOKEN,
    StubServer,
    StubState,
    create_app,
)

pytestmark = pytest.mark.e2e

PR_COMPLETE = "/v1/workflows/wf_pr_review/runs/run_7f3a9c1e5b2d/tasks/approve-review/complete"


def test_live_stub_serves_its_state(live_stub: StubServer, contributor: dict[str, str]) -> None:
    response = httpx.get(f"{live_stub.url}/v1/tasks/pending", headers=contributor)

    assert live_stub.url.startswith("http://127.0.0.1:")
    assert response.status_code == 200
    assert response.json() == {"tasks": live_stub.state.list_pending()}


def test_twenty_concurrent_completions_have_one_winner(
    live_stub: StubServer, contributor: dict[str, str]
) -> None:
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def attempt(n: int) -> None:
        with httpx.Client(base_url=live_stub.url, timeout=10) as http:
            http.get("/openapi.json")  # connect first, so the posts really race
            barrier.wait()
            response = http.post(
                PR_COMPLETE,
                headers=contributor | {"Idempotency-Key": f"operator-{n}"},
                json={"approved": True},
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    assert Counter(statuses) == {200: 1, 409: 19}
    assert live_stub.state.completed_count == 1


def test_start_and_stop(stub_state: StubState) -> None:
    server = StubServer(stub_state)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url

    started = time.perf_counter()
    server.start()
    startup = time.perf_counter() - started
    url = server.url
    assert httpx.get(f"{url}/openapi.json").status_code == 200
    with pytest.raises(RuntimeError, match="already started"):
        server.start()
    started = time.perf_counter()
    server.stop()
    shutdown = time.perf_counter() - started
    print(f"\nstub server: started in {startup * 1000:.0f} ms, stopped in {shutdown * 1000:.0f} ms")

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/openapi.json")
    server.stop()  # idempotent


def test_a_busy_port_is_a_clear_error(live_stub: StubServer) -> None:
    port = int(live_stub.url.rsplit(":", 1)[1])

    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
        StubServer(StubState(), port=port).start()


def test_a_server_takes_an_app_or_its_options(stub_state: StubState) -> None:
    app = create_app(stub_state)
    with StubServer(app=app) as server:
        assert server.state is stub_state
    with pytest.raises(ValueError, match="either app"):
        StubServer(stub_state, app=app)


def test_the_spawner_adds_fresh_tasks_while_running(
    stub_state: StubState, contributor: dict[str, str]
) -> None:
    with StubServer(stub_state, spawn_every=0.02) as server:
        deadline = time.monotonic() + 5
        while stub_state.pending_count < 14 and time.monotonic() < deadline:
            time.sleep(0.01)
        tasks = httpx.get(f"{server.url}/v1/tasks/pending", headers=contributor).json()["tasks"]
        spawned = tasks[12]
        path = (
            f"/v1/workflows/{spawned['workflow_id']}/runs/{spawned['run_id']}"
            f"/tasks/{spawned['id']}/complete"
        )
        done = httpx.post(f"{server.url}{path}", headers=contributor, json={"approved": True})

    assert stub_state.pending_count >= 13
    assert spawned["created_at"] == "2026-11-25T12:00:00Z"  # created "now" by the fixed clock
    assert done.status_code == 200
    count = stub_state.pending_count
    time.sleep(0.06)
    assert stub_state.pending_count == count  # stopped with the server


def test_the_cli_entry_prints_url_and_tokens_and_stops_on_ctrl_c() -> None:
    code = "from server_stub.runner import serve; serve(port=0, tasks=5, fail_rate=0.0)"
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        output = "".join(lines)
        url = next(w for w in output.split() if w.startswith("http://"))
        response = httpx.get(
            f"{url}/v1/tasks/pending",
            headers={"Authorization": f"Bearer {DEMO_CONTRIBUTOR_TOKEN}", "X-Tenant-Id": "demo"},
        )
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()

    assert DEMO_CONTRIBUTOR_TOKEN in output and DEMO_VIEWER_TOKEN in output
    assert "tenant   demo" in output and "project  demo-project" in output
    assert "17 pending tasks" in output
    assert response.status_code == 200 and len(response.json()["tasks"]) == 17
    assert process.returncode == 0, rest
    assert "Traceback" not in rest
