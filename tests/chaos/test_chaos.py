"""500 decisions through injected faults, also across a killed console: each lands exactly once.

Faults (server_stub.faults): 503s, connections dropped before the request is applied, and
dropped *after* it was applied (the answer is lost), plus latency. The outbox and idempotency
keys must turn that into: every task completed once, with the exact body the operator chose,
nothing lost, nothing applied twice, the outbox empty at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from client import Task
from console.outbox import EntryState, Outcome
from console.services import ConsoleServices
from server_stub import FaultInjector, StubServer, StubState, generate_tasks

from ._plan import decide_all, drain, expected_result, fetch_tasks, services_for

N = 500


def _state() -> tuple[StubState, list[Task]]:
    state = StubState()
    generate_tasks(state, N, seed=11)
    return state, [Task.model_validate(t) for t in state.list_pending()]


def _verify(
    state: StubState,
    tasks: list[Task],
    services: ConsoleServices,
    faults: FaultInjector,
    label: str,
) -> None:
    entries = services.outbox.entries(states=list(EntryState))
    assert services.outbox.entries() == [], "the outbox must be empty at the end"
    outcomes = Counter(e.outcome for e in entries)
    per_task = Counter(e.task_key for e in entries)
    wrong = [t.key for t in tasks if state.completion_of(*t.key) != expected_result(t)]
    lost = [t.key for t in tasks if state.completion_of(*t.key) is None]
    duplicates = sum(n - 1 for n in per_task.values()) + outcomes[Outcome.ELSEWHERE]
    report = faults.report()
    injected = {k: v for k, v in report.items() if k != "requests"}
    print(
        f"\n[chaos {label}] decisions={len(per_task)} attempts={sum(e.attempts for e in entries)} "
        f"requests={report['requests']} faults={injected} "
        f"completions={state.completed_count} applied={outcomes[Outcome.APPLIED]} "
        f"probably_ours={outcomes[Outcome.PROBABLY_OURS]} duplicates={duplicates} lost={len(lost)}"
    )
    assert sum(injected.values()) > 50  # faults really happened
    assert not lost and not wrong
    assert state.completed_count == N and state.pending_count == 0
    assert duplicates == 0
    assert len(per_task) == N
    assert set(outcomes) <= {Outcome.APPLIED, Outcome.PROBABLY_OURS}


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """Where the outbox lives: tmpfs when there is one, since every decision is fsynced several
    times and 1,000 of them on a slow disk would dominate the run. Same code, faster medium."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="cc-chaos-") as scratch:
            yield Path(scratch)
    else:
        yield tmp_path


async def test_500_decisions_through_faults(state_dir: Path) -> None:
    state, everything = _state()
    faults = FaultInjector(0.3, latency_ms=1, seed=5)
    with StubServer(state, faults=faults) as server:
        services = services_for(server.url, state_dir)
        tasks = await fetch_tasks(services)
        assert {t.key for t in tasks} == {t.key for t in everything}
        assert await decide_all(services, tasks) == N
        await drain(services)
        faults.fail_rate = 0.0
        _verify(state, tasks, services, faults, "in-process")
        await services.aclose()


def test_500_decisions_with_the_console_killed_halfway(state_dir: Path) -> None:
    state, everything = _state()
    faults = FaultInjector(0.3, latency_ms=1, seed=6)
    root = Path(__file__).resolve().parents[2]
    with StubServer(state, faults=faults) as server:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.child", server.url, str(state_dir)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        deadline = time.monotonic() + 60
        while state.completed_count < N // 2 and time.monotonic() < deadline:
            assert child.poll() is None, "the child console ended before it was killed"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)  # no cleanup, mid-request for all we know
        child.wait(timeout=10)
        halfway = state.completed_count
        assert N // 2 <= halfway < N

        async def restart() -> ConsoleServices:
            restarted = services_for(server.url, state_dir)  # the same outbox file
            await drain(restarted)  # what the killed console left queued
            await decide_all(restarted, await fetch_tasks(restarted))  # what it never reached
            await drain(restarted)
            await restarted.aclose()
            return restarted

        restarted = asyncio.run(restart())
        faults.fail_rate = 0.0
        _verify(state, everything, restarted, faults, f"killed at {halfway}")
