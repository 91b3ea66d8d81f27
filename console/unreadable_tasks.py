"""Entries of an inbox listing that are not tasks, shown as rows that say so.

One malformed entry must not hide the good tasks (client.UnreadableTask); the inbox gives each
bad entry a row – ``⚠ unreadable task`` – whose raw JSON can be read and on which no action is
possible. The row's task is a stand-in, addressed under a workflow id no platform task has.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from client import Task, UnreadableTask

# The stand-ins' workflow id: ids with a control character are refused by the client, so no
# real task can have it, and no request can ever be built for a stand-in.
UNREADABLE_WORKFLOW = "\x00unreadable"


def stand_in(entry: UnreadableTask) -> Task:
    """A row-shaped Task for an unreadable entry; the same entry gives the same key."""
    from client import Task

    shown = json.dumps(entry.raw, sort_keys=True, ensure_ascii=True, default=repr)
    digest = hashlib.sha1(shown.encode(), usedforsecurity=False).hexdigest()[:12]
    return Task.model_validate(
        {
            "id": f"entry-{entry.index}-{digest}",
            "workflow_id": UNREADABLE_WORKFLOW,
            "workflow_name": "⚠ unreadable task",
            "run_id": f"#{entry.index}",
            "task_type": "?",
            "task_payload": {"title": f"⚠ unreadable task (entry {entry.index}): {entry.reason}"},
        }
    )


def is_stand_in(task: Task) -> bool:
    return task.workflow_id == UNREADABLE_WORKFLOW
