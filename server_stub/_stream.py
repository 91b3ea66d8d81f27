"""The WebSocket of a workflow's run events: ``GET /v1/workflows/{id}/stream``.

Each event recorded after the socket opened (commands, completions, downstream steps, drains
ending, steps finishing or failing) goes out as one JSON text frame,
``{"id", "type", "run_id", "workflow_id", "step_id"?, "at", "data"?}``. ``?run_id=`` follows one
run; ``?since=<event id>`` first replays the events recorded after that one.

Authentication is that of the REST routes, on the upgrade request's headers (``Authorization:
Bearer``, ``X-Tenant-Id``, ``X-Project-Id``; project_viewer and ``workflow:read``). A refusal is
an accepted socket closed at once with a code and the reason: 4401 (credentials), 4403 (tenant,
project, role or scope), 4404 (unknown workflow, run or event) – browsers cannot read an HTTP
refusal of an upgrade, but they can read a close code.

The state is shared with request threads (uvicorn runs in a thread in tests), so the socket
never waits on the state's lock for long and is woken thread-safely: ``StubState.subscribe``
calls back from whichever thread recorded events, and the callback only schedules
``Event.set`` on this socket's loop (``call_soon_threadsafe``). Between wake-ups the socket
looks again at least every ``stream_poll`` seconds – sooner if a run is due to change by the
clock – so drains that end and steps that finish reach it without anyone else reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from ._access import authorize
from ._errors import ApiError
from .auth import ROLE_VIEWER, SCOPE_READ
from .state import NotFound, StubState

__all__ = ["CLOSE_FORBIDDEN", "CLOSE_NOT_FOUND", "CLOSE_UNAUTHORIZED", "stream_events"]

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
_MAX_REASON = 123  # bytes: a close frame's payload is at most 125, two of them the code


def _reason(message: str) -> str:
    encoded = message.encode()
    if len(encoded) <= _MAX_REASON:
        return message
    return encoded[: _MAX_REASON - 3].decode(errors="ignore") + "..."


async def _refuse(websocket: WebSocket, code: int, message: str) -> None:
    await websocket.accept()
    await websocket.close(code=code, reason=_reason(message))


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it closes."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _send(websocket: WebSocket, frames: list[dict[str, object]]) -> None:
    for frame in frames:
        await websocket.send_text(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))


async def stream_events(
    websocket: WebSocket, workflow_id: str, *, run_id: str | None, since: str | None
) -> None:
    state: StubState = websocket.app.state.stub
    headers = websocket.headers
    try:
        access = authorize(
            websocket.app.state.tokens,
            headers.get("authorization"),
            headers.get("x-tenant-id"),
            headers.get("x-project-id"),
            role=ROLE_VIEWER,
            scope=SCOPE_READ,
            project_required=True,
        )
    except ApiError as exc:
        code = CLOSE_UNAUTHORIZED if exc.status_code == 401 else CLOSE_FORBIDDEN
        await _refuse(websocket, code, exc.message)
        return
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def poke() -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
            loop.call_soon_threadsafe(wake.set)

    # Subscribed before the first read, so nothing recorded in between is missed.
    unsubscribe = state.subscribe(poke)
    try:
        try:
            frames, cursor = state.stream_open(
                workflow_id,
                run_id=run_id,
                since=since,
                tenant=access.tenant,
                project=access.project,
            )
        except NotFound as exc:
            await _refuse(websocket, CLOSE_NOT_FOUND, str(exc))
            return
        await websocket.accept()
        receiver = asyncio.create_task(_until_closed(websocket))
        try:
            await _send(websocket, frames)
            poll: float = websocket.app.state.stream_poll
            while not receiver.done():
                until = state.seconds_until_due()
                timeout = poll if until is None else min(poll, max(0.01, until))
                waiter = asyncio.create_task(wake.wait())
                await asyncio.wait(
                    {waiter, receiver}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                if receiver.done():
                    break
                wake.clear()  # before reading: a change after the read wakes us again
                frames, cursor = state.stream_after(workflow_id, cursor, run_id=run_id)
                await _send(websocket, frames)
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # the client went away mid-send
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await receiver
    finally:
        unsubscribe()
