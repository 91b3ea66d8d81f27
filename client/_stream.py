"""A workflow's run events as they happen: ``GET /v1/workflows/{id}/stream``, a WebSocket.

The platform documents the stream but not its frames; ours (and the stub's) are run events,
each a JSON object like those of ``…/events`` plus ``run_id``. Frames that are not events are
skipped, and frames of other runs are dropped when one run is asked for. Any failure to connect
– a platform without the stream, a proxy that refuses the upgrade – is
:class:`StreamUnavailableError`: the caller polls instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from .errors import CommandCenterError

if TYPE_CHECKING:
    import ssl

    from .models import RunEvent

# A frame larger than this closes the stream (one event is a few kB).
MAX_FRAME_BYTES = 1024 * 1024
OPEN_TIMEOUT = 10.0


class StreamUnavailableError(CommandCenterError):
    """The event stream could not be opened or ended with an error; poll instead."""


def stream_url(base_url: str, workflow_id: str, run_id: str | None) -> str:
    """``https://host/v1/…`` → ``wss://host/v1/workflows/{id}/stream?run_id=…``."""
    scheme, rest = base_url.split("://", 1)
    ws = {"https": "wss", "http": "ws"}.get(scheme.lower())
    if ws is None:
        raise StreamUnavailableError(f"no event stream over {scheme!r}")
    url = f"{ws}://{rest.rstrip('/')}/v1/workflows/{quote(workflow_id, safe='')}/stream"
    return url + ("?" + urlencode({"run_id": run_id}) if run_id else "")


async def run_events(
    url: str,
    headers: Mapping[str, str],
    *,
    run_id: str | None,
    tls: ssl.SSLContext | None,
) -> AsyncIterator[RunEvent]:
    """The events the stream sends, as :class:`RunEvent`; ends when the server closes it."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedOK, WebSocketException

    from .models import RunEvent

    try:
        connection = await connect(
            url,
            additional_headers=dict(headers),
            ssl=tls if url.startswith("wss:") else None,
            open_timeout=OPEN_TIMEOUT,
            max_size=MAX_FRAME_BYTES,
            proxy=None,
        )
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise StreamUnavailableError(_why(exc)) from None
    try:
        async for frame in connection:
            event = _event(frame, run_id, RunEvent)
            if event is not None:
                yield event
    except ConnectionClosedOK:
        return
    except (OSError, WebSocketException) as exc:
        raise StreamUnavailableError(_why(exc)) from None
    finally:
        await connection.close()


def _event(frame: str | bytes, run_id: str | None, model: type[RunEvent]) -> RunEvent | None:
    try:
        data: Any = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if run_id is not None and data.get("run_id") not in (None, run_id):
        return None
    try:
        return model.model_validate(data)
    except ValueError:
        return None


def _why(exc: BaseException) -> str:
    """The reason in a few words, without the URL's query or any header."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        return f"the server answered {status} to the upgrade"
    return type(exc).__name__ + (
        f": {exc.strerror}" if isinstance(exc, OSError) and exc.strerror else ""
    )
