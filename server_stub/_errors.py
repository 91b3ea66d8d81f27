"""The one error shape, ``{"error": "...", "code": "..."}``, for every failure the stub answers.

FastAPI answers ``{"detail": ...}`` by default – for validation errors, unknown routes and
wrong methods alike. The client only knows the platform's shape, so every path to an error
response goes through here. Messages never contain request headers, hence never the token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from client.models import ErrorBody

from .state import Conflict, NotFound

__all__ = ["ApiError", "error_response", "install_error_handlers", "readable_errors"]

_CODE_BY_STATUS = {
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    422: "VALIDATION_ERROR",
    500: "INTERNAL_ERROR",
    503: "INTERNAL_ERROR",
}


class ApiError(Exception):
    """An error answer: status, a message safe to show, and the platform's error code."""

    def __init__(self, status_code: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.code = code or _CODE_BY_STATUS.get(status_code)


def error_response(
    status_code: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=message, code=code or _CODE_BY_STATUS.get(status_code))
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status_code, headers=headers
    )


def readable_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's error list as one line: ``approved: Input should be a valid boolean; …``.

    Only locations and messages are used, never the offending input, which could be anything.
    """
    parts = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p != "body"]
        message = str(error.get("msg", "invalid value")).replace(
            "a valid dictionary", "a JSON object"
        )
        parts.append(f"{'.'.join(location) or 'body'}: {message}")
    return "; ".join(parts) or "invalid request"


def _without_token(request: Request, message: str) -> str:
    """Messages quote ids from the path and keys from the body; a caller may have put its own
    token there by mistake. It never goes back out."""
    token = request.headers.get("authorization", "").strip().partition(" ")[2].strip()
    if token and token in message:
        return message.replace(token, "[redacted]")
    return message


def install_error_handlers(app: FastAPI) -> None:
    """Route every error – ours, the state's, FastAPI's, Starlette's – into ``ErrorBody``."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status_code, _without_token(request, exc.message), exc.code)

    async def on_not_found(request: Request, exc: Exception) -> JSONResponse:
        return error_response(404, _without_token(request, str(exc)))

    async def on_conflict(request: Request, exc: Exception) -> JSONResponse:
        return error_response(409, _without_token(request, str(exc)))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message = "invalid request: " + readable_errors(exc.errors())
        return error_response(422, _without_token(request, message))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        # The path is not echoed: whatever a caller put there stays out of the answer.
        if exc.status_code == 404:
            message = "no such endpoint; the routes are listed in /openapi.json"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on this endpoint"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, message, headers=exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal error in the stub server")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_exception_handler(Conflict, on_conflict)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
