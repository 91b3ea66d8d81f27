"""What the screens ask for: the inbox, decisions, a run's story – and the state around them.

Screens never touch the HTTP client; they call these services from workers. The decision path is
the one place where, later, a durable outbox sits between the key press and the request.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from client import AsyncCommandCenterClient, Completion, RunEvent, Task

from .inbox_model import InboxModel, RowDiff, TaskKey
from .settings import ConsoleSettings


class Link(enum.Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    RETRYING = "retrying"
    OFFLINE = "offline"


# After this many failed refreshes in a row the status line says "offline since".
OFFLINE_AFTER_FAILURES = 3


def retry_backoff(failures: int) -> float:
    """Poll delay after ``failures`` failed refreshes in a row: 3, 6, 12, 24, then 30 s."""
    return float(min(30, 3 * 2 ** (failures - 1)))


@dataclass
class ConnectionState:
    """The inbox's link to the platform, as the status line tells it (words, not colours)."""

    link: Link = Link.CONNECTING
    last_ok: datetime | None = None
    failing_since: datetime | None = None
    failures: int = 0
    next_retry_at: datetime | None = None
    last_error: str | None = None

    def ok(self, now: datetime) -> None:
        self.link = Link.LIVE
        self.last_ok = now
        self.failing_since = None
        self.failures = 0
        self.next_retry_at = None
        self.last_error = None

    def failed(self, now: datetime, error: str, retry_in: float) -> None:
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = now
        self.link = Link.OFFLINE if self.failures >= OFFLINE_AFTER_FAILURES else Link.RETRYING
        self.next_retry_at = datetime.fromtimestamp(now.timestamp() + retry_in, UTC)
        self.last_error = error

    def describe(self, now: datetime) -> str:
        if self.link is Link.CONNECTING:
            return "◌ connecting…"
        if self.link is Link.LIVE:
            return "● live"
        wait = ""
        if self.next_retry_at is not None:
            seconds = max(0, round((self.next_retry_at - now).total_seconds()))
            wait = f"retrying in {seconds}s"
        if self.link is Link.RETRYING:
            return f"◌ {wait}"
        since = self.failing_since.astimezone().strftime("%H:%M:%S") if self.failing_since else "?"
        return f"✕ offline since {since} · {wait}"


@dataclass(frozen=True)
class Decision:
    """An operator's approve/reject, with the key that makes its retries safe."""

    task: Task
    approved: bool
    result: dict[str, Any] | None = None
    key: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class RunStory:
    workflow_id: str
    run_id: str
    pending: list[Task]
    events: list[RunEvent]


class ConsoleServices:
    """Shared by every screen: one client, one inbox model, the drafts and decisions in flight."""

    def __init__(
        self,
        settings: ConsoleSettings,
        client: AsyncCommandCenterClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.client = client
        # The inbox poll shows its own "retrying in N s", so it must not also retry inside.
        self._poll_client = client.with_options(max_retries=0)
        self.clock = clock
        self.inbox = InboxModel(stalled_after=settings.stalled_after, clock=clock)
        self.connection = ConnectionState()
        self.paused = False
        self.drafts: dict[TaskKey, dict[str, Any]] = {}
        self.in_flight: dict[TaskKey, Decision] = {}
        # Tasks this console completed: their disappearance is not news "from elsewhere".
        self.decided: set[TaskKey] = set()
        self.last_refresh: datetime | None = None

    async def refresh_inbox(self) -> RowDiff:
        """Fetch the inbox and fold it into the model; raises the client's errors."""
        tasks = await self._poll_client.list_pending_tasks()
        self.last_refresh = self.clock()
        self.connection.ok(self.last_refresh)
        return self.inbox.apply(tasks)

    async def decide(self, decision: Decision) -> Completion:
        """Send one decision; the task leaves the inbox only once the server confirmed it."""
        task = decision.task
        self.in_flight[task.key] = decision
        try:
            completion = await self.client.complete_task(
                *task.key,
                approved=decision.approved,
                result=decision.result,
                idempotency_key=decision.key,
            )
        finally:
            self.in_flight.pop(task.key, None)
        self.decided.add(task.key)
        self.inbox.remove(task.key)
        self.drafts.pop(task.key, None)
        return completion

    async def run_story(self, workflow_id: str, run_id: str) -> RunStory:
        pending = await self.client.list_run_pending_tasks(workflow_id, run_id)
        events = await self.client.list_run_events(workflow_id, run_id)
        return RunStory(workflow_id, run_id, pending, events)

    def record_failure(self, error: str) -> None:
        failures = self.connection.failures + 1
        self.connection.failed(self.clock(), error, retry_backoff(failures))

    def next_refresh_in(self) -> float:
        """Seconds until the next poll: the platform's rhythm, or backoff while failing."""
        if self.connection.failures:
            return retry_backoff(self.connection.failures)
        return self.settings.refresh_active if self.inbox.total else self.settings.refresh_idle

    async def aclose(self) -> None:
        await self.client.aclose()
