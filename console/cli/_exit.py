"""Documented exit codes, and the one mapping from failures to them."""

from __future__ import annotations

import click

from client import (
    APIError,
    AuthenticationError,
    ConflictError,
    PermissionDeniedError,
)

OK = 0
API_ERROR = 1  # the API or the network failed
USAGE = 2  # bad flags, config or input (click's own usage errors are 2 as well)
AUTH = 3  # no token, or the token was refused (401/403)
CONFLICT = 4  # the task was already completed
NOT_CONFIRMED = 5  # the decision was recorded but not confirmed: kept in the outbox
PARTIAL = 6  # tasks list: some entries of the answer were not tasks (the rest were listed)
INTERRUPTED = 130  # Ctrl-C

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 API or network error, 2 usage or bad input, 3 authentication or "
    "permission, 4 conflict (already completed), 5 not confirmed (the decision is kept in the "
    "outbox: `command-center outbox --retry` sends it again with the same key), 6 some "
    "entries of the inbox could not be read (tasks list shows the others), 130 interrupted "
    "(Ctrl-C)."
)


class CommandError(click.ClickException):
    """A failure with a plain message and a documented exit code."""

    def __init__(self, message: str, exit_code: int = API_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_for(exc: APIError) -> int:
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return AUTH
    if isinstance(exc, ConflictError):
        return CONFLICT
    return API_ERROR
