"""Task references typed on the command line, and the pending task each one names.

A task id is unique only within its run (API.md part 1), so a reference may carry its run and
workflow: ``TASK``, ``RUN/TASK`` or ``WORKFLOW/RUN/TASK``, where RUN may be any prefix of the run
id that is unique for that task (``run_7f3a/approve-review``, as the inbox shows run ids).

Resolution tries the readings from the most to the least exact and the first one that matches
anything decides:

1. ``WORKFLOW/RUN/TASK`` equal to a task's full address;
2. ``TASK`` equal to a task id;
3. ``RUN/TASK`` with the exact run id;
4. ``RUN/TASK`` or ``WORKFLOW/RUN/TASK`` with RUN a prefix of the run id.

One match is the answer; several raise :class:`AmbiguousRef`. Nothing matched: a well-formed
``WORKFLOW/RUN/TASK`` becomes a :class:`FullRef`, to be sent as given (the server then says
whether it was already completed); anything else raises :class:`UnknownRef`. The task id is
matched as a suffix rather than by splitting on ``/``, so ids that contain a slash still resolve.

Pure Python: no click, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from client.models import Task

from .safe_text import clean

__all__ = [
    "AmbiguousRef",
    "FullRef",
    "RefError",
    "TaskKey",
    "UnknownRef",
    "candidate_lines",
    "key_text",
    "resolve_ref",
    "short_refs",
]

TaskKey = tuple[str, str, str]  # (workflow_id, run_id, task_id)

# Run ids are shown by their first 8 characters, as the platform's own console does.
SHORT_RUN = 8
# Candidates listed in one message; the rest are counted.
MAX_LISTED = 15


@dataclass(frozen=True)
class FullRef:
    """A complete address that is not in the inbox: sent as given, never type-checked."""

    workflow_id: str
    run_id: str
    task_id: str

    @property
    def key(self) -> TaskKey:
        return (self.workflow_id, self.run_id, self.task_id)

    def __str__(self) -> str:
        return key_text(self.key)


def key_text(key: TaskKey) -> str:
    """``workflow/run/task``, cleaned: ids come from the server or the command line."""
    return clean("/".join(key), multiline=False)


def candidate_lines(tasks: Sequence[Task], limit: int = MAX_LISTED) -> str:
    """One ``workflow_id/run_id/task_id  title`` line per task, indented, at most ``limit``."""
    lines = [
        f"  {key_text(task.key)}  {clean(task.title, max_len=60, multiline=False)}"
        for task in tasks[:limit]
    ]
    if len(tasks) > limit:
        lines.append(f"  … and {len(tasks) - limit} more")
    return "\n".join(lines)


class RefError(ValueError):
    """A reference that names no single task; the message is ready to show."""

    def __init__(self, ref: str, message: str, candidates: Sequence[Task] = ()) -> None:
        super().__init__(message)
        self.ref = ref
        self.message = message
        self.candidates: list[Task] = list(candidates)


class UnknownRef(RefError):
    """No pending task matches; ``candidates`` are tasks with a similar id, if any."""


class AmbiguousRef(RefError):
    """Several pending tasks match; ``candidates`` are all of them."""


# How a reference matched a task, most exact first.
_FULL, _TASK_ID, _RUN_EXACT, _RUN_PREFIX = range(4)


def _match(ref: str, task: Task) -> int | None:
    """How exactly ``ref`` names ``task`` (lower is more exact), or ``None`` if it does not."""
    if ref == "/".join(task.key):
        return _FULL
    if ref == task.id:
        return _TASK_ID
    suffix = "/" + task.id
    if not ref.endswith(suffix):
        return None
    head = ref[: -len(suffix)]
    runs = [head]
    workflow = task.workflow_id + "/"
    if head.startswith(workflow):
        runs.append(head[len(workflow) :])
    if task.run_id in runs:
        return _RUN_EXACT
    if any(run and task.run_id.startswith(run) for run in runs):
        return _RUN_PREFIX
    return None


def _unique(tasks: Iterable[Task]) -> list[Task]:
    """Tasks with duplicate addresses dropped (a server listing one twice is not an ambiguity)."""
    seen: dict[TaskKey, Task] = {}
    for task in tasks:
        seen.setdefault(task.key, task)
    return list(seen.values())


def resolve_ref(ref: str, tasks: Sequence[Task]) -> Task | FullRef:
    """The pending task ``ref`` names, or a :class:`FullRef` for a full address not pending.

    Raises :class:`AmbiguousRef` or :class:`UnknownRef`; see the module docstring for the rules.
    """
    text = ref.strip()
    shown = clean(text, max_len=120, multiline=False)
    if not text:
        raise UnknownRef(ref, "The task reference is empty. " + _HOW_TO_NAME)
    by_strength: dict[int, list[Task]] = defaultdict(list)
    for task in _unique(tasks):
        strength = _match(text, task)
        if strength is not None:
            by_strength[strength].append(task)
    if by_strength:
        matches = by_strength[min(by_strength)]
        if len(matches) == 1:
            return matches[0]
        raise AmbiguousRef(
            ref,
            f"{shown!r} matches {len(matches)} pending tasks; name one as RUN/TASK or "
            f"WORKFLOW/RUN/TASK:\n{candidate_lines(matches)}",
            matches,
        )
    parts = text.split("/")
    if len(parts) == 3 and all(part.strip() == part and part for part in parts):
        return FullRef(*parts)
    last = text.rsplit("/", 1)[-1].casefold()
    near = [task for task in _unique(tasks) if last and last in task.id.casefold()]
    message = f"No pending task matches {shown!r}."
    if near:
        message += f" Similar pending tasks:\n{candidate_lines(near)}\n"
    else:
        message += " "
    message += "`command-center tasks list` shows what is pending."
    raise UnknownRef(ref, message, near)


_HOW_TO_NAME = (
    "Name a task as TASK, RUN/TASK or WORKFLOW/RUN/TASK (RUN may be a unique prefix); "
    "`command-center tasks list` shows them."
)


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def short_refs(tasks: Sequence[Task]) -> dict[TaskKey, str]:
    """For each task the shortest ``RUN/TASK`` naming it alone (RUN at least 8 characters, raw).

    ``resolve_ref(short_refs(tasks)[task.key], tasks)`` is ``task``: a run prefix is lengthened
    until no other task with the same id shares it; where no prefix can (the same run id in two
    workflows, or a reference that is itself some task's id) the full address is used.
    Sorting each id's run ids makes this O(n log n), so a 100,000-task inbox is no burden.
    """
    unique = _unique(tasks)
    ids = {task.id for task in unique}
    groups: dict[str, list[Task]] = defaultdict(list)
    for task in unique:
        groups[task.id].append(task)
    refs: dict[TaskKey, str] = {}
    for task_id, group in groups.items():
        group.sort(key=lambda t: t.run_id)
        runs = [t.run_id for t in group]
        for index, task in enumerate(group):
            run = runs[index]
            before = _common_prefix(run, runs[index - 1]) if index > 0 else 0
            after = _common_prefix(run, runs[index + 1]) if index + 1 < len(runs) else 0
            twin = (index > 0 and runs[index - 1] == run) or (
                index + 1 < len(runs) and runs[index + 1] == run
            )
            prefix = run[: max(SHORT_RUN, before + 1, after + 1)]
            ref = f"{prefix}/{task_id}"
            if twin or not prefix or ref in ids:
                ref = "/".join(task.key)
            elif "/" in task_id or "/" in prefix or ref != ref.strip():
                # Slashes in ids make other readings possible: check this rare case in full.
                try:
                    if resolve_ref(ref, unique) is not task:
                        ref = "/".join(task.key)
                except RefError:
                    ref = "/".join(task.key)
            refs[task.key] = ref
    return refs
