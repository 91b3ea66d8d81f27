"""The first inbox listing, fetched in a thread while Textual imports and paints its first frame.

Start-up is the sum of imports, the first paint, the request and decoding; the request and the
decoding need none of the others, so the console starts them first and the first refresh picks
up the result. On 10,000 tasks this hides most of the fetch behind the UI's own start-up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future

import httpx

from client import CommandCenterClient, Secret, TaskListing

from .settings import ConsoleSettings


def polling_client(
    settings: ConsoleSettings, token: str | Secret, http_client: httpx.Client | None = None
) -> CommandCenterClient:
    """The blocking client the console polls the inbox with, from worker threads.

    No retries: a failed poll is reported and backed off by the refresh flow itself.
    """
    return CommandCenterClient(
        settings.base_url,
        token,
        settings.tenant,
        settings.project,
        max_retries=0,
        http_client=http_client,
        **settings.client_options(),
    )


class Prefetch:
    """One background :meth:`~client.CommandCenterClient.poll_pending_tasks`, awaited once."""

    def __init__(self, client: CommandCenterClient) -> None:
        """``client``: the poll client the console goes on polling with (one pool, one client)."""
        self._future: Future[TaskListing] = Future()
        self._client = client
        self.started = time.monotonic()  # what the listing can know of: nothing decided later
        threading.Thread(target=self._fetch, name="inbox-prefetch", daemon=True).start()

    def _fetch(self) -> None:
        try:
            self._future.set_result(self._client.poll_pending_tasks())
        except BaseException as exc:  # handed to the awaiting refresh, which reports it
            self._future.set_exception(exc)

    async def listing(self) -> TaskListing:
        """The listing, or the client's error, as if the refresh had made the request itself."""
        return await asyncio.wrap_future(self._future)
