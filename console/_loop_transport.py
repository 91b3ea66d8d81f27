"""A blocking transport that hands each request to an async client on the app's event loop.

The inbox is always polled by the blocking client in a worker thread (see services). When the
caller hands in its own async client – an in-process stub, a transport that injects faults –
this bridge lets that same poll path reach it, so tests and production poll the same way and
only the edge differs. Raw bytes and headers pass unchanged (a gzip answer stays gzip).
"""

from __future__ import annotations

import anyio.from_thread
import httpx


class LoopTransport(httpx.BaseTransport):
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Called from an anyio worker thread (anyio.to_thread.run_sync), which knows its loop.
        status, headers, body = anyio.from_thread.run(self._send, request)
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def _send(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = await self._client.send(request, stream=True)
        headers = list(response.headers.raw)
        try:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
        except httpx.StreamConsumed:
            # A transport that read its answer itself (a test's fault injector) hands over the
            # decoded content: the encoding headers no longer describe it.
            body = response.content
            headers = [(k, v) for k, v in headers if k.lower() != b"content-encoding"]
        finally:
            await response.aclose()
        return response.status_code, headers, body
