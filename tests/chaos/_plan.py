"""The decisions a chaos run makes, derived from the task alone so two processes agree."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from client import AsyncCommandCenterClient, RetryPolicy, Task
from console._prefetch import polling_client
from console.audit import AuditLog
from console.decisions import Decision
from console.outbox import EntryState, Outbox
from console.services import ConsoleServices
from console.settings import ConsoleSettings
from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT

# Retries without real waits: the faults are many, the test must stay fast.
FAST_RETRIES = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005)


def planned(task: Task) -> tuple[bool, dict[str, Any] | None]:
    """Approve two in three (with a body naming the task), reject the rest with a reason."""
    n = sum(task.id.encode()) + len(task.run_id)
    if n % 3:
        return True, {"chosen_for": f"{task.run_id}/{task.id}", "n": n}
    return False, {"reason": f"chaos rejects {task.run_id}"}


def expected_result(task: Task) -> dict[str, Any]:
    approved, result = planned(task)
    return {**(result or {}), "approved": approved}


def services_for(url: str, state_dir: Path) -> ConsoleServices:
    settings = ConsoleSettings(
        base_url=url, tenant=DEMO_TENANT, project=DEMO_PROJECT, profile="chaos"
    )
    client = AsyncCommandCenterClient(
        url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, retry_policy=FAST_RETRIES
    )
    client._sleep = _no_wait  # type: ignore[method-assign]
    return ConsoleServices(
        settings,
        client,
        outbox=Outbox(state_dir / "outbox.sqlite3"),
        audit=AuditLog(state_dir / "audit.jsonl"),
        poll_client=polling_client(settings, DEMO_CONTRIBUTOR_TOKEN),
    )


async def _no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


async def fetch_tasks(services: ConsoleServices) -> list[Task]:
    """The inbox, fetched through the faults (the poll itself does not retry)."""
    while True:
        try:
            return await services.client.list_pending_tasks()
        except Exception:
            await asyncio.sleep(0)


async def decide_all(services: ConsoleServices, tasks: list[Task]) -> int:
    """Submit one decision per task not yet in the outbox; returns how many were submitted."""
    known = {e.task_key for e in services.outbox.entries(states=list(EntryState))}
    submitted = 0
    for task in sorted(tasks, key=lambda t: t.key):
        if task.key in known:
            continue
        approved, result = planned(task)
        await services.decide(Decision(task, approved, result))
        submitted += 1
    return submitted


async def drain(services: ConsoleServices, *, rounds: int = 200) -> None:
    for _ in range(rounds):
        queued = services.queued()
        if not queued:
            return
        for entry in queued:
            await services.send(entry)
    raise AssertionError("the outbox did not drain")
