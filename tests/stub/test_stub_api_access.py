"""Who may call what: 401 and each cause of 403, on every route, and no token in any answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    DEMO_TOKENS,
    DEMO_VIEWER_TOKEN,
    Principal,
    StubState,
    create_app,
)

RUN = "/v1/workflows/wf_pr_review/runs/run_7f3a9c1e5b2d"
INBOX = ("GET", "/v1/tasks/pending")
RUN_TASKS = ("GET", f"{RUN}/tasks/pending")
COMPLETE = ("POST", f"{RUN}/tasks/approve-review/complete")
EVENTS = ("GET", f"{RUN}/events")
FEED = ("GET", "/v1/runs")
WORKFLOW_RUNS = ("GET", "/v1/workflows/wf_pr_review/runs")
CONTEXT = ("GET", f"{RUN}/context")
COMMAND = ("POST", "/v1/workflows/wf_support_digest/command")
ROUTES = [INBOX, RUN_TASKS, COMPLETE, EVENTS, FEED, WORKFLOW_RUNS, CONTEXT, COMMAND]
ROUTE_IDS = [
    "inbox",
    "run-tasks",
    "complete",
    "events",
    "runs-feed",
    "workflow-runs",
    "context",
    "command",
]
# Everything but the two tenant-wide listings names its project.
RUN_ROUTES = [route for route in ROUTES if route not in (INBOX, FEED)]
RUN_ROUTE_IDS = [i for route, i in zip(ROUTES, ROUTE_IDS, strict=True) if route in RUN_ROUTES]
PAUSE = {"command": "pause", "params": {"run_id": "run_d51c0a8e7f24"}}


async def call(
    api: httpx.AsyncClient, route: tuple[str, str], headers: dict[str, str], **kwargs: Any
) -> httpx.Response:
    method, path = route
    if method == "POST":
        kwargs.setdefault("json", PAUSE if path.endswith("/command") else {"approved": True})
    return await api.request(method, path, headers=headers, **kwargs)


def assert_error(response: httpx.Response, status: int, code: str, *phrases: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code"}
    assert body["code"] == code
    for phrase in phrases:
        assert phrase in body["error"]


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer    ",
        DEMO_CONTRIBUTOR_TOKEN,  # no scheme
        "Bearer pat_not_a_real_token",
    ],
    ids=["missing", "basic", "empty", "blank", "no-scheme", "unknown"],
)
async def test_bad_credentials_are_401(
    api: httpx.AsyncClient,
    contributor: dict[str, str],
    route: tuple[str, str],
    authorization: str | None,
) -> None:
    headers = dict(contributor)
    del headers["Authorization"]
    if authorization is not None:
        headers["Authorization"] = authorization

    response = await call(api, route, headers)

    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
async def test_tenant_missing_or_wrong_is_403(
    api: httpx.AsyncClient, contributor: dict[str, str], route: tuple[str, str]
) -> None:
    missing = {k: v for k, v in contributor.items() if k != "X-Tenant-Id"}
    wrong = contributor | {"X-Tenant-Id": "acme"}

    assert_error(await call(api, route, missing), 403, "FORBIDDEN", "X-Tenant-Id")
    assert_error(await call(api, route, wrong), 403, "FORBIDDEN", "wrong tenant", "'acme'")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
async def test_wrong_project_is_403(
    api: httpx.AsyncClient, contributor: dict[str, str], route: tuple[str, str]
) -> None:
    response = await call(api, route, contributor | {"X-Project-Id": "proj-other"})

    assert_error(response, 403, "FORBIDDEN", "wrong project", "'proj-other'")


@pytest.mark.parametrize("route", RUN_ROUTES, ids=RUN_ROUTE_IDS)
async def test_run_routes_require_the_project_header(
    api: httpx.AsyncClient, contributor: dict[str, str], route: tuple[str, str]
) -> None:
    headers = {k: v for k, v in contributor.items() if k != "X-Project-Id"}

    assert_error(await call(api, route, headers), 403, "FORBIDDEN", "missing X-Project-Id")


async def test_the_inbox_needs_no_project_header(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    headers = {k: v for k, v in contributor.items() if k != "X-Project-Id"}

    response = await call(api, INBOX, headers)

    assert response.status_code == 200
    assert len(response.json()["tasks"]) == 12


async def test_the_runs_feed_needs_no_project_header(
    api: httpx.AsyncClient, contributor: dict[str, str]
) -> None:
    headers = {k: v for k, v in contributor.items() if k != "X-Project-Id"}

    response = await call(api, FEED, headers)

    assert response.status_code == 200
    assert len(response.json()["runs"]) == 26


async def test_a_viewer_may_not_command_a_run(
    api: httpx.AsyncClient, viewer: dict[str, str], stub_state: StubState
) -> None:
    response = await call(api, COMMAND, viewer)

    assert_error(response, 403, "FORBIDDEN", 'missing role "project_contributor"')
    assert stub_state.run_state("wf_support_digest", "run_d51c0a8e7f24") == "running"


@pytest.mark.parametrize(
    "route", [FEED, WORKFLOW_RUNS, CONTEXT], ids=["runs-feed", "workflow-runs", "context"]
)
async def test_a_viewer_may_read_runs(
    api: httpx.AsyncClient, viewer: dict[str, str], route: tuple[str, str]
) -> None:
    response = await call(api, route, viewer)

    assert response.status_code == 200
    assert response.json()


@pytest.mark.parametrize("route", [RUN_TASKS, COMPLETE], ids=["run-tasks", "complete"])
async def test_a_viewer_may_not_complete_nor_list_a_runs_tasks(
    api: httpx.AsyncClient, viewer: dict[str, str], stub_state: StubState, route: tuple[str, str]
) -> None:
    response = await call(api, route, viewer)

    assert_error(response, 403, "FORBIDDEN", 'missing role "project_contributor"')
    assert stub_state.is_pending("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")


@pytest.mark.parametrize("route", [INBOX, EVENTS], ids=["inbox", "events"])
async def test_a_viewer_may_read_the_inbox_and_events(
    api: httpx.AsyncClient, viewer: dict[str, str], route: tuple[str, str]
) -> None:
    response = await call(api, route, viewer)

    assert response.status_code == 200
    assert response.json()


def app_with(stub_state: StubState, **principals: Principal) -> httpx.AsyncClient:
    app: FastAPI = create_app(stub_state, tokens={**DEMO_TOKENS, **principals})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stub.test")


def principal(role: str, *scopes: str) -> Principal:
    return Principal(DEMO_TENANT, frozenset({DEMO_PROJECT}), role, frozenset(scopes))


async def test_scopes_are_checked_beside_roles(stub_state: StubState, make_headers: Any) -> None:
    async with app_with(
        stub_state,
        pat_read_only=principal("project_contributor", "workflow:read"),
        pat_run_only=principal("project_contributor", "workflow:run"),
        pat_admin=principal("project_admin", "workflow:read", "workflow:run"),
    ) as api:
        read_only, run_only = make_headers("pat_read_only"), make_headers("pat_run_only")

        assert_error(
            await call(api, COMPLETE, read_only), 403, "FORBIDDEN", 'missing scope "workflow:run"'
        )
        assert (await call(api, RUN_TASKS, read_only)).status_code == 200
        assert_error(
            await call(api, COMMAND, read_only), 403, "FORBIDDEN", 'missing scope "workflow:run"'
        )
        assert_error(
            await call(api, FEED, run_only), 403, "FORBIDDEN", 'missing scope "workflow:read"'
        )
        assert_error(
            await call(api, INBOX, run_only), 403, "FORBIDDEN", 'missing scope "workflow:read"'
        )
        # Roles are a ladder: an admin may do what a contributor may.
        assert (await call(api, COMPLETE, make_headers("pat_admin"))).status_code == 200
        assert (await call(api, COMMAND, make_headers("pat_admin"))).status_code == 200


async def test_no_answer_ever_contains_the_token(
    api: httpx.AsyncClient, contributor: dict[str, str], viewer: dict[str, str]
) -> None:
    token = DEMO_CONTRIBUTOR_TOKEN
    complete_path = COMPLETE[1]
    attempts: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
        ("GET", INBOX[1], contributor, {}),
        ("POST", complete_path, contributor | {"X-Tenant-Id": token}, {"json": {"approved": 1}}),
        ("POST", complete_path, contributor | {"X-Project-Id": token}, {}),
        ("POST", complete_path, contributor | {"X-Tenant-Id": f"x{token}x"}, {}),
        ("POST", complete_path, viewer, {"json": {"approved": True}}),
        ("POST", complete_path, contributor, {"json": {"approved": token}}),
        ("POST", complete_path, contributor, {"json": {"approved": True, token: 1}}),
        ("POST", complete_path, contributor, {"content": token.encode()}),
        ("POST", f"{RUN}/tasks/{token}/complete", contributor, {"json": {"approved": True}}),
        ("GET", f"/v1/workflows/{token}/runs/r/events", contributor, {}),
        ("GET", f"{RUN}/events", contributor, {}),
        ("POST", complete_path, contributor, {"json": {"approved": True}}),
        ("POST", complete_path, contributor, {"json": {"approved": True}}),  # 409
        ("GET", f"/v1/{token}", contributor, {}),
        ("PUT", INBOX[1], contributor, {}),
        ("GET", INBOX[1], {"Authorization": f"Bearer {token}x"}, {}),
    ]
    statuses = set()
    for method, path, headers, kwargs in attempts:
        response = await api.request(method, path, headers=headers, **kwargs)
        statuses.add(response.status_code)
        assert token not in response.text, (method, path, response.text)
        assert DEMO_VIEWER_TOKEN not in response.text
    assert statuses == {200, 401, 403, 404, 405, 409, 422}


async def test_the_inbox_listing_is_tagged_and_a_matching_if_none_match_is_a_304(
    api: httpx.AsyncClient, contributor: dict[str, str], stub_state: StubState
) -> None:
    first = await api.get("/v1/tasks/pending", headers=contributor)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"')
    for header in (etag, f"W/{etag}", f'"other", {etag}'):
        again = await api.get("/v1/tasks/pending", headers={**contributor, "If-None-Match": header})
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    task = first.json()["tasks"][0]
    stub_state.complete(task["workflow_id"], task["run_id"], task["id"], approved=True)
    changed = await api.get("/v1/tasks/pending", headers={**contributor, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert len(changed.json()["tasks"]) == len(first.json()["tasks"]) - 1
