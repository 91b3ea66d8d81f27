"""Shared fixtures: a fixed clock, the seeded stub state, its app and a live stub server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from server_stub import StubServer, StubState, create_app, seed_demo

FIXED_NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def fixed_now() -> datetime:
    """2026-11-25T12:00:00Z: the demo's task ages and event times are relative to it."""
    return FIXED_NOW


@pytest.fixture
def stub_state(fixed_now: datetime) -> StubState:
    """A fresh state seeded with the demo, on a clock stopped at ``fixed_now``."""
    state = StubState(now=lambda: fixed_now)
    seed_demo(state)
    return state


@pytest.fixture
def stub_app(stub_state: StubState) -> FastAPI:
    """The stub app over ``stub_state`` with the demo tokens (for ASGI, in-process tests)."""
    return create_app(stub_state)


@pytest.fixture
def live_stub(stub_state: StubState) -> Iterator[StubServer]:
    """The stub over real loopback HTTP: ``.url`` and ``.state``.

    Function-scoped: startup takes about 20 ms, shutdown about 0.2 s (uvicorn's own pauses).
    """
    with StubServer(stub_state) as server:
        yield server
