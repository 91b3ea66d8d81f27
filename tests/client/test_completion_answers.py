"""A completion is confirmed only by the documented ``{"status": "completed", …}`` (API.md part 4).

Any other 2xx answer either says the decision was not completed (CompletionFailedError, final) or
does not say whether it was applied (UnconfirmedCompletionError: the caller resends with the same
key). Neither is retried inside the client: the caller decides. Sync and async alike.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from client import (
    APIResponseValidationError,
    Completion,
    CompletionFailedError,
    Task,
    UnconfirmedCompletionError,
)

from .test_http_behaviour import COMPLETE_URL, TASK_JSON, TOKEN, Harness, harness, mock

__all__ = ["harness", "mock"]  # the fixtures, imported to be found by pytest

PATH = "/v1/workflows/wf/runs/run1/tasks/t1/complete"
KEY = "decision-key-1"
HTML = b"<!DOCTYPE html><html><body><form action='/login'>Sign in</form></body></html>"


async def _complete(harness: Harness, mock: Any, answer: httpx.Response, **kwargs: Any) -> Any:
    """One completion with a given key, against one scripted answer; the single request sent."""
    route = mock.post(COMPLETE_URL).mock(return_value=answer)
    kwargs.setdefault("approved", True)
    try:
        return await harness.call(
            harness.client(max_retries=3), "complete_task", "wf", "run1", "t1",
            idempotency_key=KEY, **kwargs,
        )  # fmt: skip
    finally:
        assert route.call_count == 1, "a 2xx completion answer must never be retried inside"
        assert route.calls.last.request.headers["idempotency-key"] == KEY
        assert harness.sleeps == []


def _no_token(exc: BaseException) -> None:
    for shown in (str(exc), repr(exc), *exc.args):
        assert TOKEN not in str(shown)


async def test_documented_confirmation_is_a_completion(harness: Harness, mock: Any) -> None:
    answer = httpx.Response(
        200, json={"status": "completed", "task_id": "t1", "approved": True, "extra": {"x": 1}}
    )
    done = await _complete(harness, mock, answer)
    assert isinstance(done, Completion)
    assert (done.status, done.task_id, done.approved) == ("completed", "t1", True)
    assert done.raw["extra"] == {"x": 1}  # tolerant of extra keys


async def test_confirmation_without_approved_is_accepted(harness: Harness, mock: Any) -> None:
    done = await _complete(harness, mock, httpx.Response(200, json={"status": "completed"}))
    assert done.status == "completed" and done.approved is None


async def test_confirmation_of_the_rejection_sent(harness: Harness, mock: Any) -> None:
    answer = httpx.Response(200, json={"status": "completed", "approved": False})
    done = await _complete(harness, mock, answer, approved=False)
    assert done.approved is False


async def test_status_failed_is_a_completion_failure(harness: Harness, mock: Any) -> None:
    answer = httpx.Response(200, json={"status": "failed", "error": "quota", "code": "QUOTA"})
    with pytest.raises(CompletionFailedError) as info:
        await _complete(harness, mock, answer)
    err = info.value
    assert isinstance(err, APIResponseValidationError)  # old handlers still catch it
    assert not isinstance(err, UnconfirmedCompletionError)
    assert (err.status, err.error, err.code, err.approved) == ("failed", "quota", "QUOTA", None)
    assert err.response is not None and err.status_code == 200
    assert (err.method, err.path) == ("POST", PATH)
    assert str(err) == f"POST {PATH} answered 200 but said status 'failed': quota [QUOTA]"
    _no_token(err)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"status": "pending"}, None),
        ({"status": "rejected", "message": "not allowed"}, "not allowed"),
        ({"status": "Completed", "detail": {"message": "case matters"}}, "case matters"),
        ({"status": "failed", "error": f"token {TOKEN} has no quota"}, "token [REDACTED] has"),
    ],
)
async def test_any_other_status_string_is_a_completion_failure(
    harness: Harness, mock: Any, body: dict[str, Any], error: str | None
) -> None:
    with pytest.raises(CompletionFailedError) as info:
        await _complete(harness, mock, httpx.Response(200, json=body))
    err = info.value
    assert err.status == body["status"]
    assert f"said status {body['status']!r}" in str(err)
    if error is None:
        assert err.error is None and str(err).endswith(f"said status {body['status']!r}")
    else:
        assert err.error is not None and err.error.startswith(error)
    _no_token(err)


@pytest.mark.parametrize(("sent", "recorded"), [(True, False), (False, True)])
async def test_confirmation_of_another_decision_is_a_completion_failure(
    harness: Harness, mock: Any, sent: bool, recorded: bool
) -> None:
    answer = httpx.Response(200, json={"status": "completed", "approved": recorded})
    with pytest.raises(CompletionFailedError) as info:
        await _complete(harness, mock, answer, approved=sent)
    err = info.value
    assert (err.status, err.approved) == ("completed", recorded)
    assert f"recorded approved={str(recorded).lower()}" in str(err)
    _no_token(err)


async def test_approve_and_reject_judge_the_answer_too(harness: Harness, mock: Any) -> None:
    mock.post(COMPLETE_URL).mock(
        return_value=httpx.Response(200, json={"status": "completed", "approved": True})
    )
    task = Task.model_validate(TASK_JSON)
    client = harness.client()
    assert (await harness.call(client, "approve", task)).approved is True
    with pytest.raises(CompletionFailedError, match="recorded approved=true"):
        await harness.call(client, "reject", task, "no")


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        (httpx.Response(204), "answered 204 with no body: not the documented confirmation"),
        (
            httpx.Response(200, content=b"", headers={"content-type": "application/json"}),
            "answered 200 with no body (application/json)",
        ),
        (
            httpx.Response(200, content=HTML, headers={"content-type": "text/html"}),
            'answered 200 with a body that is not JSON (text/html): "<!DOCTYPE html>',
        ),
        (httpx.Response(200, json=[]), "answered 200 with JSON list, not an object"),
        (httpx.Response(200, content=b"null"), "answered 200 with JSON null, not an object"),
        (httpx.Response(200, json="completed"), "with JSON str, not an object"),
        (httpx.Response(200, json={}), "answered 200 with an object without a status"),
        (httpx.Response(200, json={"approved": True}), "with an object without a status"),
        (httpx.Response(200, json={"status": 1}), "whose status is not a string"),
        (httpx.Response(200, json={"status": None}), "without a status"),
        (httpx.Response(201, text='{"status": "compl'), "answered 201 with a body that is not"),
        (
            httpx.Response(200, json={"status": "completed", "approved": "yes"}),
            "an approved that is not a boolean",
        ),
        (
            httpx.Response(200, json={"status": "completed", "task_id": ["t1"]}),
            "with an unexpected shape: task_id",
        ),
        (httpx.Response(200, content=b"[" * 100_000), "nested too deeply"),
    ],
)
async def test_answers_that_do_not_confirm_are_unconfirmed(
    harness: Harness, mock: Any, answer: httpx.Response, needle: str
) -> None:
    with pytest.raises(UnconfirmedCompletionError) as info:
        await _complete(harness, mock, answer)
    err = info.value
    assert isinstance(err, APIResponseValidationError)  # old handlers still catch it
    assert not isinstance(err, CompletionFailedError)
    assert err.response.status_code == err.status_code == answer.status_code
    assert str(err).startswith(f"POST {PATH} answered {answer.status_code} ")
    assert needle in str(err), str(err)
    assert str(err).endswith('not the documented confirmation {"status": "completed"}')
    assert len(str(err)) < 400  # a short snippet, not the whole page
    _no_token(err)


async def test_unconfirmed_message_redacts_an_echoed_token(harness: Harness, mock: Any) -> None:
    page = f"<html>Authorization: Bearer {TOKEN}</html>".encode()
    answer = httpx.Response(200, content=page, headers={"content-type": "text/html"})
    with pytest.raises(UnconfirmedCompletionError) as info:
        await _complete(harness, mock, answer)
    assert "[REDACTED]" in str(info.value)
    _no_token(info.value)


async def test_json_echo_of_the_token_is_redacted_too(harness: Harness, mock: Any) -> None:
    answer = httpx.Response(200, json={"state": "ok", "auth": f"Bearer {TOKEN}"})
    with pytest.raises(UnconfirmedCompletionError) as info:
        await _complete(harness, mock, answer)
    _no_token(info.value)


async def test_the_caller_resends_with_the_same_key(harness: Harness, mock: Any) -> None:
    route = mock.post(COMPLETE_URL).mock(
        side_effect=[httpx.Response(204), httpx.Response(200, json={"status": "completed"})]
    )
    client = harness.client()
    args = ("complete_task", "wf", "run1", "t1")
    with pytest.raises(UnconfirmedCompletionError):
        await harness.call(client, *args, approved=True, idempotency_key=KEY)
    done = await harness.call(client, *args, approved=True, idempotency_key=KEY)
    assert done.status == "completed"
    assert [c.request.headers["idempotency-key"] for c in route.calls] == [KEY, KEY]
    assert [json.loads(c.request.content) for c in route.calls] == [{"approved": True}] * 2


def test_completion_status_is_required() -> None:
    with pytest.raises(ValueError, match="status"):
        Completion.model_validate({"task_id": "t1"})
    assert Completion(status="completed").status == "completed"
