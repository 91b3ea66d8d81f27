"""Typed client of the workflow platform's /v1 API: human tasks and runs (sync and async)."""

from typing import TYPE_CHECKING, Any

from ._async import AsyncCommandCenterClient
from ._base import check_address
from ._light import FieldType, TaskReport, UnreadableTask, reject_result
from ._logs import RedactingFilter, install_redaction
from ._net import is_loopback_url, proxy_for
from ._retry import RetryPolicy
from ._run_feed import ListedRun, RunFeed, RunNames
from ._runs import (
    FAILURE_CODES,
    RunListing,
    RunStatus,
    UnreadableRun,
    failure_meaning,
    run_state,
)
from ._secret import Secret
from ._stream import StreamUnavailableError
from ._sync import CommandCenterClient
from ._task_list import ListedTask, TaskListing, Tasks
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CommandCenterError,
    CompletionAnswerTooLargeError,
    CompletionFailedError,
    ConflictError,
    InvalidIdError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    UnconfirmedCompletionError,
    UnprocessableEntityError,
)

if TYPE_CHECKING:
    from .models import (
        Completion,
        PayloadField,
        Run,
        RunCommandResult,
        RunContext,
        RunEvent,
        Task,
        TaskPayload,
    )

# The pydantic models load on first use (``client.Task``, ``from client import Task``): reading
# an inbox needs none of them, and pydantic takes as long to import as httpx.
_MODELS = frozenset(
    {
        "Completion",
        "PayloadField",
        "Run",
        "RunCommandResult",
        "RunContext",
        "RunEvent",
        "Task",
        "TaskPayload",
    }
)


def __getattr__(name: str) -> Any:
    if name in _MODELS:
        from . import models

        value = getattr(models, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAILURE_CODES",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncCommandCenterClient",
    "AuthenticationError",
    "CommandCenterClient",
    "CommandCenterError",
    "Completion",
    "CompletionAnswerTooLargeError",
    "CompletionFailedError",
    "ConflictError",
    "FieldType",
    "InvalidIdError",
    "ListedRun",
    "ListedTask",
    "NotFoundError",
    "PayloadField",
    "PermissionDeniedError",
    "RateLimitError",
    "RedactingFilter",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Run",
    "RunCommandResult",
    "RunContext",
    "RunEvent",
    "RunFeed",
    "RunListing",
    "RunNames",
    "RunStatus",
    "Secret",
    "ServerError",
    "StreamUnavailableError",
    "Task",
    "TaskListing",
    "TaskPayload",
    "TaskReport",
    "Tasks",
    "UnconfirmedCompletionError",
    "UnprocessableEntityError",
    "UnreadableRun",
    "UnreadableTask",
    "__version__",
    "check_address",
    "failure_meaning",
    "install_redaction",
    "is_loopback_url",
    "proxy_for",
    "reject_result",
    "run_state",
]
