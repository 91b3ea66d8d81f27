"""Wire shapes of the stub's run routes, for its OpenAPI document and its request parsing.

The client's run models (``client.models.Run`` …) are deliberately loose: they also read the
older published spec's shape (API.md part 3b). The stub's document must say exactly what the
stub serves and accepts, so these are strict; a test checks that the client reads what they
describe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, TypeAdapter

from .state import RunState

__all__ = [
    "COMMAND_REQUEST",
    "CommandRequest",
    "RunCommandAnswer",
    "RunContextBody",
    "RunFeed",
    "RunStepState",
    "RunSummary",
    "StreamFrame",
]


class RunSummary(BaseModel):
    """One run of the runs feed."""

    id: str = Field(description="Run id, e.g. `run_7f3a9c1e5b2d`.")
    workflow_id: str
    workflow_name: str
    status: RunState
    started_at: datetime = Field(description="When the run was triggered.")
    updated_at: datetime = Field(description="When anything last happened in the run.")
    failure_code: str | None = Field(
        default=None, description="Why a failed or stopped run ended, e.g. `MCP_TOOL_FAILED`."
    )
    error: str | None = Field(default=None, description="What went wrong, in words.")
    pending_tasks: int = Field(ge=0, description="Human tasks of this run waiting now.")


class RunFeed(BaseModel):
    """``{"runs": [...]}``, most recently changed first; no pagination."""

    runs: list[RunSummary]


class RunStepState(BaseModel):
    """What one step of a run did so far."""

    model_config = ConfigDict(extra="allow")

    status: Literal["running", "waiting", "completed", "skipped", "failed", "cancelled"]
    result: dict[str, Any] = Field(
        description="The step's result (`{}` until it has one); a human step's is the merged "
        'decision, `{"approved": …, …}`.'
    )
    input: dict[str, Any] | None = Field(default=None, description="The values it consumed.")
    task_id: str | None = Field(default=None, description="A human step's task.")
    error: str | None = None
    failure_code: str | None = None


class RunContextBody(BaseModel):
    """A run's variables and step results."""

    run_id: str
    workflow_id: str
    variables: dict[str, Any]
    steps: dict[str, RunStepState] = Field(description="By step id, in the order they began.")


class RunCommandAnswer(BaseModel):
    """The run's status after the command; ``start`` adds ``started_at``."""

    run_id: str
    workflow_id: str
    status: RunState
    started_at: datetime | None = Field(default=None, description="Only for `start`.")


class RunCommandParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: StrictStr = Field(min_length=1, description="The run to act on.")
    mode: None = Field(default=None, description="Only for stop.")


class StopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: StrictStr = Field(min_length=1, description="The run to stop.")
    mode: Literal["immediate", "graceful"] = Field(
        default="immediate",
        description="`immediate`: halt now, cancel in-flight steps. `graceful`: drain (let "
        "active steps finish, start no new ones), then stop.",
    )


class PauseCommand(BaseModel):
    """Stop scheduling new steps; in-flight steps may complete."""

    model_config = ConfigDict(extra="forbid", title="PauseCommand")

    command: Literal["pause"]
    params: RunCommandParams


class ResumeCommand(BaseModel):
    """Continue a run an operator paused."""

    model_config = ConfigDict(extra="forbid", title="ResumeCommand")

    command: Literal["resume"]
    params: RunCommandParams


class StopCommand(BaseModel):
    """End a run for good (it cannot be resumed)."""

    model_config = ConfigDict(extra="forbid", title="StopCommand")

    command: Literal["stop"]
    params: StopParams


class StartCommand(BaseModel):
    """Start a new run; ``params`` are its trigger inputs (its variables)."""

    model_config = ConfigDict(extra="forbid", title="StartCommand")

    command: Literal["start"]
    params: dict[str, Any] = Field(default_factory=dict)


CommandRequest = Annotated[
    PauseCommand | ResumeCommand | StopCommand | StartCommand, Field(discriminator="command")
]
COMMAND_REQUEST: TypeAdapter[PauseCommand | ResumeCommand | StopCommand | StartCommand] = (
    TypeAdapter(CommandRequest)
)


class StreamFrame(BaseModel):
    """One text frame of ``/v1/workflows/{id}/stream``: a run event with its run and workflow."""

    id: str
    type: str
    run_id: str
    workflow_id: str
    step_id: str | None = None
    at: datetime
    data: dict[str, Any] | None = None
