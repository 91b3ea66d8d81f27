"""Typed client of the workflow platform's /v1 human-task API (sync and async)."""

from ._async import AsyncCommandCenterClient
from ._base import check_address
from ._logs import RedactingFilter, install_redaction
from ._net import is_loopback_url, proxy_for
from ._retry import RetryPolicy
from ._secret import Secret
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
from .models import (
    Completion,
    FieldType,
    PayloadField,
    RunEvent,
    Task,
    TaskPayload,
    TaskReport,
    UnreadableTask,
)

__all__ = [
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
    "ListedTask",
    "NotFoundError",
    "PayloadField",
    "PermissionDeniedError",
    "RateLimitError",
    "RedactingFilter",
    "ResponseTooLargeError",
    "RetryPolicy",
    "RunEvent",
    "Secret",
    "ServerError",
    "Task",
    "TaskListing",
    "TaskPayload",
    "TaskReport",
    "Tasks",
    "UnconfirmedCompletionError",
    "UnprocessableEntityError",
    "UnreadableTask",
    "__version__",
    "check_address",
    "install_redaction",
    "is_loopback_url",
    "proxy_for",
]
