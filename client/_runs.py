"""Runs and their control, the parts that need no pydantic: statuses, failure codes, listings.

The runs feed has no documented shape (API.md parts 1b, 2 and 3b): statuses are read as words,
never trusted to be one of ours, and one entry that is not a run does not hide the others.
Re-exported by :mod:`client.models`; the models themselves (``Run`` …) live there.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from ._logs import logger

if TYPE_CHECKING:
    import httpx

    from .models import Run, RunCommandResult

__all__ = [
    "FAILURE_CODES",
    "RunCommand",
    "RunListing",
    "RunStatus",
    "StopMode",
    "UnreadableRun",
    "command_body",
    "failure_meaning",
    "run_state",
]

RunCommand = Literal["pause", "resume", "stop"]
StopMode = Literal["immediate", "graceful"]
STOP_MODES: Final = ("immediate", "graceful")


class RunStatus(enum.StrEnum):
    """A run's status as the platform's docs name them; UNKNOWN for any other word."""

    RUNNING = "running"
    PAUSED = "paused"  # by an operator (or, by one page of the docs, awaiting a human task)
    PENDING = "pending"
    QUEUED = "queued"
    STARTING = "starting"
    DRAINING = "draining"  # a graceful stop in progress
    FAILED = "failed"
    STOPPED = "stopped"
    COMPLETED = "completed"
    UNKNOWN = "unknown"

    @property
    def active(self) -> bool:
        """Still going (the Command Center's "Running now" and "Stopping gracefully")."""
        return self in _ACTIVE

    @property
    def terminal(self) -> bool:
        """Ended for good: neither stopped nor failed runs resume (start a new run)."""
        return self in _TERMINAL


_ACTIVE: Final = frozenset(
    {
        RunStatus.RUNNING,
        RunStatus.PAUSED,
        RunStatus.PENDING,
        RunStatus.QUEUED,
        RunStatus.STARTING,
        RunStatus.DRAINING,
    }
)
_TERMINAL: Final = frozenset({RunStatus.FAILED, RunStatus.STOPPED, RunStatus.COMPLETED})
# The older published spec's word for a stopped run, in both spellings.
_ALIASES: Final = {"cancelled": RunStatus.STOPPED, "canceled": RunStatus.STOPPED}


def run_state(status: str | None) -> RunStatus:
    """The status a word names, case-insensitively; UNKNOWN for none or any other word."""
    if not status:
        return RunStatus.UNKNOWN
    word = status.strip().casefold()
    try:
        return RunStatus(word)
    except ValueError:
        return _ALIASES.get(word, RunStatus.UNKNOWN)


# The documented failure codes (API.md part 1b), each with its meaning in the docs' words.
FAILURE_CODES: Final[Mapping[str, str]] = {
    "MCP_TOOL_FAILED": "An MCP tool returned an error.",
    "LLM_REQUEST_FAILED": "An LLM request failed: a key, model or provider error.",
    "INSUFFICIENT_CREDITS": "The workspace is out of credits.",
    "RUN_STALLED_OR_TIMED_OUT": "The run made no progress within the timeout window.",
    "RUN_STOPPED": "An operator stopped the run.",
    "DRAIN_TIMEOUT": "A graceful stop took too long to drain.",
    # The docs list the next three without a meaning; these say what their names do.
    "HUMAN_TASK_FAILED": "A human task step failed.",
    "UPSTREAM_ERROR": "An upstream service returned an error.",
    "DEPENDENCY_UNAVAILABLE": "A dependency the run needs was unavailable.",
}


def failure_meaning(code: str | None) -> str | None:
    """The documented meaning of a failure code (any case), or None for none or an unknown one."""
    if not code:
        return None
    return FAILURE_CODES.get(code.strip().upper())


@dataclass(frozen=True)
class UnreadableRun:
    """An entry of a runs listing that is not a run: its position, its JSON, and why."""

    index: int
    raw: Any
    reason: str


@dataclass(frozen=True)
class RunListing:
    """One answer of a runs listing: the readable runs, and the entries that were not runs.

    ``total`` is the count the platform said it has (the older spec's ``total``), if it said.
    """

    runs: tuple[Run, ...]
    total: int | None = None
    unreadable: tuple[UnreadableRun, ...] = field(default=())


_JSON_TYPES: Final = {dict: "object", list: "array", str: "string", bool: "boolean"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), "number" if isinstance(value, int | float) else "value")


def parse_run_listing(body: Any) -> RunListing:
    """``{"runs": [...], "total"?: N}`` or a bare list, read entry by entry.

    Any other shape raises pydantic's ValidationError (the client's "unexpected shape").
    """
    import pydantic

    from .models import Run, RunList

    if isinstance(body, list):
        items, total = body, None
    else:
        listing = RunList.model_validate(body)  # raises: not a listing
        items, total = listing.runs, listing.total
    runs: list[Run] = []
    bad: list[UnreadableRun] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            bad.append(UnreadableRun(index, item, f"not a JSON object (a {_kind(item)})"))
            continue
        try:
            runs.append(Run.model_validate(item))
        except pydantic.ValidationError as exc:
            from ._task_list import validation_summary

            bad.append(UnreadableRun(index, item, validation_summary(exc)))
    if bad:
        logger.info(
            "runs listing: %d of %d entries are not runs; first: #%d %s",
            len(bad),
            len(items),
            bad[0].index,
            bad[0].reason,
        )
    return RunListing(tuple(runs), total, tuple(bad))


def command_body(command: RunCommand, run_id: str, mode: StopMode | None = None) -> dict[str, Any]:
    """The body of ``POST …/command``; ``mode`` only for stop (API.md part 1b)."""
    params: dict[str, Any] = {"run_id": run_id}
    if command == "stop":
        if mode not in STOP_MODES:
            raise ValueError(f"mode must be 'immediate' or 'graceful', got {mode!r}")
        params["mode"] = mode
    return {"command": command, "params": params}


def decode_loosely(response: httpx.Response) -> Any:
    """A command's answer as JSON, or None: its shape is undocumented, so nothing is an error."""
    try:
        return json.loads(response.content) if response.content.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def parse_command_result(body: Any) -> RunCommandResult:
    from .models import RunCommandResult

    return RunCommandResult.model_validate(body if isinstance(body, dict) else {})
