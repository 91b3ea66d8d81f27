"""Schemathesis against the stub's own OpenAPI document, in process (ASGI).

One test per operation of ``/openapi.json``. Each runs schemathesis' examples, coverage and
fuzzing phases (positive and negative data, at most 30 generated examples) as the demo
contributor, and every built-in check: no 5xx, only documented statuses, bodies and headers that
match the schema, schema-violating input refused, valid input not refused, auth enforced. On top,
every 4xx must be the platform's error shape, ``{"error": "...", "code"?: "..."}`` and nothing else.

Generated ids almost never exist, so hooks swap real ``(workflow_id, run_id[, task_id])``
combinations (and real run ids in command bodies) in half the time, and explicit examples pin
the answers that matter: 200 for a real run or a pending task, 409 for a completed one or an
impossible run transition, 404 for unknown ids, 422 for malformed bodies. The app's state is
rebuilt before each operation's test, so the tests do not depend on order.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import settings
from hypothesis import strategies as st

from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    StubState,
    create_app,
    generate_tasks,
    seed_demo,
)

FIXED_NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
GENERATED_TASKS = 40

TaskKey = tuple[str, str, str]
# Completed by an explicit example (200): left out of the fuzzing pool, so it is still pending.
APPROVE_ME: TaskKey = ("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")
# Completed while the state is built: completing it again answers 409.
ALREADY_DONE: TaskKey = ("wf_vendor_contract", "run_4c8b1f6e2a93", "legal-review")
# Still pending in the same run; the malformed-body examples aim at it (and must leave it so).
STILL_PENDING: TaskKey = ("wf_vendor_contract", "run_4c8b1f6e2a93", "budget-approval")
UNKNOWN: TaskKey = ("wf_pr_review", "run_000000000000", "approve-review")
# Run commands' explicit examples: a running run paused twice with one key (kept out of the
# fuzzing pool, so it is still running), a stopped run and a draining one (the clock stands).
PAUSE_ME = ("wf_support_digest", "run_d51c0a8e7f24")
STOPPED = ("wf_support_digest", "run_46d0b9e3a7f5")
DRAINING = ("wf_lead_enrichment", "run_c0b8a6e4f213")

AUTH = {"Authorization": f"Bearer {DEMO_CONTRIBUTOR_TOKEN}"}
HEADERS = {"X-Tenant-Id": DEMO_TENANT, "X-Project-Id": DEMO_PROJECT}


def fresh_state() -> StubState:
    """The demo, 40 generated tasks, and ``ALREADY_DONE`` completed; on a stopped clock."""
    state = StubState(now=lambda: FIXED_NOW)
    seed_demo(state)
    generate_tasks(state, GENERATED_TASKS)
    state.complete(*ALREADY_DONE, approved=False, result={"reason": "done before the test"})
    return state


def _task_keys(state: StubState) -> list[TaskKey]:
    return [(t["workflow_id"], t["run_id"], t["id"]) for t in state.list_pending()]


_PENDING_AT_START = _task_keys(fresh_state())
FUZZ_TASKS = sorted({*_PENDING_AT_START, ALREADY_DONE} - {APPROVE_ME})
_RUNS_AT_START = {(r["workflow_id"], r["id"]) for r in fresh_state().list_runs()}
FUZZ_RUNS = sorted({key[:2] for key in FUZZ_TASKS} | {APPROVE_ME[:2]} | _RUNS_AT_START)
FUZZ_RUN_IDS = sorted({run_id for _, run_id in _RUNS_AT_START} - {PAUSE_ME[1]})
WORKFLOW_IDS = sorted({key[0] for key in FUZZ_RUNS})

APP = create_app(fresh_state())  # no FaultInjector: nothing but the stub's own answers
CONFIG = schemathesis.Config.from_dict(
    {
        "auth": {"openapi": {"HTTPBearer": {"bearer": DEMO_CONTRIBUTOR_TOKEN}}},
        # Fixed, so generated requests get past the access check; the checks still send
        # requests without them (missing_required_header, ignored_auth).
        "parameters": HEADERS,
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


def _path(names: tuple[str, ...], key: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(names, key, strict=True))


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """Half the time, ids that exist (pending, completed or finished) instead of generated ones."""
    names = tuple(path_parameters or ())
    if "task_id" in names:
        fields = ("workflow_id", "run_id", "task_id")
        real = [_path(fields, key) for key in FUZZ_TASKS]
    elif "run_id" in names:
        fields = ("workflow_id", "run_id")
        real = [_path(fields, key) for key in FUZZ_RUNS]
    elif "workflow_id" in names:
        real = [{"workflow_id": workflow_id} for workflow_id in WORKFLOW_IDS]
    else:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters), st.sampled_from(real))


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Half the time, a command names a run that exists (of this workflow or another)."""
    operation = context.operation
    params = body.get("params") if isinstance(body, dict) else None
    if (
        operation is None
        or not operation.path.endswith("/command")
        or not isinstance(params, dict)
        or "run_id" not in params
    ):
        return st.just(body)
    real = st.sampled_from(FUZZ_RUN_IDS).map(
        lambda run_id: {**body, "params": {**params, "run_id": run_id}}
    )
    return st.one_of(st.just(body), real)


Example = tuple[int, dict[str, Any]]  # expected status, arguments of ``operation.Case``


def _complete_examples() -> list[Example]:
    def case(key: TaskKey, body: Any, media_type: str = "application/json", **headers: str) -> Any:
        path = _path(("workflow_id", "run_id", "task_id"), key)
        return {"path_parameters": path, "headers": headers, "body": body, "media_type": media_type}

    approve = {"approved": True, "result": {"comment_body": "LGTM"}}
    key = {"Idempotency-Key": "explicit-approve"}
    return [
        # The same request twice: one completes, the other is its replay (either order).
        (200, case(APPROVE_ME, approve, **key)),
        (200, case(APPROVE_ME, approve, **key)),
        (409, case(ALREADY_DONE, {"approved": True})),
        (404, case(UNKNOWN, {"approved": True})),
        (422, case(STILL_PENDING, {"approved": "yes"})),
        (422, case(STILL_PENDING, {"approved": True, "comment": "an unknown key"})),
        (422, case(STILL_PENDING, {"approved": True, "result": ["not", "an", "object"]})),
        (422, case(STILL_PENDING, {"result": {}})),
        (422, case(STILL_PENDING, [True])),
        (422, case(STILL_PENDING, "approved=true", "text/plain")),
    ]


def _command_examples() -> list[Example]:
    def case(
        workflow_id: str, body: Any, media_type: str = "application/json", **headers: str
    ) -> Any:
        return {
            "path_parameters": {"workflow_id": workflow_id},
            "headers": headers,
            "body": body,
            "media_type": media_type,
        }

    def command(name: str, run: tuple[str, str], **params: Any) -> Any:
        return case(run[0], {"command": name, "params": {"run_id": run[1], **params}})

    key = {"Idempotency-Key": "explicit-pause"}
    pause = {"command": "pause", "params": {"run_id": PAUSE_ME[1]}}
    return [
        # The same command twice: one pauses, the other is its replay (either order).
        (200, case(PAUSE_ME[0], pause, **key)),
        (200, case(PAUSE_ME[0], pause, **key)),
        (200, case("wf_warehouse_sync", {"command": "start", "params": {"date": "2026-11-25"}})),
        (409, command("resume", STOPPED)),
        (409, command("stop", STOPPED)),
        (409, command("stop", DRAINING, mode="graceful")),
        (409, command("resume", DRAINING)),
        (404, command("pause", (PAUSE_ME[0], "run_000000000000"))),
        (404, command("pause", ("wf_nope", PAUSE_ME[1]))),
        (422, case(PAUSE_ME[0], {"command": "frobnicate", "params": {"run_id": PAUSE_ME[1]}})),
        (422, command("stop", PAUSE_ME, mode="slowly")),
        (422, command("pause", PAUSE_ME, mode="graceful")),
        (422, case(PAUSE_ME[0], {"command": "pause", "params": {}})),
        (422, case(PAUSE_ME[0], {"command": "pause", "params": {"run_id": ""}})),
        (422, case(PAUSE_ME[0], {"command": "pause", "params": {"run_id": 7}})),
        (422, case(PAUSE_ME[0], {**pause, "extra": True})),
        (422, case(PAUSE_ME[0], {"params": {"run_id": PAUSE_ME[1]}})),
        (422, case(PAUSE_ME[0], "command=pause", "text/plain")),
    ]


def _explicit_examples(operation: schemathesis.APIOperation) -> list[Example]:
    if operation.method.upper() == "POST":
        if operation.path.endswith("/command"):
            return _command_examples()
        return _complete_examples()
    if "{workflow_id}" not in operation.path:
        return [(200, {})]
    if "{run_id}" not in operation.path:
        return [
            (200, {"path_parameters": {"workflow_id": PAUSE_ME[0]}}),
            (404, {"path_parameters": {"workflow_id": "wf_nope"}}),
        ]
    names = ("workflow_id", "run_id")
    return [
        (200, {"path_parameters": _path(names, STILL_PENDING[:2])}),
        (404, {"path_parameters": _path(names, UNKNOWN[:2])}),
        (404, {"path_parameters": _path(names, ("wf_nope", "run_nope"))}),
    ]


# Explicit examples carry this header (the stub ignores it) so the test knows what to expect.
EXAMPLE_HEADER = "X-Test-Example"
EXPLICIT: dict[str, int] = {}


@schema.hook
def before_add_examples(
    context: schemathesis.HookContext, examples: list[schemathesis.Case]
) -> None:
    """Add the explicit examples of this operation, each with the status it must get."""
    operation = context.operation
    assert operation is not None
    for index, (status, kwargs) in enumerate(_explicit_examples(operation)):
        marker = f"{operation.label} #{index}"
        EXPLICIT[marker] = status
        # Config auth is not applied to hand-made cases: they carry the token themselves.
        headers = {**AUTH, **HEADERS, **kwargs.pop("headers", {}), EXAMPLE_HEADER: marker}
        examples.append(operation.Case(headers=headers, **kwargs))


# API.md part 1 names these codes; the stub adds FORBIDDEN and METHOD_NOT_ALLOWED.
CODES = {401: "UNAUTHORIZED", 404: "NOT_FOUND", 409: "CONFLICT", 422: "VALIDATION_ERROR"}


def error_shape(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Every 4xx is JSON ``{"error": "...", "code"?: "..."}`` and nothing else."""
    status = response.status_code
    if not 400 <= status < 500:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), content_type
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert set(body) <= {"error", "code"}, f"unexpected keys in an error body: {sorted(body)}"
    assert isinstance(body["error"], str) and body["error"].strip(), body
    if "code" in body:
        assert isinstance(body["code"], str) and re.fullmatch(r"[A-Z_]+", body["code"]), body
        assert body["code"] == CODES.get(status, body["code"]), body


SEEN: Counter[int] = Counter()
EXPLICIT_SEEN: set[str] = set()
FAILED: list[BaseException] = []


@pytest.fixture(autouse=True)
def fresh_stub(request: pytest.FixtureRequest) -> Iterator[None]:
    """A freshly built state for each operation's test; afterwards, what it saw."""
    APP.state.stub = fresh_state()
    SEEN.clear()
    EXPLICIT_SEEN.clear()
    FAILED.clear()
    yield
    print(f"{request.node.name}: {sum(SEEN.values())} responses {dict(sorted(SEEN.items()))}")
    if FAILED:
        return  # the test's own failure says more; Hypothesis stops at the first one
    label = request.node.name.partition("[")[2].rstrip("]")
    expected = {marker for marker in EXPLICIT if marker.startswith(label + " #")}
    assert expected, f"no explicit examples were added for {label}"
    assert expected == EXPLICIT_SEEN, "some explicit examples did not run"


@schema.parametrize()
@settings(max_examples=30, deadline=None)
def test_stub_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    try:
        response = case.call_and_validate(additional_checks=[error_shape])
        SEEN[response.status_code] += 1
        assert response.status_code < 500, response.text
        marker = (case.headers or {}).get(EXAMPLE_HEADER)
        if marker in EXPLICIT:
            EXPLICIT_SEEN.add(marker)
            assert response.status_code == EXPLICIT[marker], response.text
    except BaseException as exc:
        FAILED.append(exc)
        raise
