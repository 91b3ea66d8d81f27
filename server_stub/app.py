"""The stub's HTTP surface: the four /v1 routes of API.md part 2, their access rules and errors.

Routes stay thin: access is checked by a dependency before anything else (so a caller without
a valid token learns nothing, not even that its body is malformed), the body is parsed with the
client's own ``CompletionRequest``, and all state changes happen in ``StubState``. The OpenAPI
document is refined after generation so that it says what the routes really do.
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
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from client.models import Completion, CompletionRequest, ErrorBody, EventList, TaskList

from ._access import Access, authorize
from ._errors import ApiError, install_error_handlers, readable_errors
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


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _ERROR_TEXT[code]} for code in codes}


def _state(request: Request) -> StubState:
    state: StubState = request.app.state.stub
    return state


def _access(role: str, scope: str, *, project_required: bool) -> Callable[..., Access]:
    project_text = (
        "Project id; required here."
        if project_required
        else "Project id; restricts the inbox to that project."
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

StateDep = Annotated[StubState, Depends(_state)]
WorkflowId = Annotated[str, Path(description="Workflow id, e.g. `wf_pr_review`.")]
RunId = Annotated[str, Path(description="Run id, e.g. `run_7f3a9c1e5b2d`.")]
TaskId = Annotated[str, Path(description="Task id; unique only within its run.")]

router = APIRouter(prefix="/v1", tags=["human tasks"])


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
    if not request.app.state.entity_tags:
        body = state.pending_body(access.tenant, access.visible_projects)
        return Response(body, media_type="application/json")
    body, etag = state.tagged_pending_body(access.tenant, access.visible_projects)
    headers = {"ETag": etag}
    if etag in _entity_tags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


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


@router.post(
    "/workflows/{workflow_id}/runs/{run_id}/tasks/{task_id}/complete",
    response_model=Completion,
    responses={
        200: {
            "description": "Completed; the run resumed. A replay answers the first response.",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "`true` when this is the stored answer to an earlier "
                    "request with the same Idempotency-Key.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
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

    The tenant header (and the project header on run routes) is required: without it the
    answer is 403, which FastAPI cannot express, as it would answer 422 itself. The completion
    body is parsed by hand (after the access check), so its schema is added here. The GET
    routes never answer 422, so FastAPI's default 422 entry goes.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["CompletionRequest"] = CompletionRequest.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "header":
                    continue
                if parameter["name"] == "X-Tenant-Id" or (
                    parameter["name"] == "X-Project-Id" and "/runs/" in path
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
) -> FastAPI:
    """Build the stub's ASGI app.

    ``state`` defaults to an empty ``StubState`` (seed it explicitly), ``tokens`` to
    ``DEMO_TOKENS``. ``faults`` injects latency and failures; ``spawn_every`` adds a new pending
    task every so many seconds while the app runs (its lifespan). ``entity_tags`` gives the
    inbox listing an ``ETag`` and answers a matching ``If-None-Match`` with 304, as many HTTP
    APIs do (the platform documents neither); off, every poll gets the whole body.
    """
    if spawn_every is not None and spawn_every <= 0:
        raise ValueError(f"spawn_every must be positive, got {spawn_every}")
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
        description="A stub of the workflow platform's human-task API (API.md part 2) for "
        "tests and demos. Authenticate with `Authorization: Bearer <token>` and send "
        "`X-Tenant-Id`; run-scoped routes also need `X-Project-Id`.",
        lifespan=lifespan,
    )
    app.state.stub = stub_state
    app.state.tokens = tokens if tokens is not None else DEMO_TOKENS
    app.state.faults = faults
    app.state.entity_tags = entity_tags
    app.include_router(router)
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
