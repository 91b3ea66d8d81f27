"""A stub of the workflow platform's /v1 human-task API, for tests and demos.

It serves API.md part 2 with the client's own wire models: the same statuses and error shape,
idempotent completions, runs that resume after a decision, demo data, a fast generator of
realistic tasks, and fault injection (latency, 503s, dropped connections).
"""

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
