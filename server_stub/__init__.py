"""A stub of the workflow platform's /v1 human-task API, for tests and demos.

It serves API.md part 2 with the client's own wire models: the same statuses and error shape,
idempotent completions, runs that resume after a decision, demo data, a fast generator of
realistic tasks, and fault injection (latency, 503s, dropped connections).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Where each public name lives. Loaded on first use, so ``import server_stub._socket`` (the
# demo binds its port before the UI starts) does not pay for FastAPI and uvicorn.
_EXPORTS = {
    "create_app": "app",
    "DEMO_CONTRIBUTOR_TOKEN": "auth",
    "DEMO_PROJECT": "auth",
    "DEMO_TENANT": "auth",
    "DEMO_TOKENS": "auth",
    "DEMO_VIEWER_TOKEN": "auth",
    "Principal": "auth",
    "FaultInjector": "faults",
    "FaultKind": "faults",
    "StubServer": "runner",
    "serve": "runner",
    "TaskGenerator": "scenarios",
    "generate_tasks": "scenarios",
    "seed_demo": "scenarios",
    "RunState": "state",
    "StubState": "state",
}

__all__ = [
    "DEMO_CONTRIBUTOR_TOKEN",
    "DEMO_PROJECT",
    "DEMO_TENANT",
    "DEMO_TOKENS",
    "DEMO_VIEWER_TOKEN",
    "FaultInjector",
    "FaultKind",
    "Principal",
    "RunState",
    "StubServer",
    "StubState",
    "TaskGenerator",
    "create_app",
    "generate_tasks",
    "seed_demo",
    "serve",
]

if TYPE_CHECKING:
    from .app import create_app
    from .auth import (
        DEMO_CONTRIBUTOR_TOKEN,
        DEMO_PROJECT,
        DEMO_TENANT,
        DEMO_TOKENS,
        DEMO_VIEWER_TOKEN,
        Principal,
    )
    from .faults import FaultInjector, FaultKind
    from .runner import StubServer, serve
    from .scenarios import TaskGenerator, generate_tasks, seed_demo
    from .state import RunState, StubState


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
