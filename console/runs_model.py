"""Runs → the Command Center's sections: awaiting approval, running now, stopping gracefully,
failed recently – filtered and sorted like the inbox, with the commands on their way.

Plain Python with no Textual import. A run waiting for a human task is told by the task inbox,
never by the run's status alone (API.md 1b: the docs disagree on the status of such a run).
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import compress
from typing import TYPE_CHECKING

import msgspec

from ._view_rows import ViewRows, positions
from .filter_query import Kind, Query, Term, parse, word_hits
from .inbox_model import SortKey

if TYPE_CHECKING:
    from client import RunNames

RunKey = tuple[str, str]  # (workflow_id, run_id)

# Failed and stopped runs stay in "Failed recently" this long after their last change.
FAILED_WINDOW = timedelta(hours=24)
# A command's "⟳ pausing…" mark stays at most this long without the feed confirming it (s).
COMMAND_MARK_SECONDS = 60.0


class Section(enum.IntEnum):
    APPROVAL = 1
    RUNNING = 2
    DRAINING = 3
    FAILED = 4

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    Section.APPROVAL: "Awaiting approval",
    Section.RUNNING: "Running now",
    Section.DRAINING: "Stopping gracefully",
    Section.FAILED: "Failed recently",
}

# A command on its way, as its run's row says it until the feed shows the outcome.
COMMAND_LOOK = {
    "pause": "⟳ pausing…",
    "resume": "⟳ resuming…",
    "stop": "⟳ stopping…",
    "drain": "⟳ draining…",
}
# The status each command's run has once the feed confirms it.
_CONFIRMED_BY = {
    "pause": {"paused", "stopped", "failed", "completed"},
    "resume": {"running", "stopped", "failed", "completed"},
    "stop": {"stopped", "failed", "completed"},
    "drain": {"draining", "stopped", "failed", "completed"},
}


def _stamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else math.inf


class RunRow(msgspec.Struct, gc=False, eq=False):
    """One run as a section shows it, with the text the filter searches."""

    key: RunKey
    run: RunNames
    started: float  # POSIX seconds; +inf when unknown
    changed: float  # the last change (or the start); +inf when unknown
    _search: str | None = None

    @classmethod
    def of(cls, run: RunNames) -> RunRow:
        return cls(run.key, run, _stamp(run.started_at), _stamp(run.changed_at))

    @property
    def search_text(self) -> str:
        text = self._search
        if text is None:
            run = self.run
            parts = [
                run.workflow_name or "",
                run.workflow_id,
                run.id,
                run.status or "",
                run.failure_code or "",
                run.error or "",
            ]
            text = self._search = "\n".join(dict.fromkeys(parts)).casefold()
        return text


def _unknown_last(value: float) -> float:
    return -value if value != math.inf else math.inf


_ORDER: dict[SortKey, Callable[[RunRow], tuple[object, ...]]] = {
    SortKey.AGE: lambda row: (row.started, row.key),
    SortKey.NEWEST: lambda row: (_unknown_last(row.changed), row.key),
    SortKey.WORKFLOW: lambda row: (row.run.workflow_label.casefold(), -row.changed, row.key),
    SortKey.TYPE: lambda row: (row.run.state.value, -row.changed, row.key),
}


@dataclass(frozen=True)
class RunsProblem:
    """Why the runs feed is not shown (an old platform without ``GET /v1/runs``, a 403)."""

    text: str


class RunsModel:
    """The runs of the last feed, by section; commands on their way, by run."""

    def __init__(self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self._rows: dict[RunKey, RunRow] = {}
        self._awaiting: frozenset[RunKey] = frozenset()
        self._sections: dict[Section, tuple[RunRow, ...]] | None = None
        self._views: dict[tuple[Section, str, SortKey], ViewRows] = {}
        # Each section's rows in each sort, and their search texts: a keystroke only scans.
        self._ordered: dict[
            tuple[Section, SortKey], tuple[tuple[RunRow, ...], tuple[str, ...]]
        ] = {}
        self.sort = SortKey.NEWEST  # the runs sections' own sort: latest change first
        self.loaded = False
        self.problem: RunsProblem | None = None
        # run → (command, when sent): the row says "⟳ pausing…" until the feed agrees.
        self.commands: dict[RunKey, tuple[str, float]] = {}

    # -- the feed ----------------------------------------------------------------------------

    def apply(self, runs: Iterable[RunNames]) -> None:
        """The runs of a fresh feed; commands the feed now confirms are settled."""
        rows = {}
        for run in runs:
            row = RunRow.of(run)
            rows[row.key] = row
        self._rows = rows
        self.loaded = True
        self.problem = None
        self._changed()
        now = time.monotonic()
        for key, (command, sent) in list(self.commands.items()):
            row = rows.get(key)
            confirmed = row is not None and row.run.state.value in _CONFIRMED_BY[command]
            if row is None or confirmed or now - sent > COMMAND_MARK_SECONDS:
                del self.commands[key]

    def failed(self, problem: str) -> None:
        self.problem = RunsProblem(problem)

    def set_awaiting(self, keys: Iterable[RunKey]) -> None:
        """The runs with a task in the inbox: they are awaiting approval, whatever their status."""
        awaiting = frozenset(keys)
        if awaiting != self._awaiting:
            self._awaiting = awaiting
            self._changed()

    def _changed(self) -> None:
        self._sections = None
        self._views = {}
        self._ordered = {}

    def is_awaiting(self, key: RunKey) -> bool:
        return key in self._awaiting

    def sent(self, key: RunKey, command: str) -> None:
        self.commands[key] = (command, time.monotonic())

    def settled(self, key: RunKey) -> None:
        self.commands.pop(key, None)

    # -- sections ----------------------------------------------------------------------------

    def section_of(self, row: RunRow, cutoff: float) -> Section | None:
        state = row.run.state.value
        if state == "draining":
            return Section.DRAINING
        if state in ("failed", "stopped"):
            return Section.FAILED if row.changed >= cutoff else None
        if state == "completed":
            return None
        if row.key in self._awaiting:
            return Section.APPROVAL
        return Section.RUNNING  # running, paused, pending, queued, starting – or unknown

    def _by_section(self) -> dict[Section, tuple[RunRow, ...]]:
        if self._sections is None:
            cutoff = (self.clock() - FAILED_WINDOW).timestamp()
            grouped: dict[Section, list[RunRow]] = {section: [] for section in Section}
            for row in self._rows.values():
                section = self.section_of(row, cutoff)
                if section is not None:
                    grouped[section].append(row)
            self._sections = {s: tuple(rows) for s, rows in grouped.items()}
        return self._sections

    def count(self, section: Section) -> int:
        return len(self._by_section()[section])

    @property
    def draining(self) -> int:
        return self.count(Section.DRAINING)

    @property
    def active(self) -> bool:
        """Any run that is not finished: the console then polls at the active rhythm."""
        return any(
            row.run.state.value not in ("failed", "stopped", "completed")
            for row in self._rows.values()
        )

    def rows(self, section: Section, text: str = "") -> ViewRows:
        """The section's runs, sorted by :attr:`sort` and filtered by ``text``."""
        query = parse(text)
        key = (section, text, self.sort)
        view = self._views.get(key)
        if view is None:
            by = _ORDER[self.sort]
            known = self._ordered.get((section, self.sort))
            if known is None:
                rows = tuple(sorted(self._by_section()[section], key=by))
                known = self._ordered[(section, self.sort)] = (rows, ())
            ordered = known[0]
            if not query:
                view = ViewRows(ordered, by)
            elif all(t.kind is Kind.WORD for t in query.terms):
                texts = known[1]
                if len(texts) != len(ordered):  # made on the first filter of this sort
                    texts = tuple([row.search_text for row in ordered])
                    self._ordered[(section, self.sort)] = (ordered, texts)
                hits = word_hits(query.terms, texts)
                view = ViewRows(ordered, by, positions(compress(range(len(ordered)), hits)))
            else:
                now = self.clock().timestamp()
                hits = [_matches(row, query, now) for row in ordered]
                view = ViewRows(ordered, by, positions(compress(range(len(ordered)), hits)))
            if len(self._views) > 32:
                self._views.clear()
            self._views[key] = view
        return view

    def get(self, key: RunKey) -> RunNames | None:
        row = self._rows.get(key)
        return row.run if row is not None else None

    def command_of(self, key: RunKey) -> str | None:
        entry = self.commands.get(key)
        return COMMAND_LOOK[entry[0]] if entry is not None else None


def _term_matches(row: RunRow, term: Term, now: float) -> bool:
    kind, text = term.kind, str(term.value)
    run = row.run
    if kind is Kind.WORD:
        return text in row.search_text
    if kind is Kind.WORKFLOW:
        return text in run.workflow_label.casefold() or text in run.workflow_id.casefold()
    if kind is Kind.RUN:
        return run.id.casefold().startswith((text, "run_" + text))
    if kind is Kind.TYPE:  # a run has no task type: its status or failure code stands in
        return text in (run.status or "").casefold() or text in (run.failure_code or "").casefold()
    if kind is Kind.OLDER:
        return row.started < now - float(term.value)
    if kind is Kind.YOUNGER:
        return now - float(term.value) < row.started < math.inf
    return False  # stalled, new, marked: words about tasks


def _matches(row: RunRow, query: Query, now: float) -> bool:
    return all(_term_matches(row, t, now) is not t.negated for t in query.terms)
