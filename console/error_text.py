"""Failures as the sentences an operator reads: what happened and what to do next."""

from __future__ import annotations

import json

from client.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
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

from .safe_text import clean


def short_reason(exc: BaseException) -> str:
    """Why a refresh failed, in the few words a status line has room for."""
    if isinstance(exc, AuthenticationError):
        return "401 token rejected – run command-center login"
    if isinstance(exc, PermissionDeniedError):
        return "403 not allowed – the token lacks a role or scope"
    if isinstance(exc, NotFoundError):
        return "404 – check the base URL"
    if isinstance(exc, RateLimitError):
        return "rate limited"
    if isinstance(exc, ServerError):
        return f"{exc.status_code} platform error"
    if isinstance(exc, APIStatusError):
        return f"{exc.status_code} {clean(exc.error or '', max_len=40, multiline=False)}".strip()
    if isinstance(exc, APITimeoutError):
        if getattr(exc, "deadline", None) is not None:
            return "too slow – no complete answer within the deadline"
        return "no answer in time – the platform is too slow"
    if isinstance(exc, APIConnectionError):
        return "cannot connect"
    if isinstance(exc, ResponseTooLargeError):
        return "answer too large – see L"
    if isinstance(exc, APIResponseValidationError):
        return _unreadable_reason(exc)
    if isinstance(exc, InvalidIdError):
        return "an id the client refuses to send"
    return clean(type(exc).__name__, multiline=False)


def _unreadable_reason(exc: APIResponseValidationError) -> str:
    """An answer we cannot use: HTML, cut short, or JSON of another shape."""
    response = exc.response
    kind = response.headers.get("content-type", "").lower()
    body = response.content.lstrip()
    if "html" in kind or body[:1] == b"<":
        return "not JSON (HTML – a captive portal?)"
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError:
        # JSON that opens but never closes was cut short on the way (a proxy, a timeout).
        opened = body[:1] in (b"{", b"[")
        return (
            "truncated answer"
            if opened and body.rstrip()[-1:] not in (b"}", b"]")
            else ("not JSON")
        )
    except (UnicodeDecodeError, RecursionError):
        return "not JSON"
    words = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(words, str) and words:  # a 200 that carries an error
        return f"answered with an error: {clean(words, max_len=60, multiline=False)}"
    return "unexpected answer (not the documented shape)"


def describe_error(exc: BaseException, *, doing: str = "the request") -> str:
    """A plain sentence for ``exc``; server words are cleaned, never interpreted."""
    server = clean(getattr(exc, "error", "") or "", max_len=300, multiline=False)
    if isinstance(exc, AuthenticationError):
        return (
            "The API rejected the token (401). Log in again with `command-center login`, "
            "or set COMMAND_CENTER_TOKEN to a valid token."
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            f"Not allowed (403): {server}. Reading the inbox needs the project_viewer role and "
            "the workflow:read scope; approving or rejecting needs the project_contributor role "
            "and the workflow:run scope – ask a project admin for what is missing."
        )
    if isinstance(exc, NotFoundError):
        return (
            f"The task is gone (404): {server}. It was completed or its run ended; "
            "it will leave the inbox."
        )
    if isinstance(exc, ConflictError):
        # Whose decision it was is read from the run's events (console/decisions.py); a bare
        # 409 says only that the task is no longer pending.
        return "The task is already completed (409); the run view (o) shows what was decided."
    if isinstance(exc, RateLimitError):
        wait = f" in {exc.retry_after:.0f} s" if exc.retry_after is not None else " shortly"
        return f"Rate limited by the platform (429). Try {doing} again{wait}."
    if isinstance(exc, ServerError):
        # Which call failed: a proxy's 502 page says nothing about it.
        where = clean(f" at {exc.method} {exc.path}", max_len=200, multiline=False)
        return (
            f"The platform failed ({exc.status_code}){where if exc.path else ''}: {server}. "
            f"{doing.capitalize()} was not confirmed – try again."
        )
    if isinstance(exc, UnprocessableEntityError):
        return f"The platform rejected the request (422): {server}."
    if isinstance(exc, APITimeoutError):
        deadline = getattr(exc, "deadline", None)
        if deadline is not None:  # the whole answer did not arrive within request_timeout
            return (
                f"The platform is answering too slowly: no complete answer within "
                f"{deadline:g} s for {doing} (request_timeout). Try again, or raise it in "
                "the profile if the inbox is very large."
            )
        return f"No answer in time for {doing}. The network or the platform is slow – try again."
    if isinstance(exc, APIConnectionError):
        return (
            f"Cannot reach the platform for {doing}: {clean(exc.message, max_len=200)}. "
            "Check the network or VPN."
        )
    if isinstance(exc, CompletionFailedError):
        return (
            f"The platform answered but did not complete it (status {clean(exc.status)!r}): "
            f"{server or clean(exc.message, max_len=300)}"
        )
    if isinstance(exc, InvalidIdError):
        return clean(str(exc), max_len=300)
    if isinstance(exc, ResponseTooLargeError) and not isinstance(exc, UnconfirmedCompletionError):
        return (
            f"The platform's answer was too large to read safely: {clean(exc.message, max_len=300)}"
        )
    if isinstance(exc, UnconfirmedCompletionError):
        return (
            "The platform sent an answer we cannot read as a confirmation, so it may or may not "
            f"have been applied: {clean(exc.message, max_len=300)}"
        )
    if isinstance(exc, APIResponseValidationError):
        return f"The platform sent an answer we cannot read: {clean(exc.message, max_len=300)}"
    if isinstance(exc, APIError):
        return clean(exc.message, max_len=300)
    detail = clean(str(exc), max_len=200)
    return f"Unexpected error during {doing}: {clean(type(exc).__name__)}: {detail}"
