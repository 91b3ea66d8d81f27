"""The stub platform's memory: workflows, runs, pending tasks, run events and idempotency records.

Why it looks like this:
- One lock guards every check-then-apply, so twenty threads completing one task concurrently
  resolve to exactly one winner and nineteen conflicts; run commands go through the same lock.
- Tasks are kept as plain dicts in their wire shape, in an insertion-ordered dict keyed by
  (workflow_id, run_id, task_id) – task ids are unique only within a run. Each task's JSON is
  serialised once and memoised, and the whole inbox body is cached until something changes, so
  listing 100,000 tasks is a join of cached fragments rather than 100,000 model validations.
  The runs feed is built the same way: one memoised fragment per run, a cached body per scope.
- A run's history up to the moment it was added is kept as a recipe and turned into events on
  first read: most of 100,000 generated runs are never inspected.
- Runs move on their own (steps take time, queued runs start, drains end, some runs fail): each
  run knows when it next changes, a heap orders those moments, and every read first applies the
  ones that are due by the state's clock. The clock is injected (``ManualClock`` in tests), so
  task ages, event times and every transition over time are deterministic.
- Every event recorded after a run was added also goes to a per-workflow log with a sequence
  number: the WebSocket stream reads it, and listeners (``subscribe``) are told after each change,
  outside the lock, so an asyncio loop in another thread can be woken thread-safely.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import hashlib
import heapq
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from client.models import Completion, Task

from .auth import DEMO_PROJECT, DEMO_TENANT

__all__ = [
    "COMMANDS",
    "STOP_MODES",
    "CommandOutcome",
    "CompletionOutcome",
    "Conflict",
    "DownstreamStep",
    "EarlierStep",
    "ManualClock",
    "NewTask",
    "NotFound",
    "PlannedStep",
    "RunState",
    "StubState",
    "StubStateError",
    "Workflow",
]

# Simulated duration of each step that ran before the run paused (for plausible event times).
_STEP_SECONDS = 3.0
# Keys of the payload convention (API.md part 2); everything else in a payload is a plain value.
_CONVENTION_KEYS = frozenset({"title", "description", "fields", "editable"})
# How long a run stays ``starting`` before it runs, once its queue time is over.
_STARTING_SECONDS = 2.0
# The default drain of a graceful stop: how long the run's active steps take to finish.
DEFAULT_DRAIN_SECONDS = 5.0

COMMANDS = ("pause", "resume", "stop", "start")
STOP_MODES = ("immediate", "graceful")

RUN_STOPPED = "RUN_STOPPED"
DRAIN_TIMEOUT = "DRAIN_TIMEOUT"


class RunState(StrEnum):
    """A run's status, as the platform's docs name them (API.md part 1b)."""

    RUNNING = "running"
    PAUSED = "paused"  # by an operator, or waiting on a human task (see ``_Run.operator_paused``)
    PENDING = "pending"
    QUEUED = "queued"
    STARTING = "starting"
    DRAINING = "draining"  # a graceful stop in progress
    FAILED = "failed"
    STOPPED = "stopped"
    COMPLETED = "completed"

    @property
    def terminal(self) -> bool:
        """Ended for good: nothing moves a failed, stopped or completed run again."""
        return self in _TERMINAL


_TERMINAL = frozenset({RunState.FAILED, RunState.STOPPED, RunState.COMPLETED})
_STARTUP = frozenset({RunState.PENDING, RunState.QUEUED, RunState.STARTING})


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
class PlannedStep:
    """A step a run performs while it runs: ``seconds`` long, then completed with ``result``.

    With a ``failure_code`` the step fails instead (``step_failed``), and so does the run, with
    that code and ``error``.
    """

    step_id: str
    seconds: float = 5.0
    result: Mapping[str, Any] | None = None
    failure_code: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow definition: its name, where it lives, and what runs after each decision.

    ``run_steps`` are what a run started with the ``start`` command performs before it
    completes (none: it runs until stopped).
    """

    workflow_id: str
    name: str
    on_approve: tuple[DownstreamStep, ...] = ()
    on_reject: tuple[DownstreamStep, ...] = ()
    tenant: str = DEMO_TENANT
    project: str = DEMO_PROJECT
    run_steps: tuple[PlannedStep, ...] = ()


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
    """The answer to a completion or a run command: status and JSON body, and whether it is a
    replay of an earlier answer (same Idempotency-Key, same request)."""

    status_code: int
    body: Mapping[str, Any]
    replayed: bool = False


CommandOutcome = CompletionOutcome


class StubStateError(Exception):
    """A request the state refuses; the message is safe to show to the caller."""


class NotFound(StubStateError):
    """An unknown workflow, run, task or event; the message says which."""


class Conflict(StubStateError):
    """The task is already completed or withdrawn, the run cannot make that transition, or an
    idempotency key was reused for another request."""


class ManualClock:
    """A clock that stands still until moved: ``StubState(now=ManualClock(start))``.

    Thread-safe. ``advance(seconds)`` moves it on; the state applies the transitions that fell
    due on its next read (or ``StubState.advance()``).
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware datetime (UTC)")
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


_Tail = tuple[tuple[str, str | None, Mapping[str, Any] | None], ...]


@dataclass(frozen=True, slots=True)
class _History:
    """How a run got to where it was added; turned into events only when someone looks.

    Materialising lazily keeps adding 100,000 generated runs cheap: most are never inspected.
    ``tail`` holds the events at ``paused_at`` that say what state the run was added in.
    """

    paused_at: datetime
    earlier_steps: Sequence[EarlierStep]
    human_steps: Sequence[tuple[str, str]]  # (step_id, task_id)
    started_at: datetime | None = None  # None: 3 s per earlier step before ``paused_at``
    tail: _Tail = ()
    begun: bool = True  # False for a run that has not started yet (pending, queued, starting)


@dataclass(slots=True, eq=False)
class _Run:
    workflow: Workflow
    run_id: str
    state: RunState
    started_at: datetime
    updated_at: datetime
    history: _History | None = None
    recorded: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, None] = field(default_factory=dict)  # an ordered set of task ids
    payloads: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # -- its life beyond the human tasks
    begun: bool = True
    operator_paused: bool = False  # paused by the pause command, not waiting on a human task
    failure_code: str | None = None
    error: str | None = None
    variables: dict[str, Any] | None = None  # None: read from its tasks' payloads
    plan: tuple[PlannedStep, ...] = ()
    plan_at: int = 0  # the next planned step to start
    active: PlannedStep | None = None  # the step in flight
    active_since: datetime | None = None
    phases: tuple[tuple[datetime, RunState], ...] = ()  # startup transitions still to come
    drain_since: datetime | None = None
    drain_seconds: float | None = None  # None: the state's default
    drain_timeout: float | None = None
    due: datetime | None = None  # when it next changes on its own
    # -- bookkeeping for the feed and the stream
    changed: int = 0  # the state's change counter at its last change (ties in the feed order)
    order: tuple[float, int] = (0.0, 0)  # the feed's sort key: (updated_at, changed)
    fragment: bytes | None = None  # its feed entry's JSON, until it changes
    history_events: int = 0  # how many of ``events`` came from the history
    live_seqs: list[int] | None = None  # the stream sequence number of each later event
    added_seq: int = 0  # the stream sequence number when it was added

    @property
    def key(self) -> tuple[str, str]:
        return (self.workflow.workflow_id, self.run_id)

    @property
    def events(self) -> list[dict[str, Any]]:
        history = self.history
        if history is not None:
            self.history = None
            later, self.recorded = self.recorded, []
            self._replay(history)
            self.history_events = len(self.recorded)
            self.recorded.extend(later)
        return self.recorded

    def _replay(self, history: _History) -> None:
        at = history.paused_at
        if history.begun:
            steps = history.earlier_steps
            if history.started_at is None:
                start = at - timedelta(seconds=_STEP_SECONDS * len(steps) + 1)
                per = _STEP_SECONDS
            else:
                start = history.started_at
                span = (at - start).total_seconds() - 1
                per = max(span / len(steps), 0.5) if steps else _STEP_SECONDS
            self.record("run_started", start, data={"workflow_name": self.workflow.name})
            for index, step in enumerate(steps):
                began = start + timedelta(seconds=per * index + 0.5)
                self.record("step_started", began, step.step_id)
                done = began + timedelta(seconds=per - 0.5)
                data = {"result": dict(step.result)} if step.result is not None else None
                self.record("step_completed", done, step.step_id, data)
        for step_id, task_id in history.human_steps:
            self.record("step_started", at, step_id, {"task_id": task_id})
        if history.human_steps:
            self.record("state_changed", at, data={"from": "running", "to": "paused"})
        for kind, tail_step, tail_data in history.tail:
            self.record(kind, at, tail_step, tail_data)

    def record(
        self,
        kind: str,
        at: datetime,
        step_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
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
        return event


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


class _StreamLog:
    """Every event recorded after its run was added, per workflow, in recording order."""

    __slots__ = ("_frames", "_seqs")

    def __init__(self) -> None:
        self._seqs: dict[str, list[int]] = {}
        self._frames: dict[str, list[dict[str, Any]]] = {}

    def append(self, workflow_id: str, seq: int, frame: dict[str, Any]) -> None:
        self._seqs.setdefault(workflow_id, []).append(seq)
        self._frames.setdefault(workflow_id, []).append(frame)

    def after(self, workflow_id: str, seq: int, run_id: str | None) -> list[dict[str, Any]]:
        seqs = self._seqs.get(workflow_id)
        if not seqs:
            return []
        frames = self._frames[workflow_id][bisect.bisect_right(seqs, seq) :]
        if run_id is not None:
            frames = [f for f in frames if f["run_id"] == run_id]
        return frames


def _frame(run: _Run, event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as the stream sends it: the event plus its run and workflow."""
    frame = {
        "id": event["id"],
        "type": event["type"],
        "run_id": run.run_id,
        "workflow_id": run.workflow.workflow_id,
    }
    for key in ("step_id", "at", "data"):
        if key in event:
            frame[key] = event[key]
    return frame


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


def _trigger_values(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The read-only ``fields`` of a payload: what a run waiting on it was plausibly given."""
    editable = payload.get("editable")
    if isinstance(editable, Mapping):
        skip = set(editable)
    elif isinstance(editable, list):
        skip = {name for name in editable if isinstance(name, str)}
    else:
        skip = set()
    values: dict[str, Any] = {}
    fields = payload.get("fields")
    if isinstance(fields, Mapping):
        values.update((k, v) for k, v in fields.items() if k not in skip)
    elif isinstance(fields, list):
        for item in fields:
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                continue
            if item["name"] not in skip and not item.get("editable"):
                values[item["name"]] = item.get("value")
    return values


def _refusal(run: _Run, command: str, mode: str) -> str | None:
    """Why ``command`` cannot apply to the run in its state, or None when it can."""
    state = run.state
    if state.terminal:
        finished = {
            RunState.FAILED: "the run has already failed",
            RunState.STOPPED: "the run is already stopped",
            RunState.COMPLETED: "the run has already completed",
        }[state]
        if command == "pause":
            return f"a {state} run cannot be paused ({finished})"
        if command == "resume":
            if state is RunState.COMPLETED:
                return "a completed run cannot be resumed"
            return f"a {state} run cannot be resumed; start a new run"
        return finished
    waits_on_human = state is RunState.PAUSED and not run.operator_paused
    if command == "pause":
        if waits_on_human:
            return "the run is already paused: it waits for a human task"
        if state is RunState.PAUSED:
            return "the run is already paused"
        if state is RunState.DRAINING:
            return (
                "the run is draining (a graceful stop is in progress); "
                "stop it with mode immediate to end it now"
            )
        return None
    if command == "resume":
        if waits_on_human:
            return "the run waits for a human task; complete the task to resume it"
        if state is RunState.PAUSED:
            return None
        if state is RunState.DRAINING:
            return "a draining run cannot be resumed: a graceful stop is in progress"
        return f"the run is not paused (it is {state})"
    if mode == "graceful" and state is RunState.DRAINING:
        return "the run is already draining; escalate with mode immediate to stop it now"
    return None


class StubState:
    """Thread-safe in-memory platform state; see the module docstring for the design.

    ``now`` is the clock (default: the wall clock; tests pass a ``ManualClock``).
    ``drain_seconds`` is how long a graceful stop drains a run that sets no drain of its own.
    """

    def __init__(
        self,
        now: Callable[[], datetime] | None = None,
        *,
        drain_seconds: float = DEFAULT_DRAIN_SECONDS,
    ) -> None:
        if drain_seconds < 0:
            raise ValueError(f"drain_seconds must not be negative, got {drain_seconds}")
        self._now = now or _utc_now
        self.drain_seconds = drain_seconds
        self._lock = threading.Lock()
        self._workflows: dict[str, Workflow] = {}
        self._runs: dict[tuple[str, str], _Run] = {}
        self._workflow_runs: dict[str, list[_Run]] = {}
        self._pending: dict[tuple[str, str, str], _PendingTask] = {}
        self._completed: dict[tuple[str, str, str], _Completed] = {}
        self._withdrawn: dict[tuple[str, str, str], str] = {}  # task key → why
        self._idempotency: dict[tuple[str, str], _IdempotencyRecord] = {}
        self._version = 0  # bumped on every change to the pending set
        self._bodies: dict[tuple[str | None, frozenset[str] | None], bytes] = {}
        # The last body of each scope with its ETag.
        self._tags: dict[tuple[str | None, frozenset[str] | None], tuple[bytes, str]] = {}
        # The runs feed: a change counter, and bodies cached per scope with the counter's value.
        self._change = 0
        self._run_bodies: dict[tuple[Any, ...], tuple[int, bytes]] = {}
        self._run_tags: dict[tuple[Any, ...], tuple[bytes, str]] = {}
        # Runs that change on their own, by when: (due, tie-breaker, run); stale entries skipped.
        self._timers: list[tuple[datetime, int, _Run]] = []
        self._timer_ids = itertools.count()
        # The stream: every later event with a sequence number, and who to tell about new ones.
        self._seq = 0
        self._stream = _StreamLog()
        self._listeners: tuple[Callable[[], None], ...] = ()
        self._listeners_lock = threading.Lock()
        self._starts = 0

    def now(self) -> datetime:
        """The state's clock (UTC, aware)."""
        return self._now()

    # -- locking, change notification ---------------------------------------------------

    @contextlib.contextmanager
    def _changing(self) -> Iterator[datetime]:
        """Hold the lock with due transitions applied; tell listeners of new events after."""
        self._lock.acquire()
        seq = self._seq
        try:
            now = self._now()
            self._advance_locked(now)
            yield now
        finally:
            emitted = self._seq != seq
            self._lock.release()
            if emitted:
                self._notify()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` (from whichever thread made the change, outside the lock) after
        new run events; returns the function that unsubscribes it. Keep listeners quick: e.g.
        ``lambda: loop.call_soon_threadsafe(event.set)``."""
        with self._listeners_lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def _notify(self) -> None:
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                listener()

    @property
    def event_seq(self) -> int:
        """The sequence number of the latest event recorded after its run was added."""
        return self._seq

    # -- building -------------------------------------------------------------------------

    def add_workflow(self, workflow: Workflow) -> None:
        """Register a workflow; adding the same definition again is a no-op."""
        with self._lock:
            known = self._workflows.get(workflow.workflow_id)
            if known is not None and known != workflow:
                raise ValueError(f"workflow {workflow.workflow_id!r} is already defined otherwise")
            self._workflows[workflow.workflow_id] = workflow
            self._workflow_runs.setdefault(workflow.workflow_id, [])

    def add_run(
        self,
        workflow_id: str,
        run_id: str,
        *,
        tasks: Sequence[NewTask] = (),
        earlier_steps: Sequence[EarlierStep] = (),
        created_at: datetime | None = None,
        validate: bool = True,
        status: RunState | str | None = None,
        steps: Sequence[PlannedStep] = (),
        started_at: datetime | None = None,
        starts_in: float | None = None,
        failure_code: str | None = None,
        error: str | None = None,
        variables: Mapping[str, Any] | None = None,
        drain_seconds: float | None = None,
        drain_timeout: float | None = None,
    ) -> None:
        """Add a run whose ``earlier_steps`` are done, in ``status`` since ``created_at``.

        With ``tasks`` the run waits on them (status ``paused``): its events are ``run_started``,
        ``step_started``/``step_completed`` for each earlier step, timed to end at
        ``created_at`` (default: now), then ``step_started`` for each human task and
        ``state_changed`` running→paused. Without tasks, ``status`` (default ``running``) says
        where the run is at ``created_at``:

        - ``running``: ``steps`` run one after another from ``created_at`` (the first is in
          flight then); after the last the run completes, or fails at a step with a
          ``failure_code``. Without steps it runs until stopped.
        - ``paused``: paused by an operator; ``steps`` run after ``resume``.
        - ``pending``/``queued``/``starting``: not started yet; ``starts_in`` seconds after
          ``created_at`` it moves on (queued → starting → running, 2 s apart), then runs
          ``steps``. ``None``: it waits until a command moves it.
        - ``draining``: a graceful stop began at ``created_at``; the first of ``steps`` is
          still active. It drains for ``drain_seconds`` (default: the state's), then stops –
          or fails with ``DRAIN_TIMEOUT`` after ``drain_timeout`` seconds if that is shorter.
        - ``failed``/``stopped``/``completed``: ended at ``created_at`` (``failure_code`` and
          ``error`` say why; a stopped run defaults to ``RUN_STOPPED``).

        ``started_at`` is when the run began (default: 3 s per earlier step before
        ``created_at``). ``variables`` are its inputs for ``…/context`` (default: the read-only
        fields of its tasks). ``drain_seconds``/``drain_timeout`` apply to a later graceful
        stop too. ``validate=False`` skips the check that each task parses as
        ``client.models.Task``; the bulk generators use it for speed.
        """
        at = created_at or self._now()
        state = RunState(status) if status is not None else None
        if tasks:
            if state not in (None, RunState.PAUSED):
                raise ValueError(f"a run with tasks waits on them (paused), not {state}")
            if steps:
                raise ValueError("a run waiting on tasks has no planned steps")
        state = state or (RunState.PAUSED if tasks else RunState.RUNNING)
        if state.terminal and steps:
            raise ValueError(f"a {state} run has no steps left to run")
        if starts_in is not None and state not in _STARTUP:
            raise ValueError(f"starts_in applies to pending, queued or starting runs, not {state}")
        for name, seconds in (("drain_seconds", drain_seconds), ("drain_timeout", drain_timeout)):
            if seconds is not None and seconds < 0:
                raise ValueError(f"{name} must not be negative, got {seconds}")
        if started_at is not None and started_at > at:
            raise ValueError("started_at must not be after created_at")
        with self._lock:
            workflow = self._workflows.get(workflow_id)
            if workflow is None:
                raise ValueError(f"unknown workflow {workflow_id!r}: add_workflow() first")
            if (workflow_id, run_id) in self._runs:
                raise ValueError(f"run {run_id!r} of workflow {workflow_id!r} already exists")
            if len({task.task_id for task in tasks}) != len(tasks):
                raise ValueError(f"two tasks of run {run_id!r} share an id")
            begun = state not in _STARTUP
            if not begun:
                began = at
            elif started_at is not None:
                began = started_at
            else:
                began = at - timedelta(seconds=_STEP_SECONDS * len(earlier_steps) + 1)
            run = _Run(
                workflow=workflow,
                run_id=run_id,
                state=state,
                started_at=began,
                updated_at=at,
                begun=begun,
                variables=dict(variables) if variables is not None else None,
                drain_seconds=drain_seconds,
                drain_timeout=drain_timeout,
                added_seq=self._seq,
            )
            # Build every task before storing anything, so a bad task leaves no half-made run.
            prepared = [self._prepare_task(run, task, at, validate) for task in tasks]
            human_steps = [(wire["step_id"], wire["id"]) for wire in prepared]
            tail = self._place(
                run, state, tuple(steps), at, starts_in, failure_code, error, bool(prepared)
            )
            run.history = _History(
                at, tuple(earlier_steps), human_steps, started_at, tail, begun=begun
            )
            self._runs[(workflow_id, run_id)] = run
            self._workflow_runs[workflow_id].append(run)
            self._touch(run)
            for wire in prepared:
                self._store_task(run, wire)
            self._schedule(run)

    @staticmethod
    def _place(
        run: _Run,
        state: RunState,
        steps: tuple[PlannedStep, ...],
        at: datetime,
        starts_in: float | None,
        failure_code: str | None,
        error: str | None,
        waits_on_tasks: bool,
    ) -> _Tail:
        """Set up a new run's life in ``state`` from ``at`` on; the events that say so."""
        run.plan = steps
        if state is RunState.RUNNING:
            if not steps:
                return ()
            run.plan_at, run.active, run.active_since = 1, steps[0], at
            return (("step_started", steps[0].step_id, None),)
        if state is RunState.PAUSED:
            if waits_on_tasks:  # the history's human steps say so
                return ()
            run.operator_paused = True
            return (
                ("state_changed", None, {"from": "running", "to": "paused", "command": "pause"}),
            )
        if state in _STARTUP:
            if starts_in is not None:
                begin = at + timedelta(seconds=starts_in)
                phases = [] if state is RunState.STARTING else [(begin, RunState.STARTING)]
                later = 0.0 if state is RunState.STARTING else _STARTING_SECONDS
                phases.append((begin + timedelta(seconds=later), RunState.RUNNING))
                run.phases = tuple(phases)
            return (("state_changed", None, {"to": state.value}),)
        if state is RunState.DRAINING:
            run.drain_since = at
            tail: list[tuple[str, str | None, Mapping[str, Any] | None]] = []
            if steps:
                run.plan_at, run.active, run.active_since = 1, steps[0], at
                tail.append(("step_started", steps[0].step_id, None))
            change = {"from": "running", "to": "draining", "command": "stop", "mode": "graceful"}
            tail.append(("state_changed", None, change))
            return tuple(tail)
        # Ended before it was added.
        if state is RunState.STOPPED:
            failure_code = failure_code or RUN_STOPPED
            error = error or "stopped by an operator"
        run.failure_code, run.error = failure_code, error
        data: dict[str, Any] = {"from": "running", "to": state.value}
        if failure_code:
            data["failure_code"] = failure_code
        if error:
            data["error"] = error
        return (("state_changed", None, data),)

    def add_task(
        self,
        workflow_id: str,
        run_id: str,
        task: NewTask,
        *,
        created_at: datetime | None = None,
        validate: bool = True,
    ) -> None:
        """Add a human task to a running run (or one already waiting on tasks); it pauses it."""
        at = created_at or self._now()
        with self._changing():
            run = self._runs.get((workflow_id, run_id))
            if run is None:
                raise ValueError(f"unknown run {run_id!r} of workflow {workflow_id!r}")
            if run.state.terminal:
                raise ValueError(f"run {run_id!r} has already finished ({run.state})")
            if run.state is not RunState.RUNNING and (
                run.state is not RunState.PAUSED or run.operator_paused
            ):
                raise ValueError(
                    f"run {run_id!r} is {run.state}"
                    f"{' by an operator' if run.operator_paused else ''}: only a running run "
                    "can wait on a new task"
                )
            wire = self._prepare_task(run, task, at, validate)
            self._emit(run, "step_started", at, wire["step_id"], {"task_id": task.task_id})
            if run.state is RunState.RUNNING:
                self._emit(run, "state_changed", at, data={"from": "running", "to": "paused"})
                run.state = RunState.PAUSED
            self._store_task(run, wire)
            self._schedule(run)

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
        run.fragment = None  # its pending count changed
        self._changed()

    def _changed(self) -> None:
        self._version += 1
        self._bodies.clear()

    def _touch(self, run: _Run) -> None:
        """The run changed: its feed entry is rebuilt, and every cached feed body is stale."""
        self._change += 1
        run.changed = self._change
        run.order = (run.updated_at.timestamp(), self._change)
        run.fragment = None

    def _emit(
        self,
        run: _Run,
        kind: str,
        at: datetime,
        step_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an event that happens now (not history): it updates the run and is streamed."""
        event = run.record(kind, at, step_id, data)
        self._seq += 1
        if run.live_seqs is None:
            run.live_seqs = []
        run.live_seqs.append(self._seq)
        self._stream.append(run.workflow.workflow_id, self._seq, _frame(run, event))
        if at > run.updated_at:
            run.updated_at = at
        self._touch(run)

    # -- runs moving on their own ---------------------------------------------------------

    def advance(self) -> int:
        """Apply every transition due by the clock; return how many events that recorded.

        Every read does this first; call it to make time-driven changes (drains ending, steps
        finishing) happen – and reach the stream – without a read.
        """
        seq = self._seq
        with self._changing():
            pass
        return self._seq - seq

    def seconds_until_due(self) -> float | None:
        """Seconds (by the state's clock) until some run next changes on its own, or None."""
        with self._lock:
            if not self._timers:
                return None
            return (self._timers[0][0] - self._now()).total_seconds()

    def _advance_locked(self, now: datetime) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, _, run = heapq.heappop(timers)
            if run.due != due:
                continue  # superseded: the run was rescheduled
            run.due = None
            while (moment := self._next_due(run)) is not None and moment <= now:
                self._apply_due(run, moment)
            self._schedule(run)

    def _schedule(self, run: _Run) -> None:
        due = self._next_due(run)
        if due == run.due:
            return
        run.due = due
        if due is not None:
            heapq.heappush(self._timers, (due, next(self._timer_ids), run))

    def _next_due(self, run: _Run) -> datetime | None:
        state = run.state
        if state in _STARTUP:
            return run.phases[0][0] if run.phases else None
        if state is RunState.DRAINING:
            return self._drain_end(run)[0]
        if state in (RunState.RUNNING, RunState.PAUSED) and run.active is not None:
            assert run.active_since is not None
            return run.active_since + timedelta(seconds=run.active.seconds)
        return None

    def _drain_end(self, run: _Run) -> tuple[datetime, bool]:
        """When the run's drain ends, and whether that is its timeout (then it fails)."""
        assert run.drain_since is not None
        seconds = run.drain_seconds if run.drain_seconds is not None else self.drain_seconds
        timeout = run.drain_timeout
        if timeout is not None and seconds > timeout:
            return run.drain_since + timedelta(seconds=timeout), True
        return run.drain_since + timedelta(seconds=seconds), False

    def _apply_due(self, run: _Run, at: datetime) -> None:
        state = run.state
        if state in _STARTUP:
            (_, target), run.phases = run.phases[0], run.phases[1:]
            run.state = target
            self._emit(run, "state_changed", at, data={"from": state.value, "to": target.value})
            if target is RunState.RUNNING:
                self._begin(run, at)
                self._start_next(run, at)
        elif state is RunState.DRAINING:
            _, timed_out = self._drain_end(run)
            if timed_out:
                timeout = run.drain_timeout
                self._cancel_active(run, at, "drain_timeout")
                self._finish(
                    run,
                    at,
                    RunState.FAILED,
                    DRAIN_TIMEOUT,
                    f"the graceful stop did not finish within its {timeout:g} s drain timeout; "
                    "the active steps were cancelled",
                )
            else:
                step = run.active
                if step is not None:
                    self._end_step(run, step, at)
                self._finish(
                    run, at, RunState.STOPPED, RUN_STOPPED, "stopped by an operator (graceful stop)"
                )
        else:  # a step in flight ends
            step = run.active
            assert step is not None
            if step.failure_code is not None:
                run.active = run.active_since = None
                error = step.error or f"step {step.step_id!r} failed"
                data = {"error": error, "failure_code": step.failure_code}
                self._emit(run, "step_failed", at, step.step_id, data)
                self._finish(run, at, RunState.FAILED, step.failure_code, error)
            else:
                self._end_step(run, step, at)
                if run.state is RunState.RUNNING:
                    self._start_next(run, at)

    def _begin(self, run: _Run, at: datetime) -> None:
        if not run.begun:  # ``started_at`` stays when it was triggered
            run.begun = True
            self._emit(run, "run_started", at, data={"workflow_name": run.workflow.name})

    def _end_step(self, run: _Run, step: PlannedStep, at: datetime) -> None:
        run.active = run.active_since = None
        data = {"result": dict(step.result)} if step.result is not None else None
        self._emit(run, "step_completed", at, step.step_id, data)

    def _start_next(self, run: _Run, at: datetime) -> None:
        """Start the next planned step; after the last one the run completes."""
        if run.plan_at < len(run.plan):
            step = run.plan[run.plan_at]
            run.plan_at += 1
            run.active, run.active_since = step, at
            self._emit(run, "step_started", at, step.step_id)
        elif run.plan:
            self._finish(run, at, RunState.COMPLETED)

    def _cancel_active(self, run: _Run, at: datetime, reason: str) -> None:
        step = run.active
        if step is not None:
            run.active = run.active_since = None
            self._emit(
                run, "step_cancelled", at, step.step_id, {"cancelled": True, "reason": reason}
            )

    def _finish(
        self,
        run: _Run,
        at: datetime,
        final: RunState,
        failure_code: str | None = None,
        error: str | None = None,
        **extra: Any,
    ) -> None:
        data: dict[str, Any] = {"from": run.state.value, "to": final.value, **extra}
        if failure_code:
            data["failure_code"] = failure_code
        if error:
            data["error"] = error
        run.state, run.failure_code, run.error = final, failure_code, error
        run.operator_paused = False
        run.phases, run.drain_since = (), None
        self._emit(run, "state_changed", at, data=data)

    # -- reading --------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def completed_count(self) -> int:
        return len(self._completed)

    @property
    def run_count(self) -> int:
        return len(self._runs)

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
        return self._tagged(self._tags, scope, self.pending_body(tenant, projects))

    def _tagged(
        self, tags: dict[Any, tuple[bytes, str]], key: Any, body: bytes
    ) -> tuple[bytes, str]:
        """``body`` with its strong ETag, the digest worked out once per body object."""
        with self._lock:
            known = tags.get(key)
        if known is not None and known[0] is body:
            return known
        tagged = (body, _etag(body))
        with self._lock:
            tags[key] = tagged
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
        with self._changing():
            run = self._find_run(workflow_id, run_id, tenant, project)
            return copy.deepcopy(run.events)

    def run_state(self, workflow_id: str, run_id: str) -> RunState:
        with self._changing():
            return self._find_run(workflow_id, run_id, None, None).state

    def is_pending(self, workflow_id: str, run_id: str, task_id: str) -> bool:
        return (workflow_id, run_id, task_id) in self._pending

    def completion_of(self, workflow_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
        """The merged step result a completed task produced, or ``None`` if not completed."""
        with self._lock:
            done = self._completed.get((workflow_id, run_id, task_id))
            return copy.deepcopy(done.result) if done is not None else None

    def _find_workflow(self, workflow_id: str, tenant: str | None, project: str | None) -> Workflow:
        workflow = self._workflows.get(workflow_id)
        if (
            workflow is None
            or (tenant is not None and workflow.tenant != tenant)
            or (project is not None and workflow.project != project)
        ):
            # Another tenant's or project's workflow reads as unknown: no existence leak.
            raise NotFound(f"workflow {workflow_id!r} not found")
        return workflow

    def _find_run(
        self, workflow_id: str, run_id: str, tenant: str | None, project: str | None
    ) -> _Run:
        self._find_workflow(workflow_id, tenant, project)
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

    # -- the runs feed and a run's context --------------------------------------------------

    def runs_body(
        self,
        tenant: str | None = None,
        projects: Iterable[str] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> bytes:
        """The runs feed as JSON bytes, ``{"runs": [...]}``, most recently changed first.

        ``tenant``/``projects`` restrict it as they do the inbox; ``workflow_id`` lists one
        workflow's runs (``NotFound`` if it is unknown or out of scope). Cached until a run
        changes; a rebuild serialises only the runs that changed.
        """
        scope = frozenset(projects) if projects is not None else None
        with self._changing():
            if workflow_id is not None:
                workflow = self._workflows.get(workflow_id)
                if (
                    workflow is None
                    or (tenant is not None and workflow.tenant != tenant)
                    or (scope is not None and workflow.project not in scope)
                ):
                    raise NotFound(f"workflow {workflow_id!r} not found")
            key = (tenant, scope, workflow_id)
            cached = self._run_bodies.get(key)
            if cached is not None and cached[0] == self._change:
                return cached[1]
            version = self._change
            if workflow_id is not None:
                runs: Iterable[_Run] = self._workflow_runs[workflow_id]
            else:
                runs = [
                    run
                    for run in self._runs.values()
                    if (tenant is None or run.workflow.tenant == tenant)
                    and (scope is None or run.workflow.project in scope)
                ]
            ordered = sorted(runs, key=_feed_order, reverse=True)
            fragments = [run.fragment for run in ordered]
            # Entries to serialise: taken as dicts now, serialised outside the lock.
            stale = [
                (index, run, run.changed, self._summary(run))
                for index, (run, fragment) in enumerate(zip(ordered, fragments, strict=True))
                if fragment is None
            ]
        made = [_dumps(summary) for _, _, _, summary in stale]
        for (index, _, _, _), fragment in zip(stale, made, strict=True):
            fragments[index] = fragment
        body = b'{"runs":[' + b",".join(fragments) + b"]}"  # type: ignore[arg-type]
        with self._lock:
            for (_, run, changed, _), fragment in zip(stale, made, strict=True):
                if run.changed == changed:  # unchanged meanwhile
                    run.fragment = fragment
            if self._change == version:
                self._run_bodies[key] = (version, body)
        return body

    def tagged_runs_body(
        self,
        tenant: str | None = None,
        projects: Iterable[str] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> tuple[bytes, str]:
        """:meth:`runs_body` and a strong ETag for it."""
        body = self.runs_body(tenant, projects, workflow_id=workflow_id)
        key = (tenant, frozenset(projects) if projects is not None else None, workflow_id)
        return self._tagged(self._run_tags, key, body)

    def list_runs(
        self,
        tenant: str | None = None,
        projects: Iterable[str] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The runs feed as fresh dicts (for tests and tools; the server uses ``runs_body``)."""
        body = self.runs_body(tenant, projects, workflow_id=workflow_id)
        runs: list[dict[str, Any]] = json.loads(body)["runs"]
        return runs

    def run_summary(
        self,
        workflow_id: str,
        run_id: str,
        *,
        tenant: str | None = None,
        project: str | None = None,
    ) -> dict[str, Any]:
        """One run's entry of the feed."""
        with self._changing():
            return self._summary(self._find_run(workflow_id, run_id, tenant, project))

    @staticmethod
    def _summary(run: _Run) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": run.run_id,
            "workflow_id": run.workflow.workflow_id,
            "workflow_name": run.workflow.name,
            "status": run.state.value,
            "started_at": _iso(run.started_at),
            "updated_at": _iso(run.updated_at),
        }
        if run.failure_code is not None:
            item["failure_code"] = run.failure_code
        if run.error is not None:
            item["error"] = run.error
        item["pending_tasks"] = len(run.pending)
        return item

    def run_context(
        self,
        workflow_id: str,
        run_id: str,
        *,
        tenant: str | None = None,
        project: str | None = None,
    ) -> dict[str, Any]:
        """``{"run_id", "workflow_id", "variables", "steps"}``, built from what the run did.

        Each step that began is in ``steps`` (in the order they began) with its ``status`` –
        ``running``, ``waiting`` (a human step whose task is pending), ``completed``,
        ``skipped``, ``failed`` or ``cancelled`` – and its ``result`` (``{}`` until it has one;
        a human step's is the merged decision). Steps that consumed values also show ``input``;
        failed ones ``error`` and ``failure_code``; human ones ``task_id``.
        """
        with self._changing():
            run = self._find_run(workflow_id, run_id, tenant, project)
            steps: dict[str, dict[str, Any]] = {}
            for event in run.events:
                step_id = event.get("step_id")
                if step_id is None:
                    continue
                data = event.get("data") or {}
                kind = event["type"]
                entry = steps.setdefault(step_id, {"status": "running", "result": {}})
                if kind == "step_started":
                    if "task_id" in data:
                        entry["status"] = "waiting"
                        entry["task_id"] = data["task_id"]
                    if "input" in data:
                        entry["input"] = copy.deepcopy(data["input"])
                elif kind == "step_completed":
                    entry["status"] = "skipped" if data.get("skipped") else "completed"
                    if isinstance(data.get("result"), Mapping):
                        entry["result"] = copy.deepcopy(dict(data["result"]))
                elif kind == "step_failed":
                    entry["status"] = "failed"
                    entry.update({k: data[k] for k in ("error", "failure_code") if k in data})
                elif kind == "step_cancelled":
                    entry["status"] = "cancelled"
            if run.variables is not None:
                variables = copy.deepcopy(run.variables)
            else:
                variables = {}
                for payload in run.payloads.values():
                    variables.update(copy.deepcopy(_trigger_values(payload)))
            return {
                "run_id": run.run_id,
                "workflow_id": workflow_id,
                "variables": variables,
                "steps": steps,
            }

    # -- the event stream -----------------------------------------------------------------

    def stream_open(
        self,
        workflow_id: str,
        *,
        run_id: str | None = None,
        since: str | None = None,
        tenant: str | None = None,
        project: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Start following a workflow's events: the frames to replay first, and a cursor.

        ``run_id`` follows one run; ``since`` (an event id of this workflow, as the stream or
        the events listing gave it) replays every event recorded after that one. Raises
        ``NotFound`` for an unknown (or out-of-scope) workflow, run or event. Pass the cursor
        to :meth:`stream_after` to read what follows.
        """
        with self._changing():
            self._find_workflow(workflow_id, tenant, project)
            if run_id is not None and (workflow_id, run_id) not in self._runs:
                raise NotFound(f"run {run_id!r} not found in workflow {workflow_id!r}")
            cursor = self._seq
            if since is None:
                return [], cursor
            run, index = self._locate_event(workflow_id, since)
            if index >= run.history_events:
                assert run.live_seqs is not None
                frames = self._stream.after(
                    workflow_id, run.live_seqs[index - run.history_events], run_id
                )
            else:
                # A history event: the rest of its run's history came after it, then everything
                # recorded since the run was added.
                frames = []
                if run_id in (None, run.run_id):
                    rest = run.events[index + 1 : run.history_events]
                    frames = [_frame(run, event) for event in rest]
                frames += self._stream.after(workflow_id, run.added_seq, run_id)
            return copy.deepcopy(frames), cursor

    def stream_after(
        self, workflow_id: str, cursor: int, *, run_id: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The frames of the workflow (or one run) recorded after ``cursor``, and the new cursor.

        Applies due transitions first, so a drain that ended is in the answer."""
        with self._changing():
            frames = self._stream.after(workflow_id, cursor, run_id)
            return copy.deepcopy(frames), self._seq

    def _locate_event(self, workflow_id: str, event_id: str) -> tuple[_Run, int]:
        head, _, number = event_id.rpartition("_")
        core = head.removeprefix("evt_")
        if head.startswith("evt_") and number.isdigit():
            for candidate in (f"run_{core}", core):
                run = self._runs.get((workflow_id, candidate))
                if run is None:
                    continue
                events = run.events
                index = int(number) - 1
                if 0 <= index < len(events) and events[index]["id"] == event_id:
                    return run, index
        raise NotFound(f"event {event_id!r} not found in workflow {workflow_id!r}")

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
        another key (or none) raises ``Conflict``, and so does completing a task withdrawn by a
        stop of its run; unknown ids raise ``NotFound``.
        """
        extra = dict(result) if result else {}
        request = {"approved": approved, "result": extra or None}
        fingerprint = json.dumps(
            [workflow_id, run_id, task_id, request], sort_keys=True, default=repr
        )
        key = (workflow_id, run_id, task_id)
        with self._changing() as at:
            run = self._find_run(workflow_id, run_id, tenant, project)
            scope = (run.workflow.tenant, idempotency_key) if idempotency_key else None
            replay = self._replayed(scope, fingerprint)
            if replay is not None:
                return replay
            done = self._completed.get(key)
            if done is not None:
                verdict = "approved" if done.approved else "rejected"
                raise Conflict(
                    f"task {task_id!r} in run {run_id!r} is already completed ({verdict})"
                )
            withdrawn = self._withdrawn.get(key)
            if withdrawn is not None:
                raise Conflict(
                    f"task {task_id!r} in run {run_id!r} is no longer pending: {withdrawn}"
                )
            pending = self._pending.pop(key, None)
            if pending is None:
                raise NotFound(f"task {task_id!r} not found in run {run_id!r}")
            merged = self._apply(run, pending, approved, extra, at)
            self._completed[key] = _Completed(approved=approved, result=merged, at=at)
            self._changed()
            body = Completion(status="completed", task_id=task_id, approved=approved)
            return self._remember(scope, fingerprint, body.model_dump(mode="json"))

    def _replayed(
        self, scope: tuple[str, str] | None, fingerprint: str
    ) -> CompletionOutcome | None:
        if scope is None or (record := self._idempotency.get(scope)) is None:
            return None
        if record.fingerprint != fingerprint:
            raise Conflict(
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new request"
            )
        return CompletionOutcome(
            record.outcome.status_code, copy.deepcopy(record.outcome.body), replayed=True
        )

    def _remember(
        self, scope: tuple[str, str] | None, fingerprint: str, body: dict[str, Any]
    ) -> CompletionOutcome:
        outcome = CompletionOutcome(200, body)
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
        self._emit(run, "step_completed", at, pending.wire["step_id"], {"result": merged})
        if not run.pending:
            self._resume(run, at)
        return copy.deepcopy(merged)

    def _resume(self, run: _Run, at: datetime) -> None:
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
        self._emit(run, "state_changed", at, data={"from": "paused", "to": "running"})
        run.state = RunState.RUNNING
        run.active = run.active_since = None
        steps = run.workflow.on_approve if approved else run.workflow.on_reject
        for step in steps:
            consumed = {name: copy.deepcopy(values.get(name)) for name in step.consumes}
            self._emit(run, "step_started", at, step.step_id, {"input": consumed})
            done = {"input": copy.deepcopy(consumed), "result": dict(step.produces)}
            self._emit(run, "step_completed", at, step.step_id, done)
        final = RunState.COMPLETED if approved else RunState.STOPPED
        self._emit(run, "state_changed", at, data={"from": "running", "to": final.value})
        run.state = final
        self._schedule(run)

    # -- run control ----------------------------------------------------------------------

    def command(
        self,
        workflow_id: str,
        command: str,
        run_id: str | None = None,
        *,
        mode: str | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        tenant: str | None = None,
        project: str | None = None,
    ) -> CommandOutcome:
        """Apply a run command (``POST /v1/workflows/{id}/command``); see ``app`` for the table.

        ``pause``/``resume``/``stop`` need ``run_id``; ``mode`` (``immediate`` by default or
        ``graceful``) is for stop only. ``start`` starts a new run with ``params`` as its
        variables. Answers ``{"run_id", "workflow_id", "status"}`` (the status after the
        command; ``start`` adds ``started_at``). Raises ``NotFound`` for an unknown workflow or
        run, ``Conflict`` for a transition the run's state does not allow (the message says
        why), ``ValueError`` for a malformed command. The same ``idempotency_key`` with the
        same command replays the first answer.
        """
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r}: expected one of {', '.join(COMMANDS)}")
        if command == "start":
            if run_id is not None or mode is not None:
                raise ValueError("start takes trigger params only; the stub picks the run id")
        else:
            if not run_id:
                raise ValueError(f"{command} needs params.run_id")
            if mode is not None and command != "stop":
                raise ValueError("mode applies to stop only")
            mode = mode or ("immediate" if command == "stop" else None)
            if command == "stop" and mode not in STOP_MODES:
                raise ValueError(f"mode must be 'immediate' or 'graceful', got {mode!r}")
            if params:
                raise ValueError("pass run_id and mode as arguments, not params")
        fingerprint = json.dumps(
            ["command", workflow_id, command, run_id, mode, dict(params or {})],
            sort_keys=True,
            default=repr,
        )
        with self._changing() as at:
            workflow = self._find_workflow(workflow_id, tenant, project)
            scope = (workflow.tenant, idempotency_key) if idempotency_key else None
            replay = self._replayed(scope, fingerprint)
            if replay is not None:
                return replay
            if command == "start":
                body = self._start(workflow, dict(params or {}), at)
            else:
                assert run_id is not None
                run = self._runs.get((workflow_id, run_id))
                if run is None:
                    raise NotFound(f"run {run_id!r} not found in workflow {workflow_id!r}")
                self._control(run, command, mode or "", at)
                body = {"run_id": run_id, "workflow_id": workflow_id, "status": run.state.value}
            return self._remember(scope, fingerprint, body)

    def _control(self, run: _Run, command: str, mode: str, at: datetime) -> None:
        reason = _refusal(run, command, mode)
        if reason is not None:
            raise Conflict(f"cannot {command} run {run.run_id!r}: {reason}")
        previous = run.state.value
        if command == "pause":
            run.state, run.operator_paused, run.phases = RunState.PAUSED, True, ()
            change = {"from": previous, "to": "paused", "command": "pause"}
            self._emit(run, "state_changed", at, data=change)
        elif command == "resume":
            run.state, run.operator_paused = RunState.RUNNING, False
            change = {"from": "paused", "to": "running", "command": "resume"}
            self._emit(run, "state_changed", at, data=change)
            self._begin(run, at)
            if run.active is None:
                self._start_next(run, at)
        elif mode == "immediate":
            self._withdraw_tasks(run, at)
            self._cancel_active(run, at, "run_stopped")
            self._finish(
                run,
                at,
                RunState.STOPPED,
                RUN_STOPPED,
                "stopped by an operator (immediate stop)",
                command="stop",
                mode="immediate",
            )
        else:
            self._withdraw_tasks(run, at)
            run.state, run.operator_paused, run.phases = RunState.DRAINING, False, ()
            run.drain_since = at
            change = {"from": previous, "to": "draining", "command": "stop", "mode": "graceful"}
            self._emit(run, "state_changed", at, data=change)
        self._schedule(run)

    def _withdraw_tasks(self, run: _Run, at: datetime) -> None:
        """A stopped run's human tasks leave the inbox; completing one then answers 409."""
        if not run.pending:
            return
        for task_id in list(run.pending):
            key = (run.workflow.workflow_id, run.run_id, task_id)
            record = self._pending.pop(key)
            self._withdrawn[key] = "its run was stopped"
            data = {"cancelled": True, "reason": "run_stopped", "task_id": task_id}
            self._emit(run, "step_cancelled", at, record.wire["step_id"], data)
        run.pending.clear()
        self._changed()

    def _start(self, workflow: Workflow, variables: dict[str, Any], at: datetime) -> dict[str, Any]:
        while True:
            self._starts += 1
            seed = f"{workflow.workflow_id}:{self._starts}:{_iso(at)}"
            run_id = "run_" + hashlib.blake2b(seed.encode(), digest_size=6).hexdigest()
            if (workflow.workflow_id, run_id) not in self._runs:
                break
        run = _Run(
            workflow=workflow,
            run_id=run_id,
            state=RunState.RUNNING,
            started_at=at,
            updated_at=at,
            variables=variables,
            plan=workflow.run_steps,
            added_seq=self._seq,
        )
        self._runs[run.key] = run
        self._workflow_runs[workflow.workflow_id].append(run)
        data = {"workflow_name": workflow.name, "command": "start"}
        self._emit(run, "run_started", at, data=data)
        self._start_next(run, at)
        self._schedule(run)
        return {
            "run_id": run_id,
            "workflow_id": workflow.workflow_id,
            "status": run.state.value,
            "started_at": _iso(at),
        }


def _feed_order(run: _Run) -> tuple[float, int]:
    return run.order


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
