"""The stub platform's memory: workflows, runs, pending tasks, run events and idempotency records.

Why it looks like this:
- One lock guards every check-then-apply, so twenty threads completing one task concurrently
  resolve to exactly one winner and nineteen conflicts.
- Tasks are kept as plain dicts in their wire shape, in an insertion-ordered dict keyed by
  (workflow_id, run_id, task_id) – task ids are unique only within a run. Each task's JSON is
  serialised once and memoised, and the whole inbox body is cached until something changes, so
  listing 100,000 tasks is a join of cached fragments rather than 100,000 model validations.
- A run's history up to its pause is kept as a recipe and turned into events on first read:
  most of 100,000 generated runs are never inspected.
- The clock is injected, so task ages and event times are deterministic in tests.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from client.models import Completion, Task

from .auth import DEMO_PROJECT, DEMO_TENANT

__all__ = [
    "CompletionOutcome",
    "Conflict",
    "DownstreamStep",
    "EarlierStep",
    "NewTask",
    "NotFound",
    "RunState",
    "StubState",
    "StubStateError",
    "Workflow",
]

# Simulated duration of each step that ran before the run paused (for plausible event times).
_STEP_SECONDS = 3.0
# Keys of the payload convention (API.md part 2); everything else in a payload is a plain value.
_CONVENTION_KEYS = frozenset({"title", "description", "fields", "editable"})


class RunState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class DownstreamStep:
    """A step that runs after the human decision.

    ``consumes`` names the keys it reads from the decision (as a template would read
    ``{{steps.<human-step>.result.<key>}}``); a key the decision lacks falls back to the task's
    payload value, so a plain "approve" still sends the drafted text. ``produces`` is the step's
    own result.
    """

    step_id: str
    consumes: tuple[str, ...] = ()
    produces: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow definition: its name, where it lives, and what runs after each decision."""

    workflow_id: str
    name: str
    on_approve: tuple[DownstreamStep, ...] = ()
    on_reject: tuple[DownstreamStep, ...] = ()
    tenant: str = DEMO_TENANT
    project: str = DEMO_PROJECT


@dataclass(frozen=True, slots=True)
class EarlierStep:
    """A step the run finished before it paused; it appears in the run's event history."""

    step_id: str
    result: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NewTask:
    """A human task to create; ``step_id`` defaults to ``task_id`` as in the platform's docs."""

    task_id: str
    payload: Mapping[str, Any]
    task_type: str = "approval"
    step_id: str | None = None


@dataclass(frozen=True, slots=True)
class CompletionOutcome:
    """The answer to a completion: status and JSON body, and whether it is a replay."""

    status_code: int
    body: Mapping[str, Any]
    replayed: bool = False


class StubStateError(Exception):
    """A request the state refuses; the message is safe to show to the caller."""


class NotFound(StubStateError):
    """An unknown workflow, run or task; the message says which."""


class Conflict(StubStateError):
    """The task is already completed, or an idempotency key was reused for another request."""


@dataclass(frozen=True, slots=True)
class _History:
    """How a run got to its first pause; turned into events only when someone looks.

    Materialising lazily keeps adding 100,000 generated runs cheap: most are never inspected.
    """

    paused_at: datetime
    earlier_steps: Sequence[EarlierStep]
    human_steps: Sequence[tuple[str, str]]  # (step_id, task_id)


@dataclass(slots=True)
class _Run:
    workflow: Workflow
    run_id: str
    state: RunState
    history: _History | None = None
    recorded: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, None] = field(default_factory=dict)  # an ordered set of task ids
    payloads: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def events(self) -> list[dict[str, Any]]:
        history = self.history
        if history is not None:
            self.history = None
            later, self.recorded = self.recorded, []
            self._replay(history)
            self.recorded.extend(later)
        return self.recorded

    def _replay(self, history: _History) -> None:
        at = history.paused_at
        start = at - timedelta(seconds=_STEP_SECONDS * len(history.earlier_steps) + 1)
        self.record("run_started", start, data={"workflow_name": self.workflow.name})
        for index, step in enumerate(history.earlier_steps):
            began = start + timedelta(seconds=_STEP_SECONDS * index + 0.5)
            self.record("step_started", began, step.step_id)
            done = began + timedelta(seconds=_STEP_SECONDS - 0.5)
            data = {"result": dict(step.result)} if step.result is not None else None
            self.record("step_completed", done, step.step_id, data)
        for step_id, task_id in history.human_steps:
            self.record("step_started", at, step_id, {"task_id": task_id})
        if history.human_steps:
            self.record("state_changed", at, data={"from": "running", "to": "paused"})

    def record(
        self,
        kind: str,
        at: datetime,
        step_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        events = self.events  # materialises the history first, so ids stay in order
        event: dict[str, Any] = {
            "id": f"evt_{self.run_id.removeprefix('run_')}_{len(events) + 1:02d}",
            "type": kind,
        }
        if step_id is not None:
            event["step_id"] = step_id
        event["at"] = _iso(at)
        if data is not None:
            event["data"] = data
        events.append(event)


@dataclass(slots=True)
class _PendingTask:
    wire: dict[str, Any]
    tenant: str
    project: str
    fragment: bytes | None = None  # the task's JSON, serialised on first listing


@dataclass(frozen=True, slots=True)
class _Completed:
    approved: bool
    result: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class _IdempotencyRecord:
    fingerprint: str
    outcome: CompletionOutcome


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as pydantic writes it, so every timestamp reads the same."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.isoformat().replace("+00:00", "Z")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _payload_values(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The values a payload shows, by name: what a downstream step falls back to."""
    values = {k: v for k, v in payload.items() if k not in _CONVENTION_KEYS}
    fields = payload.get("fields")
    if isinstance(fields, Mapping):
        values.update(fields)
    elif isinstance(fields, list):
        for item in fields:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                values[item["name"]] = item.get("value")
    editable = payload.get("editable")
    if isinstance(editable, Mapping):
        values.update(editable)
    return values


class StubState:
    """Thread-safe in-memory platform state; see the module docstring for the design."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or _utc_now
        self._lock = threading.Lock()
        self._workflows: dict[str, Workflow] = {}
        self._runs: dict[tuple[str, str], _Run] = {}
        self._pending: dict[tuple[str, str, str], _PendingTask] = {}
        self._completed: dict[tuple[str, str, str], _Completed] = {}
        self._idempotency: dict[tuple[str, str], _IdempotencyRecord] = {}
        self._version = 0  # bumped on every change to the pending set
        self._bodies: dict[tuple[str | None, frozenset[str] | None], bytes] = {}
        # The last body of each scope with its ETag.
        self._tags: dict[tuple[str | None, frozenset[str] | None], tuple[bytes, str]] = {}

    def now(self) -> datetime:
        """The state's clock (UTC, aware)."""
        return self._now()

    # -- building -------------------------------------------------------------------------

    def add_workflow(self, workflow: Workflow) -> None:
        """Register a workflow; adding the same definition again is a no-op."""
        with self._lock:
            known = self._workflows.get(workflow.workflow_id)
            if known is not None and known != workflow:
                raise ValueError(f"workflow {workflow.workflow_id!r} is already defined otherwise")
            self._workflows[workflow.workflow_id] = workflow

    def add_run(
        self,
        workflow_id: str,
        run_id: str,
        *,
        tasks: Sequence[NewTask] = (),
        earlier_steps: Sequence[EarlierStep] = (),
        created_at: datetime | None = None,
        validate: bool = True,
    ) -> None:
        """Start a run whose earlier steps are done and which now waits on ``tasks``.

        Its events: ``run_started``, ``step_started``/``step_completed`` for each earlier step,
        timed to end at ``created_at`` (default: now), then ``step_started`` for each human
        task and ``state_changed`` running→paused.
        ``validate=False`` skips the check that each task parses as ``client.models.Task``;
        the bulk generator uses it for speed.
        """
        at = created_at or self._now()
        with self._lock:
            workflow = self._workflows.get(workflow_id)
            if workflow is None:
                raise ValueError(f"unknown workflow {workflow_id!r}: add_workflow() first")
            if (workflow_id, run_id) in self._runs:
                raise ValueError(f"run {run_id!r} of workflow {workflow_id!r} already exists")
            if len({task.task_id for task in tasks}) != len(tasks):
                raise ValueError(f"two tasks of run {run_id!r} share an id")
            run = _Run(workflow=workflow, run_id=run_id, state=RunState.RUNNING)
            # Build every task before storing anything, so a bad task leaves no half-made run.
            prepared = [self._prepare_task(run, task, at, validate) for task in tasks]
            human_steps = [(wire["step_id"], wire["id"]) for wire in prepared]
            run.history = _History(at, tuple(earlier_steps), human_steps)
            if prepared:
                run.state = RunState.PAUSED
            self._runs[(workflow_id, run_id)] = run
            for wire in prepared:
                self._store_task(run, wire)

    def add_task(
        self,
        workflow_id: str,
        run_id: str,
        task: NewTask,
        *,
        created_at: datetime | None = None,
        validate: bool = True,
    ) -> None:
        """Add a human task to an existing run that has not finished; it pauses the run."""
        at = created_at or self._now()
        with self._lock:
            run = self._runs.get((workflow_id, run_id))
            if run is None:
                raise ValueError(f"unknown run {run_id!r} of workflow {workflow_id!r}")
            if run.state in (RunState.COMPLETED, RunState.STOPPED):
                raise ValueError(f"run {run_id!r} has already finished ({run.state})")
            wire = self._prepare_task(run, task, at, validate)
            run.record("step_started", at, wire["step_id"], {"task_id": task.task_id})
            if run.state is RunState.RUNNING:
                run.record("state_changed", at, data={"from": "running", "to": "paused"})
                run.state = RunState.PAUSED
            self._store_task(run, wire)

    def _prepare_task(
        self, run: _Run, task: NewTask, at: datetime, validate: bool
    ) -> dict[str, Any]:
        if task.task_id in run.payloads:
            raise ValueError(f"task {task.task_id!r} already exists in run {run.run_id!r}")
        payload = task.payload
        if validate:
            # A deep, JSON-only copy: shared scenario constants cannot be changed through us.
            payload = json.loads(json.dumps(payload))
        wire = {
            "id": task.task_id,
            "workflow_id": run.workflow.workflow_id,
            "workflow_name": run.workflow.name,
            "run_id": run.run_id,
            "step_id": task.step_id or task.task_id,
            "task_type": task.task_type,
            "status": "pending",
            "created_at": _iso(at),
            "task_payload": payload,
        }
        if validate:
            Task.model_validate(wire)  # the stub must never serve what the client cannot read
        return wire

    def _store_task(self, run: _Run, wire: dict[str, Any]) -> None:
        task_id = wire["id"]
        run.payloads[task_id] = wire["task_payload"]
        run.pending[task_id] = None
        key = (run.workflow.workflow_id, run.run_id, task_id)
        self._pending[key] = _PendingTask(
            wire=wire, tenant=run.workflow.tenant, project=run.workflow.project
        )
        self._changed()

    def _changed(self) -> None:
        self._version += 1
        self._bodies.clear()

    # -- reading --------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def completed_count(self) -> int:
        return len(self._completed)

    def pending_body(
        self, tenant: str | None = None, projects: Iterable[str] | None = None
    ) -> bytes:
        """The inbox as ready JSON bytes, ``{"tasks": [...]}``, oldest-created first.

        ``tenant``/``projects`` restrict it (``None``: no restriction). Cached until the pending
        set changes; a rebuild serialises only tasks not listed before.
        """
        scope = frozenset(projects) if projects is not None else None
        with self._lock:
            cached = self._bodies.get((tenant, scope))
            if cached is not None:
                return cached
            version = self._version
            records = [
                r
                for r in self._pending.values()
                if (tenant is None or r.tenant == tenant) and (scope is None or r.project in scope)
            ]
        # Serialise outside the lock: completions need not wait for a large listing.
        body = self._tasks_body(records)
        with self._lock:
            if self._version == version:
                self._bodies[(tenant, scope)] = body
        return body

    def tagged_pending_body(
        self, tenant: str | None = None, projects: Iterable[str] | None = None
    ) -> tuple[bytes, str]:
        """:meth:`pending_body` and a strong ETag for it (its digest, worked out once)."""
        scope = (tenant, frozenset(projects) if projects is not None else None)
        body = self.pending_body(tenant, projects)
        with self._lock:
            known = self._tags.get(scope)
        if known is not None and known[0] is body:
            return known
        tagged = (body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')
        with self._lock:
            self._tags[scope] = tagged
        return tagged

    def list_pending(
        self, tenant: str | None = None, projects: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """The inbox as fresh dicts (for tests and tools; the server uses ``pending_body``)."""
        tasks: list[dict[str, Any]] = json.loads(self.pending_body(tenant, projects))["tasks"]
        return tasks

    def run_pending_body(
        self,
        workflow_id: str,
        run_id: str,
        *,
        tenant: str | None = None,
        project: str | None = None,
    ) -> bytes:
        """One run's pending tasks as JSON bytes, ``{"tasks": [...]}``."""
        with self._lock:
            run = self._find_run(workflow_id, run_id, tenant, project)
            records = [self._pending[(workflow_id, run_id, tid)] for tid in run.pending]
        return self._tasks_body(records)

    def list_run_pending(
        self,
        workflow_id: str,
        run_id: str,
        *,
        tenant: str | None = None,
        project: str | None = None,
    ) -> list[dict[str, Any]]:
        body = self.run_pending_body(workflow_id, run_id, tenant=tenant, project=project)
        tasks: list[dict[str, Any]] = json.loads(body)["tasks"]
        return tasks

    def events(
        self,
        workflow_id: str,
        run_id: str,
        *,
        tenant: str | None = None,
        project: str | None = None,
    ) -> list[dict[str, Any]]:
        """A copy of the run's events, oldest first."""
        with self._lock:
            run = self._find_run(workflow_id, run_id, tenant, project)
            return copy.deepcopy(run.events)

    def run_state(self, workflow_id: str, run_id: str) -> RunState:
        with self._lock:
            return self._find_run(workflow_id, run_id, None, None).state

    def is_pending(self, workflow_id: str, run_id: str, task_id: str) -> bool:
        return (workflow_id, run_id, task_id) in self._pending

    def completion_of(self, workflow_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
        """The merged step result a completed task produced, or ``None`` if not completed."""
        with self._lock:
            done = self._completed.get((workflow_id, run_id, task_id))
            return copy.deepcopy(done.result) if done is not None else None

    def _find_run(
        self, workflow_id: str, run_id: str, tenant: str | None, project: str | None
    ) -> _Run:
        workflow = self._workflows.get(workflow_id)
        if (
            workflow is None
            or (tenant is not None and workflow.tenant != tenant)
            or (project is not None and workflow.project != project)
        ):
            # Another tenant's or project's workflow reads as unknown: no existence leak.
            raise NotFound(f"workflow {workflow_id!r} not found")
        run = self._runs.get((workflow_id, run_id))
        if run is None:
            raise NotFound(f"run {run_id!r} not found in workflow {workflow_id!r}")
        return run

    @staticmethod
    def _tasks_body(records: Sequence[_PendingTask]) -> bytes:
        fragments = []
        for record in records:
            fragment = record.fragment
            if fragment is None:
                # Racing builders compute the same bytes; either assignment is fine.
                fragment = record.fragment = _dumps(record.wire)
            fragments.append(fragment)
        return b'{"tasks":[' + b",".join(fragments) + b"]}"

    # -- completing -----------------------------------------------------------------------

    def complete(
        self,
        workflow_id: str,
        run_id: str,
        task_id: str,
        *,
        approved: bool,
        result: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        tenant: str | None = None,
        project: str | None = None,
    ) -> CompletionOutcome:
        """Complete a pending task and resume its run; replay or refuse repeated requests.

        The same ``idempotency_key`` with the same request replays the first outcome; with a
        different request it raises ``Conflict``. Completing an already completed task under
        another key (or none) raises ``Conflict``; unknown ids raise ``NotFound``.
        """
        extra = dict(result) if result else {}
        request = {"approved": approved, "result": extra or None}
        fingerprint = json.dumps(
            [workflow_id, run_id, task_id, request], sort_keys=True, default=repr
        )
        key = (workflow_id, run_id, task_id)
        with self._lock:
            run = self._find_run(workflow_id, run_id, tenant, project)
            scope = (run.workflow.tenant, idempotency_key) if idempotency_key else None
            if scope is not None and (record := self._idempotency.get(scope)) is not None:
                if record.fingerprint != fingerprint:
                    raise Conflict(
                        "this Idempotency-Key was already used for a different request; "
                        "use a new key for a new request"
                    )
                return CompletionOutcome(
                    record.outcome.status_code, copy.deepcopy(record.outcome.body), replayed=True
                )
            done = self._completed.get(key)
            if done is not None:
                verdict = "approved" if done.approved else "rejected"
                raise Conflict(
                    f"task {task_id!r} in run {run_id!r} is already completed ({verdict})"
                )
            pending = self._pending.pop(key, None)
            if pending is None:
                raise NotFound(f"task {task_id!r} not found in run {run_id!r}")
            at = self._now()
            merged = self._apply(run, pending, approved, extra, at)
            self._completed[key] = _Completed(approved=approved, result=merged, at=at)
            self._changed()
            body = Completion(status="completed", task_id=task_id, approved=approved)
            outcome = CompletionOutcome(200, body.model_dump(mode="json"))
            if scope is not None:
                self._idempotency[scope] = _IdempotencyRecord(fingerprint, outcome)
            return CompletionOutcome(outcome.status_code, copy.deepcopy(outcome.body))

    def _apply(
        self,
        run: _Run,
        pending: _PendingTask,
        approved: bool,
        result: dict[str, Any],
        at: datetime,
    ) -> dict[str, Any]:
        task_id = pending.wire["id"]
        # ``approved`` is the decision itself: a stray "approved" inside result cannot flip it.
        merged = {**copy.deepcopy(result), "approved": approved}
        del run.pending[task_id]
        run.decisions[task_id] = merged
        run.record("step_completed", at, pending.wire["step_id"], {"result": merged})
        if not run.pending:
            self._resume(run, at)
        return copy.deepcopy(merged)

    @staticmethod
    def _resume(run: _Run, at: datetime) -> None:
        """Run the downstream steps of the branch the decisions chose, then finish the run.

        A run with several human tasks goes on only after the last one, and takes the approve
        branch only if every task was approved.
        """
        approved = all(d["approved"] for d in run.decisions.values())
        values: dict[str, Any] = {}
        for payload in run.payloads.values():
            values.update(_payload_values(payload))
        for decision in run.decisions.values():
            values.update(decision)
        run.record("state_changed", at, data={"from": "paused", "to": "running"})
        run.state = RunState.RUNNING
        steps = run.workflow.on_approve if approved else run.workflow.on_reject
        for step in steps:
            consumed = {name: copy.deepcopy(values.get(name)) for name in step.consumes}
            run.record("step_started", at, step.step_id, {"input": consumed})
            done = {"input": copy.deepcopy(consumed), "result": dict(step.produces)}
            run.record("step_completed", at, step.step_id, done)
        final = RunState.COMPLETED if approved else RunState.STOPPED
        run.record("state_changed", at, data={"from": "running", "to": final.value})
        run.state = final
