"""Tasks → the rows the inbox shows: filtered, sorted, restricted, diffed between refreshes.

Plain Python with no Textual import, so the inbox's logic is tested fast and alone. The table widget
asks this model what to show; a refresh yields a :class:`RowDiff` so only changed rows are touched.
"""

from __future__ import annotations

import bisect
import enum
import functools
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import compress, filterfalse
from operator import attrgetter, not_
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeVar

import msgspec

from client import ListedTask

from ._view_rows import ViewRows, positions
from .filter_query import Kind, Query, Term, parse, word_hits

if TYPE_CHECKING:
    from client import Task

TaskKey = tuple[str, str, str]  # (workflow_id, run_id, task_id): ids are unique only per run


class SortKey(enum.StrEnum):
    AGE = "age"  # oldest first: stalled approvals cost money
    NEWEST = "newest"
    WORKFLOW = "workflow"
    TYPE = "type"

    def next(self) -> SortKey:
        members = list(SortKey)
        return members[(members.index(self) + 1) % len(members)]


def format_age(delta: timedelta | None) -> str:
    """Compact age that tells the first hours apart: ``45s``, ``4m``, ``1h05``, ``12h``, ``3d``.

    At most four cells, the inbox's age column: under 10 h the minutes follow the hours
    (``1h05`` reads "1 h 05 min"), as 60 and 119 minutes must not both read ``1h``; from 10 h on
    whole hours, from a day on whole days. ``?`` if unknown.
    """
    if delta is None:
        return "?"
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "0s"  # a clock slightly ahead of ours: not a task from the future
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 10 * 3600:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours}h{minutes:02d}"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


class InboxRow(msgspec.Struct, gc=False, eq=False):
    """One task as the inbox sees it, with the lower-cased text the filter searches.

    Compared by identity: a row object is reused across refreshes while its task is unchanged.
    A struct the garbage collector does not track (it holds no cycles), as 100,000 are kept:
    a collection then never walks them. The filter searches the names shown and the
    payload's title, description and field values; that text is made on first use
    (:meth:`InboxModel.index_search` makes it ahead, in a thread, after each refresh).
    """

    key: TaskKey
    task: ListedTask
    created: float  # POSIX seconds; +inf when unknown, so such tasks sort last
    _search: str | None = None

    @classmethod
    def of(cls, task: ListedTask, key: TaskKey | None = None) -> InboxRow:
        created = task.created_stamp  # the task's own float: one object for both
        return cls(key or task.key, task, created if created is not None else math.inf)

    @property
    def search_text(self) -> str:
        text = self._search
        if text is None:
            task = self.task
            parts = [
                task.workflow_name or "",
                task.workflow_id,
                task.run_id,
                task.task_type or "",
                task.title,
                task.step_id or "",
                task.id,
                *task.payload_texts(),
            ]
            # Once each: a task id is often its step id, the payload's title the task's.
            text = self._search = "\n".join(dict.fromkeys(parts)).casefold()
        return text


# Orders, views and their search texts are tuples, never lists: a tuple of untracked rows or
# strings is dropped from the garbage collector's lists at its first collection, where a list
# of 100,000 rows would be walked by every collection that reaches it (docs/performance.md).
Rows = tuple[InboxRow, ...]
Texts = tuple[str, ...]


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


_query = functools.lru_cache(maxsize=64)(parse)  # the same text is parsed several times a key


def _by_age(row: InboxRow) -> tuple[float, TaskKey]:
    return (row.created, row.key)


def _by_newest(row: InboxRow) -> tuple[float, TaskKey]:
    created = row.created
    return (-created if created != math.inf else math.inf, row.key)  # unknown ages still last


def _by_workflow(row: InboxRow) -> tuple[str, float, TaskKey]:
    return (row.task.workflow_label.casefold(), row.created, row.key)


def _by_type(row: InboxRow) -> tuple[str, float, TaskKey]:
    return ((row.task.task_type or "").casefold(), row.created, row.key)


_TASK_OF = attrgetter("task")
_KEY_OF = attrgetter("key")
_T = TypeVar("_T")

_ORDER: dict[SortKey, Callable[[InboxRow], tuple[object, ...]]] = {
    SortKey.AGE: _by_age,
    SortKey.NEWEST: _by_newest,
    SortKey.WORKFLOW: _by_workflow,
    SortKey.TYPE: _by_type,
}
# Up to one new row in this many, a refresh inserts the new rows into the last order rather
# than sorting everything again.
_INSERT_BELOW = 16


def _reordered(
    last: Rows | None,
    gone: set[InboxRow],
    new_rows: list[InboxRow],
    order: SortKey,
    rows: dict[TaskKey, InboxRow],
) -> Rows:
    """The rows in ``order``: the last order without the rows gone, with the new ones put in."""
    by = _ORDER[order]
    if last is None or len(new_rows) * _INSERT_BELOW > len(rows):
        return tuple(sorted(rows.values(), key=by))
    result = list(filterfalse(gone.__contains__, last))  # rows hash by identity
    for row in sorted(new_rows, key=by):
        bisect.insort(result, row, key=by)
    return tuple(result)


def _cut(items: tuple[_T, ...], at: int) -> tuple[_T, ...]:
    """``items`` without the one at ``at`` (found by a binary search; -1: not there)."""
    return items[:at] + items[at + 1 :] if at >= 0 else items


@functools.lru_cache(maxsize=4096)
def _folded(name: str) -> str:
    """A name as the filter compares it; names repeat across rows, each folded once."""
    return name.casefold()


def _search_texts(rows: Iterable[InboxRow]) -> Texts:
    return tuple([row._search or row.search_text for row in rows])


# Rows scanned between checks for a newer keystroke.
_CHUNK = 8192
# A sort visits each row about this many times more than a filter scan does.
_SORT_COST = 8
# Making a row's search text (its payload read) costs about this many scans of it.
_TEXT_COST = 20
_RECENT_VIEWS = 16


@dataclass(frozen=True, eq=False)
class Prepared:
    """A refresh worked out off the UI thread; :meth:`InboxModel.commit` swaps it in at once."""

    base: Mapping[TaskKey, InboxRow]  # the rows it was compared with
    rows: dict[TaskKey, InboxRow]
    diff: RowDiff
    ordered: dict[SortKey, Rows]


class ViewRequest(NamedTuple):
    """What the operator asked to see."""

    text: str  # the filter as typed
    sort: SortKey
    workflow: str | None


@dataclass(frozen=True, eq=False)
class View:
    """The rows shown for one request, over one generation of rows.

    ``stamp`` holds what else the rows depend on – the marks, the new flags, the minute – for
    a query whose terms read them; a view with another stamp is out of date.
    """

    base: Mapping[TaskKey, InboxRow]
    request: ViewRequest
    query: Query
    rows: ViewRows
    stamp: tuple[int, ...] = ()


class InboxModel:
    """The inbox's state between refreshes.

    Built for 100,000 tasks: rows are kept pre-sorted per sort key, a filter keystroke scans the
    previous keystroke's matches when it can only narrow them, a refresh is compared and sorted
    by :meth:`prepare` (safe in a worker thread), and the row dict is never changed in place, so
    such a thread always reads one consistent generation.
    """

    def __init__(
        self,
        *,
        stalled_after: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.stalled_after = stalled_after
        self.clock = clock
        self._rows: dict[TaskKey, InboxRow] = {}
        # Per sort: an ordered list of rows and their search texts (see view_for).
        self._texts: dict[SortKey, tuple[Rows, Texts]] = {}
        self._ordered: dict[SortKey, Rows] = {SortKey.AGE: ()}
        self._filter = ""
        self._sort = SortKey.AGE
        self._workflow: str | None = None
        self._view: View | None = None
        # The last few views of this generation of rows, oldest first: backspace is instant.
        self._recent: dict[tuple[Query, SortKey, str | None], View] = {}
        self._workflows: list[WorkflowCount] | None = None
        # stalled_shown() of a filtered view: (view, cutoff, count), until either changes.
        self._stalled_shown: tuple[View, float, int] | None = None
        # Marked tasks (space, *): they survive refreshes while their task is pending. The
        # versions tell views that read marks or new flags when to look again.
        self._marks: set[TaskKey] = set()
        self._marks_version = 0
        # Titles of marked tasks that left the inbox in a refresh, for the screen to say.
        self.marks_left: list[str] = []
        # Tasks that arrived after the first listing and that the cursor has not been on.
        self._new: set[TaskKey] = set()
        self._new_version = 0
        self._loaded = False

    # -- refresh --------------------------------------------------------------------------------

    def prepare(self, tasks: Iterable[ListedTask]) -> Prepared:
        """Compare a fresh listing with the current rows; reads the model, changes nothing.

        The client hands back the very objects of the last listing for tasks whose JSON did not
        change, so those keep their rows, told apart by identity at C speed: only the tasks
        decoded anew are looked at one by one (not 100,000 keys compared on each refresh).
        """
        base = self._rows
        listed = tasks if isinstance(tasks, list | tuple) else list(tasks)
        # Sets of tasks: a ListedTask hashes and compares by identity.
        known = set(map(_TASK_OF, base.values()))
        present = set(listed)
        fresh_tasks = list(filterfalse(known.__contains__, listed))
        gone_mask = map(not_, map(present.__contains__, map(_TASK_OF, base.values())))
        dropped = list(compress(base.values(), gone_mask))
        if not fresh_tasks and not dropped:
            return Prepared(base, base, RowDiff(), {})
        rows = dict(base)
        for row in dropped:
            del rows[row.key]
        added: list[TaskKey] = []
        changed: list[TaskKey] = []
        new_rows: list[InboxRow] = []
        for task in fresh_tasks:
            key = task.key
            old = base.get(key)
            if old is not None and old.task.same_json(task):
                rows[key] = old  # decoded again (a stand-in, say), but the same task
                continue
            row = rows[key] = InboxRow.of(task, key)
            new_rows.append(row)
            (changed if old is not None else added).append(key)
        removed = [row.key for row in dropped if row.key not in rows]
        diff = RowDiff(added, removed, changed)
        ordered: dict[SortKey, Rows] = {}
        if diff:
            gone = {base[key] for key in (*removed, *changed)}
            for order in {SortKey.AGE, self._sort}:
                ordered[order] = _reordered(self._ordered.get(order), gone, new_rows, order, rows)
        return Prepared(base, rows if diff else base, diff, ordered)

    def commit(self, prepared: Prepared) -> RowDiff:
        """Swap in a prepared refresh; tasks removed here meanwhile stay removed.

        Tasks added after the first listing are new; marks and new flags of tasks that left
        go with them (the marked ones' titles kept in :attr:`marks_left`).
        """
        diff = prepared.diff
        first, self._loaded = not self._loaded, True
        if not diff:
            return diff
        rows, ordered = prepared.rows, prepared.ordered
        gone = prepared.base.keys() - self._rows.keys() if prepared.base is not self._rows else ()
        if gone:
            rows = {k: row for k, row in rows.items() if k not in gone}
            ordered = {
                s: tuple([r for r in lst if r.key not in gone]) for s, lst in ordered.items()
            }
        self._rows = rows
        self._ordered = ordered
        self._view = None
        self._workflows = None
        if diff.removed:
            self._forget(diff.removed, prepared.base)
        if diff.added and not first:
            self._new.update(key for key in diff.added if key in rows)
            self._new_version += 1
        return diff

    def _forget(self, keys: Iterable[TaskKey], base: Mapping[TaskKey, InboxRow]) -> None:
        """Marks and new flags of tasks no longer pending."""
        left = [key for key in keys if key in self._marks]
        if left:
            self._marks.difference_update(left)
            self._marks_version += 1
            self.marks_left.extend(base[key].task.title for key in left if key in base)
        if not self._new.isdisjoint(keys):
            self._new.difference_update(keys)
            self._new_version += 1

    def apply(self, tasks: Iterable[ListedTask]) -> RowDiff:
        """Replace the inbox with a fresh listing; report what changed."""
        return self.commit(self.prepare(tasks))

    def index_search(self, cancelled: Callable[[], bool] | None = None) -> int:
        """Make the filter's text of every row that lacks it; safe in a worker thread.

        Returns how many were made; stops early once ``cancelled()`` says so.
        """
        rows = self._ordered_rows(self._sort)  # made in the order a scan reads them
        made = 0
        for start in range(0, len(rows), _CHUNK):
            if cancelled is not None and cancelled():
                break
            for row in rows[start : start + _CHUNK]:
                if row._search is None:
                    row.search_text  # noqa: B018  # made and kept by the property
                    made += 1
        ordered = self._ordered.get(self._sort)
        if ordered is not None and not (cancelled is not None and cancelled()):
            self._ordered_texts(self._sort, ordered)  # the first keystroke's scan list
        return made

    def remove(self, key: TaskKey) -> bool:
        """Drop a task the server confirmed completed, without waiting for the next refresh."""
        row = self._rows.get(key)
        if row is None:
            return False
        rows = dict(self._rows)
        del rows[key]
        self._rows = rows
        at = {s: ViewRows(lst, _ORDER[s]).position(row) for s, lst in self._ordered.items()}
        ordered = {s: _cut(lst, at[s]) for s, lst in self._ordered.items()}
        texts: dict[SortKey, tuple[Rows, Texts]] = {}
        for sort, (rows_of, texts_of) in self._texts.items():
            if rows_of is self._ordered.get(sort):  # still current: keep its texts in step
                texts[sort] = (ordered[sort], _cut(texts_of, at[sort]))
        self._ordered, self._texts = ordered, texts
        view = self._view
        if view is not None:
            shown = view.rows.without(row, ordered[view.request.sort])
            self._view = View(rows, view.request, view.query, shown, view.stamp)
        self._workflows = None
        if key in self._marks:  # decided: the mark has done its work, nothing to say
            self._marks.discard(key)
            self._marks_version += 1
        if key in self._new:
            self._new.discard(key)
            self._new_version += 1
        return True

    # -- what to show ---------------------------------------------------------------------------

    @property
    def filter_text(self) -> str:
        return self._filter

    @filter_text.setter
    def filter_text(self, text: str) -> None:
        self._filter = text

    @property
    def sort_key(self) -> SortKey:
        return self._sort

    @sort_key.setter
    def sort_key(self, key: SortKey) -> None:
        self._sort = key

    @property
    def workflow(self) -> str | None:
        """The workflow id the inbox is restricted to, if any."""
        return self._workflow

    @workflow.setter
    def workflow(self, workflow_id: str | None) -> None:
        self._workflow = workflow_id

    def request(
        self,
        text: str | None = None,
        sort: SortKey | None = None,
        workflow: str | Literal[False] | None = False,
    ) -> ViewRequest:
        """The current filter, sort and restriction with the given ones changed."""
        return ViewRequest(
            self._filter if text is None else text,
            self._sort if sort is None else sort,
            self._workflow if workflow is False else workflow,
        )

    @property
    def query(self) -> Query:
        """The filter as the model reads it (with what it could not read)."""
        return _query(self._filter)

    def _stamp(self, query: Query) -> tuple[int, ...]:
        """What rows of ``query`` depend on besides the rows themselves (see :class:`View`)."""
        stamp: list[int] = []
        if query.uses(Kind.MARKED):
            stamp.append(self._marks_version)
        if query.uses(Kind.NEW):
            stamp.append(self._new_version)
        if query.uses_clock:
            stamp.append(int(self._stall_cutoff().timestamp()))  # moves once a minute
        return tuple(stamp)

    def _fits(self, view: View | None) -> bool:
        return (
            view is not None and view.base is self._rows and view.stamp == self._stamp(view.query)
        )

    def _current(self, view: View | None) -> bool:
        return self._fits(view) and view is not None and view.request == self.request()

    def stale(self) -> bool:
        """The shown view no longer fits (the minute moved under an age term, say): the screen
        asks for it again."""
        return self._view is not None and not self._current(self._view)

    def _narrowable(self, request: ViewRequest) -> View | None:
        """The last view, if ``request`` can only narrow it (same rows, sort and workflow)."""
        view = self._view
        if (
            view is not None
            and self._fits(view)
            and view.request.sort is request.sort
            and view.request.workflow == request.workflow
            and _query(request.text).narrows(view.query)
        ):
            return view
        return None

    def view_cost(self, request: ViewRequest) -> int:
        """Roughly how many row visits ``request`` takes: decides whether it is worth a thread."""
        query = _query(request.text)
        if self._recent_view(request, query) is not None:
            return 0
        words = bool(query.words)
        tests = len(query.terms) - len(query.words)
        narrowable = self._narrowable(request)
        if narrowable is not None:
            shown = len(narrowable.rows)
            text_cost = 1 if not words or self._texts_ready(request.sort) else _TEXT_COST
            return shown * (text_cost + tests)
        total = len(self._rows)
        cost = total * _SORT_COST if request.sort not in self._ordered else 0
        if request.workflow is not None:
            cost += total
        if words:
            # Search texts not made yet (the worker is still at it): a payload read per row.
            cost += total if self._texts_ready(request.sort) else total * _TEXT_COST
        return cost + total * tests

    def _recent_view(self, request: ViewRequest, query: Query) -> View | None:
        """A view computed for the same rows and request a few keystrokes ago (backspace)."""
        view = self._recent.get((query, request.sort, request.workflow))
        return view if self._fits(view) else None

    def view_for(
        self, request: ViewRequest, cancelled: Callable[[], bool] | None = None
    ) -> View | None:
        """The rows for ``request``, sorted, restricted and filtered.

        Safe in a worker thread; returns ``None`` as soon as ``cancelled()`` says a newer
        keystroke made the work pointless.
        """
        query = _query(request.text)
        base = self._rows
        stamp = self._stamp(query)
        recent = self._recent_view(request, query)
        if recent is not None:
            return View(base, request, query, recent.rows, stamp)
        last = self._narrowable(request)
        if last is not None and last.query == query:
            return View(base, request, query, last.rows, stamp)
        ordered = self._ordered_rows(request.sort)
        by = _ORDER[request.sort]
        at: array[int] | None = None  # None: every row of ``ordered``
        if last is not None:
            at = last.rows.at
        elif request.workflow is not None:
            workflow = request.workflow
            at = positions(
                compress(range(len(ordered)), [r.task.workflow_id == workflow for r in ordered])
            )
        if not query:
            return View(base, request, query, ViewRows(ordered, by, at), stamp)
        words = query.words
        tests = [self._row_test(t) for t in query.terms if t.kind is not Kind.WORD]
        texts_at = self._texts_at(request.sort, ordered, at) if words else None
        found = positions()
        count = len(ordered) if at is None else len(at)
        for start in range(0, count, _CHUNK):
            if cancelled is not None and cancelled():
                return None
            stop = min(start + _CHUNK, count)
            places = range(start, stop) if at is None else at[start:stop]
            hits: list[bool] | None = None
            if texts_at is not None:
                hits = word_hits(words, texts_at(start, stop))
            if tests:
                chunk = ordered[start:stop] if at is None else [ordered[i] for i in places]
                for test in tests:
                    more = list(map(test, chunk))
                    hits = more if hits is None else list(map(bool.__and__, hits, more))
            assert hits is not None
            found.extend(compress(places, hits))
        return View(base, request, query, ViewRows(ordered, by, found), stamp)

    def _row_test(self, term: Term) -> Callable[[InboxRow], bool]:
        """Whether a row matches one term that is not a free word (those read the texts)."""
        kind, value = term.kind, term.value
        text = str(value)

        def test(row: InboxRow) -> bool:  # one per kind below
            raise AssertionError(kind)

        if kind is Kind.WORKFLOW:

            def test(row: InboxRow) -> bool:
                task = row.task
                return text in _folded(task.workflow_label) or text in _folded(task.workflow_id)

        elif kind is Kind.TYPE:

            def test(row: InboxRow) -> bool:
                return text in _folded(row.task.task_type or "")

        elif kind is Kind.RUN:
            starts = (text, "run_" + text)

            def test(row: InboxRow) -> bool:
                return row.task.run_id.casefold().startswith(starts)

        elif kind is Kind.OLDER or kind is Kind.YOUNGER:
            line = self._minute_now() - float(value)
            older = kind is Kind.OLDER

            def test(row: InboxRow) -> bool:
                return row.created < line if older else line < row.created < math.inf

        elif kind is Kind.STALLED:
            cutoff = self._stall_cutoff().timestamp()

            def test(row: InboxRow) -> bool:
                return row.created <= cutoff

        else:
            keys = self._marks if kind is Kind.MARKED else self._new

            def test(row: InboxRow) -> bool:
                return row.key in keys

        if term.negated:
            positive = test
            return lambda row: not positive(row)
        return test

    def _texts_at(
        self, sort: SortKey, ordered: Rows, at: array[int] | None
    ) -> Callable[[int, int], Sequence[str]]:
        """The search texts of the rows ``at[start:stop]`` (of ``ordered[start:stop]`` with no
        ``at``), read from a list of strings where it is made: a scan then reads strings, not
        an attribute per row (a third of the time at 100,000 rows)."""
        if at is None:
            texts = self._ordered_texts(sort, ordered)
            return lambda start, stop: texts[start:stop]
        if self._texts_ready(sort):
            every = self._texts[sort][1]
            return lambda start, stop: list(map(every.__getitem__, at[start:stop]))
        return lambda start, stop: _search_texts(map(ordered.__getitem__, at[start:stop]))

    def _texts_ready(self, sort: SortKey) -> bool:
        known = self._texts.get(sort)
        return known is not None and known[0] is self._ordered.get(sort)

    def _ordered_texts(self, sort: SortKey, rows: Rows) -> Texts:
        """The search texts of an ordered list of rows, made once per generation of rows."""
        known = self._texts.get(sort)
        if known is not None and known[0] is rows:
            return known[1]
        texts = _search_texts(rows)
        self._texts[sort] = (rows, texts)
        return texts

    def show(self, view: View) -> bool:
        """Adopt a view made by :meth:`view_for` (maybe in a thread) if it still fits the inbox."""
        if view.base is not self._rows:
            return False
        self._filter, self._sort, self._workflow = view.request
        self._view = view
        self._remember(view)
        return True

    def _remember(self, view: View) -> None:
        if any(v.base is not view.base for v in self._recent.values()):
            self._recent.clear()
        key = (view.query, view.request.sort, view.request.workflow)
        self._recent.pop(key, None)
        self._recent[key] = view
        while len(self._recent) > _RECENT_VIEWS:
            del self._recent[next(iter(self._recent))]

    def rows(self) -> ViewRows:
        """The rows to show, in order: restricted, filtered, sorted."""
        if not self._current(self._view):
            view = self.view_for(self.request())
            assert view is not None
            self._view = view
            self._remember(view)
        assert self._view is not None
        return self._view.rows

    def _ordered_rows(self, sort: SortKey) -> Rows:
        rows = self._ordered.get(sort)
        if rows is None:
            rows = tuple(sorted(self._rows.values(), key=_ORDER[sort]))
            self._ordered[sort] = rows
        return rows

    # -- marks and new flags ----------------------------------------------------------------

    @property
    def marks(self) -> frozenset[TaskKey]:
        return frozenset(self._marks)

    def is_marked(self, key: TaskKey) -> bool:
        return key in self._marks

    @property
    def marked_count(self) -> int:
        return len(self._marks)

    def toggle_mark(self, key: TaskKey) -> bool:
        """Mark or unmark a pending task; whether it is marked now."""
        if key in self._marks:
            self._marks.discard(key)
        elif key in self._rows:
            self._marks.add(key)
        else:
            return False
        self._marks_version += 1
        return key in self._marks

    def mark(self, keys: Iterable[TaskKey]) -> int:
        """Mark pending tasks; how many were not marked before."""
        before = len(self._marks)
        pending = set(keys)
        pending.intersection_update(self._rows.keys())  # at C speed: * marks 100,000 at once
        self._marks |= pending
        added = len(self._marks) - before
        if added:
            self._marks_version += 1
        return added

    def clear_marks(self) -> int:
        count = len(self._marks)
        if count:
            self._marks.clear()
            self._marks_version += 1
        return count

    def marked_rows(self) -> list[InboxRow]:
        """The marked tasks in the age order (oldest first), as a batch is sent."""
        by_age = self._ordered_rows(SortKey.AGE)
        return list(compress(by_age, map(self._marks.__contains__, map(_KEY_OF, by_age))))

    def label_of(self, key: TaskKey) -> str | None:
        """The workflow's name (or id) of a pending task, as the inbox shows it."""
        row = self._rows.get(key)
        return row.task.workflow_label if row is not None else None

    def is_new(self, key: TaskKey) -> bool:
        return key in self._new

    @property
    def new_count(self) -> int:
        return len(self._new)

    def seen(self, key: TaskKey) -> bool:
        """The cursor was on a new task: it is not new any more. Whether it was."""
        if key not in self._new:
            return False
        self._new.discard(key)
        self._new_version += 1
        return True

    def new_rows(self) -> list[InboxRow]:
        new = self._new
        return [self._rows[key] for key in new if key in self._rows]

    def next_new(self, after: int) -> int | None:
        """The position in the shown rows of the first new task after ``after`` (wrapping)."""
        rows = self.rows()
        # Each new task's place by binary search: a few new ones among 100,000 rows.
        places = [rows.find(key, self._rows.get(key)) for key in self._new]
        shown = sorted(p for p in places if p is not None)
        if not shown:
            return None
        return shown[bisect.bisect_right(shown, after) % len(shown)]

    # -- outputs ----------------------------------------------------------------------------

    def get(self, key: TaskKey) -> Task | None:
        """The task as the model reads it (built from its JSON the first time it is opened)."""
        row = self._rows.get(key)
        return row.task.full() if row else None

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    @property
    def generation(self) -> Mapping[TaskKey, InboxRow]:
        """The rows of the last refresh: a new object each time any of them changed."""
        return self._rows

    @property
    def total(self) -> int:
        return len(self._rows)

    @property
    def shown(self) -> int:
        return len(self.rows())

    def workflows(self) -> list[WorkflowCount]:
        """Workflows with pending tasks, by label, for the restrict-by-workflow keys."""
        if self._workflows is None:
            labels: dict[str, str] = {}
            counts: Counter[str] = Counter()
            for row in self._rows.values():
                labels.setdefault(row.task.workflow_id, row.task.workflow_label)
                counts[row.task.workflow_id] += 1
            items = [WorkflowCount(wid, labels[wid], n) for wid, n in counts.items()]
            self._workflows = sorted(items, key=lambda w: (w.label.casefold(), w.workflow_id))
        return self._workflows

    def age(self, task: Task | ListedTask) -> timedelta | None:
        return self.clock() - task.created_at if task.created_at else None

    def _minute_now(self) -> float:
        """Now, to the whole minute: what the age terms compare with (see _stall_cutoff)."""
        return self.clock().replace(second=0, microsecond=0).timestamp()

    def _stall_cutoff(self) -> datetime:
        """Tasks created at or before this are stalled.

        Taken to the whole minute: the marks and the count then change at most once a minute,
        not every second as tasks cross the line, which an SSH link would carry as repaints.
        """
        return (self.clock() - self.stalled_after).replace(second=0, microsecond=0)

    def is_stalled(self, task: Task | ListedTask) -> bool:
        return task.created_at is not None and task.created_at <= self._stall_cutoff()

    def stalled_count(self) -> int:
        """Tasks waiting longer than ``stalled_after``: a binary search, run every second."""
        cutoff = self._stall_cutoff().timestamp()
        by_age = self._ordered_rows(SortKey.AGE)
        return bisect.bisect_right(by_age, cutoff, key=lambda row: row.created)

    def stalled_shown(self) -> int:
        """Stalled tasks among the rows shown (filter and workflow applied): the status line's.

        Called every second. Unfiltered it is :meth:`stalled_count`'s binary search; an
        age-sorted view is a binary search too (its rows keep the age order); any other view is
        one pass over its rows, remembered for that view until the cutoff moves (once a minute).
        """
        request = self.request()
        if request.workflow is None and not _query(request.text):
            return self.stalled_count()
        rows = self.rows()
        view = self._view
        assert view is not None
        cutoff = self._stall_cutoff().timestamp()
        cached = self._stalled_shown
        if cached is not None and cached[0] is view and cached[1] == cutoff:
            return cached[2]
        if view.request.sort is SortKey.AGE:
            count = bisect.bisect_right(rows, cutoff, key=lambda row: row.created)
        else:
            count = sum(1 for row in rows if row.created <= cutoff)
        self._stalled_shown = (view, cutoff, count)
        return count
