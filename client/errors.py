"""The exception hierarchy: one class per way a call can fail, with the HTTP exchange attached.

Messages name the method and path and the server's own words, never a header: the token must not
reach a traceback, a log line or an operator's screen.
"""

from __future__ import annotations

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "CommandCenterError",
    "CompletionAnswerTooLargeError",
    "CompletionFailedError",
    "ConflictError",
    "InvalidIdError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServerError",
    "UnconfirmedCompletionError",
    "UnprocessableEntityError",
]


class CommandCenterError(Exception):
    """Base of everything this client raises."""


class InvalidIdError(CommandCenterError, ValueError):
    """An id that cannot be sent as a path segment; refused before anything is sent.

    Empty, ``.`` and ``..`` would change the URL (httpx normalises dot segments, so ``..`` as a
    task id addresses the run's own ``…/complete``); control characters and lone surrogates have
    no place in an id; and an id over :data:`MAX_ID_LENGTH` characters is not an id. ``what``
    names the id ("task id"), ``reason`` says why; the message shows the id escaped and
    shortened, never its raw control characters.
    """

    what: str
    reason: str

    def __init__(self, message: str, *, what: str = "id", reason: str = "") -> None:
        super().__init__(message)
        self.what = what
        self.reason = reason


class APIError(CommandCenterError):
    """A call to the API failed; ``method`` and ``path`` say which one."""

    message: str
    request: httpx.Request | None
    method: str
    path: str

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.method = request.method if request is not None else ""
        self.path = request.url.path if request is not None else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class APIResponseValidationError(APIError):
    """The server answered, but not with what the contract promises (HTML, truncated JSON, …)."""

    response: httpx.Response
    status_code: int

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code


class UnconfirmedCompletionError(APIResponseValidationError):
    """A completion answered 2xx, but not with the documented ``{"status": "completed", …}``.

    An empty body (204 or 200), a non-JSON page (a captive portal's HTML), JSON that is not an
    object, an object without a string ``status``: none says whether the decision was applied.
    Keep the decision and send it again with the same ``Idempotency-Key`` (a bounded number of
    times); the client itself does not resend it.
    """


class ResponseTooLargeError(APIResponseValidationError):
    """A successful answer was bigger than the client accepts; reading stopped at the limit.

    ``option`` is the client option that was exceeded (``"max_body_bytes"`` or
    ``"max_decompression_ratio"``), ``limit`` its value, ``received`` the decoded bytes read
    when reading stopped and ``downloaded`` the bytes that came over the wire. The attached
    ``response`` has no body: none of it was kept.
    """

    option: str
    limit: float
    received: int
    downloaded: int

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        option: str,
        limit: float,
        received: int,
        downloaded: int,
    ) -> None:
        super().__init__(message, response=response)
        self.option = option
        self.limit = limit
        self.received = received
        self.downloaded = downloaded


class CompletionAnswerTooLargeError(ResponseTooLargeError, UnconfirmedCompletionError):
    """A completion's 2xx answer was too large to read: it may or may not have been applied.

    Both a :class:`ResponseTooLargeError` and an :class:`UnconfirmedCompletionError`: keep the
    decision and send it again with the same ``Idempotency-Key``.
    """


class CompletionFailedError(APIResponseValidationError):
    """A completion answered 2xx, and the body says it did *not* complete our decision.

    Either ``status`` is a string other than ``"completed"`` (``"failed"``, ``"pending"``, …), or
    the platform confirmed a different decision than the one sent (``approved`` differs). This is
    the server's explicit word: final, do not resend. ``status`` is the body's status, ``error``
    its ``error``/``message``/``detail`` text (redacted), ``code`` its ``code``; ``approved`` is
    the decision the platform recorded when that is what differs (``status`` is then
    ``"completed"``), else ``None``.
    """

    status: str
    error: str | None
    code: str | None
    approved: bool | None

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        status: str,
        error: str | None = None,
        code: str | None = None,
        approved: bool | None = None,
    ) -> None:
        super().__init__(message, response=response)
        self.status = status
        self.error = error
        self.code = code
        self.approved = approved


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status."""

    response: httpx.Response
    status_code: int
    error: str
    code: str | None

    def __init__(
        self, message: str, *, response: httpx.Response, error: str, code: str | None
    ) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.error = error
        self.code = code


class AuthenticationError(APIStatusError):
    """401: the token is missing, unknown, expired or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the token's scope or the user's role forbids this, or the tenant/project is wrong."""


class NotFoundError(APIStatusError):
    """404: no such workflow, run or task (a completed task may no longer be listed)."""


class ConflictError(APIStatusError):
    """409: the task is already completed.

    ``maybe_ours`` is true when an earlier attempt of the same call may have landed (it failed in a
    way that leaves the outcome unknown), so the completion is probably ours, not someone else's.
    """

    maybe_ours: bool

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        error: str,
        code: str | None,
        maybe_ours: bool = False,
    ) -> None:
        super().__init__(message, response=response, error=error, code=code)
        self.maybe_ours = maybe_ours


class UnprocessableEntityError(APIStatusError):
    """422: the request body was rejected (the server's detail is in ``error``)."""


class RateLimitError(APIStatusError):
    """429: too many requests. ``retry_after`` is the wait the server asked for, in seconds."""

    retry_after: float | None
    remaining: int | None
    reset: str | None

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        error: str,
        code: str | None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, response=response, error=error, code=code)
        self.retry_after = retry_after
        remaining = response.headers.get("x-ratelimit-remaining")
        self.remaining = int(remaining) if remaining and remaining.isdigit() else None
        self.reset = response.headers.get("x-ratelimit-reset")


class ServerError(APIStatusError):
    """5xx: the platform failed; the call may be retried."""


class APIConnectionError(APIError):
    """No answer: the connection failed or dropped. A completion may or may not have landed."""

    def __init__(
        self, message: str = "Connection error.", *, request: httpx.Request | None = None
    ) -> None:
        super().__init__(message, request=request)


class APITimeoutError(APIConnectionError):
    """The server did not answer in time: one phase exceeded ``timeout``, or the whole
    exchange exceeded ``deadline`` (then ``deadline`` holds its seconds, else ``None``)."""

    deadline: float | None

    def __init__(
        self,
        message: str = "Request timed out.",
        *,
        request: httpx.Request | None = None,
        deadline: float | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.deadline = deadline


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    if status_code >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)
