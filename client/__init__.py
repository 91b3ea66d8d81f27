"""Typed client of the workflow platform's /v1 human-task API (sync and async)."""

from ._async import AsyncCommandCenterClient
from ._logs import RedactingFilter, install_redaction
from ._retry import RetryPolicy
from ._sync import CommandCenterClient
from ._task_list import TaskListing
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CommandCenterError,
    CompletionFailedError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
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
    "CompletionFailedError",
    "ConflictError",
    "FieldType",
    "NotFoundError",
    "PayloadField",
    "PermissionDeniedError",
    "RateLimitError",
    "RedactingFilter",
    "RetryPolicy",
    "RunEvent",
    "ServerError",
    "Task",
    "TaskListing",
    "TaskPayload",
    "UnconfirmedCompletionError",
    "UnprocessableEntityError",
    "__version__",
    "install_redaction",
]
