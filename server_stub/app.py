"""The stub's HTTP surface: the /v1 routes of API.md part 2, their access rules and errors.

Human tasks: the inbox, a run's pending tasks, completing a task, a run's events. Runs: the
tenant's runs feed, one workflow's runs, a run's context, run commands (pause, resume, stop,
start) and a WebSocket of a workflow's run events.

Routes stay thin: access is checked by a dependency before anything else (so a caller without
a valid token learns nothing, not even that its body is malformed), the body is parsed with the
client's own ``CompletionRequest`` (or the stub's strict ``CommandRequest``), and all state
changes happen in ``StubState``. The OpenAPI document is refined after generation so that it
says what the routes really do.

Run commands (``POST /v1/workflows/{id}/command``), by the run's status (409 ``CONFLICT``
otherwise, with the reason in words):

=============================  ========  ========  ==============  =============
status                         pause     resume    stop immediate  stop graceful
=============================  ========  ========  ==============  =============
running                        paused    409       stopped         draining
pending / queued / starting    paused    409       stopped         draining
paused (by an operator)        409       running   stopped         draining
paused (on a human task)       409       409 [1]   stopped [2]     draining [2]
draining                       409       409       stopped [3]     409 [4]
failed / stopped / completed   409       409       409             409
=============================  ========  ========  ==============  =============

[1] "the run waits for a human task; complete the task to resume it". [2] its pending tasks
leave the inbox at once; completing one answers 409 ("no longer pending: its run was stopped").
[3] the escalation of a slow drain. [4] "already draining; escalate with mode immediate".
Stops record ``failure_code`` ``RUN_STOPPED``; an immediate stop cancels the step in flight
(``step_cancelled``, ``reason: run_stopped``). A drain ends after the run's drain time (the
state's ``drain_seconds`` unless the run sets its own): stopped, or failed with
``DRAIN_TIMEOUT`` when the run's drain timeout is shorter. A paused run's step in flight
completes, and no new one starts until ``resume``; resuming a run paused before it started
(pending, queued, starting) starts it. ``start`` starts a new run of the workflow (its
``run_steps``) with ``params`` as variables. The same ``Idempotency-Key`` with the same command
replays the first answer (``Idempotent-Replayed: true``), as completions do.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route and dependency
# signatures at runtime, and a string annotation naming a closure variable cannot be resolved.
import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Security, WebSocket
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from client.models import Completion, CompletionRequest, ErrorBody, EventList, TaskList

from ._access import Access, authorize
from ._errors import ApiError, install_error_handlers, readable_errors
from ._run_models import COMMAND_REQUEST, RunCommandAnswer, RunContextBody, RunFeed, StartCommand
from ._stream import stream_events
from .auth import DEMO_TOKENS, ROLE_CONTRIBUTOR, ROLE_VIEWER, SCOPE_READ, SCOPE_RUN, Principal
from .faults import FaultInjector, FaultMiddleware
from .scenarios import TaskGenerator
from .state import StubState

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

# Declared for the OpenAPI security scheme; the check itself reads the header (see _access).
_BEARER = HTTPBearer(auto_error=False, description="A personal access token: `pat_…`.")

_ERROR_TEXT = {
    401: "Missing, malformed or unknown token.",
    403: "Wrong tenant or project, or the role or token scope does not allow this.",
    404: "Unknown workflow, run or task (the message says which).",
    409: "The task is already completed, or the Idempotency-Key was used for another request.",
    422: "Malformed body: not JSON, `approved` missing or not a boolean, unknown keys, or "
    "`result` not an object.",
    503: "Temporarily unavailable; retry.",
}


_RUN_ERROR_TEXT = {
    404: "Unknown workflow or run (the message says which).",
    409: "The run's status does not allow the command (the message says why), or the "
    "Idempotency-Key was used for another request.",
    422: "Malformed body: not JSON, an unknown command, `params.run_id` missing or empty, a "
    "`mode` other than `immediate`/`graceful` (or a mode for pause/resume), unknown keys.",
}


def _errors(*codes: int, text: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    texts = {**_ERROR_TEXT, **(text or {})}
    return {code: {"model": ErrorBody, "description": texts[code]} for code in codes}


def _state(request: Request) -> StubState:
    state: StubState = request.app.state.stub
    return state


def _access(
    role: str, scope: str, *, project_required: bool, listing: str = "inbox"
) -> Callable[..., Access]:
    project_text = (
        "Project id; required here."
        if project_required
        else f"Project id; restricts the {listing} to that project."
    )

    def check(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
        tenant_id: Annotated[
            str | None, Header(alias="X-Tenant-Id", description="Tenant (workspace slug).")
        ] = None,
        project_id: Annotated[
            str | None, Header(alias="X-Project-Id", description=project_text)
        ] = None,
    ) -> Access:
        tokens: Mapping[str, Principal] = request.app.state.tokens
        return authorize(
            tokens,
            request.headers.get("authorization"),
            tenant_id,
            project_id,
            role=role,
            scope=scope,
            project_required=project_required,
        )

    return check


_inbox_reader = _access(ROLE_VIEWER, SCOPE_READ, project_required=False)
_run_task_reader = _access(ROLE_CONTRIBUTOR, SCOPE_READ, project_required=True)
_run_event_reader = _access(ROLE_VIEWER, SCOPE_READ, project_required=True)
_completer = _access(ROLE_CONTRIBUTOR, SCOPE_RUN, project_required=True)
# The runs feed is read like the inbox, a workflow's runs and a run's context like its events,
# and commands need what completing needs.
_feed_reader = _access(ROLE_VIEWER, SCOPE_READ, project_required=False, listing="runs feed")
_workflow_reader = _access(ROLE_VIEWER, SCOPE_READ, project_required=True)
_commander = _access(ROLE_CONTRIBUTOR, SCOPE_RUN, project_required=True)

StateDep = Annotated[StubState, Depends(_state)]
WorkflowId = Annotated[str, Path(description="Workflow id, e.g. `wf_pr_review`.")]
RunId = Annotated[str, Path(description="Run id, e.g. `run_7f3a9c1e5b2d`.")]
TaskId = Annotated[str, Path(description="Task id; unique only within its run.")]

router = APIRouter(prefix="/v1", tags=["human tasks"])
runs_router = APIRouter(prefix="/v1", tags=["runs"])


@router.get(
    "/tasks/pending",
    response_model=TaskList,
    responses=_errors(401, 403, 503),
    summary="The tenant's inbox: every pending task the token may see",
    operation_id="list_pending_tasks",
)
async def list_pending_tasks(
    request: Request, state: StateDep, access: Annotated[Access, Depends(_inbox_reader)]
) -> Response:
    return _listing(
        request,
        lambda: state.pending_body(access.tenant, access.visible_projects),
        lambda: state.tagged_pending_body(access.tenant, access.visible_projects),
    )


def _listing(
    request: Request, body: Callable[[], bytes], tagged: Callable[[], tuple[bytes, str]]
) -> Response:
    """A listing's body, with an ETag (and 304 for a matching If-None-Match) if enabled."""
    if not request.app.state.entity_tags:
        return Response(body(), media_type="application/json")
    content, etag = tagged()
    headers = {"ETag": etag}
    if etag in _entity_tags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


def _entity_tags(header: str) -> set[str]:
    """The tags of an If-None-Match header (weak ones compare equal, RFC 9110 13.1.2)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


@router.get(
    "/workflows/{workflow_id}/runs/{run_id}/tasks/pending",
    response_model=TaskList,
    responses=_errors(401, 403, 404, 503),
    summary="One run's pending tasks",
    operation_id="list_run_pending_tasks",
)
async def list_run_pending_tasks(
    workflow_id: WorkflowId,
    run_id: RunId,
    state: StateDep,
    access: Annotated[Access, Depends(_run_task_reader)],
) -> Response:
    body = state.run_pending_body(workflow_id, run_id, tenant=access.tenant, project=access.project)
    return Response(body, media_type="application/json")


# The header of an answer replayed for a repeated Idempotency-Key (completions, commands).
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier "
        "request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


@router.post(
    "/workflows/{workflow_id}/runs/{run_id}/tasks/{task_id}/complete",
    response_model=Completion,
    responses={
        200: {
            "description": "Completed; the run resumed. A replay answers the first response.",
            "headers": _REPLAYED,
        },
        **_errors(401, 403, 404, 409, 422, 503),
    },
    summary="Approve or reject a pending task, optionally with a result",
    operation_id="complete_task",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/CompletionRequest"},
                    "example": {"approved": True, "result": {"comment_body": "LGTM"}},
                }
            },
        }
    },
)
async def complete_task(
    workflow_id: WorkflowId,
    run_id: RunId,
    task_id: TaskId,
    request: Request,
    state: StateDep,
    access: Annotated[Access, Depends(_completer)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes retries safe: the same key and request replay the first answer.",
        ),
    ] = None,
) -> JSONResponse:
    # Parsed here, after the access check, rather than as a FastAPI body parameter.
    try:
        decision = CompletionRequest.model_validate_json(await request.body())
    except pydantic.ValidationError as exc:
        raise ApiError(422, "invalid completion body: " + readable_errors(exc.errors())) from None
    outcome = state.complete(
        workflow_id,
        run_id,
        task_id,
        approved=decision.approved,
        result=decision.result,
        idempotency_key=(idempotency_key or "").strip() or None,
        tenant=access.tenant,
        project=access.project,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(dict(outcome.body), status_code=outcome.status_code, headers=headers)


@router.get(
    "/workflows/{workflow_id}/runs/{run_id}/events",
    response_model=EventList,
    response_model_exclude_none=True,
    responses=_errors(401, 403, 404, 503),
    summary="A run's events, oldest first",
    operation_id="list_run_events",
)
async def list_run_events(
    workflow_id: WorkflowId,
    run_id: RunId,
    state: StateDep,
    access: Annotated[Access, Depends(_run_event_reader)],
) -> dict[str, Any]:
    events = state.events(workflow_id, run_id, tenant=access.tenant, project=access.project)
    return {"events": events}


@runs_router.get(
    "/runs",
    response_model=RunFeed,
    responses=_errors(401, 403, 503),
    summary="The tenant's runs feed: every run the token may see, most recently changed first",
    operation_id="list_runs",
)
async def list_runs(
    request: Request, state: StateDep, access: Annotated[Access, Depends(_feed_reader)]
) -> Response:
    return _listing(
        request,
        lambda: state.runs_body(access.tenant, access.visible_projects),
        lambda: state.tagged_runs_body(access.tenant, access.visible_projects),
    )


@runs_router.get(
    "/workflows/{workflow_id}/runs",
    response_model=RunFeed,
    responses=_errors(401, 403, 404, 503, text={404: "Unknown workflow."}),
    summary="One workflow's runs, most recently changed first",
    operation_id="list_workflow_runs",
)
async def list_workflow_runs(
    workflow_id: WorkflowId,
    request: Request,
    state: StateDep,
    access: Annotated[Access, Depends(_workflow_reader)],
) -> Response:
    projects = access.visible_projects
    return _listing(
        request,
        lambda: state.runs_body(access.tenant, projects, workflow_id=workflow_id),
        lambda: state.tagged_runs_body(access.tenant, projects, workflow_id=workflow_id),
    )


@runs_router.get(
    "/workflows/{workflow_id}/runs/{run_id}/context",
    response_model=RunContextBody,
    responses=_errors(401, 403, 404, 503, text={404: _RUN_ERROR_TEXT[404]}),
    summary="A run's variables and what each of its steps did",
    operation_id="get_run_context",
)
async def get_run_context(
    workflow_id: WorkflowId,
    run_id: RunId,
    state: StateDep,
    access: Annotated[Access, Depends(_workflow_reader)],
) -> JSONResponse:
    context = state.run_context(workflow_id, run_id, tenant=access.tenant, project=access.project)
    return JSONResponse(context)


@runs_router.post(
    "/workflows/{workflow_id}/command",
    response_model=RunCommandAnswer,
    responses={
        200: {
            "description": "Applied: the run's status after the command (`draining` for a "
            "graceful stop). A replay answers the first response.",
            "headers": _REPLAYED,
        },
        **_errors(401, 403, 404, 409, 422, 503, text=_RUN_ERROR_TEXT),
    },
    summary="Pause, resume or stop a run, or start a new one",
    operation_id="run_command",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/RunCommandRequest"},
                    "example": {
                        "command": "stop",
                        "params": {"run_id": "run_3e9a1c77d2b0", "mode": "graceful"},
                    },
                }
            },
        }
    },
)
async def run_command(
    workflow_id: WorkflowId,
    request: Request,
    state: StateDep,
    access: Annotated[Access, Depends(_commander)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes retries safe: the same key and command replay the first answer.",
        ),
    ] = None,
) -> JSONResponse:
    try:
        command = COMMAND_REQUEST.validate_json(await request.body())
    except pydantic.ValidationError as exc:
        message = "invalid command body: " + _command_errors(exc.errors())
        raise ApiError(422, message) from None
    key = (idempotency_key or "").strip() or None
    if isinstance(command, StartCommand):
        outcome = state.command(
            workflow_id,
            "start",
            params=command.params,
            idempotency_key=key,
            tenant=access.tenant,
            project=access.project,
        )
    else:
        outcome = state.command(
            workflow_id,
            command.command,
            command.params.run_id,
            mode=command.params.mode,
            idempotency_key=key,
            tenant=access.tenant,
            project=access.project,
        )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(dict(outcome.body), status_code=outcome.status_code, headers=headers)


def _command_errors(errors: list[Any]) -> str:
    """Pydantic's errors of a command body, without the union's tag in each location."""
    readable = []
    for error in errors:
        kind = error.get("type")
        if kind == "union_tag_invalid":
            readable.append(
                {
                    "loc": ("command",),
                    "msg": "unknown command; expected pause, resume, stop or start",
                }
            )
        elif kind == "union_tag_not_found":
            readable.append({"loc": ("command",), "msg": "Field required"})
        else:
            location = tuple(error.get("loc", ()))
            if location and location[0] in ("pause", "resume", "stop", "start"):
                location = location[1:]
            message = error.get("msg", "invalid value")
            if kind == "none_required" and location[-1:] == ("mode",):
                message = "only stop takes a mode"
            readable.append({"loc": location, "msg": message})
    return readable_errors(readable)


@runs_router.websocket("/workflows/{workflow_id}/stream")
async def stream_workflow_events(
    websocket: WebSocket,
    workflow_id: str,
    run_id: Annotated[str | None, Query()] = None,
    since: Annotated[str | None, Query()] = None,
) -> None:
    """A workflow's run events as JSON text frames, as they happen (see ``_stream``)."""
    await stream_events(websocket, workflow_id, run_id=run_id, since=since)


async def _spawn_forever(state: StubState, every: float) -> None:
    """Keep the inbox alive for demos: a fresh realistic task every ``every`` seconds."""
    generator = TaskGenerator(secrets.randbits(32), stream="spawned")
    while True:
        await asyncio.sleep(every)
        try:
            generator.add(state, 1, fresh=True)
        except ValueError:  # pragma: no cover - a run id collision; skip this one
            logger.warning("spawner skipped a task whose run id already exists")


def _refine_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the generated document say what the routes do.

    The tenant header (and the project header on workflow routes) is required: without it the
    answer is 403, which FastAPI cannot express, as it would answer 422 itself. The completion
    and command bodies are parsed by hand (after the access check), so their schemas are added
    here. The GET routes never answer 422, so FastAPI's default 422 entry goes.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    template = "#/components/schemas/{model}"
    components["CompletionRequest"] = CompletionRequest.model_json_schema(ref_template=template)
    command = COMMAND_REQUEST.json_schema(ref_template=template)
    components.update(command.pop("$defs", {}))
    command["title"] = "RunCommandRequest"
    components["RunCommandRequest"] = command
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "header":
                    continue
                if parameter["name"] == "X-Tenant-Id" or (
                    parameter["name"] == "X-Project-Id" and path.startswith("/v1/workflows/")
                ):
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "title": parameter["name"]}
            responses = operation.get("responses", {})
            default_422 = responses.get("422", {})
            if "HTTPValidationError" in str(default_422):
                del responses["422"]
    if "HTTPValidationError" not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def create_app(
    state: StubState | None = None,
    tokens: Mapping[str, Principal] | None = None,
    *,
    faults: FaultInjector | None = None,
    spawn_every: float | None = None,
    entity_tags: bool = True,
    stream_poll: float = 1.0,
) -> FastAPI:
    """Build the stub's ASGI app.

    ``state`` defaults to an empty ``StubState`` (seed it explicitly), ``tokens`` to
    ``DEMO_TOKENS``. ``faults`` injects latency and failures; ``spawn_every`` adds a new pending
    task every so many seconds while the app runs (its lifespan). ``entity_tags`` gives the
    inbox listing and the runs feeds an ``ETag`` and answers a matching ``If-None-Match`` with
    304, as many HTTP APIs do (the platform documents neither); off, every poll gets the whole
    body. ``stream_poll`` is the longest a WebSocket of run events waits before it looks for
    transitions that fell due by the clock (changes made through the state wake it at once).
    """
    if spawn_every is not None and spawn_every <= 0:
        raise ValueError(f"spawn_every must be positive, got {spawn_every}")
    if stream_poll <= 0:
        raise ValueError(f"stream_poll must be positive, got {stream_poll}")
    stub_state = state if state is not None else StubState()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        spawner = (
            asyncio.create_task(_spawn_forever(stub_state, spawn_every)) if spawn_every else None
        )
        try:
            yield
        finally:
            if spawner is not None:
                spawner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await spawner

    app = FastAPI(
        title="Command Center stub of the /v1 human-task API",
        version="1",
        description="A stub of the workflow platform's human-task and run API (API.md part 2) "
        "for tests and demos. Authenticate with `Authorization: Bearer <token>` and send "
        "`X-Tenant-Id`; workflow routes also need `X-Project-Id`.\n\n"
        "Not listed below (OpenAPI has no WebSockets): `GET /v1/workflows/{workflow_id}/stream`, "
        "a WebSocket of the workflow's run events as they happen, one JSON text frame each: "
        "`{id, type, run_id, workflow_id, step_id?, at, data?}`. Authenticate the upgrade "
        "request with the same three headers (project_viewer and `workflow:read`). Query: "
        "`run_id` follows one run, `since=<event id>` replays the events after that one. A "
        "refusal accepts and closes at once with code 4401 (credentials), 4403 (tenant, "
        "project, role or scope) or 4404 (unknown workflow, run or event) and the reason.",
        lifespan=lifespan,
    )
    app.state.stub = stub_state
    app.state.tokens = tokens if tokens is not None else DEMO_TOKENS
    app.state.faults = faults
    app.state.entity_tags = entity_tags
    app.state.stream_poll = stream_poll
    app.include_router(router)
    app.include_router(runs_router)
    install_error_handlers(app)
    if faults is not None:
        app.add_middleware(FaultMiddleware, injector=faults)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _refine_openapi(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
