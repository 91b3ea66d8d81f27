"""The generator of realistic runs: every Command Center section, deterministic per seed, fast.

Runs are spread over the statuses as a busy workspace has them – mostly running, a few paused,
queued or draining, a steady trickle of failures with the documented codes (most within the last
24 hours, some older), stopped and completed ones – plus a share waiting on human tasks (the
task generator's drafts). Their steps are the ``RUN_WORKFLOWS``' own, stretched so that runs
last minutes to an hour: a benchmark's feed changes, but slowly. Failures happen through the
state's own timeline (a planned step that fails), so their events read like any other run's.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from datetime import datetime, timedelta

from ._generator import _TEMPLATES, _mix48
from .state import EarlierStep, PlannedStep, StubState, Workflow
from .workflows import RUN_WORKFLOWS, STEP_TOOLS, WORKFLOWS

__all__ = ["RunGenerator"]

# (status, weight) of the runs without human tasks. A tenth of the running ones fail later.
_STATUSES = (
    ("running", 45),
    ("paused", 6),
    ("pending", 2),
    ("queued", 4),
    ("starting", 1),
    ("draining", 3),
    ("failed", 20),
    ("stopped", 8),
    ("completed", 11),
)
_CODES = (
    ("MCP_TOOL_FAILED", 30),
    ("LLM_REQUEST_FAILED", 20),
    ("INSUFFICIENT_CREDITS", 8),
    ("RUN_STALLED_OR_TIMED_OUT", 15),
    ("DRAIN_TIMEOUT", 7),
    ("UPSTREAM_ERROR", 10),
    ("DEPENDENCY_UNAVAILABLE", 7),
    ("HUMAN_TASK_FAILED", 3),
)
_MCP_ERRORS = (
    "401 Unauthorized: the connection needs to be re-authorised",
    "429 Too Many Requests after 3 retries",
    "invalid argument: 'email' is required",
    "no answer within 30 s",
    "403 Forbidden: the token lacks the 'write' scope",
)
_LLM_ERRORS = (
    "401 invalid_api_key",
    "404 model_not_found",
    "500 from the provider after 3 retries",
    "the prompt exceeds the model's context window (131,072 tokens)",
)
_MODELS = ("openai/gpt-4o", "anthropic/claude-sonnet", "openai/gpt-4o-mini", "mistral/large")
_DEPENDENCIES = ("redis-cache", "postgres-replica", "vector-store", "smtp-relay")
_TRIGGERS = ("schedule", "webhook", "manual", "api")


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in table], [weight for _, weight in table])[0]


def _error(rng: random.Random, code: str, step: PlannedStep) -> str:
    tool = STEP_TOOLS.get(step.step_id, "code")
    name = step.step_id
    if code == "MCP_TOOL_FAILED":
        return f"MCP tool '{tool}' returned an error: {rng.choice(_MCP_ERRORS)}"
    if code == "LLM_REQUEST_FAILED":
        return f"LLM request to {rng.choice(_MODELS)} failed: {rng.choice(_LLM_ERRORS)}"
    if code == "INSUFFICIENT_CREDITS":
        need = rng.randint(2, 40) * 100
        return f"the workspace is out of credits: step '{name}' needs about {need:,} credits"
    if code == "RUN_STALLED_OR_TIMED_OUT":
        minutes = rng.choice((15, 30, 60))
        return f"no progress for {minutes} minutes in step '{name}' (timeout window {minutes} min)"
    if code == "UPSTREAM_ERROR":
        status = rng.choice(("502 Bad Gateway", "503 Service Unavailable", "504 Gateway Timeout"))
        return f"an upstream service answered {status} in step '{name}'"
    if code == "DEPENDENCY_UNAVAILABLE":
        return f"dependency '{rng.choice(_DEPENDENCIES)}' is unavailable: connection refused"
    return f"the human task of step '{name}' could not be created: its payload exceeds 256 KB"


def _failing_step(rng: random.Random, code: str, steps: tuple[PlannedStep, ...]) -> int:
    """Where a run with this code fails: an MCP step, an LLM step, or any step."""
    if code == "MCP_TOOL_FAILED":
        fit = [
            i
            for i, s in enumerate(steps)
            if STEP_TOOLS.get(s.step_id, "code") not in ("llm", "code")
        ]
    elif code in ("LLM_REQUEST_FAILED", "INSUFFICIENT_CREDITS"):
        fit = [i for i, s in enumerate(steps) if STEP_TOOLS.get(s.step_id) == "llm"]
    else:
        fit = []
    return rng.choice(fit) if fit else rng.randrange(len(steps))


def _done(steps: tuple[PlannedStep, ...]) -> list[EarlierStep]:
    return [EarlierStep(s.step_id, s.result) for s in steps]


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return float(low * (high / low) ** rng.random())


class RunGenerator:
    """Makes realistic runs, deterministically from ``seed``; successive calls continue.

    ``awaiting`` is the share of runs that wait on a human task (each adds one pending task).
    Run ids come from a bijection of the run's index, salted by seed and ``stream``.
    """

    def __init__(self, seed: int = 0, *, stream: str = "runs", awaiting: float = 0.1) -> None:
        if not 0.0 <= awaiting <= 1.0:
            raise ValueError(f"awaiting must be within [0, 1], got {awaiting}")
        self._rng = random.Random(f"{stream}:{seed}")
        digest = hashlib.blake2b(f"{stream}:{seed}".encode(), digest_size=6).digest()
        self._salt = int.from_bytes(digest, "big")
        self._index = 0
        self.awaiting = awaiting

    def add(self, state: StubState, n: int) -> list[tuple[str, str]]:
        """Add ``n`` runs; returns the (workflow_id, run_id) of each."""
        for workflow in (*WORKFLOWS, *RUN_WORKFLOWS):
            state.add_workflow(workflow)
        now = state.now()
        keys: list[tuple[str, str]] = []
        while len(keys) < n:
            index = self._index
            self._index += 1
            run_id = f"run_{_mix48(self._salt + index):012x}"
            try:
                keys.append(self._add_one(state, now, index, run_id))
            except ValueError as exc:  # pragma: no cover - an id another generator took
                if "already exists" not in str(exc):
                    raise
        return keys

    def _add_one(self, state: StubState, now: datetime, index: int, run_id: str) -> tuple[str, str]:
        rng = self._rng
        if rng.random() < self.awaiting:
            workflow, task, history = rng.choice(_TEMPLATES)(rng, 700_000 + index)
            age = _log_uniform(rng, 60, 2 * 86400)
            state.add_run(
                workflow.workflow_id,
                run_id,
                tasks=(task,),
                earlier_steps=history,
                created_at=now - timedelta(seconds=round(age, 3)),
                validate=False,
            )
            return (workflow.workflow_id, run_id)
        workflow = rng.choice(RUN_WORKFLOWS)
        stretch = rng.uniform(1.0, 12.0)
        steps = tuple(replace(s, seconds=round(s.seconds * stretch, 1)) for s in workflow.run_steps)
        variables = {"trigger": rng.choice(_TRIGGERS), "batch_id": f"b_{index:06x}"}
        status = _weighted(rng, _STATUSES)
        self._place(state, workflow, run_id, status, steps, variables, now)
        return (workflow.workflow_id, run_id)

    def _place(
        self,
        state: StubState,
        workflow: Workflow,
        run_id: str,
        status: str,
        steps: tuple[PlannedStep, ...],
        variables: dict[str, str],
        now: datetime,
    ) -> None:
        rng = self._rng
        add = state.add_run
        wf = workflow.workflow_id

        def ago(seconds: float) -> datetime:
            return now - timedelta(seconds=round(seconds, 3))

        if status in ("running", "draining"):
            k = rng.randrange(len(steps))
            done, rest = steps[:k], steps[k:]
            drain: float | None = None
            timeout: float | None = None
            if status == "running":
                since = rng.uniform(0, rest[0].seconds * 0.95)
                if rng.random() < 0.1:  # one in ten will fail on its own, at its last step
                    code = _weighted(rng, _CODES[:4])
                    last = rest[-1]
                    rest = (
                        *rest[:-1],
                        replace(last, failure_code=code, error=_error(rng, code, last)),
                    )
            else:
                since = rng.uniform(0, 20)
                drain = round(rng.uniform(30, 600), 1)
                timeout = rng.uniform(15, drain) if rng.random() < 0.15 else None
            began = since + sum(s.seconds for s in done) + rng.uniform(1, 20)
            add(
                wf,
                run_id,
                status=status,
                earlier_steps=_done(done),
                created_at=ago(since),
                started_at=ago(began),
                steps=rest,
                variables=variables,
                validate=False,
                drain_seconds=drain,
                drain_timeout=timeout,
            )
        elif status == "paused":
            k = rng.randrange(1, len(steps))
            paused = _log_uniform(rng, 60, 6 * 3600)
            add(
                wf,
                run_id,
                status="paused",
                earlier_steps=_done(steps[:k]),
                created_at=ago(paused),
                started_at=ago(paused + sum(s.seconds for s in steps[:k]) + 5),
                steps=steps[k:],
                variables=variables,
                validate=False,
            )
        elif status in ("pending", "queued", "starting"):
            waited = rng.uniform(0, 600)
            wait = rng.uniform(1, 10) if status == "starting" else rng.uniform(5, 900)
            add(
                wf,
                run_id,
                status=status,
                created_at=ago(waited),
                starts_in=round(waited + wait, 3),
                steps=steps,
                variables=variables,
                validate=False,
            )
        elif status == "failed":
            self._failed(state, wf, run_id, steps, variables, now)
        else:  # stopped or completed, some time ago
            ended = _log_uniform(rng, 60, 5 * 86400)
            k = len(steps) if status == "completed" else rng.randrange(len(steps))
            add(
                wf,
                run_id,
                status=status,
                earlier_steps=_done(steps[:k]),
                created_at=ago(ended),
                started_at=ago(ended + sum(s.seconds for s in steps[:k]) + 3),
                error="stopped by an operator (immediate stop)" if status == "stopped" else None,
                variables=variables,
                validate=False,
            )

    def _failed(
        self,
        state: StubState,
        wf: str,
        run_id: str,
        steps: tuple[PlannedStep, ...],
        variables: dict[str, str],
        now: datetime,
    ) -> None:
        """A run that failed some time ago: it is added running (or draining) before then, and
        the state's timeline fails it at its first read."""
        rng = self._rng
        recent = rng.random() < 0.8
        failed = rng.uniform(60, 23.5 * 3600) if recent else rng.uniform(24.5 * 3600, 7 * 86400)
        code = _weighted(rng, _CODES)
        j = _failing_step(rng, code, steps)
        done, step = steps[:j], steps[j]
        if code == "DRAIN_TIMEOUT":
            timeout = rng.uniform(15, 120)
            since = failed + timeout
            state.add_run(
                wf,
                run_id,
                status="draining",
                earlier_steps=_done(done),
                created_at=now - timedelta(seconds=round(since, 3)),
                started_at=now - timedelta(seconds=round(since + 60, 3)),
                steps=(step,),
                drain_seconds=round(timeout * 2, 1),
                drain_timeout=round(timeout, 1),
                variables=variables,
                validate=False,
            )
            return
        lasted = rng.uniform(0.5, step.seconds)
        failing = replace(
            step, seconds=round(lasted, 1), failure_code=code, error=_error(rng, code, step)
        )
        since = failed + failing.seconds
        state.add_run(
            wf,
            run_id,
            earlier_steps=_done(done),
            created_at=now - timedelta(seconds=round(since, 3)),
            started_at=now - timedelta(seconds=round(since + sum(s.seconds for s in done) + 2, 3)),
            steps=(failing,),
            variables=variables,
            validate=False,
        )
