"""What the stub serves: the demo seed, the bulk generators, and the older task shape.

``seed_demo`` adds a dozen hand-written tasks covering every shape the console must handle, and
runs in every Command Center section; ``generate_tasks`` adds any number of realistic tasks,
``generate_runs`` any number of realistic runs, deterministically. All use the workflows in
``workflows``, so every served task can be completed and its run resumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._demo import demo_runs
from ._demo_runs import seed_demo_runs
from ._generator import TaskGenerator
from ._run_generator import RunGenerator
from .state import StubState
from .workflows import RUN_WORKFLOWS, WORKFLOWS

__all__ = [
    "RunGenerator",
    "TaskGenerator",
    "generate_runs",
    "generate_tasks",
    "legacy_shape",
    "seed_demo",
]


def seed_demo(state: StubState) -> None:
    """Add the demo: 12 pending tasks in 11 runs of 6 workflows, aged 4 minutes to 4 days, and
    15 runs (13 of the 4 agent workflows, 2 of the others) in every other Command Center section:
    running, paused, queued, pending, draining, failed, stopped, completed."""
    for workflow in (*WORKFLOWS, *RUN_WORKFLOWS):
        state.add_workflow(workflow)
    now = state.now()
    for run in demo_runs():
        state.add_run(
            run.workflow.workflow_id,
            run.run_id,
            tasks=run.tasks,
            earlier_steps=run.earlier,
            created_at=now - run.age,
        )
    seed_demo_runs(state)


def legacy_shape(task: Mapping[str, Any]) -> dict[str, Any]:
    """The same task as the platform's older published spec names it (API.md part 3).

    ``task_id`` for ``id``, ``context`` for ``task_payload``, the title as a top-level
    ``prompt``, no ``workflow_name``/``step_id``/``status``, a numeric UTC offset and no
    fraction in ``created_at``. The stub serves the canonical shape; this is for client tests.
    """
    context = {k: v for k, v in task.get("task_payload", {}).items() if k != "title"}
    created = datetime.fromisoformat(str(task["created_at"]).replace("Z", "+00:00"))
    legacy: dict[str, Any] = {
        "task_id": task["id"],
        "workflow_id": task["workflow_id"],
        "run_id": task["run_id"],
        "task_type": task.get("task_type"),
        "created_at": created.replace(microsecond=0).isoformat(),
        "context": context,
    }
    title = task.get("task_payload", {}).get("title")
    if title is not None:
        legacy["prompt"] = title
    return legacy


def generate_tasks(state: StubState, n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """Add ``n`` realistic pending tasks; the same seed gives the same tasks."""
    return TaskGenerator(seed).add(state, n)


def generate_runs(
    state: StubState, n: int, seed: int = 0, *, awaiting: float = 0.1
) -> list[tuple[str, str]]:
    """Add ``n`` realistic runs in every status; the same seed gives the same runs.

    ``awaiting`` is the share that waits on a human task (one pending task each).
    Returns the (workflow_id, run_id) of each run.
    """
    return RunGenerator(seed, awaiting=awaiting).add(state, n)
