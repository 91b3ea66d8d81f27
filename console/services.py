"""What the screens ask for: the inbox, decisions, a run's story – and the state around them.

Screens never touch the HTTP client; they call these services from workers. The decision path is
the one place where, later, a durable outbox sits between the key press and the request.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from client import (
    AsyncCommandCenterClient,
    CommandCenterClient,
    ListedTask,
    NotFoundError,
    TaskListing,
    UnreadableTask,
)

from ._prefetch import Prefetch
from .audit import AuditLog
from .bulk import BatchTally
from .connection_state import (
    MAX_RETRY_AFTER,
    STALE_GRACE,
    ConnectionState,
    retry_backoff,
)
from .decisions import Decision, DecisionService, NotRecorded, Settlement, Where
from .drafts import DraftEdits, draft_edits
from .inbox_model import InboxModel, RowDiff, TaskKey
from .outbox import EntryState, Outbox, OutboxEntry
from .runs_model import RunsModel
from .safe_text import clean
from .settings import ConsoleSettings
from .unreadable_tasks import stand_in

if TYPE_CHECKING:
    from client import RunContext, RunEvent, RunFeed, RunNames, Task

    from .bulk import BatchPlan
    from .draft_store import DraftStore
    from .run_commands import RunCommand
    from .ui_state import UiState

# Listings up to this size are compared with the shown rows on the event loop.
PREPARE_INLINE_TASKS = 2000

# The next poll waits at least this many times as long as the last one took.
POLL_DUTY_FACTOR = 4.0

# For this long after a decision went out, u says it is too late rather than "nothing to undo".
UNDO_LATE_SECONDS = 60.0


class RunCommandRefused(Exception):
    """The platform refused a run command as a conflict; the message says why in words."""


@dataclass(frozen=True)
class RunStory:
    workflow_id: str
    run_id: str
    pending: list[Task]
    events: list[RunEvent]
    context: RunContext | None = None
    context_problem: str | None = None  # why the context is not shown (an older platform)


class ConsoleServices:
    """Shared by every screen: one client, one inbox model, the drafts and decisions in flight."""

    def __init__(
        self,
        settings: ConsoleSettings,
        client: AsyncCommandCenterClient,
        *,
        outbox: Outbox | None,
        audit: AuditLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prefetch: Prefetch | None = None,
        poll_client: CommandCenterClient,
        outbox_problem: str | None = None,
        draft_store: DraftStore | None = None,
        ui_state: UiState | None = None,
    ) -> None:
        self.settings = settings
        self.decisions = DecisionService(
            client,
            outbox,
            audit,
            Where.of(settings),
            hold_seconds=settings.undo_seconds,
            outbox_problem=outbox_problem,
        )
        # The first listing, already on its way since before the UI started (see _prefetch).
        self.prefetch = prefetch
        self.client = client
        self.outbox = outbox
        self.audit = audit
        # The inbox is polled by a blocking client in a worker thread, always: 75 MB of listing
        # never passes through the event loop chunk by chunk. It shows its own "retrying in
        # N s", so it must not also retry inside.
        self._poll_owner = poll_client  # closed with the services
        self._poll_client = poll_client.with_options(max_retries=0)
        self.clock = clock
        self.inbox = InboxModel(stalled_after=settings.stalled_after, clock=clock)
        # The Command Center's runs (GET /v1/runs), polled with the inbox.
        self.runs = RunsModel(clock=clock)
        self._runs_listing: RunFeed | None = None  # the last feed, for the next poll
        self._awaiting_of: object = None  # the inbox generation the runs' "awaiting" came from
        self.run_audit_problem: str | None = None  # why the last run command's line failed
        self.connection = ConnectionState()
        self.paused = False
        # Edit-form drafts (what each control held), kept on disk as they change: see
        # draft_store. Titles say which task a draft was for once the task has gone.
        self.drafts: dict[TaskKey, dict[str, Any]] = {}
        self.draft_titles: dict[TaskKey, str] = {}
        self._draft_store = draft_store
        # Titles of tasks that left the inbox with a draft, for the app to say (then cleared).
        self.left_with_drafts: list[str] = []
        if draft_store is not None:
            for key, (title, fields) in draft_store.load().items():
                self.drafts[key], self.draft_titles[key] = fields, title
        self.ui_state = ui_state
        # The last batch of decisions (marks, a / x): its progress and outcomes; and the
        # outbox keys of its decisions while they are held, for u to take back together.
        self.batch: BatchTally | None = None
        self._batch_held: set[str] = set()
        self.in_flight: dict[TaskKey, OutboxEntry] = {}
        # Queued and failed decisions of this connection, by task: row markers and the queue.
        self.unsettled: dict[TaskKey, OutboxEntry] = {}
        # Tasks this console completed: their disappearance is not news "from elsewhere".
        self.decided: set[TaskKey] = set()
        # When each task this console saw completed (monotonic), for listings still on the way.
        self.settled_at: dict[TaskKey, float] = {}
        self.last_refresh: datetime | None = None
        self._listing: TaskListing | None = None
        self.last_refresh_took = 0.0  # seconds, wall clock, of the last poll
        self.drain_failures = 0
        self.retry_wait = 0.0  # seconds until the next refresh while failing
        # Entries of the last listing that are not tasks, by the key of their stand-in row.
        self.unreadable: dict[TaskKey, UnreadableTask] = {}
        # Called when a decision starts on its way (the app repaints its row and the counts).
        self.sending: Callable[[TaskKey], None] = lambda key: None
        # The decision that went out last, and when: u after the window says "too late".
        self.last_sent: tuple[OutboxEntry, float] | None = None
        # Said once the screen is up: a damaged outbox moved aside, or decisions being off.
        self.start_notices: list[str] = []
        if outbox is not None and outbox.recovery is not None:
            self.start_notices.append(outbox.recovery.describe())
        if outbox is None:
            self.start_notices.append(
                f"Decisions are off: {outbox_problem or 'the outbox could not be opened.'} "
                "The inbox can still be read."
            )

    async def refresh_inbox(self) -> RowDiff:
        """Fetch the inbox and fold it into the model; raises the client's errors.

        An answer identical to the last one costs a 304 (or, from a server without ETags, a
        comparison of bytes) and nothing else; a changed one is decoded (by the client) and
        compared with the shown rows in a worker thread, so a 100,000-task inbox never holds
        the UI for more than the final swap.
        """
        started = time.monotonic()
        try:
            return await self._refresh_inbox()
        finally:
            self.last_refresh_took = time.monotonic() - started

    async def _refresh_inbox(self) -> RowDiff:
        prefetch, self.prefetch = self.prefetch, None
        asked = prefetch.started if prefetch is not None else time.monotonic()
        if prefetch is not None:
            listing = await prefetch.listing()
        else:
            poll = self._poll_client.poll_pending_tasks
            listing = await anyio.to_thread.run_sync(poll, self._listing)
        self.last_refresh = self.clock()
        self.connection.ok(self.last_refresh)
        if not listing.changed:
            return RowDiff()
        stand_ins = [(stand_in(entry), entry) for entry in listing.unreadable]
        self.unreadable = {row.key: entry for row, entry in stand_ins}
        tasks = [*listing.tasks, *(ListedTask.of(row) for row, _ in stand_ins)]
        # A task whose decision settled while this listing was on its way is shown as it was
        # before the decision: it is completed, and must not come back until the next poll.
        late = {key for key, at in self.settled_at.items() if at >= asked}
        if late:
            tasks = [task for task in tasks if task.key not in late]
        # Kept for the next poll: its body to compare, its tasks to keep where unchanged.
        self._listing = listing
        if len(tasks) < PREPARE_INLINE_TASKS:
            diff = self.inbox.apply(tasks)
        else:
            prepared = await anyio.to_thread.run_sync(self.inbox.prepare, tasks)
            diff = self.inbox.commit(prepared)
        if self.drafts:
            self._drop_drafts_of_gone_tasks()
        return diff

    async def refresh_runs(self) -> None:
        """Fetch the runs feed into :attr:`runs`; a failure is kept as the sections' problem
        (an older platform without ``GET /v1/runs`` still has its inbox)."""
        from client import APIError

        try:
            poll = self._poll_client.poll_runs
            listing = await anyio.to_thread.run_sync(poll, self._runs_listing)
        except APIError as exc:
            from .error_text import describe_error

            self.runs.failed(describe_error(exc, doing="loading the runs"))
            return
        self._runs_listing = listing
        if listing.changed or not self.runs.loaded or self.runs.problem is not None:
            self.runs.apply(listing.runs)
        self.runs_awaiting()

    async def run_command(self, run: RunNames, command: RunCommand) -> str:
        """Send one run command; the sentence that says what happened (raises the client's
        errors, a conflict explained from the run's status). Audited either way."""
        from client import APIError, ConflictError

        from .run_commands import outcome_of, status_text, why_refused

        key = (run.workflow_id, run.id)
        once = str(uuid.uuid4())  # the command's idempotency key, in its audit line too
        self.runs.sent(key, command.mark)
        try:
            if command.command == "pause":
                answer = await self.client.pause_run(run.workflow_id, run.id, idempotency_key=once)
            elif command.command == "resume":
                answer = await self.client.resume_run(run.workflow_id, run.id, idempotency_key=once)
            else:
                mode = "graceful" if command.mode == "graceful" else "immediate"
                answer = await self.client.stop_run(
                    run.workflow_id, run.id, mode=mode, idempotency_key=once
                )
        except APIError as exc:
            self.runs.settled(key)
            now = None
            if isinstance(exc, ConflictError):
                await self.refresh_runs()
                now = self.runs.get(key)
            self._audit_run(
                run,
                command,
                outcome=outcome_of(exc),
                idempotency_key=once,
                status=now.status if now is not None else None,
                error=getattr(exc, "error", None) or exc.message,
            )
            if not isinstance(exc, ConflictError):
                raise
            why = why_refused(command.command, command.mode, now)
            words = why[0].upper() + why[1:] + "."
            if exc.maybe_ours:
                words += " An earlier attempt of this command may have been applied."
            raise RunCommandRefused(words) from exc
        self._audit_run(run, command, outcome="applied", idempotency_key=once, status=answer.status)
        if answer.status:
            return f"The platform says the run is {status_text(answer.status)} now."
        return "The platform took it; the runs feed will show the new status."

    def _audit_run(self, run: RunNames, command: RunCommand, **how: Any) -> None:
        """Who, when, which run, which command, how it ended: one audit line (never raises:
        the command is already sent; a failed line is said in the notification)."""
        try:
            self.audit.record_run_command(
                dataclasses.asdict(Where.of(self.settings)),
                workflow_id=run.workflow_id,
                run_id=run.id,
                command=command.command,
                params={"mode": command.mode} if command.mode else {},
                **how,
            )
        except OSError as exc:
            self.run_audit_problem = str(exc)

    def runs_awaiting(self) -> None:
        """Tell the runs which of them wait on a task of the inbox (the task endpoints say so,
        not the run's status: API.md 1b)."""
        rows = self.inbox.generation
        if rows is not self._awaiting_of:
            self._awaiting_of = rows
            self.runs.set_awaiting({(key[0], key[1]) for key in rows})

    def reload_unsettled(self) -> list[OutboxEntry]:
        entries = self.decisions.unsettled()
        self.unsettled = {entry.task_key: entry for entry in entries}
        return entries

    def record(self, decision: Decision) -> OutboxEntry:
        """Write the decision to the outbox (held for the undo window); raises NotRecorded."""
        task = decision.task
        try:
            return self.decisions.record(
                task.key,
                task.title,
                approved=decision.approved,
                result=decision.result,
                original=decision.original,
            )
        finally:
            self.reload_unsettled()

    async def decide(self, decision: Decision) -> Settlement:
        """Record and send at once, with no undo window (scripted runs and their tests)."""
        task = decision.task
        try:
            entry = self.decisions.record(
                task.key,
                task.title,
                approved=decision.approved,
                result=decision.result,
                original=decision.original,
                hold=False,
            )
        finally:
            self.reload_unsettled()
        return await self.send(entry)

    async def send(self, entry: OutboxEntry) -> Settlement:
        """One attempt for a stored decision; the inbox follows what the platform said."""
        key = entry.task_key
        self.in_flight[key] = entry
        self.sending(key)  # the row says "⟳ sending" before the request goes out
        try:
            settlement = await self.decisions.send(entry)
        finally:
            self.in_flight.pop(key, None)
            self.reload_unsettled()
            self.last_sent = (entry, time.monotonic())
        if settlement.how.task_done:
            self.settled_at[key] = time.monotonic()
            if settlement.how.applied:
                self.decided.add(key)
            self.inbox.remove(key)
            self.discard_draft(key)
        elif isinstance(settlement.error, NotFoundError):
            self.inbox.remove(key)
        return settlement

    async def record_batch(
        self, plan: BatchPlan, reason: str | None
    ) -> tuple[list[OutboxEntry], str | None]:
        """Record one decision per task of ``plan`` (held for the undo window, as one); the
        entries recorded, and why the rest were not (recording stops at the first refusal).

        Yields to the event loop between tasks: building a thousand tasks' bodies and
        writing them must not freeze the screen.
        """
        entries: list[OutboxEntry] = []
        problem: str | None = None
        self.batch = BatchTally(len(plan.rows))
        self._batch_held = set()
        try:
            for number, row in enumerate(plan.rows):
                if self.batch.undone:
                    break  # u while it was being recorded: the rest is never recorded
                task = row.task.full()
                decision = (
                    Decision.approve(task) if plan.approved else Decision.reject(task, reason)
                )
                try:
                    entry = self.decisions.record(
                        task.key,
                        task.title,
                        approved=decision.approved,
                        result=decision.result,
                        original=decision.original,
                    )
                except NotRecorded as exc:
                    problem = str(exc)
                    break
                entries.append(entry)
                if entry.state is EntryState.HELD:  # u, even while the rest is recorded
                    self._batch_held.add(entry.key)
                if number % 32 == 31:
                    await anyio.lowlevel.checkpoint()
        finally:
            self.batch.not_recorded = len(plan.rows) - len(entries)
            self.reload_unsettled()
        return entries, problem

    def release_for_batch(self, entry: OutboxEntry) -> OutboxEntry | None:
        """End a batch decision's undo window; None if it was undone meanwhile."""
        self._batch_held.discard(entry.key)
        if entry.state is not EntryState.HELD:
            return entry
        return self.decisions.release(entry.key)

    def decision_blocker(self, key: TaskKey) -> str | None:
        """Why no new decision may be made on the task ``key`` now, in words; None if it may."""
        if key in self.unreadable:
            return (
                "This entry of the platform's answer is not a readable task, so nothing can be "
                "decided on it. Enter shows its raw JSON."
            )
        if self.decisions.outbox is None:
            return self.decisions.outbox_problem or "No outbox."
        if key in self.in_flight:
            return "A decision for this task is being sent right now."
        pending = self.unsettled.get(key)
        if pending is None:
            return None
        if pending.state is EntryState.HELD:
            where = "is held in its undo window: press u to undo it first."
        elif pending.state is EntryState.QUEUED:
            where = "is queued in the outbox and will be sent again; see the outbox (O)."
        else:
            where = "failed and waits in the outbox (O): retry or discard it there first."
        return f"A decision to {pending.verb} this task {where}"

    def queued(self) -> list[OutboxEntry]:
        """Queued decisions of this connection that are not being sent right now."""
        return [
            e
            for e in self.reload_unsettled()
            if e.state is EntryState.QUEUED and e.task_key not in self.in_flight
        ]

    def held(self) -> list[OutboxEntry]:
        """Decisions inside their undo window, oldest first."""
        return [e for e in self.reload_unsettled() if e.state is EntryState.HELD]

    def counts(self) -> dict[str, int]:
        """Unsettled decisions by what the operator sees: each decision counted once."""
        counts = {"sending": 0, "held": 0, "queued": 0, "failed": 0}
        for key, entry in self.unsettled.items():
            if key in self.in_flight:
                counts["sending"] += 1
            elif entry.state.value in counts:
                counts[entry.state.value] += 1
        for key in self.in_flight:
            if key not in self.unsettled:
                counts["sending"] += 1
        return counts

    def undo_latest(self) -> tuple[OutboxEntry | None, str]:
        """Take back the newest held decision; the sentence says what happened."""
        held = self.held()
        if not held:
            late = self._too_late()
            if late is not None:
                return None, late
            return None, "Nothing to undo: no decision is waiting in its undo window."
        entry = max(held, key=lambda e: e.created_at)
        if entry.key in self._batch_held:
            return self._undo_batch(held)
        try:
            undone = self.decisions.undo(entry.key)
        finally:
            self.reload_unsettled()
        what = f"{entry.verb} {clean(entry.title, max_len=50, multiline=False)}"
        if undone is None:
            return None, f"Too late to undo: the decision to {what} is already on its way."
        return undone, f"Undone: the decision to {what} was never sent."

    def _undo_batch(self, held: list[OutboxEntry]) -> tuple[OutboxEntry | None, str]:
        """``u`` on a batch: every decision of it still in its window is taken back."""
        undone: list[OutboxEntry] = []
        try:
            for entry in held:
                if entry.key in self._batch_held:
                    back = self.decisions.undo(entry.key)
                    self._batch_held.discard(entry.key)
                    if back is not None:
                        undone.append(back)
        finally:
            self.reload_unsettled()
        if self.batch is not None:
            self.batch.undone += len(undone)
        if not undone:
            return None, "Too late to undo: the batch is already on its way."
        verb = "approvals" if undone[0].approved else "rejections"
        one = "approval" if undone[0].approved else "rejection"
        return undone[0], (
            f"Undone: {len(undone):,} {verb if len(undone) != 1 else one} of the batch "
            "were never sent."
        )

    def _too_late(self) -> str | None:
        """What ``u`` says when the newest decision already left its window."""
        if self.in_flight:
            entry = max(self.in_flight.values(), key=lambda e: e.created_at)
            what = f"{entry.verb} {clean(entry.title, max_len=50, multiline=False)}"
            return f"Too late to undo: the decision to {what} is already on its way."
        if self.last_sent is not None and time.monotonic() - self.last_sent[1] < UNDO_LATE_SECONDS:
            entry = self.last_sent[0]
            what = f"{entry.verb} {clean(entry.title, max_len=50, multiline=False)}"
            return f"Too late to undo: the decision to {what} was already sent."
        return None

    def keep_draft(self, task: Task, fields: dict[str, Any]) -> str | None:
        """Keep what the form's controls hold, in memory and on disk; why not on disk, the
        first time writing fails (drafts then last as long as this console)."""
        self.drafts[task.key] = fields
        self.draft_titles[task.key] = task.title
        if self._draft_store is not None:
            try:
                self._draft_store.put(task.key, task.title, fields, time.time())
            except sqlite3.Error as exc:
                self._draft_store = None
                return f"{exc}: drafts are kept only while this console runs."
        return None

    def discard_draft(self, key: TaskKey) -> bool:
        """Forget a task's draft; whether there was one."""
        had = self.drafts.pop(key, None) is not None
        self.draft_titles.pop(key, None)
        if had and self._draft_store is not None:
            try:
                self._draft_store.drop(key)
            except sqlite3.Error:
                self._draft_store = None
        return had

    def _drop_drafts_of_gone_tasks(self) -> None:
        """After a whole listing: a draft whose task is no longer pending cannot be sent."""
        for key in [k for k in self.drafts if k not in self.inbox]:
            title = self.draft_titles.get(key, "a task")
            if self.discard_draft(key) and key not in self.decided:
                self.left_with_drafts.append(title)

    def preview_choice(self) -> bool | None:
        """Whether the operator turned the inbox's preview pane on or off (None: never)."""
        if self.ui_state is None:
            return None
        return self.ui_state.preview(self.settings.profile or "default")

    def choose_preview(self, shown: bool) -> str | None:
        """Remember the pane's choice for the profile; why it could not be saved, if so."""
        if self.ui_state is None:
            from .ui_state import UiState

            self.ui_state = UiState(None)  # this console only
        return self.ui_state.set_preview(self.settings.profile or "default", shown)

    def draft_edits(self, task: Task) -> DraftEdits | None:
        """The kept draft of ``task`` as typed values, if it changes anything."""
        return draft_edits(task, self.drafts.get(task.key))

    async def run_story(self, workflow_id: str, run_id: str) -> RunStory:
        """A run's pending tasks, events and context; the context is optional (a platform
        without ``…/context`` still shows the rest)."""
        from client import APIError

        from .error_text import describe_error

        pending = await self.client.list_run_pending_tasks(workflow_id, run_id)
        events = await self.client.list_run_events(workflow_id, run_id)
        context, problem = None, None
        try:
            context = await self.client.get_run_context(workflow_id, run_id)
        except APIError as exc:
            problem = describe_error(exc, doing="loading the run's context")
        return RunStory(workflow_id, run_id, pending, events, context, problem)

    def record_failure(self, exc: BaseException) -> None:
        failures = self.connection.failures + 1
        wait = retry_backoff(failures)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > wait:
            wait = min(float(retry_after), MAX_RETRY_AFTER)  # the platform said how long
        self.connection.failed(self.clock(), exc, wait)
        self.retry_wait = wait

    def stale_after(self) -> float | None:
        """How old live data may get before the status line calls it stale (None: paused)."""
        if self.paused:
            return None
        return 2 * self.next_refresh_in() + STALE_GRACE

    def next_refresh_in(self) -> float:
        """Seconds until the next poll: the platform's rhythm, or backoff while failing.

        A poll that itself took long (a 100,000-task inbox is ~75 MB) waits proportionally
        longer, so polling never takes more than about a fifth of the console's time.
        """
        if self.connection.failures:
            return self.retry_wait
        busy = self.inbox.total or self.runs.active
        rhythm = self.settings.refresh_active if busy else self.settings.refresh_idle
        return max(rhythm, POLL_DUTY_FACTOR * self.last_refresh_took)

    def drain_delay(self) -> float:
        """Backoff between sends of the queue: 3, 6, 12, 24, then 30 s."""
        return retry_backoff(max(1, self.drain_failures))

    async def aclose(self) -> None:
        await self.client.aclose()
        self._poll_owner.close()  # the copy shares, and so cannot close, its pool
        if self._draft_store is not None:
            self._draft_store.close()
