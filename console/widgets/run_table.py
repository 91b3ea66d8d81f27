"""The runs sections' table: the inbox's virtual table with a run's columns.

Status in words and symbols, age, workflow, run ID (8 characters), the last change and the
failure code with its meaning from the platform's docs. A command on its way shows on the row
(``⟳ pausing…``) until the runs feed shows its outcome.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from textual.message import Message

from ..inbox_model import format_age
from ..run_commands import status_look
from ..runs_model import RunKey, RunRow
from .task_table import Column, TaskTable, _cells, _strip

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from textual.strip import Strip

    from .task_table import _LinePass


@functools.lru_cache(maxsize=8)
def run_columns(width: int) -> tuple[Column, ...]:
    wide = width >= 96
    status = Column("Status", 12 if wide else 11)
    age = Column("Age", 4)
    workflow = Column("Workflow", max(10, min(30, (width - 50) // 3)))
    run = Column("Run", 8)
    changed = Column("Changed", 7)
    fixed = [status, age, workflow, run, changed]
    failure = Column("Failure", max(8, width - sum(c.width for c in fixed) - len(fixed)))
    return (*fixed, failure)


class RunTable(TaskTable):
    """Rows of runs with the key-tracking cursor of :class:`TaskTable`."""

    AGE_COLUMN = 1

    class RunSelected(Message):
        """Enter (or a click on the selected row) on a run."""

        def __init__(self, key: RunKey) -> None:
            super().__init__()
            self.key = key

    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        command_of: Callable[[RunKey], str | None],
        failure_text: Callable[[str | None], str],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, empty_text="No runs in this section.")
        self._now = now
        self._command_of = command_of
        self._failure_text = failure_text

    def columns_for(self, width: int) -> tuple[Column, ...]:
        return run_columns(width)

    def looks_of(self, row: Any) -> tuple[Any, ...]:
        assert isinstance(row, RunRow)
        now = self._now()
        run = row.run
        started = format_age(now - run.started_at) if run.started_at else "?"
        changed = format_age(now - run.updated_at) if run.updated_at else "–"
        return (started, changed, self._command_of(row.key), run.status)

    def row_strip(self, row: Any, looks: tuple[Any, ...], cursor: bool, line: _LinePass) -> Strip:
        assert isinstance(row, RunRow)
        started, changed, command, _ = looks
        run = row.run
        symbol, word = status_look(run.status)
        status = command or f"{symbol} {word}"
        style = line.base
        if command is not None:
            style = line.sending
        elif run.state.value in ("failed", "draining"):
            style = line.stalled
        if cursor:
            style = style + line.cursor
        values = [
            status,
            started,
            run.workflow_label,
            run.short_id,
            changed,
            self._failure_text(run.failure_code) if run.failure_code else (run.error or ""),
        ]
        return _strip(_cells(line.columns, values), line.width, style)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RunSelected(key))  # type: ignore[arg-type]
