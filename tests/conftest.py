"""Shared fixtures: a fixed clock, the seeded stub state, its app and a live stub server.

Also the keyring every test starts from: keyring's fail backend, selected explicitly for the whole
session (and every subprocess a test starts). The test extras install keyrings.alt, whose
plaintext file backend keyring would otherwise detect; and no test may touch the developer's real
keyring. Tests that need a working keyring install an in-memory one of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import keyring.core
import pytest
from fastapi import FastAPI

from server_stub import StubServer, StubState, create_app, seed_demo

FIXED_NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
TEST_KEYRING_BACKEND = "keyring.backends.fail.Keyring"


@pytest.fixture(autouse=True, scope="session")
def explicit_test_keyring() -> Iterator[None]:
    """Select keyring's fail backend by name for the session, as an operator would."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHON_KEYRING_BACKEND", TEST_KEYRING_BACKEND)
        patch.setattr(keyring.core, "_keyring_backend", None)  # detect again, from the env
        yield


@pytest.fixture(autouse=True)
def scratch_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test writes to the user's real state directory (outbox, audit, drafts, crash
    reports), and no test sees another's: each has its own. Tests that need a particular one
    set COMMAND_CENTER_STATE_DIR themselves."""
    monkeypatch.setenv("COMMAND_CENTER_STATE_DIR", str(tmp_path_factory.mktemp("state")))


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
