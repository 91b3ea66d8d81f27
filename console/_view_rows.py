"""The rows of one inbox view: an ordered generation of rows, or the positions of some of them.

A filter keystroke on 100,000 tasks picks tens of thousands of rows. Kept as positions in an
``array`` they cost 4 bytes each and nothing at garbage collection (an array holds no object
references; a fresh tuple of rows is walked once, and a list at every collection), and
a row is found by a binary search on its sort key rather than a scan.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from .inbox_model import InboxRow, TaskKey

_KEY_OF = attrgetter("key")

# A sort key: a total order (the task's key breaks ties), so each row has one place.
SortFn = Callable[["InboxRow"], tuple[Any, ...]]


def _no_order(row: InboxRow) -> tuple[Any, ...]:
    return ()  # the empty view's: never asked


def positions(values: Iterable[int] = ()) -> array[int]:
    """An array of row positions (unsigned 32-bit: four billion rows)."""
    return array("I", values)


class ViewRows(Sequence["InboxRow"]):
    """``base`` (rows sorted by ``by``), or its rows at ``at`` (ascending positions)."""

    __slots__ = ("_by", "at", "base")

    def __init__(
        self, base: Sequence[InboxRow] = (), by: SortFn = _no_order, at: array[int] | None = None
    ) -> None:
        self.base = base
        self.at = at
        self._by = by

    def __len__(self) -> int:
        return len(self.base) if self.at is None else len(self.at)

    @overload
    def __getitem__(self, index: int) -> InboxRow: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[InboxRow]: ...
    def __getitem__(self, index: int | slice) -> InboxRow | Sequence[InboxRow]:
        at = self.at
        if at is None:
            return self.base[index]
        if isinstance(index, slice):
            return tuple(map(self.base.__getitem__, at[index]))
        return self.base[at[index]]

    def __iter__(self) -> Iterator[InboxRow]:
        return iter(self.base) if self.at is None else map(self.base.__getitem__, self.at)

    def __contains__(self, value: object) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def position(self, row: InboxRow) -> int:
        """Where ``row`` (this very object) is in ``base``; -1 if it is not there."""
        base = self.base
        where = bisect_left(base, self._by(row), key=self._by)
        return where if where < len(base) and base[where] is row else -1

    def index(self, value: Any, start: int = 0, stop: int = sys.maxsize) -> int:
        """Where ``value`` (a row, by identity) is shown, in O(log n)."""
        try:
            where = self.position(value)
        except (AttributeError, TypeError):  # not a row
            where = -1
        if where >= 0 and self.at is not None:
            i = bisect_left(self.at, where)
            where = i if i < len(self.at) and self.at[i] == where else -1
        if where < 0 or not start <= where < stop:
            raise ValueError("row not shown")
        return where

    def find(self, key: TaskKey, row: InboxRow | None = None) -> int | None:
        """Where the task ``key`` is shown (``row``: its row when last seen); None if it is not.

        By ``row`` in O(log n). By key – a scan, at C speed – only when ``row`` is not of these
        rows' generation: the task changed, so its row is a new object.
        """
        if row is not None and row.key == key:
            try:
                return self.index(row)
            except ValueError:
                if self.position(row) >= 0:
                    return None  # one of these rows, filtered out
        try:
            return list(map(_KEY_OF, self)).index(key)
        except ValueError:
            return None

    def without(self, row: InboxRow, base: Sequence[InboxRow]) -> ViewRows:
        """These rows but ``row``, over ``base``: this base with ``row`` taken out."""
        at = self.at
        if at is None:
            return ViewRows(base, self._by)
        gone = self.position(row)
        if gone < 0:
            return ViewRows(base, self._by, at)
        i = bisect_left(at, gone)
        kept = at[:i]
        kept.extend(p - 1 for p in at[i + (i < len(at) and at[i] == gone) :])
        return ViewRows(base, self._by, kept)
