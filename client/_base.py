"""The one request path shared by the sync and the async client.

Each API method is described once as an :class:`Endpoint`. :meth:`BaseClient._flow` is a generator
that owns everything but the I/O – headers, the idempotency key, retries, error mapping, parsing –
and asks its driver to *send* a request or *sleep*; the sync and async clients are thin drivers
that do exactly that. So retry and error behaviour cannot drift between the two.

The drivers read every body through :class:`client._body.BodyReader` (size, decompression ratio)
within the request's :class:`client._net.Budget` (the overall deadline).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeVar
from urllib.parse import quote

import httpx

from ._body import (
    ACCEPT_ENCODING,
    BODY_UNCHANGED,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DECOMPRESSION_RATIO,
    BodyLimits,
    BodyProblem,
    BodyReader,
    BodyTooLarge,
    BodyUndecodable,
)
from ._light import TaskReport
from ._logs import install_redaction, logger, redact_headers, redact_text
from ._net import Budget, DeadlineExceeded, cleartext_proxy_problem, is_loopback_url
from ._retry import RetryPolicy, is_ambiguous_status, parse_retry_after
from ._run_feed import RunFeed, decode_run_feed, feed_of_listing
from ._runs import (
    RunCommand,
    RunListing,
    StopMode,
    command_body,
    decode_loosely,
    parse_command_result,
    parse_run_listing,
)
from ._secret import Secret
from ._task_list import (
    Decoded,
    TaskListing,
    Tasks,
    decode_listing,
    listing_of,
    unchanged,
    validation_problem,
)
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    CompletionAnswerTooLargeError,
    CompletionFailedError,
    ConflictError,
    InvalidIdError,
    RateLimitError,
    ResponseTooLargeError,
    UnconfirmedCompletionError,
    status_error_class,
)

if TYPE_CHECKING:
    from .models import Completion, RunCommandResult, RunContext, RunEvent

T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)

USER_AGENT = f"command-center-tui/{__version__}"
DEFAULT_TIMEOUT = 10.0  # per phase: connect, each read, each write, waiting for the pool
DEFAULT_DEADLINE = 30.0  # the whole exchange: connect, headers and the entire body
DEFAULT_MAX_RETRIES = 2
# Waits longer than this are announced through ``on_wait`` before they begin.
ANNOUNCE_WAITS_OVER = 3.0
# Real ids are short names (a step id, run_…). With three ids in a path, each character up to
# 12 bytes once UTF-8 and percent-encoded, 1,000 keeps a URL far below httpx's 65,536 limit.
MAX_ID_LENGTH: Final = 1000

OnWait = Callable[[float, str], None]


# A runs feed as read off the wire: (ETag, body or None if unchanged, heads or None if msgspec
# refused them, the JSON then).
_FeedRead = tuple[str | None, bytes | None, RunFeed | None, Any]


class _Unset:
    """Marks an option of :meth:`BaseClient.with_options` that was not given (None is a value)."""


_UNSET: Final = _Unset()


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
    # A body the answer may repeat: compared as it arrives, not kept while it matches
    # (BODY_UNCHANGED in the response's extensions when it was this body again).
    known_body: bytes | None = None
    # The entity tag of the answer the caller has: sent as If-None-Match, and a 304 is then an
    # answer ("the same as before"), not an error.
    if_none_match: str | None = None
    # What a successful answer that cannot be read at all (too large, undecodable) raises.
    unreadable: type[APIResponseValidationError] = APIResponseValidationError
    too_large: type[ResponseTooLargeError] = ResponseTooLargeError


@dataclass(frozen=True)
class Send:
    request: httpx.Request
    # Seconds the whole exchange may take (None: unbounded); the driver starts the clock.
    deadline: float | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float
    reason: str = ""


Action = Send | Sleep
# What the driver hands back: the response, the transport failure, or None after a sleep.
Outcome = httpx.Response | httpx.TransportError | None


# C0 controls, DEL and C1 controls; and lone surrogates, which no URL can encode.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown_id(value: str, limit: int = 40) -> str:
    """An id fit for a message: shortened, and escaped (``repr`` escapes every control)."""
    return repr(value[:limit] + ("…" if len(value) > limit else ""))


def _segment(value: str, what: str = "id") -> str:
    """One path segment, escaped: ids come from the server and may contain anything.

    Refuses (:class:`InvalidIdError`) what percent-encoding cannot make safe (API.md part 4):
    an empty id or a dot segment changes the URL, since httpx normalises ``.`` and ``..``.
    """
    text = str(value)
    reason: str | None = None
    if text == "":
        reason = "it is empty, so the URL would lose a path segment (…//…)"
    elif text in (".", ".."):
        reason = "a dot segment is normalised away by HTTP clients and addresses another resource"
    elif len(text) > MAX_ID_LENGTH:
        reason = (
            f"it is {len(text):,} characters long; ids are short names, and beyond "
            f"{MAX_ID_LENGTH:,} characters the URL could exceed what HTTP clients accept"
        )
    elif (control := _CONTROL.search(text)) is not None:
        reason = f"it contains the control character U+{ord(control.group()):04X}"
    elif (lone := _SURROGATE.search(text)) is not None:
        reason = f"it contains a lone surrogate (U+{ord(lone.group()):04X}), not valid text"
    if reason is not None:
        raise InvalidIdError(
            f"Refusing {what} {_shown_id(text)}: {reason}. Nothing was sent.",
            what=what,
            reason=reason,
        )
    return quote(text, safe="")


def check_address(workflow_id: str, run_id: str, task_id: str | None = None) -> None:
    """Raise :class:`InvalidIdError` now for ids no request could carry safely.

    For callers that store a request before sending it (an outbox): refuse it at the door
    rather than at every later attempt.
    """
    _segment(workflow_id, "workflow id")
    _segment(run_id, "run id")
    if task_id is not None:
        _segment(task_id, "task id")


def _snippet(text: str, limit: int = 160) -> str:
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _decode_tasks(response: httpx.Response) -> TaskListing | Decoded:
    return decode_listing(response.content)


def _read_tasks(decoded: TaskListing | Decoded) -> TaskListing:
    """The listing, entry by entry; a body of another shape is an error (an unexpected shape)."""
    listing = listing_of(decoded)
    if listing.unreadable:
        first = listing.unreadable[0]
        logger.info(
            "listing: %d of %d entries are not tasks; first: #%d %s",
            len(listing.unreadable),
            len(listing.tasks) + len(listing.unreadable),
            first.index,
            first.reason,
        )
    return listing


def _report(decoded: TaskListing | Decoded) -> TaskReport:
    listing = _read_tasks(decoded)
    return TaskReport(Tasks(listing.tasks), listing.unreadable)


def _parse_tasks(decoded: TaskListing | Decoded) -> Tasks:
    return Tasks(_read_tasks(decoded).tasks)


def _run_path(workflow_id: str, run_id: str) -> str:
    return (
        f"/v1/workflows/{_segment(workflow_id, 'workflow id')}"
        f"/runs/{_segment(run_id, 'run id')}/tasks/pending"
    )


def _workflow_path(workflow_id: str) -> str:
    return f"/v1/workflows/{_segment(workflow_id, 'workflow id')}"


def _parse_context(body: Any) -> RunContext:
    from .models import RunContext

    return RunContext.model_validate(body)


def _parse_events(body: Any) -> list[RunEvent]:
    from .models import EventList

    return EventList.model_validate(body).events


def _keep_response(response: httpx.Response) -> httpx.Response:
    """A completion's answer is judged whole (status, content type, body), not just decoded."""
    return response


_CONFIRMATION = '{"status": "completed"}'


def _checked_deadline(deadline: float | None) -> float | None:
    if deadline is not None and not (deadline > 0 and math.isfinite(deadline)):
        raise ValueError(f"deadline must be a positive number of seconds or None, got {deadline!r}")
    return deadline


def _checked_limits(max_body_bytes: int | None, ratio: float | None) -> BodyLimits:
    if max_body_bytes is not None and max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be >= 1 or None, got {max_body_bytes!r}")
    if ratio is not None and not ratio >= 1:
        raise ValueError(f"max_decompression_ratio must be >= 1 or None, got {ratio!r}")
    return BodyLimits(max_body_bytes, ratio)


def _wait_reason(outcome: httpx.Response | httpx.TransportError) -> str:
    """Why a retry waits, in the words of ``on_wait``."""
    if isinstance(outcome, httpx.Response):
        code = outcome.status_code
        if code == 429:
            return "rate limited (429)"
        if code == 408:
            return "request timeout (408)"
        return f"server error ({code})"
    if isinstance(outcome, httpx.TimeoutException):
        return "timed out"
    return "connection error"


class BaseClient(Generic[HttpT]):
    """Configuration and the request flow; subclasses only send and sleep."""

    _http: HttpT
    _owns_http: bool

    def __init__(
        self,
        base_url: str,
        token: str | Secret,
        tenant_id: str,
        project_id: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float | None = DEFAULT_DEADLINE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: HttpT | None = None,
        retry_policy: RetryPolicy | None = None,
        max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
        max_decompression_ratio: float | None = DEFAULT_MAX_DECOMPRESSION_RATIO,
        on_wait: OnWait | None = None,
    ) -> None:
        """``timeout`` bounds each phase (connect, every read and write); ``deadline`` the whole
        exchange, body included (None: unbounded). ``max_body_bytes`` and
        ``max_decompression_ratio`` bound a successful answer while it is read (None: off).
        ``on_wait(seconds, reason)`` is called before any retry wait over 3 s.

        Without ``http_client``, one is built: for a loopback base URL it ignores the
        environment (no proxy, no netrc), and a plain ``http://`` base URL that the environment
        would send through a plain ``http://`` proxy is refused (ValueError).
        """
        # The token is a Secret from here on: no frame local or attribute holds it as a str.
        secret = Secret(token.strip() if isinstance(token, str) else token)
        del token
        try:
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError):
            raise ValueError(f"base_url is not a valid URL: {_snippet(str(base_url))}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not secret:
            raise ValueError("token is empty")
        if _CONTROL.search(secret.reveal()) or not secret.reveal().isascii():
            raise ValueError("token holds a control or non-ASCII character; it cannot be sent")
        if not tenant_id:
            raise ValueError("tenant_id is empty")
        for name, value in (("tenant_id", tenant_id), ("project_id", project_id or "")):
            if _CONTROL.search(value) or not value.isascii():
                raise ValueError(f"{name} must be printable ASCII, got {_shown_id(value)}")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = str(base_url).rstrip("/")
        self.tenant_id = tenant_id
        self.project_id = project_id
        self.timeout = timeout
        self.deadline = _checked_deadline(deadline)
        self.limits = _checked_limits(max_body_bytes, max_decompression_ratio)
        self.on_wait = on_wait
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._secret = secret
        install_redaction(secret=secret.reveal())
        # A request to this machine must not detour through a proxy (token included).
        self.trust_env = not is_loopback_url(url)
        if http_client is None:
            problem = cleartext_proxy_problem(self.base_url) if self.trust_env else None
            if problem is not None:
                raise ValueError(problem)
            self._http = self._default_http_client()
            self._owns_http = True
        else:
            self._http = http_client
            self._owns_http = False

    def _default_http_client(self) -> HttpT:
        raise NotImplementedError

    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        deadline: float | _Unset | None = _UNSET,
        max_body_bytes: int | _Unset | None = _UNSET,
        max_decompression_ratio: float | _Unset | None = _UNSET,
        on_wait: OnWait | _Unset | None = _UNSET,
    ) -> Self:
        """A copy with other options that shares this client's connection pool.

        E.g. a UI that shows its own "retrying in N s" polls with ``max_retries=0``. For
        ``deadline``, the limits and ``on_wait``, ``None`` is a value (off); leave them out to
        keep this client's.
        """
        clone = copy.copy(self)
        clone._owns_http = False  # closing the copy must not close the shared pool
        if timeout is not None:
            clone.timeout = timeout
        if max_retries is not None:
            if max_retries < 0:
                raise ValueError("max_retries must be >= 0")
            clone.retry_policy = dataclasses.replace(self.retry_policy, max_retries=max_retries)
        if not isinstance(deadline, _Unset):
            clone.deadline = _checked_deadline(deadline)
        if not isinstance(max_body_bytes, _Unset) or not isinstance(
            max_decompression_ratio, _Unset
        ):
            clone.limits = _checked_limits(
                self.limits.max_body_bytes
                if isinstance(max_body_bytes, _Unset)
                else max_body_bytes,
                self.limits.max_decompression_ratio
                if isinstance(max_decompression_ratio, _Unset)
                else max_decompression_ratio,
            )
        if not isinstance(on_wait, _Unset):
            clone.on_wait = on_wait
        return clone

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    @property
    def max_body_bytes(self) -> int | None:
        return self.limits.max_body_bytes

    @property
    def max_decompression_ratio(self) -> float | None:
        return self.limits.max_decompression_ratio

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, tenant_id={self.tenant_id!r}, "
            f"project_id={self.project_id!r})"
        )

    # -- endpoints: described once, driven by both clients ---------------------------------------

    def _ep_list_pending_tasks(self) -> Endpoint[Tasks]:
        return Endpoint("GET", "/v1/tasks/pending", _parse_tasks, decode=_decode_tasks)

    def _ep_list_pending_tasks_report(self) -> Endpoint[TaskReport]:
        return Endpoint("GET", "/v1/tasks/pending", _report, decode=_decode_tasks)

    def _ep_poll_pending_tasks(self, since: TaskListing | None) -> Endpoint[TaskListing]:
        def decode(response: httpx.Response) -> tuple[str | None, TaskListing | Decoded]:
            etag = response.headers.get("ETag")
            if since is not None and (
                response.status_code == 304 or response.extensions.get(BODY_UNCHANGED)
            ):
                return etag or since.etag, unchanged(since)  # nothing to decode
            return etag, decode_listing(response.content, since)

        def parse(decoded: tuple[str | None, TaskListing | Decoded]) -> TaskListing:
            etag, listing = decoded
            if isinstance(listing, TaskListing) and not listing.changed:
                return replace(listing, etag=etag)
            return replace(_read_tasks(listing), etag=etag)

        return Endpoint(
            "GET",
            "/v1/tasks/pending",
            parse,
            decode=decode,
            known_body=since.body if since is not None else None,
            if_none_match=since.etag if since is not None else None,
        )

    def _ep_list_run_pending_tasks(self, workflow_id: str, run_id: str) -> Endpoint[Tasks]:
        return Endpoint("GET", _run_path(workflow_id, run_id), _parse_tasks, decode=_decode_tasks)

    def _ep_list_run_pending_tasks_report(
        self, workflow_id: str, run_id: str
    ) -> Endpoint[TaskReport]:
        return Endpoint("GET", _run_path(workflow_id, run_id), _report, decode=_decode_tasks)

    def _ep_list_run_events(self, workflow_id: str, run_id: str) -> Endpoint[list[RunEvent]]:
        path = (
            f"/v1/workflows/{_segment(workflow_id, 'workflow id')}"
            f"/runs/{_segment(run_id, 'run id')}/events"
        )
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
            f"/v1/workflows/{_segment(workflow_id, 'workflow id')}"
            f"/runs/{_segment(run_id, 'run id')}"
            f"/tasks/{_segment(task_id, 'task id')}/complete"
        )
        key = idempotency_key or str(uuid.uuid4())

        def parse(response: httpx.Response) -> Completion:
            return self._parse_completion(response, approved=approved)

        return Endpoint(
            "POST",
            path,
            parse,
            json=body,
            idempotency_key=key,
            decode=_keep_response,
            # An answer we cannot read does not say whether the decision was applied.
            unreadable=UnconfirmedCompletionError,
            too_large=CompletionAnswerTooLargeError,
        )

    def _ep_list_runs(self) -> Endpoint[RunListing]:
        return Endpoint("GET", "/v1/runs", parse_run_listing)

    def _ep_poll_runs(self, since: RunFeed | None) -> Endpoint[RunFeed]:
        """The runs feed as light heads (msgspec, see _run_feed); a 304 to ``If-None-Match``
        (or the same bytes, from a server without ETags) is ``since`` itself, unread."""

        def decode(response: httpx.Response) -> _FeedRead:
            etag = response.headers.get("ETag")
            if since is not None and (
                response.status_code == 304 or response.extensions.get(BODY_UNCHANGED)
            ):
                return etag or since.etag, None, None, None
            body = response.content
            feed = decode_run_feed(body)
            return etag, body, feed, _json_loads(body) if feed is None else None

        def parse(decoded: _FeedRead) -> RunFeed:
            etag, body, feed, data = decoded
            if body is None:
                assert since is not None
                return replace(since, etag=etag, changed=False)
            if feed is None:
                feed = feed_of_listing(data)  # refused by msgspec: the tolerant models
            return replace(feed, etag=etag, body=body)

        return Endpoint(
            "GET",
            "/v1/runs",
            parse,
            decode=decode,
            known_body=since.body if since is not None else None,
            if_none_match=since.etag if since is not None else None,
        )

    def _ep_list_workflow_runs(self, workflow_id: str) -> Endpoint[RunListing]:
        return Endpoint("GET", _workflow_path(workflow_id) + "/runs", parse_run_listing)

    def _ep_get_run_context(self, workflow_id: str, run_id: str) -> Endpoint[RunContext]:
        path = f"{_workflow_path(workflow_id)}/runs/{_segment(run_id, 'run id')}/context"
        return Endpoint("GET", path, _parse_context)

    def _ep_run_command(
        self,
        workflow_id: str,
        run_id: str,
        command: RunCommand,
        *,
        mode: StopMode | None = None,
        idempotency_key: str | None,
    ) -> Endpoint[RunCommandResult]:
        """``POST /v1/workflows/{id}/command``: one key for every attempt, as a completion has.

        The run id travels in the body, yet is refused as a path segment would be: the same
        ids the task methods refuse are not run ids.
        """
        path = _workflow_path(workflow_id) + "/command"
        _segment(run_id, "run id")
        return Endpoint(
            "POST",
            path,
            parse_command_result,
            json=command_body(command, run_id, mode),
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            # The answer's shape is undocumented: a 2xx body that is not JSON is no error.
            decode=decode_loosely,
        )

    # -- the shared flow ------------------------------------------------------------------------

    def _headers(self, endpoint: Endpoint[Any]) -> httpx.Headers:
        """The request's headers, straight into ``httpx.Headers``: its repr masks the token,
        so no frame of a crash report shows it (a plain dict local would)."""
        headers = httpx.Headers(
            {
                "X-Tenant-Id": self.tenant_id,
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,  # the codings BodyReader decodes in bounds
            }
        )
        headers["Authorization"] = "Bearer " + self._secret.reveal()
        if self.project_id:
            headers["X-Project-Id"] = self.project_id
        if endpoint.idempotency_key is not None:
            headers["Idempotency-Key"] = endpoint.idempotency_key
        if endpoint.if_none_match is not None:
            headers["If-None-Match"] = endpoint.if_none_match
        return headers

    def _phase_seconds(self) -> float:
        """Each phase's timeout, never longer than the whole deadline."""
        return self.timeout if self.deadline is None else min(self.timeout, self.deadline)

    def _build_request(self, endpoint: Endpoint[Any]) -> httpx.Request:
        headers = self._headers(endpoint)
        content: bytes | None = None
        if endpoint.json is not None:
            # ASCII JSON (httpx's own encoding is UTF-8): a value read from the server's
            # "\ud800" escape is a lone surrogate, which UTF-8 cannot encode but JSON can.
            text = json.dumps(endpoint.json, separators=(",", ":"), allow_nan=False)
            content = text.encode("ascii")
            headers["Content-Type"] = "application/json"
        try:
            return self._http.build_request(
                endpoint.method,
                self.base_url + endpoint.path,
                headers=headers,
                content=content,
                timeout=self._phase_seconds(),
            )
        except httpx.InvalidURL as exc:
            raise self._invalid_url(endpoint.method, endpoint.path, exc) from None

    def _invalid_url(self, method: str, path: str, exc: Exception) -> InvalidIdError:
        """httpx refused the URL: a typed refusal rather than an httpx exception."""
        reason = f"httpx refused the URL ({self._redact(str(exc))})"
        return InvalidIdError(
            f"Refusing {method} {_shown_id(path, limit=120)}: {reason}. Nothing was sent.",
            what="URL",
            reason=reason,
        )

    def _reader(
        self, response: httpx.Response, endpoint: Endpoint[Any], budget: Budget
    ) -> BodyReader:
        """How the drivers read one answer: within the limits and the deadline."""
        return BodyReader(
            response,
            self.limits,
            budget,
            known_body=endpoint.known_body,
        )

    def _body_error(
        self, problem: BodyProblem, endpoint: Endpoint[Any]
    ) -> APIResponseValidationError:
        """A successful answer that could not be read at all, as the endpoint's typed error."""
        response = problem.response
        request = response.request
        where = f"{request.method} {request.url.path} answered {response.status_code}"
        if isinstance(problem, BodyTooLarge):
            if problem.option == "max_body_bytes":
                what = (
                    f"with a body over max_body_bytes = {int(problem.limit):,} bytes (reading "
                    f"stopped at {problem.received:,} bytes, {problem.downloaded:,} downloaded)"
                )
            else:
                what = (
                    f"with a body that inflates more than max_decompression_ratio = "
                    f"{problem.limit:g}x ({problem.received:,} bytes from "
                    f"{problem.downloaded:,} downloaded, Content-Encoding {problem.encoding}); "
                    "a decompression bomb?"
                )
            return endpoint.too_large(
                f"{where} {what}. Nothing of it was kept; raise {problem.option} if such "
                "answers are expected.",
                response=response,
                option=problem.option,
                limit=problem.limit,
                received=problem.received,
                downloaded=problem.downloaded,
            )
        assert isinstance(problem, BodyUndecodable)
        detail, encoding = self._redact(problem.detail), problem.encoding
        return endpoint.unreadable(
            f"{where} with a body that could not be decompressed (Content-Encoding "
            f"{encoding}): {detail}",
            response=response,
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
            outcome = yield Send(request, self.deadline)
            if isinstance(outcome, httpx.Response):
                response = outcome
                logger.debug("%s %s -> %d", request.method, request.url.path, response.status_code)
                if response.is_success or (
                    response.status_code == 304 and endpoint.if_none_match is not None
                ):
                    return response
                delay = self.retry_policy.delay(attempt, response)
                if delay is None:
                    raise self._status_error(response, maybe_ours=ambiguous)
                ambiguous = ambiguous or is_ambiguous_status(response.status_code)
                reason = f"status {response.status_code}"
                waiting = _wait_reason(response)
            elif isinstance(outcome, httpx.TransportError):
                error = self._connection_error(request, outcome)
                delay = self.retry_policy.delay(attempt, None)
                if delay is None:
                    raise error from outcome
                ambiguous = True
                reason = type(outcome).__name__
                waiting = _wait_reason(outcome)
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
            if delay > ANNOUNCE_WAITS_OVER:
                self._announce_wait(delay, waiting)
            yield Sleep(delay, waiting)
            attempt += 1

    def _announce_wait(self, seconds: float, reason: str) -> None:
        """Tell the front end about a long wait; its failure must not fail the request."""
        if self.on_wait is None:
            return
        try:
            self.on_wait(seconds, reason)
        except Exception:
            logger.warning("on_wait(%.1f, %r) failed", seconds, reason, exc_info=True)

    def _redact(self, text: str) -> str:
        return redact_text(self._secret.redact(text))

    def _connection_error(
        self, request: httpx.Request, exc: httpx.TransportError
    ) -> APIConnectionError:
        where = f"{request.method} {request.url.path}"
        if isinstance(exc, DeadlineExceeded):
            return APITimeoutError(
                f"{where}: no complete answer within {exc.deadline:g} s (the deadline); "
                "the server is too slow",
                request=request,
                deadline=exc.deadline,
            )
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"{where}: timed out ({type(exc).__name__}, over {self._phase_seconds():g} s)",
                request=request,
            )
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
        except ValueError as exc:  # pydantic's ValidationError is one
            problem = validation_problem(exc)
            if problem is None:
                raise
            request = response.request
            raise APIResponseValidationError(
                f"{request.method} {request.url.path} answered {response.status_code} with an "
                f"unexpected shape: {self._redact(problem)}",
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
        from .models import Completion

        try:
            return Completion.model_validate(body)
        except ValueError as exc:  # pydantic's ValidationError is one
            problem = validation_problem(exc)
            if problem is None:
                raise
            raise unconfirmed(f"with an unexpected shape: {self._redact(problem)}") from None
