"""The one request path shared by the sync and the async client.

Each API method is described once as an :class:`Endpoint`. :meth:`BaseClient._flow` is a generator
that owns everything but the I/O – headers, the idempotency key, retries, error mapping, parsing –
and asks its driver to *send* a request or *sleep*; the sync and async clients are thin drivers
that do exactly that. So retry and error behaviour cannot drift between the two.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from ._logs import install_redaction, logger, redact_headers, redact_text
from ._retry import RetryPolicy, is_ambiguous_status, parse_retry_after
from ._task_list import TaskListing, body_hasher, decode_listing, tasks_from_wire, unchanged
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    CompletionFailedError,
    ConflictError,
    RateLimitError,
    UnconfirmedCompletionError,
    status_error_class,
)
from .models import Completion, EventList, RunEvent, Task, TaskList

T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)

USER_AGENT = f"command-center-tui/{__version__}"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2


_json_loads = json.loads  # the Endpoint field named ``json`` hides the module in its class body


@dataclass(frozen=True)
class Endpoint(Generic[T]):
    """One call: what to send and how to read a successful answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    idempotency_key: str | None = None
    decode: Callable[[httpx.Response], Any] = lambda response: _json_loads(response.content)
    # Hash a successful body as it arrives (BODY_DIGEST in the response's extensions), and do
    # not even join its chunks when the hash equals this one.
    digest_body: bool = False
    known_digest: bytes | None = None


@dataclass(frozen=True)
class Send:
    request: httpx.Request


@dataclass(frozen=True)
class Sleep:
    seconds: float


Action = Send | Sleep
# What the driver hands back: the response, the transport failure, or None after a sleep.
Outcome = httpx.Response | httpx.TransportError | None


def _segment(value: str) -> str:
    """One path segment, escaped: ids come from the server and may contain anything."""
    return quote(str(value), safe="")


def _snippet(text: str, limit: int = 160) -> str:
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _validation_summary(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


BODY_DIGEST = "command_center.body_digest"
# Describe the bytes as they came over the wire; a rebuilt response holds them decoded.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class DigestingBody:
    """One successful body, hashed while it is read, kept only if it is not the known one.

    For a poll of 75 MB that usually has not changed, this skips joining the chunks and a second
    pass to hash them: half the CPU of an unchanged refresh.
    """

    def __init__(self, known: bytes | None) -> None:
        self._known = known
        self._hash = body_hasher()
        self._chunks: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._chunks.append(chunk)

    def response(self, streamed: httpx.Response) -> httpx.Response:
        digest: bytes = self._hash.digest()
        content = b"" if digest == self._known else b"".join(self._chunks)
        self._chunks = []
        headers = [
            (k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _WIRE_HEADERS
        ]
        extensions = {k: v for k, v in streamed.extensions.items() if k != "network_stream"}
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=content,
            request=streamed.request,
            extensions={**extensions, BODY_DIGEST: digest},
        )


def _decode_tasks(response: httpx.Response) -> Any:
    return decode_listing(response.content, "tasks")


def _parse_tasks(body: Any) -> list[Task]:
    if isinstance(body, dict) and isinstance(body.get("tasks"), list):
        try:
            return tasks_from_wire(body["tasks"])
        except pydantic.ValidationError:
            pass  # validate the whole list again for the error's full location (tasks.N.field)
    return TaskList.model_validate(body).tasks


def _parse_events(body: Any) -> list[RunEvent]:
    return EventList.model_validate(body).events


def _keep_response(response: httpx.Response) -> httpx.Response:
    """A completion's answer is judged whole (status, content type, body), not just decoded."""
    return response


_CONFIRMATION = '{"status": "completed"}'


class BaseClient(Generic[HttpT]):
    """Configuration and the request flow; subclasses only send and sleep."""

    _http: HttpT
    _owns_http: bool

    def __init__(
        self,
        base_url: str,
        token: str,
        tenant_id: str,
        project_id: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: HttpT | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not token or not token.strip():
            raise ValueError("token is empty")
        if not tenant_id:
            raise ValueError("tenant_id is empty")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = str(base_url).rstrip("/")
        self.tenant_id = tenant_id
        self.project_id = project_id
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.__token = token.strip()
        install_redaction(secret=self.__token)
        if http_client is None:
            self._http = self._default_http_client()
            self._owns_http = True
        else:
            self._http = http_client
            self._owns_http = False

    def _default_http_client(self) -> HttpT:
        raise NotImplementedError

    def with_options(self, *, timeout: float | None = None, max_retries: int | None = None) -> Self:
        """A copy with other timeout/retries that shares this client's connection pool.

        E.g. a UI that shows its own "retrying in N s" polls with ``max_retries=0``.
        """
        clone = copy.copy(self)
        clone._owns_http = False  # closing the copy must not close the shared pool
        if timeout is not None:
            clone.timeout = timeout
        if max_retries is not None:
            if max_retries < 0:
                raise ValueError("max_retries must be >= 0")
            clone.retry_policy = dataclasses.replace(self.retry_policy, max_retries=max_retries)
        return clone

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, tenant_id={self.tenant_id!r}, "
            f"project_id={self.project_id!r})"
        )

    # -- endpoints: described once, driven by both clients ---------------------------------------

    def _ep_list_pending_tasks(self) -> Endpoint[list[Task]]:
        return Endpoint("GET", "/v1/tasks/pending", _parse_tasks, decode=_decode_tasks)

    def _ep_poll_pending_tasks(self, since: TaskListing | None) -> Endpoint[TaskListing]:
        def decode(response: httpx.Response) -> Any:
            digest: bytes = response.extensions[BODY_DIGEST]
            if since is not None and digest == since.digest:
                return since  # the same bytes: nothing to decode
            return digest, _decode_tasks(response)

        def parse(body: Any) -> TaskListing:
            if body is since and since is not None:
                return unchanged(since)
            digest, decoded = body
            return TaskListing(_parse_tasks(decoded), digest)

        known = since.digest if since is not None else None
        return Endpoint(
            "GET", "/v1/tasks/pending", parse, decode=decode, digest_body=True, known_digest=known
        )

    def _ep_list_run_pending_tasks(self, workflow_id: str, run_id: str) -> Endpoint[list[Task]]:
        path = f"/v1/workflows/{_segment(workflow_id)}/runs/{_segment(run_id)}/tasks/pending"
        return Endpoint("GET", path, _parse_tasks, decode=_decode_tasks)

    def _ep_list_run_events(self, workflow_id: str, run_id: str) -> Endpoint[list[RunEvent]]:
        path = f"/v1/workflows/{_segment(workflow_id)}/runs/{_segment(run_id)}/events"
        return Endpoint("GET", path, _parse_events)

    def _ep_complete_task(
        self,
        workflow_id: str,
        run_id: str,
        task_id: str,
        *,
        approved: bool,
        result: Mapping[str, Any] | None,
        idempotency_key: str | None,
    ) -> Endpoint[Completion]:
        if not isinstance(approved, bool):
            # The platform would read a truthy string as a decision; refuse before sending.
            raise TypeError(f"approved must be a bool, got {type(approved).__name__}")
        body: dict[str, Any] = {"approved": approved}
        if result is not None:
            body["result"] = dict(result)
        path = (
            f"/v1/workflows/{_segment(workflow_id)}/runs/{_segment(run_id)}"
            f"/tasks/{_segment(task_id)}/complete"
        )
        key = idempotency_key or str(uuid.uuid4())

        def parse(response: httpx.Response) -> Completion:
            return self._parse_completion(response, approved=approved)

        return Endpoint("POST", path, parse, json=body, idempotency_key=key, decode=_keep_response)

    # -- the shared flow ------------------------------------------------------------------------

    def _headers(self, endpoint: Endpoint[Any]) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.__token}",
            "X-Tenant-Id": self.tenant_id,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if self.project_id:
            headers["X-Project-Id"] = self.project_id
        if endpoint.idempotency_key is not None:
            headers["Idempotency-Key"] = endpoint.idempotency_key
        return headers

    def _build_request(self, endpoint: Endpoint[Any]) -> httpx.Request:
        headers = self._headers(endpoint)
        content: bytes | None = None
        if endpoint.json is not None:
            # ASCII JSON (httpx's own encoding is UTF-8): a value read from the server's
            # "\ud800" escape is a lone surrogate, which UTF-8 cannot encode but JSON can.
            text = json.dumps(endpoint.json, separators=(",", ":"), allow_nan=False)
            content = text.encode("ascii")
            headers["Content-Type"] = "application/json"
        return self._http.build_request(
            endpoint.method,
            self.base_url + endpoint.path,
            headers=headers,
            content=content,
            timeout=self.timeout,
        )

    def _flow(self, endpoint: Endpoint[Any]) -> Generator[Action, Outcome, httpx.Response]:
        """Send and retry one call until it succeeds or fails; yields what the driver must do.

        Returns the successful response; the driver parses it with :meth:`_parse` (the async
        client in a worker thread when the body is large).
        """
        attempt = 0
        # True once an attempt failed in a way that may still have been applied (lost answer, 5xx).
        ambiguous = False
        while True:
            request = self._build_request(endpoint)
            logger.debug(
                "%s %s attempt=%d headers=%s",
                request.method,
                request.url.path,
                attempt + 1,
                redact_headers(request.headers),
            )
            outcome = yield Send(request)
            if isinstance(outcome, httpx.Response):
                response = outcome
                logger.debug("%s %s -> %d", request.method, request.url.path, response.status_code)
                if response.is_success:
                    return response
                delay = self.retry_policy.delay(attempt, response)
                if delay is None:
                    raise self._status_error(response, maybe_ours=ambiguous)
                ambiguous = ambiguous or is_ambiguous_status(response.status_code)
                reason = f"status {response.status_code}"
            elif isinstance(outcome, httpx.TransportError):
                error = self._connection_error(request, outcome)
                delay = self.retry_policy.delay(attempt, None)
                if delay is None:
                    raise error from outcome
                ambiguous = True
                reason = type(outcome).__name__
            else:  # pragma: no cover - a driver bug, not a server condition
                raise RuntimeError(f"unexpected outcome {outcome!r}")
            logger.info(
                "%s %s failed (%s); retry %d/%d in %.2fs",
                request.method,
                request.url.path,
                reason,
                attempt + 1,
                self.retry_policy.max_retries,
                delay,
            )
            yield Sleep(delay)
            attempt += 1

    def _redact(self, text: str) -> str:
        return redact_text(text, (self.__token,))

    def _connection_error(
        self, request: httpx.Request, exc: httpx.TransportError
    ) -> APIConnectionError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(request=request)
        detail = self._redact(str(exc)) or type(exc).__name__
        return APIConnectionError(
            f"Could not reach {request.method} {request.url.path}: {type(exc).__name__}: {detail}",
            request=request,
        )

    def _decode(self, response: httpx.Response, endpoint: Endpoint[Any]) -> Any:
        request = response.request
        try:
            return endpoint.decode(response)
        except RecursionError:
            raise APIResponseValidationError(
                f"{request.method} {request.url.path} answered {response.status_code} with JSON "
                "nested too deeply to read",
                response=response,
            ) from None
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "no content type")
            raise APIResponseValidationError(
                f"{request.method} {request.url.path} answered {response.status_code} with a body "
                f"that is not JSON ({kind}): {_snippet(self._redact(response.text))}",
                response=response,
            ) from None

    def _parse(self, response: httpx.Response, endpoint: Endpoint[T]) -> T:
        """Decode and validate a successful answer, mapping failures to one typed error."""
        body = self._decode(response, endpoint)
        try:
            return endpoint.parse(body)
        except pydantic.ValidationError as exc:
            request = response.request
            raise APIResponseValidationError(
                f"{request.method} {request.url.path} answered {response.status_code} with an "
                f"unexpected shape: {self._redact(_validation_summary(exc))}",
                response=response,
            ) from None

    def _status_error(self, response: httpx.Response, *, maybe_ours: bool) -> APIStatusError:
        error, code = self._error_body(response)
        request = response.request
        message = (
            f"{request.method} {request.url.path} answered {response.status_code} "
            f"{response.reason_phrase}: {error}" + (f" [{code}]" if code else "")
        )
        cls = status_error_class(response.status_code)
        if cls is ConflictError:
            return ConflictError(
                message, response=response, error=error, code=code, maybe_ours=maybe_ours
            )
        if cls is RateLimitError:
            return RateLimitError(
                message,
                response=response,
                error=error,
                code=code,
                retry_after=parse_retry_after(response.headers),
            )
        return cls(message, response=response, error=error, code=code)

    def _error_body(self, response: httpx.Response) -> tuple[str, str | None]:
        """The server's own words: ``{"error", "code"}``, tolerating other shapes and non-JSON."""
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        error, code = self._server_words(body)
        if error is None:
            text = response.text.strip()
            error = _snippet(text) if text else (response.reason_phrase or "no message")
        return self._redact(error), code

    def _server_words(self, body: Any) -> tuple[str | None, str | None]:
        """``error``/``message``/``detail`` and ``code`` of a JSON object (redacted), if any."""
        error: str | None = None
        code: str | None = None
        if isinstance(body, dict):
            for key in ("error", "message", "detail"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    error = value
                    break
                if isinstance(value, dict) and isinstance(value.get("message"), str):
                    error = value["message"]
                    break
                if value is not None:
                    error = json.dumps(value, ensure_ascii=False)[:500]
                    break
            raw_code = body.get("code")
            if isinstance(raw_code, str | int):
                code = self._redact(str(raw_code))
        return (self._redact(error) if error is not None else None), code

    # -- the answer of a completion -------------------------------------------------------------

    def _parse_completion(self, response: httpx.Response, *, approved: bool) -> Completion:
        """A Completion only for the documented ``{"status": "completed", …}`` (API.md part 4).

        Any other 2xx answer either says the decision was not completed
        (:class:`CompletionFailedError`, final) or does not say whether it was applied
        (:class:`UnconfirmedCompletionError`: keep it, resend with the same key).
        """
        request = response.request
        where = f"{request.method} {request.url.path} answered {response.status_code}"
        kind = response.headers.get("content-type", "no content type")

        def unconfirmed(what: str) -> UnconfirmedCompletionError:
            return UnconfirmedCompletionError(
                f"{where} {what}: not the documented confirmation {_CONFIRMATION}",
                response=response,
            )

        def shown() -> str:
            return _snippet(self._redact(response.text.strip()))

        if not response.content.strip():
            typed = response.headers.get("content-type")
            raise unconfirmed("with no body" + (f" ({typed})" if typed else ""))
        try:
            body = json.loads(response.content)
        except RecursionError:
            raise unconfirmed(f"with JSON nested too deeply to read ({kind})") from None
        except (ValueError, UnicodeDecodeError):
            raise unconfirmed(f"with a body that is not JSON ({kind}): {shown()}") from None
        if not isinstance(body, dict):
            what = f"JSON {type(body).__name__}" if body is not None else "JSON null"
            raise unconfirmed(f"with {what}, not an object ({kind}): {shown()}")
        status = body.get("status")
        if not isinstance(status, str):
            missing = "without a status" if status is None else "whose status is not a string"
            raise unconfirmed(f"with an object {missing} ({kind}): {shown()}")
        if status != "completed":
            error, code = self._server_words(body)
            said = _snippet(self._redact(status), limit=60)
            raise CompletionFailedError(
                f"{where} but said status {said}"
                + (f": {error}" if error else "")
                + (f" [{code}]" if code else ""),
                response=response,
                status=self._redact(status),
                error=error,
                code=code,
            )
        recorded = body.get("approved")
        if recorded is not None and not isinstance(recorded, bool):
            raise unconfirmed(f"with an approved that is not a boolean ({kind}): {shown()}")
        if recorded is not None and recorded is not approved:
            error, code = self._server_words(body)
            raise CompletionFailedError(
                f"{where} with status 'completed' but the platform recorded "
                f"approved={str(recorded).lower()}, not the approved={str(approved).lower()} "
                "that was sent",
                response=response,
                status=status,
                error=error,
                code=code,
                approved=recorded,
            )
        try:
            return Completion.model_validate(body)
        except pydantic.ValidationError as exc:
            raise unconfirmed(
                f"with an unexpected shape: {self._redact(_validation_summary(exc))}"
            ) from None
