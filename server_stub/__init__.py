"""A stub of the workflow platform's /v1 human-task API, for tests and demos.

It serves API.md part 2 with the client's own wire models: the same statuses and error shape,
idempotent completions, runs that resume after a decision, a runs feed, run control (pause,
resume, stop, start) and a WebSocket of run events, demo data, fast generators of realistic
tasks and runs, and fault injection (latency, 503s, dropped connections).
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
    "RunGenerator": "scenarios",
    "TaskGenerator": "scenarios",
    "generate_runs": "scenarios",
    "generate_tasks": "scenarios",
    "seed_demo": "scenarios",
    "ManualClock": "state",
    "PlannedStep": "state",
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
    "ManualClock",
    "PlannedStep",
    "Principal",
    "RunGenerator",
    "RunState",
    "StubServer",
    "StubState",
    "TaskGenerator",
    "create_app",
    "generate_runs",
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
    from .scenarios import RunGenerator, TaskGenerator, generate_runs, generate_tasks, seed_demo
    from .state import ManualClock, PlannedStep, RunState, StubState


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
