"""Fault injection as pure ASGI middleware: added latency, 503s and dropped connections.

A dropped connection must reach the client as a transport failure – what a proxy resetting the
connection looks like – not as a 500, because the client treats the two differently (a 5xx is an
answer; a drop leaves it unsure whether a completion landed). Uvicorn gives an app no way to close
the socket, so the middleware sends a response head announcing a body and then aborts: uvicorn
closes the connection and httpx raises ``RemoteProtocolError`` ("peer closed connection without
sending complete message body"). In process, through ``httpx.ASGITransport``, the abort
exception is itself an ``httpx.RemoteProtocolError``, so both paths fail the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Iterable
from enum import StrEnum

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from client.models import ErrorBody

__all__ = ["FaultInjector", "FaultKind", "FaultMiddleware", "InjectedDisconnect"]


class FaultKind(StrEnum):
    UNAVAILABLE = "unavailable"  # 503 INTERNAL_ERROR; the request is not applied
    DROP_BEFORE = "drop_before"  # the connection drops; the request is not applied
    DROP_AFTER = "drop_after"  # the request is applied, then the connection drops


class InjectedDisconnect(httpx.RemoteProtocolError):
    """Aborts a response after its head: the server closes the connection on it."""


class _QuietInjectedDisconnects(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" records for our own aborts only."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedDisconnect)


_QUIET = _QuietInjectedDisconnects()
# The head sent before an abort: the same for both drop kinds, so a client cannot tell them apart.
_ABORT_HEAD: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
}
_UNAVAILABLE_BODY = (
    ErrorBody(
        error="the service is temporarily unavailable (injected fault); retry later",
        code="INTERNAL_ERROR",
    )
    .model_dump_json(exclude_none=True)
    .encode()
)


class FaultInjector:
    """Decides, per request, whether to delay and which fault (if any) to inject; counts them.

    With probability ``fail_rate`` a request gets one of ``kinds``, chosen with a seeded RNG: the
    same seed and request order give the same faults. Only paths under ``path_prefix`` are
    affected, so ``/openapi.json`` and the docs stay reliable.
    """

    def __init__(
        self,
        fail_rate: float = 0.0,
        latency_ms: float = 0,
        *,
        seed: int = 0,
        kinds: Iterable[FaultKind | str] = tuple(FaultKind),
        path_prefix: str = "/v1/",
    ) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError(f"fail_rate must be within [0, 1], got {fail_rate}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, got {latency_ms}")
        self.kinds = tuple(FaultKind(kind) for kind in kinds)
        if not self.kinds:
            raise ValueError("kinds must name at least one fault kind")
        self.fail_rate = fail_rate
        self.latency_ms = latency_ms
        self.path_prefix = path_prefix
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._requests = 0
        self._counts = dict.fromkeys(FaultKind, 0)
        logger = logging.getLogger("uvicorn.error")
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)

    def decide(self) -> FaultKind | None:
        """Draw the fate of one request and count it."""
        with self._lock:
            self._requests += 1
            # Always draw the same number of values per request, so the sequence is stable.
            roll, pick = self._rng.random(), self._rng.randrange(len(self.kinds))
            if roll >= self.fail_rate:
                return None
            kind = self.kinds[pick]
            self._counts[kind] += 1
            return kind

    @property
    def counts(self) -> dict[FaultKind, int]:
        """Injected faults so far, by kind (every kind present, zero if none)."""
        with self._lock:
            return dict(self._counts)

    @property
    def requests(self) -> int:
        """Requests seen under ``path_prefix``, faulted or not."""
        with self._lock:
            return self._requests

    def report(self) -> dict[str, int]:
        """Requests and faults by kind as plain names, for logs and benchmark reports."""
        with self._lock:
            return {"requests": self._requests} | {k.value: n for k, n in self._counts.items()}


class FaultMiddleware:
    """Pure ASGI middleware applying a ``FaultInjector`` to HTTP requests."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        injector = self.injector
        if scope["type"] != "http" or not scope["path"].startswith(injector.path_prefix):
            await self.app(scope, receive, send)
            return
        if injector.latency_ms:
            await asyncio.sleep(injector.latency_ms / 1000)
        kind = injector.decide()
        if kind is None:
            await self.app(scope, receive, send)
        elif kind is FaultKind.UNAVAILABLE:
            await _send_unavailable(send)
        elif kind is FaultKind.DROP_BEFORE:
            await _abort(send)
        else:

            async def swallow(message: Message) -> None:
                """The answer is computed and the state changed, but nothing reaches the wire."""

            await self.app(scope, receive, swallow)
            await _abort(send)


async def _send_unavailable(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_UNAVAILABLE_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _UNAVAILABLE_BODY})


async def _abort(send: Send) -> None:
    await send(_ABORT_HEAD)
    raise InjectedDisconnect("injected fault: connection dropped before the body")
