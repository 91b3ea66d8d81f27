"""A console wired to the stub in-process (ASGI), with a fixed clock and no blinking cursor."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from textual.pilot import Pilot

from client import AsyncCommandCenterClient
from console._prefetch import Prefetch, polling_client
from console.app import CommandCenterApp
from console.audit import AuditLog
from console.decisions import Where
from console.draft_store import DraftStore
from console.launch import build_app
from console.outbox import Outbox
from console.screens.modals import ARM_SECONDS
from console.settings import ConsoleSettings
from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT

STUB_URL = "http://stub.test"

# Times on screen are local: pin the zone so snapshots match on every machine.
os.environ["TZ"] = "UTC"
time.tzset()


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=STUB_URL)


ConsoleFactory = Callable[..., CommandCenterApp]


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "state" / "outbox.sqlite3")


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "state" / "audit.jsonl")


@pytest.fixture
def make_console(
    stub_app: FastAPI, fixed_now: datetime, outbox: Outbox, audit: AuditLog, tmp_path: Path
) -> ConsoleFactory:
    def make(
        *,
        token: str = DEMO_CONTRIBUTOR_TOKEN,
        http_client: httpx.AsyncClient | None = None,
        base_url: str = STUB_URL,
        network: bool = False,
        prefetch: bool = False,
        clock: Callable[[], datetime] | None = None,
        **overrides: Any,
    ) -> CommandCenterApp:
        """``network``: real HTTP to ``base_url`` as run_console wires it (no transport handed
        in); ``prefetch``: the first listing fetched in a thread, as run_console does."""
        # Decisions go out at once unless a test asks for the undo window (undo_seconds=…).
        overrides.setdefault("undo_seconds", 0.0)
        settings = ConsoleSettings(
            base_url=base_url,
            tenant=DEMO_TENANT,
            project=DEMO_PROJECT,
            cursor_blink=False,
            **overrides,
        )
        # As run_console wires it: the prefetch starts on the client the console polls with.
        poller = polling_client(settings, token) if prefetch else None
        return build_app(
            settings,
            token,
            http_client=None if network else http_client or asgi_client(stub_app),
            clock=clock or (lambda: fixed_now),
            outbox=outbox,
            audit=audit,
            prefetch=Prefetch(poller) if poller is not None else None,
            poll_client=poller,
            # This test's own drafts file: consoles made by one test share it, as restarts do.
            draft_store=DraftStore(tmp_path / "state" / "drafts.sqlite3", Where.of(settings)),
        )

    return make


@pytest.fixture
async def other_operator(stub_app: FastAPI) -> AsyncIterator[AsyncCommandCenterClient]:
    """A second operator acting on the same stub, to complete tasks "elsewhere"."""
    async with asgi_client(stub_app) as http:
        yield AsyncCommandCenterClient(
            STUB_URL, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, http_client=http
        )


async def answer(pilot: Pilot[Any], *keys: str) -> None:
    """Answer an open confirmation as a person does: after reading it (it is armed by then)."""
    await pilot.pause(ARM_SECONDS + 0.05)
    await pilot.press(*keys)


async def wait_for(
    condition: Callable[[], bool], pause: Callable[[float], Awaitable[Any]], within: float = 5.0
) -> None:
    """Let the app run until ``condition`` holds (workers finish, screens mount)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pause(0.02)
