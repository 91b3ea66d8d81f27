"""Tasks → the rows the inbox shows: filtered, sorted, restricted, diffed between refreshes.

Plain Python with no Textual import, so the inbox's logic is tested fast and alone. The table widget
asks this model what to show; a refresh yields a :class:`RowDiff` so only changed rows are touched.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from client.models import Task

TaskKey = tuple[str, str, str]  # (workflow_id, run_id, task_id): ids are unique only per run


class SortKey(enum.StrEnum):
    AGE = "age"
    WORKFLOW = "workflow"
    TYPE = "type"

    def next(self) -> SortKey:
        members = list(SortKey)
        return members[(members.index(self) + 1) % len(members)]


def format_age(delta: timedelta | None) -> str:
    """Compact age the way operators read it: ``45s``, ``4m``, ``2h``, ``3d``; ``?`` if unknown."""
    if delta is None:
        return "?"
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "0s"  # a clock slightly ahead of ours: not a task from the future
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _fingerprint(task: Task) -> int:
    return hash(repr(task.raw))


@dataclass(frozen=True)
class InboxRow:
    """One task as the inbox sees it, with the lower-cased text the filter searches."""

    key: TaskKey
    task: Task
    search_text: str
    fingerprint: int

    @classmethod
    def of(cls, task: Task) -> InboxRow:
        parts = (
            task.workflow_name or "",
            task.workflow_id,
            task.run_id,
            task.task_type or "",
            task.title,
            task.step_id or "",
            task.id,
        )
        return cls(task.key, task, "\n".join(parts).casefold(), _fingerprint(task))


@dataclass(frozen=True)
class RowDiff:
    added: list[TaskKey] = field(default_factory=list)
    removed: list[TaskKey] = field(default_factory=list)
    changed: list[TaskKey] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class WorkflowCount:
    workflow_id: str
    label: str
    count: int


class InboxModel:
    """The inbox's state between refreshes; the view is recomputed only when an input changes."""

    def __init__(
        self,
        *,
        stalled_after: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.stalled_after = stalled_after
        self.clock = clock
        self._rows: dict[TaskKey, InboxRow] = {}
        self._filter = ""
        self._sort = SortKey.AGE
        self._workflow: str | None = None
        self._view: list[InboxRow] | None = None

    # -- inputs -----------------------------------------------------------------------------

    def apply(self, tasks: Iterable[Task]) -> RowDiff:
        """Replace the inbox with a fresh listing; report what changed."""
        fresh: dict[TaskKey, InboxRow] = {}
        added: list[TaskKey] = []
        changed: list[TaskKey] = []
        for task in tasks:
            old = self._rows.get(task.key)
            fingerprint = _fingerprint(task)
            if old is not None and old.fingerprint == fingerprint:
                fresh[task.key] = old
                continue
            fresh[task.key] = InboxRow.of(task)
            (changed if old is not None else added).append(task.key)
        removed = [key for key in self._rows if key not in fresh]
        diff = RowDiff(added, removed, changed)
        self._rows = fresh
        if diff:
            self._view = None
        return diff

    def remove(self, key: TaskKey) -> bool:
        """Drop a task the server confirmed completed, without waiting for the next refresh."""
        if self._rows.pop(key, None) is None:
            return False
        self._view = None
        return True

    @property
    def filter_text(self) -> str:
        return self._filter

    @filter_text.setter
    def filter_text(self, text: str) -> None:
        if text != self._filter:
            self._filter = text
            self._view = None

    @property
    def sort_key(self) -> SortKey:
        return self._sort

    @sort_key.setter
    def sort_key(self, key: SortKey) -> None:
        if key is not self._sort:
            self._sort = key
            self._view = None

    @property
    def workflow(self) -> str | None:
        """The workflow id the inbox is restricted to, if any."""
        return self._workflow

    @workflow.setter
    def workflow(self, workflow_id: str | None) -> None:
        if workflow_id != self._workflow:
            self._workflow = workflow_id
            self._view = None

    # -- outputs ----------------------------------------------------------------------------

    def get(self, key: TaskKey) -> Task | None:
        row = self._rows.get(key)
        return row.task if row else None

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    @property
    def total(self) -> int:
        return len(self._rows)

    def rows(self) -> list[InboxRow]:
        """The rows to show, in order: restricted, filtered, sorted."""
        if self._view is None:
            self._view = self._compute()
        return self._view

    @property
    def shown(self) -> int:
        return len(self.rows())

    def _compute(self) -> list[InboxRow]:
        rows: Sequence[InboxRow] = list(self._rows.values())
        if self._workflow is not None:
            rows = [r for r in rows if r.task.workflow_id == self._workflow]
        terms = self._filter.casefold().split()
        if terms:
            rows = [r for r in rows if all(term in r.search_text for term in terms)]
        return sorted(rows, key=self._sort_key_function())

    def _sort_key_function(self) -> Callable[[InboxRow], tuple[object, ...]]:
        far_future = datetime.max.replace(tzinfo=UTC)

        def created(row: InboxRow) -> datetime:
            return row.task.created_at or far_future

        if self._sort is SortKey.WORKFLOW:
            return lambda r: (r.task.workflow_label.casefold(), created(r), r.key)
        if self._sort is SortKey.TYPE:
            return lambda r: ((r.task.task_type or "").casefold(), created(r), r.key)
        return lambda r: (created(r), r.key)  # oldest first: stalled approvals cost money

    def workflows(self) -> list[WorkflowCount]:
        """Workflows with pending tasks, by label, for the restrict-by-workflow keys."""
        labels: dict[str, str] = {}
        counts: Counter[str] = Counter()
        for row in self._rows.values():
            labels.setdefault(row.task.workflow_id, row.task.workflow_label)
            counts[row.task.workflow_id] += 1
        items = [WorkflowCount(wid, labels[wid], n) for wid, n in counts.items()]
        return sorted(items, key=lambda w: (w.label.casefold(), w.workflow_id))

    def age(self, task: Task) -> timedelta | None:
        return self.clock() - task.created_at if task.created_at else None

    def is_stalled(self, task: Task) -> bool:
        age = self.age(task)
        return age is not None and age >= self.stalled_after

    def stalled_count(self) -> int:
        return sum(1 for row in self._rows.values() if self.is_stalled(row.task))
