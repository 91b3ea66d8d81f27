"""Run control, as the operator is offered it: what a run's status allows, in the docs' words.

Pause, resume, stop gracefully, stop immediately – the four commands of the platform's
Command Center (API.md 1b), each with the consequence the docs give, shared by the console's
``c`` menu and its confirmations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from client import (
    APIConnectionError,
    APIError,
    APIStatusError,
    ConflictError,
    RunStatus,
    ServerError,
    run_state,
)

from .safe_text import clean

if TYPE_CHECKING:
    from client import RunNames


@dataclass(frozen=True)
class RunCommand:
    key: str  # the menu's key
    command: str  # "pause" | "resume" | "stop" on the wire
    mode: str | None  # "graceful" | "immediate" for stop
    label: str  # "Pause", "Stop gracefully", …
    consequence: str  # the docs' words
    mark: str  # what the run's row says until the feed agrees (runs_model.COMMAND_LOOK)

    def body(self, run_id: str) -> dict[str, Any]:
        """The request body (``POST /v1/workflows/{id}/command``), for the confirmation."""
        params: dict[str, Any] = {"run_id": run_id}
        if self.mode is not None:
            params["mode"] = self.mode
        return {"command": self.command, "params": params}


# What each command does, in the docs' words (API.md part 1b); by command, or by stop mode.
CONSEQUENCES: Final = {
    "pause": "Pausing stops scheduling: no new steps start until the run is resumed; steps "
    "already running may complete.",
    "resume": "Resuming continues the paused run: its next steps are scheduled again.",
    "immediate": "Immediate stop can leave downstream steps unexecuted; you cannot resume a "
    "stopped run.",
    "graceful": "The run drains: active steps finish, pending ones never start; it then stops "
    "and cannot be resumed.",
}

PAUSE = RunCommand("p", "pause", None, "Pause", CONSEQUENCES["pause"], "pause")
RESUME = RunCommand("r", "resume", None, "Resume", CONSEQUENCES["resume"], "resume")
GRACEFUL = RunCommand("g", "stop", "graceful", "Stop gracefully", CONSEQUENCES["graceful"], "drain")
IMMEDIATE = RunCommand(
    "i", "stop", "immediate", "Stop immediately", CONSEQUENCES["immediate"], "stop"
)

# Statuses as a symbol and a word, so a table reads without colour.
STATUS_SYMBOLS: Final = {
    RunStatus.RUNNING: "▶",
    RunStatus.PAUSED: "⏸",
    RunStatus.PENDING: "⧗",
    RunStatus.QUEUED: "⧗",
    RunStatus.STARTING: "⧗",
    RunStatus.DRAINING: "⏹",
    RunStatus.FAILED: "✗",
    RunStatus.STOPPED: "■",
    RunStatus.COMPLETED: "✓",
}


def status_look(status: str | None) -> tuple[str, str]:
    """(symbol, word) of a run's status; a word the docs do not know as ``?`` and the word."""
    word = clean((status or "").strip(), max_len=40, multiline=False)
    state = run_state(word)
    if state is RunStatus.UNKNOWN:
        return ("?", word or "(none)")
    return (STATUS_SYMBOLS[state], state.value)


def status_text(status: str | None) -> str:
    """``▶ running``; an unknown word as ``? <as sent>``; an alias with its own word."""
    symbol, word = status_look(status)
    shown = f"{symbol} {word}"
    sent = clean((status or "").strip(), max_len=40, multiline=False)
    if symbol != "?" and sent.casefold() != word:  # cancelled: the older spec's stopped
        shown += f" ({sent})"
    return shown


def why_refused(command: str, mode: str | None, now: RunNames | None) -> str:
    """A 409 explained from the run's status as the feed shows it after the refusal."""
    if now is None:
        return "the runs feed does not list the run now"
    state = now.state
    shown = status_text(now.status)
    if state is RunStatus.STOPPED:
        if command == "resume":
            return "the run is already stopped, and a stopped run cannot be resumed"
        return "the run is already stopped"
    if state is RunStatus.COMPLETED:
        return "the run has already completed"
    if state is RunStatus.FAILED:
        if command == "resume":
            return "the run has failed, and failed runs do not resume: start a new run"
        return "the run has already failed"
    if state is RunStatus.PAUSED and command == "pause":
        return "the run is already paused"
    if state is RunStatus.DRAINING and not (command == "stop" and mode == "immediate"):
        return "the run is already stopping gracefully (draining)"
    if command == "resume" and state is not RunStatus.PAUSED:
        return f"the run is not paused (it is {shown})"
    return f"the runs feed shows it {shown}"


_ACTIVE = {"running", "pending", "queued", "starting"}


def commands_for(run: RunNames, *, awaiting: bool = False) -> list[RunCommand]:
    """What the run's status allows, in menu order. A run waiting on a human task resumes
    when the task is decided, not by ``resume``; it can still be stopped."""
    state = run.state.value
    if state in _ACTIVE or (state == "unknown" and not run.terminal):
        return [PAUSE, GRACEFUL, IMMEDIATE]
    if state == "paused":
        return [GRACEFUL, IMMEDIATE] if awaiting else [RESUME, GRACEFUL, IMMEDIATE]
    if state == "draining":
        return [IMMEDIATE]  # the escalation of a slow drain
    return []


def nothing_to_do(run: RunNames) -> str:
    """Why a run offers no command (it has ended), in words."""
    state = run.state.value
    if state == "stopped":
        return "The run is stopped: a stopped run cannot be resumed. Start a new run instead."
    if state == "failed":
        return "The run failed: failed runs do not resume. Start a new run instead."
    if state == "completed":
        return "The run has completed: there is nothing left to control."
    return f"The run's status is {run.status!r}: no command applies to it."


def outcome_of(exc: APIError) -> str:
    """An audit line's outcome for a command the platform did not confirm."""
    if isinstance(exc, ConflictError):
        return "conflict"
    if isinstance(exc, ServerError | APIConnectionError):
        return "unconfirmed"  # it may have been applied: the answer is lost or a failure
    return "refused" if isinstance(exc, APIStatusError) else "failed"
