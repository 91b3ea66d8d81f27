"""The served OpenAPI document describes the eight routes as they behave."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

RUN = "/v1/workflows/{workflow_id}/runs/{run_id}"
EXPECTED = {
    ("get", "/v1/tasks/pending"): ("TaskList", {401, 403, 503}),
    ("get", f"{RUN}/tasks/pending"): ("TaskList", {401, 403, 404, 503}),
    ("post", f"{RUN}/tasks/{{task_id}}/complete"): ("Completion", {401, 403, 404, 409, 422, 503}),
    ("get", f"{RUN}/events"): ("EventList", {401, 403, 404, 503}),
    ("get", "/v1/runs"): ("RunFeed", {401, 403, 503}),
    ("get", "/v1/workflows/{workflow_id}/runs"): ("RunFeed", {401, 403, 404, 503}),
    ("get", f"{RUN}/context"): ("RunContextBody", {401, 403, 404, 503}),
    ("post", "/v1/workflows/{workflow_id}/command"): (
        "RunCommandAnswer",
        {401, 403, 404, 409, 422, 503},
    ),
}
# The tenant-wide listings take the project header as a filter; everything else needs it.
TENANT_WIDE = {"/v1/tasks/pending", "/v1/runs"}


@pytest.fixture
async def schema(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = schema["paths"][path][method]
    return op


def test_exactly_the_eight_routes(schema: dict[str, Any]) -> None:
    routes = {(m, p) for p, ops in schema["paths"].items() for m in ops}

    assert routes == set(EXPECTED)


@pytest.mark.parametrize(("method", "path"), list(EXPECTED), ids=lambda v: str(v))
def test_answers_and_errors_are_documented(schema: dict[str, Any], method: str, path: str) -> None:
    model, errors = EXPECTED[(method, path)]
    responses = operation(schema, method, path)["responses"]

    ok = responses["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": f"#/components/schemas/{model}"}
    assert {int(code) for code in responses} == {200, *errors}
    for code in errors:
        body = responses[str(code)]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/ErrorBody"}
        assert responses[str(code)]["description"]


@pytest.mark.parametrize(("method", "path"), list(EXPECTED), ids=lambda v: str(v))
def test_headers_and_auth_are_documented(schema: dict[str, Any], method: str, path: str) -> None:
    op = operation(schema, method, path)
    headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}

    assert op["security"] == [{"HTTPBearer": []}]
    assert headers["X-Tenant-Id"]["required"] is True
    assert headers["X-Project-Id"]["required"] is (path not in TENANT_WIDE)
    assert ("Idempotency-Key" in headers) is (method == "post")
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_the_completion_body_and_replay_header(schema: dict[str, Any]) -> None:
    op = operation(schema, "post", f"{RUN}/tasks/{{task_id}}/complete")
    body = op["requestBody"]["content"]["application/json"]["schema"]
    request = schema["components"]["schemas"]["CompletionRequest"]

    assert op["requestBody"]["required"] is True
    assert body == {"$ref": "#/components/schemas/CompletionRequest"}
    assert request["required"] == ["approved"]
    assert request["properties"]["approved"]["type"] == "boolean"
    assert request["additionalProperties"] is False
    assert "Idempotent-Replayed" in op["responses"]["200"]["headers"]
    assert schema["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


def test_fastapis_default_error_shapes_are_not_advertised(schema: dict[str, Any]) -> None:
    text = str(schema)

    assert "HTTPValidationError" not in text
    assert "'detail'" not in text


def test_the_command_body_is_a_union_on_command(schema: dict[str, Any]) -> None:
    op = operation(schema, "post", "/v1/workflows/{workflow_id}/command")
    body = op["requestBody"]["content"]["application/json"]["schema"]
    components = schema["components"]["schemas"]
    request = components["RunCommandRequest"]

    assert op["requestBody"]["required"] is True
    assert body == {"$ref": "#/components/schemas/RunCommandRequest"}
    assert request["discriminator"]["propertyName"] == "command"
    assert set(request["discriminator"]["mapping"]) == {"pause", "resume", "stop", "start"}
    stop = components["StopParams"]
    assert stop["required"] == ["run_id"]
    assert stop["properties"]["mode"]["enum"] == ["immediate", "graceful"]
    assert stop["additionalProperties"] is False
    assert "Idempotent-Replayed" in op["responses"]["200"]["headers"]
    statuses = components["RunSummary"]["properties"]["status"]
    assert components["RunState"]["enum"] == [
        "running",
        "paused",
        "pending",
        "queued",
        "starting",
        "draining",
        "failed",
        "stopped",
        "completed",
    ]
    assert statuses == {"$ref": "#/components/schemas/RunState"}


def test_the_stream_is_described_though_openapi_has_no_websockets(
    schema: dict[str, Any],
) -> None:
    description = schema["info"]["description"]

    assert "/v1/workflows/{workflow_id}/stream" in description
    assert "4401" in description and "since=" in description
