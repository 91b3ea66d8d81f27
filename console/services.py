"""What the screens ask for: the inbox, decisions, a run's story – and the state around them.

Screens never touch the HTTP client; they call these services from workers. The decision path is
the one place where, later, a durable outbox sits between the key press and the request.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from client import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AsyncCommandCenterClient,
    CommandCenterClient,
    Completion,
    ConflictError,
    NotFoundError,
    RateLimitError,
    RunEvent,
    ServerError,
    Task,
    TaskListing,
)

from . import _runtime
from ._prefetch import Prefetch
from .audit import AuditLog
from .inbox_model import InboxModel, Prepared, RowDiff, TaskKey
from .outbox import EntryState, Outbox, OutboxEntry, Outcome
from .settings import ConsoleSettings


class Link(enum.Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    RETRYING = "retrying"
    OFFLINE = "offline"


# Listings up to this size are compared with the shown rows on the event loop (a few ms).
PREPARE_INLINE_TASKS = 2000

# The next poll waits at least this many times as long as the last one took.
POLL_DUTY_FACTOR = 4.0

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
class SendResult:
    """How one attempt ended: confirmed, final refusal/conflict, or still queued."""

    entry: OutboxEntry
    completion: Completion | None = None
    error: APIError | None = None

    @property
    def queued(self) -> bool:
        return self.entry.state is EntryState.QUEUED


# Answers after which the decision may or may not have been applied: keep it, send again.
_UNCONFIRMED = (APIConnectionError, ServerError, RateLimitError, APIResponseValidationError)


@dataclass(frozen=True)
class RunStory:
    workflow_id: str
    run_id: str
    pending: list[Task]
    events: list[RunEvent]


def _prepare_and_release(inbox: InboxModel, tasks: list[Task]) -> Prepared:
    """Compare a listing with the rows, then free the tasks that matched an unchanged row.

    Freed here, in the worker, a few thousand at a time: dropping 100,000 tasks at once on the
    event loop would hold the UI for a third of a second.
    """
    prepared = inbox.prepare(tasks)
    while tasks:
        del tasks[-4096:]
    return prepared


class ConsoleServices:
    """Shared by every screen: one client, one inbox model, the drafts and decisions in flight."""

    def __init__(
        self,
        settings: ConsoleSettings,
        client: AsyncCommandCenterClient,
        *,
        outbox: Outbox,
        audit: AuditLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prefetch: Prefetch | None = None,
        poll_client: CommandCenterClient | None = None,
    ) -> None:
        self.settings = settings
        # The first listing, already on its way since before the UI started (see _prefetch).
        self.prefetch = prefetch
        self.client = client
        self.outbox = outbox
        self.audit = audit
        # The inbox poll shows its own "retrying in N s", so it must not also retry inside.
        self._poll_client = client.with_options(max_retries=0)
        # A blocking client polls in a worker thread when given: 75 MB of listing then never
        # passes through the event loop chunk by chunk (see launch.build_app).
        self._threaded_poll_owner = poll_client  # closed with the services
        self._threaded_poll_client = (
            poll_client.with_options(max_retries=0) if poll_client is not None else None
        )
        self.clock = clock
        self.inbox = InboxModel(stalled_after=settings.stalled_after, clock=clock)
        self.connection = ConnectionState()
        self.paused = False
        self.drafts: dict[TaskKey, dict[str, Any]] = {}
        self.in_flight: dict[TaskKey, OutboxEntry] = {}
        # Queued and failed decisions of this connection, by task: row markers and the queue.
        self.unsettled: dict[TaskKey, OutboxEntry] = {}
        # Tasks this console completed: their disappearance is not news "from elsewhere".
        self.decided: set[TaskKey] = set()
        self.last_refresh: datetime | None = None
        self._listing: TaskListing | None = None
        self.last_refresh_took = 0.0  # seconds, wall clock, of the last poll
        self.building = False  # a refresh is fetching or building a listing not yet frozen
        self.drain_failures = 0

    async def refresh_inbox(self) -> RowDiff:
        """Fetch the inbox and fold it into the model; raises the client's errors.

        An answer identical to the last one costs a digest and nothing else; a changed one is
        decoded (by the client) and compared with the shown rows in a worker thread, so a
        100,000-task inbox never holds the UI for more than the final swap.
        """
        started = time.monotonic()
        self.building = True
        try:
            return await self._refresh_inbox()
        finally:
            self.building = False
            self.last_refresh_took = time.monotonic() - started

    async def _refresh_inbox(self) -> RowDiff:
        prefetch, self.prefetch = self.prefetch, None
        _runtime.before_poll()
        if prefetch is not None:
            listing = await prefetch.listing()
        elif self._threaded_poll_client is not None:
            poll = self._threaded_poll_client.poll_pending_tasks
            listing = await anyio.to_thread.run_sync(poll, self._listing)
        else:
            listing = await self._poll_client.poll_pending_tasks(self._listing)
        self.last_refresh = self.clock()
        self.connection.ok(self.last_refresh)
        if not listing.changed:
            return RowDiff()
        tasks = listing.tasks
        count = len(tasks)
        # Only the digest is needed from now on; the tasks live on in the inbox's rows.
        self._listing = TaskListing([], listing.digest)
        del listing
        if count < PREPARE_INLINE_TASKS:
            diff = self.inbox.apply(tasks)
        else:
            prepared = await anyio.to_thread.run_sync(_prepare_and_release, self.inbox, tasks)
            diff = self.inbox.commit(prepared)
        _runtime.after_listing(count)
        return diff

    @property
    def profile_name(self) -> str:
        return self.settings.profile or "default"

    def _connection_filter(self) -> dict[str, str]:
        return {
            "profile": self.profile_name,
            "base_url": self.settings.base_url,
            "tenant": self.settings.tenant,
        }

    def reload_unsettled(self) -> list[OutboxEntry]:
        entries = self.outbox.entries(**self._connection_filter())
        self.unsettled = {entry.task_key: entry for entry in entries}
        return entries

    async def decide(self, decision: Decision) -> SendResult:
        """Write the decision to the outbox, then send it; the outbox outlives any failure."""
        task = decision.task
        edited = decision.approved and decision.result is not None
        entry = self.outbox.submit(
            **self._connection_filter(),
            project=self.settings.project,
            task_key=task.key,
            title=task.title,
            approved=decision.approved,
            result=decision.result,
            original=task.editable_values() if edited else None,
            key=decision.key,
        )
        return await self.send(entry)

    async def send(self, entry: OutboxEntry) -> SendResult:
        """One attempt for a stored decision, with its stored key; records how it ended."""
        key = entry.task_key
        self.in_flight[key] = entry
        try:
            entry = self.outbox.attempt(entry.key)
            completion = await self.client.complete_task(
                *key, approved=entry.approved, result=entry.result, idempotency_key=entry.key
            )
        except ConflictError as exc:
            # After an earlier attempt (this run or before a restart) the 409 is likely ours.
            exc.maybe_ours = exc.maybe_ours or entry.attempts > 1
            outcome = Outcome.PROBABLY_OURS if exc.maybe_ours else Outcome.ELSEWHERE
            return SendResult(self._settle(entry, outcome), error=exc)
        except _UNCONFIRMED as exc:
            return SendResult(self.outbox.requeue(entry.key, str(exc)), error=exc)
        except APIStatusError as exc:
            if exc.status_code == 408:  # the server timed out: unconfirmed, like a 5xx
                return SendResult(self.outbox.requeue(entry.key, str(exc)), error=exc)
            if isinstance(exc, NotFoundError):
                self.inbox.remove(key)
            return SendResult(self.outbox.fail(entry.key, str(exc), Outcome.REFUSED), error=exc)
        else:
            self.decided.add(key)
            return SendResult(self._settle(entry, Outcome.APPLIED), completion=completion)
        finally:
            self.in_flight.pop(key, None)
            self.reload_unsettled()

    def _settle(self, entry: OutboxEntry, outcome: Outcome) -> OutboxEntry:
        """The server's final word on the task: out of the queue, into the audit log."""
        entry = self.outbox.confirm(entry.key, outcome)
        self.audit.record(entry, outcome)
        self.inbox.remove(entry.task_key)
        self.drafts.pop(entry.task_key, None)
        return entry

    def queued(self) -> list[OutboxEntry]:
        """Queued decisions of this connection that are not being sent right now."""
        return [
            e
            for e in self.reload_unsettled()
            if e.state is EntryState.QUEUED and e.task_key not in self.in_flight
        ]

    async def run_story(self, workflow_id: str, run_id: str) -> RunStory:
        pending = await self.client.list_run_pending_tasks(workflow_id, run_id)
        events = await self.client.list_run_events(workflow_id, run_id)
        return RunStory(workflow_id, run_id, pending, events)

    def record_failure(self, error: str) -> None:
        failures = self.connection.failures + 1
        self.connection.failed(self.clock(), error, retry_backoff(failures))

    def next_refresh_in(self) -> float:
        """Seconds until the next poll: the platform's rhythm, or backoff while failing.

        A poll that itself took long (a 100,000-task inbox is ~75 MB) waits proportionally
        longer, so polling never takes more than about a fifth of the console's time.
        """
        if self.connection.failures:
            return retry_backoff(self.connection.failures)
        rhythm = self.settings.refresh_active if self.inbox.total else self.settings.refresh_idle
        return max(rhythm, POLL_DUTY_FACTOR * self.last_refresh_took)

    def drain_delay(self) -> float:
        """Backoff between sends of the queue: 3, 6, 12, 24, then 30 s."""
        return retry_backoff(max(1, self.drain_failures))

    async def aclose(self) -> None:
        await self.client.aclose()
        if self._threaded_poll_owner is not None:
            self._threaded_poll_owner.close()  # the copy shares, and so cannot close, its pool
