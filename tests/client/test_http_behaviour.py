"""The client's HTTP behaviour against scripted answers (respx), for sync and async alike."""

from __future__ import annotations

import inspect
import json
import logging
from typing import Any

import httpx
import pytest
import respx

from client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncCommandCenterClient,
    AuthenticationError,
    CommandCenterClient,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    Task,
    UnprocessableEntityError,
    __version__,
)

BASE = "https://api.example.test"
TOKEN = "pat_S3CRET_token_value_123"
TASKS_URL = f"{BASE}/v1/tasks/pending"
COMPLETE_URL = f"{BASE}/v1/workflows/wf/runs/run1/tasks/t1/complete"
TASK_JSON = {"id": "t1", "workflow_id": "wf", "run_id": "run1", "task_payload": {"title": "T"}}

AnyClient = CommandCenterClient | AsyncCommandCenterClient


class Harness:
    """Builds a sync or async client whose sleeps are recorded instead of slept."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sleeps: list[float] = []

    def client(self, **kwargs: Any) -> AnyClient:
        kwargs.setdefault("max_retries", 2)
        cls = CommandCenterClient if self.kind == "sync" else AsyncCommandCenterClient
        client = cls(BASE, kwargs.pop("token", TOKEN), "acme", "proj-1", **kwargs)
        if self.kind == "sync":
            client._sleep = self.sleeps.append  # type: ignore[method-assign,assignment]
        else:

            async def record(seconds: float) -> None:
                self.sleeps.append(seconds)

            client._sleep = record  # type: ignore[method-assign,assignment]
        return client

    async def call(self, client: AnyClient, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(client, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


@pytest.fixture(params=["sync", "async"])
def harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(request.param)


@pytest.fixture
def mock() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        yield router


def _completed() -> httpx.Response:
    return httpx.Response(200, json={"status": "completed"})


def _error(status: int, error: str, code: str | None = None, **headers: str) -> httpx.Response:
    body: dict[str, str] = {"error": error}
    if code:
        body["code"] = code
    return httpx.Response(status, json=body, headers=headers)


async def test_headers_identify_tenant_project_and_client(harness: Harness, mock: Any) -> None:
    route = mock.get(TASKS_URL).mock(return_value=httpx.Response(200, json={"tasks": [TASK_JSON]}))
    tasks = await harness.call(harness.client(), "list_pending_tasks")
    assert [t.key for t in tasks] == [("wf", "run1", "t1")]
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["x-tenant-id"] == "acme"
    assert sent.headers["x-project-id"] == "proj-1"
    assert sent.headers["user-agent"] == f"command-center-tui/{__version__}"
    assert "idempotency-key" not in sent.headers


async def test_ids_are_escaped_into_single_path_segments(harness: Harness, mock: Any) -> None:
    route = mock.get(f"{BASE}/v1/workflows/wf%2Fx/runs/run%201/events").mock(
        return_value=httpx.Response(200, json={"events": [{"id": "e1", "type": "run_started"}]})
    )
    events = await harness.call(harness.client(), "list_run_events", "wf/x", "run 1")
    assert route.called and [e.type for e in events] == ["run_started"]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, APIStatusError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
    ],
)
async def test_final_4xx_map_to_typed_errors_and_are_not_retried(
    harness: Harness, mock: Any, status: int, cls: type[APIStatusError]
) -> None:
    route = mock.post(COMPLETE_URL).mock(return_value=_error(status, "nope", "SOME_CODE"))
    with pytest.raises(cls) as info:
        await harness.call(harness.client(), "complete_task", "wf", "run1", "t1", approved=True)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.error, err.code) == (status, "nope", "SOME_CODE")
    assert (err.method, err.path) == ("POST", "/v1/workflows/wf/runs/run1/tasks/t1/complete")
    assert "nope" in str(err) and str(status) in str(err)
    assert route.call_count == 1 and harness.sleeps == []


async def test_5xx_is_retried_with_backoff_then_raised(harness: Harness, mock: Any) -> None:
    route = mock.get(TASKS_URL).mock(return_value=_error(503, "maintenance", "INTERNAL_ERROR"))
    with pytest.raises(ServerError) as info:
        await harness.call(harness.client(max_retries=3), "list_pending_tasks")
    assert info.value.status_code == 503
    assert route.call_count == 4
    assert len(harness.sleeps) == 3
    # Exponential with at most 25 % jitter: 0.5, 1, 2 shrunk by at most a quarter.
    for sleep, base in zip(harness.sleeps, [0.5, 1.0, 2.0], strict=True):
        assert base * 0.75 <= sleep <= base


async def test_retry_then_success_reuses_one_idempotency_key(harness: Harness, mock: Any) -> None:
    route = mock.post(COMPLETE_URL).mock(
        side_effect=[
            _error(502, "bad gateway"),
            httpx.ConnectError("connection reset"),
            httpx.Response(200, json={"status": "completed", "task_id": "t1", "approved": True}),
        ]
    )
    done = await harness.call(
        harness.client(), "complete_task", "wf", "run1", "t1", approved=True, result={"a": 1}
    )
    assert (done.status, done.task_id, done.approved) == ("completed", "t1", True)
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert route.call_count == 3 and len(keys) == 1
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies == [{"approved": True, "result": {"a": 1}}] * 3


async def test_given_idempotency_key_is_sent(harness: Harness, mock: Any) -> None:
    route = mock.post(COMPLETE_URL).mock(
        return_value=httpx.Response(200, json={"status": "completed"})
    )
    await harness.call(
        harness.client(), "complete_task", "wf", "run1", "t1", approved=False, idempotency_key="k-1"
    )
    assert route.calls.last.request.headers["idempotency-key"] == "k-1"
    assert json.loads(route.calls.last.request.content) == {"approved": False}


async def test_separate_calls_get_separate_keys(harness: Harness, mock: Any) -> None:
    route = mock.post(COMPLETE_URL).mock(
        return_value=httpx.Response(200, json={"status": "completed"})
    )
    client = harness.client()
    for _ in range(2):
        await harness.call(client, "complete_task", "wf", "run1", "t1", approved=True)
    keys = [call.request.headers["idempotency-key"] for call in route.calls]
    assert len(set(keys)) == 2


async def test_retry_after_is_honoured(harness: Harness, mock: Any) -> None:
    route = mock.get(TASKS_URL).mock(
        side_effect=[
            _error(429, "slow down", "RATE_LIMITED", **{"Retry-After": "2"}),
            httpx.Response(200, json={"tasks": []}),
        ]
    )
    assert await harness.call(harness.client(), "list_pending_tasks") == []
    assert harness.sleeps == [2.0] and route.call_count == 2


async def test_retry_after_beyond_the_cap_fails_at_once_with_the_hint(
    harness: Harness, mock: Any
) -> None:
    mock.get(TASKS_URL).mock(
        return_value=_error(
            429, "slow down", **{"Retry-After": "3600", "X-RateLimit-Remaining": "0"}
        )
    )
    with pytest.raises(RateLimitError) as info:
        await harness.call(harness.client(), "list_pending_tasks")
    assert info.value.retry_after == 3600.0 and info.value.remaining == 0
    assert harness.sleeps == []


async def test_timeouts_and_connection_failures(harness: Harness, mock: Any) -> None:
    mock.get(TASKS_URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(APITimeoutError):
        await harness.call(harness.client(max_retries=1), "list_pending_tasks")
    assert len(harness.sleeps) == 1

    mock.get(TASKS_URL).mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(APIConnectionError) as info:
        await harness.call(harness.client(max_retries=0), "list_pending_tasks")
    assert "GET /v1/tasks/pending" in str(info.value) and "Connection refused" in str(info.value)
    assert not isinstance(info.value, APITimeoutError)


async def test_409_after_an_ambiguous_attempt_may_be_ours(harness: Harness, mock: Any) -> None:
    mock.post(COMPLETE_URL).mock(
        side_effect=[httpx.RemoteProtocolError("dropped"), _error(409, "already completed")]
    )
    with pytest.raises(ConflictError) as info:
        await harness.call(harness.client(), "complete_task", "wf", "run1", "t1", approved=True)
    assert info.value.maybe_ours is True


async def test_409_on_first_attempt_or_after_a_429_is_someone_elses(
    harness: Harness, mock: Any
) -> None:
    mock.post(COMPLETE_URL).mock(return_value=_error(409, "already completed", "CONFLICT"))
    with pytest.raises(ConflictError) as info:
        await harness.call(harness.client(), "complete_task", "wf", "run1", "t1", approved=True)
    assert info.value.maybe_ours is False

    mock.post(COMPLETE_URL).mock(
        side_effect=[_error(429, "slow", **{"Retry-After": "0"}), _error(409, "already completed")]
    )
    with pytest.raises(ConflictError) as info:
        await harness.call(harness.client(), "complete_task", "wf", "run1", "t1", approved=True)
    assert info.value.maybe_ours is False  # a 429 was refused, so it cannot have landed


@pytest.mark.parametrize(
    ("response", "needle"),
    [
        (
            httpx.Response(200, text="<html>oops</html>", headers={"content-type": "text/html"}),
            "not JSON",
        ),
        (httpx.Response(200, text='{"tasks": [{"id": '), "not JSON"),
        (httpx.Response(200, json={"items": []}), "unexpected shape: tasks"),
        (httpx.Response(200, json={"tasks": {"id": "x"}}), "tasks: Input should be a valid list"),
        (httpx.Response(200, json=[1, 2]), "unexpected shape"),
    ],
)
async def test_garbage_answers_name_the_endpoint(
    harness: Harness, mock: Any, response: httpx.Response, needle: str
) -> None:
    mock.get(TASKS_URL).mock(return_value=response)
    with pytest.raises(APIResponseValidationError) as info:
        await harness.call(harness.client(), "list_pending_tasks")
    assert "GET /v1/tasks/pending" in str(info.value) and needle in str(info.value)


async def test_html_error_page_becomes_a_readable_server_error(harness: Harness, mock: Any) -> None:
    mock.get(TASKS_URL).mock(
        return_value=httpx.Response(502, text="<html><body>Bad Gateway</body></html>")
    )
    with pytest.raises(ServerError) as info:
        await harness.call(harness.client(max_retries=0), "list_pending_tasks")
    assert "Bad Gateway" in info.value.error


async def test_approve_and_reject_conveniences(harness: Harness, mock: Any) -> None:
    route = mock.post(COMPLETE_URL).mock(
        return_value=httpx.Response(200, json={"status": "completed"})
    )
    task = Task.model_validate(TASK_JSON)
    client = harness.client()
    await harness.call(client, "approve", task, {"comment_body": "edited"})
    await harness.call(client, "reject", task, "wrong customer")
    await harness.call(client, "reject", task)
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies == [
        {"approved": True, "result": {"comment_body": "edited"}},
        {"approved": False, "result": {"reason": "wrong customer"}},
        {"approved": False},
    ]


@pytest.mark.parametrize("approved", ["yes", 1, None])
async def test_non_bool_approved_is_refused_before_sending(
    harness: Harness, mock: Any, approved: Any
) -> None:
    route = mock.post(COMPLETE_URL)
    with pytest.raises(TypeError):
        await harness.call(harness.client(), "complete_task", "wf", "run1", "t1", approved=approved)
    assert not route.called


def _all_log_text(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.name} {r.getMessage()}" for r in records)


async def test_token_never_reaches_logs_or_exceptions(
    harness: Harness, mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    odd_token = "s3cr3t-not-pat-shaped"
    mock.get(TASKS_URL).mock(
        side_effect=[
            httpx.ConnectError(f"proxy said Bearer {odd_token}"),
            _error(401, f"token {odd_token} is unknown; header was Bearer {odd_token}"),
        ]
    )
    caplog.set_level(logging.DEBUG)
    client = harness.client(token=odd_token)
    with pytest.raises(AuthenticationError) as info:
        await harness.call(client, "list_pending_tasks")
    text = _all_log_text(caplog.records)
    assert "attempt=1" in text and "attempt=2" in text  # the debug lines really were logged
    assert odd_token not in text
    for shown in (str(info.value), repr(info.value), info.value.error, repr(client)):
        assert odd_token not in shown
    assert "[REDACTED]" in info.value.error


def test_redacting_filter_scrubs_foreign_records(caplog: pytest.LogCaptureFixture) -> None:
    CommandCenterClient(BASE, TOKEN, "acme").close()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpcore.http11").debug(
        "send headers %s", {"Authorization": f"Bearer {TOKEN}", "Accept": "x"}
    )
    logging.getLogger("httpx").info(f"Authorization: Bearer {TOKEN}")
    text = _all_log_text(caplog.records)
    assert TOKEN not in text and text.count("[REDACTED]") == 2


def test_owned_http_client_is_closed_injected_one_is_not() -> None:
    with CommandCenterClient(BASE, TOKEN, "acme") as owned:
        pass
    assert owned._http.is_closed
    injected = httpx.Client()
    with CommandCenterClient(BASE, TOKEN, "acme", http_client=injected):
        pass
    assert not injected.is_closed
    injected.close()


async def test_async_context_manager_closes() -> None:
    async with AsyncCommandCenterClient(BASE, TOKEN, "acme") as client:
        pass
    assert client._http.is_closed


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"base_url": "ftp://x"}, "http(s) URL"),
        ({"token": "  "}, "token is empty"),
        ({"tenant_id": ""}, "tenant_id"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_constructor_validates(kwargs: dict[str, Any], needle: str) -> None:
    args: dict[str, Any] = {"base_url": BASE, "token": TOKEN, "tenant_id": "acme"} | kwargs
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        CommandCenterClient(**args)


async def test_with_options_shares_the_pool_and_changes_retries(
    harness: Harness, mock: Any
) -> None:
    route = mock.get(TASKS_URL).mock(return_value=_error(503, "down"))
    client = harness.client(max_retries=3)
    quick = client.with_options(max_retries=0, timeout=1.5)
    assert quick._http is client._http and quick.timeout == 1.5 and client.max_retries == 3
    with pytest.raises(ServerError):
        await harness.call(quick, "list_pending_tasks")
    assert route.call_count == 1 and harness.sleeps == []
    assert route.calls.last.request.extensions["timeout"]["read"] == 1.5
    closer = quick.close() if isinstance(quick, CommandCenterClient) else quick.aclose()
    if inspect.isawaitable(closer):
        await closer
    assert not client._http.is_closed


def test_the_clients_of_a_process_share_one_tls_context(monkeypatch: Any) -> None:
    """Loading the CA bundle costs tens of milliseconds; the console's two clients pay it once."""
    import asyncio
    import ssl

    from client import AsyncCommandCenterClient, CommandCenterClient
    from client._net import verifying_tls

    made: list[object] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(kwargs)
        return real(*args, **kwargs)

    verifying_tls.cache_clear()
    monkeypatch.setattr(ssl, "create_default_context", counted)
    try:
        sync = CommandCenterClient("https://platform.test", "pat_x", "acme")
        asynchronous = AsyncCommandCenterClient("https://platform.test", "pat_x", "acme")
        again = CommandCenterClient("https://other.test", "pat_y", "acme")
        assert len(made) == 1
        sync.close()
        again.close()
        asyncio.run(asynchronous.aclose())
    finally:
        verifying_tls.cache_clear()
