"""One decision for many marked tasks: what a batch holds, and what became of it.

A batch is never a request of its own: each task gets its own decision, recorded in the outbox
with its own idempotency key and sent on its own (exactly once each), so a batch fails and
succeeds task by task. This module says which marked tasks a batch takes, which it leaves out
and why, and counts the outcomes for the summary; the app records and sends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .safe_text import clean

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from .decisions import Settlement
    from .inbox_model import InboxRow, TaskKey

# A batch sends this many decisions at a time: a marked thousand must not be a thousand
# requests at once.
SEND_AT_ONCE = 4


@dataclass(frozen=True)
class BatchPlan:
    """The marked tasks one ``a`` or ``x`` decides, oldest first, and those it leaves out."""

    approved: bool
    rows: tuple[InboxRow, ...]
    left_out: tuple[tuple[InboxRow, str], ...] = ()

    @property
    def verb(self) -> str:
        return "approve" if self.approved else "reject"

    def by_workflow(self) -> list[tuple[str, int]]:
        """(workflow label, count), most first: what the confirmation lists."""
        counts = Counter(row.task.workflow_label for row in self.rows)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold()))

    def titles(self, count: int) -> list[str]:
        return [row.task.title for row in self.rows[:count]]

    def left_out_lines(self, limit: int = 4) -> list[str]:
        """Why marked tasks stay out of this batch, grouped by reason."""
        reasons = Counter(reason for _, reason in self.left_out)
        lines = [f"{n} {'task' if n == 1 else 'tasks'} {reason}" for n, reason in reasons.items()]
        if len(lines) > limit:
            lines = [*lines[:limit], f"… and {len(lines) - limit} more reasons"]
        return lines


def plan_batch(
    rows: Sequence[InboxRow],
    *,
    approved: bool,
    blocker: Callable[[TaskKey], str | None],
    suspects: Collection[TaskKey],
    drafts: Collection[TaskKey],
) -> BatchPlan:
    """Split marked ``rows`` into those a batch decides and those it must leave out.

    ``blocker`` says why no new decision may be made on a task now (an unreadable entry, a
    decision already on its way), as for a single task; it is asked only about ``suspects``,
    the few tasks it could refuse, so 10,000 marks are split at once. An approval also leaves
    out a task with a kept draft (in ``drafts``): whether its edits go with it is the
    operator's call, one task at a time.
    """
    check = set(suspects) | (set(drafts) if approved else set())
    if not check:
        return BatchPlan(approved, tuple(rows))
    taken: list[InboxRow] = []
    left: list[tuple[InboxRow, str]] = []
    for row in rows:
        key = row.key
        reason = blocker(key) if key in check else None
        if reason is None and approved and key in drafts:
            reason = "with a kept draft (open each to approve with or without its edits)"
        if reason is None:
            taken.append(row)
        else:
            left.append((row, reason))
    return BatchPlan(approved, tuple(taken), tuple(left))


@dataclass
class BatchTally:
    """Outcomes of a batch as they arrive; the status line shows the progress."""

    total: int
    applied: int = 0
    elsewhere: int = 0  # completed by someone else, or already
    queued: int = 0  # not confirmed: kept in the outbox and sent again with the same key
    failed: int = 0
    undone: int = 0
    not_recorded: int = 0
    first_failure: str | None = None

    @property
    def settled(self) -> int:
        return self.applied + self.elsewhere + self.queued + self.failed + self.undone

    @property
    def done(self) -> bool:
        return self.settled + self.not_recorded >= self.total

    def add(self, settlement: Settlement) -> None:
        how = settlement.how
        if how.applied:
            self.applied += 1
        elif how.task_done:
            self.elsewhere += 1
        elif settlement.queued:
            self.queued += 1
        else:
            self.failed += 1
            if self.first_failure is None:
                title = clean(settlement.entry.title, max_len=40, multiline=False)
                self.first_failure = f"{title}: {settlement.message}"

    def failed_to_send(self, title: str, reason: str) -> None:
        """The attempt could not even be made (the outbox refused to record its outcome)."""
        self.failed += 1
        if self.first_failure is None:
            self.first_failure = f"{clean(title, max_len=40, multiline=False)}: {reason}"

    def progress(self) -> str:
        return f"⟳ batch {self.settled:,}/{self.total:,}"

    def summary(self) -> str:
        """``10 applied · 1 completed elsewhere · 1 failed`` – only the counts that happened."""
        parts = [
            (self.applied, "applied"),
            (self.elsewhere, "completed elsewhere"),
            (self.queued, "queued (sent again with the same key)"),
            (self.failed, "failed"),
            (self.undone, "undone"),
            (self.not_recorded, "not recorded, not sent"),
        ]
        return " · ".join(f"{n:,} {what}" for n, what in parts if n) or "nothing sent"
