"""The runs feed as the console polls it: light run heads decoded in C, like task listings.

A feed of 10,000 runs is 2.5 MB. Validated as pydantic ``Run`` models it took 2.6 times a task
listing of as many entries (docs/performance.md); decoded by msgspec into :class:`ListedRun`
heads it is read at the tasks' speed. An answer msgspec refuses – the older spec's names
(``run_id``, ``completed_at``), a count that is a list – is read by the tolerant models and
turned into heads, so both documented shapes still work. :class:`RunNames` is the one place
that says what a run's status and names mean, for the head and the model alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from ._light import WorkflowNames, short_run_id
from ._runs import RunStatus, UnreadableRun, failure_meaning, parse_run_listing, run_state

if TYPE_CHECKING:
    from .models import Run

__all__ = ["ListedRun", "RunFeed", "RunNames", "decode_run_feed", "feed_of_listing"]


class RunNames(WorkflowNames):
    """How a run's status and names read, the same for a :class:`ListedRun` and a ``Run``.
    The class using it has ``id``, ``workflow_id``, ``workflow_name``, ``status``,
    ``started_at``, ``updated_at`` and ``failure_code``."""

    __slots__ = ()

    if TYPE_CHECKING:  # declared by the class using it, not here
        id: str
        status: str
        started_at: datetime | None
        updated_at: datetime | None
        failure_code: str | None
        error: str | None
        pending_tasks: int | None

    @property
    def state(self) -> RunStatus:
        return run_state(self.status)

    @property
    def active(self) -> bool:
        return self.state.active

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def short_id(self) -> str:
        """The run id as the platform's console shows it (the tasks' short run ids' rule)."""
        return short_run_id(self.id)

    @property
    def changed_at(self) -> datetime | None:
        """When the run last changed, as far as known: ``updated_at``, else ``started_at``."""
        return self.updated_at or self.started_at

    @property
    def failure_meaning(self) -> str | None:
        return failure_meaning(self.failure_code)

    @property
    def key(self) -> tuple[str, str]:
        """The run's address: (workflow_id, run_id)."""
        return (self.workflow_id, self.id)


class ListedRun(RunNames, msgspec.Struct, gc=False, eq=False):
    """A run of the feed in our contract's shape, typed by msgspec; never tracked by the GC."""

    id: str
    workflow_id: str
    workflow_name: str | None = None
    status: str = ""
    started_at: datetime | None = None
    updated_at: datetime | None = None
    failure_code: str | None = None
    error: str | None = None
    pending_tasks: int | None = None

    @classmethod
    def of(cls, run: Run) -> ListedRun:
        return cls(
            run.id,
            run.workflow_id,
            run.workflow_name,
            run.status,
            run.started_at,
            run.updated_at,
            run.failure_code,
            run.error,
            run.pending_tasks,
        )


class _Feed(msgspec.Struct):
    runs: list[ListedRun]
    total: int | None = None


_FEED = msgspec.json.Decoder(_Feed)


@dataclass(frozen=True)
class RunFeed:
    """One poll of the runs feed: its heads, what was not a run, and what the next poll needs
    (the answer's ETag and body; ``changed`` False: the same answer as last time, unread)."""

    runs: tuple[ListedRun, ...]
    total: int | None = None
    unreadable: tuple[UnreadableRun, ...] = ()
    etag: str | None = None
    body: bytes | None = field(default=None, repr=False)
    changed: bool = True


def decode_run_feed(body: bytes) -> RunFeed | None:
    """The feed's heads, or None when msgspec refuses the answer (read it with
    :func:`feed_of_listing` then: the tolerant models take any documented shape)."""
    try:
        feed = _FEED.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return RunFeed(tuple(feed.runs), feed.total)


def feed_of_listing(data: Any) -> RunFeed:
    """A feed read by the tolerant models (``parse_run_listing``), as heads."""
    listing = parse_run_listing(data)
    return RunFeed(
        tuple(ListedRun.of(run) for run in listing.runs), listing.total, listing.unreadable
    )
