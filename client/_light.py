"""The parts of the client's model that need no pydantic, so a listing can be read without it.

Re-exported by :mod:`client.models`, their documented home.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Task


class FieldType(enum.StrEnum):
    """The editor an operator gets for a payload value."""

    STRING = "string"
    TEXT = "text"  # multi-line string, e.g. an email body
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"
    JSON = "json"  # objects, lists, null: edited as JSON text


def loose_time(value: str) -> datetime | None:
    """An ISO timestamp, UTC if it names no zone; ``None`` if unreadable.

    An unparseable timestamp must not hide the task; the raw JSON still shows it.
    """
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class UnreadableTask:
    """An entry of a listing's ``tasks`` array that is not a task (not an object, no ids, …).

    One bad entry must not hide every good one: the listing keeps the readable tasks and reports
    each unreadable entry with its position, the JSON as decoded, and why (a short summary such
    as ``"run_id: Field required"``), for a front end to show.
    """

    index: int
    raw: Any
    reason: str


@dataclass(frozen=True)
class TaskReport:
    """A listing read task by task: the readable tasks, and the entries that were not."""

    tasks: Sequence[Task]
    unreadable: list[UnreadableTask] = field(default_factory=list)


def reject_result(reason: str | None) -> dict[str, Any] | None:
    """A rejection's reason travels as ``result.reason`` (API.md part 2)."""
    return {"reason": reason} if reason else None


# Run ids are shown by their first 8 characters, as the platform's own console does.
SHORT_RUN_ID = 8


def short_run_id(run_id: str) -> str:
    """A run id as the platform's console shows it: its first 8 characters (API.md part 1)."""
    return run_id[:SHORT_RUN_ID]


class WorkflowNames:
    """How a workflow is named on screen, the same for a task and a run. The class using it
    has ``workflow_id`` and ``workflow_name``."""

    __slots__ = ()

    if TYPE_CHECKING:  # declared by the class using it, not here
        workflow_id: str
        workflow_name: str | None

    @property
    def workflow_label(self) -> str:
        return self.workflow_name or self.workflow_id


class TaskNames(WorkflowNames):
    """How a task is named on screen, shared by the listed head and the full model, so both
    always say the same. The class using it has ``id``, ``workflow_id``, ``workflow_name``,
    ``run_id``, ``step_id`` and ``prompt``."""

    __slots__ = ()

    if TYPE_CHECKING:  # declared by the class using it, not here
        id: str
        run_id: str
        step_id: str | None
        prompt: str | None

    def title_from(self, payload_title: Any) -> str:
        """The payload's title when it is text, else the prompt, the step id, the task id."""
        title = payload_title if isinstance(payload_title, str) else None
        return title or self.prompt or self.step_id or self.id

    @property
    def short_run_id(self) -> str:
        """The run id as the platform's console shows it: its first 8 characters."""
        return short_run_id(self.run_id)
