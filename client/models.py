"""Wire models of the /v1 API: human tasks, and runs (API.md parts 1b, 2 and 3b).

Parsing is deliberately tolerant (API.md part 3): the real platform's task object is not fixed by
its docs, so alternative key names, missing optional keys and unknown extra keys are all accepted,
and every model keeps the JSON it was built from so nothing the server sent is lost to the UI.
The stub server serialises these same models, so a change of contract is one change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import ModelWrapValidatorHandler

from ._light import (
    FieldType,
    TaskNames,
    TaskReport,
    UnreadableTask,
    loose_time,
    reject_result,
    short_run_id,
)
from ._run_feed import RunNames
from ._runs import (
    FAILURE_CODES,
    RunListing,
    RunStatus,
    UnreadableRun,
    failure_meaning,
    run_state,
)

__all__ = [
    "FAILURE_CODES",
    "Completion",
    "CompletionRequest",
    "ErrorBody",
    "EventList",
    "FieldType",
    "PayloadField",
    "Run",
    "RunCommandResult",
    "RunContext",
    "RunEvent",
    "RunListing",
    "RunStatus",
    "Task",
    "TaskList",
    "TaskPayload",
    "TaskReport",
    "UnreadableRun",
    "UnreadableTask",
    "failure_meaning",
    "reject_result",
    "run_state",
    "short_run_id",
]


# Names a workflow author may write in a field's "type", mapped to our editors.
_TYPE_NAMES: dict[str, FieldType] = {
    "string": FieldType.STRING,
    "str": FieldType.STRING,
    "text": FieldType.TEXT,
    "textarea": FieldType.TEXT,
    "multiline": FieldType.TEXT,
    "markdown": FieldType.TEXT,
    "integer": FieldType.INTEGER,
    "int": FieldType.INTEGER,
    "number": FieldType.NUMBER,
    "float": FieldType.NUMBER,
    "decimal": FieldType.NUMBER,
    "boolean": FieldType.BOOLEAN,
    "bool": FieldType.BOOLEAN,
    "enum": FieldType.ENUM,
    "select": FieldType.ENUM,
    "choice": FieldType.ENUM,
    "json": FieldType.JSON,
    "object": FieldType.JSON,
    "array": FieldType.JSON,
    "list": FieldType.JSON,
    "dict": FieldType.JSON,
}


def infer_field_type(
    value: Any,
    declared: Any = None,
    options: list[Any] | None = None,
    multiline: bool = False,
) -> FieldType:
    """Pick an editor: the author's declared type when we know it, else infer from the value."""
    if isinstance(declared, str):
        known = _TYPE_NAMES.get(declared.strip().lower())
        if known is FieldType.ENUM and not options:
            known = None  # an enum without options cannot be offered as a choice
        if known is not None:
            if known is FieldType.STRING and multiline:
                return FieldType.TEXT
            return known
    if options:
        return FieldType.ENUM
    if isinstance(value, bool):
        return FieldType.BOOLEAN
    if isinstance(value, int):
        return FieldType.INTEGER
    if isinstance(value, float):
        return FieldType.NUMBER if math.isfinite(value) else FieldType.JSON
    if isinstance(value, str):
        return FieldType.TEXT if multiline or "\n" in value else FieldType.STRING
    return FieldType.JSON


class PayloadField(BaseModel):
    """One reviewable value of a task payload, normalised from either payload convention."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    value: Any = None
    type: FieldType = FieldType.STRING
    editable: bool = False
    options: list[Any] | None = None
    multiline: bool = False
    required: bool = False


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return str(value)


def _label_for(name: str) -> str:
    return name.replace("_", " ").strip().capitalize() or name


def _make_field(
    name: str,
    value: Any,
    *,
    label: Any = None,
    declared: Any = None,
    options: Any = None,
    multiline: Any = False,
    required: Any = False,
    editable: bool = False,
) -> PayloadField:
    opts = list(options) if isinstance(options, list | tuple) and options else None
    multi = multiline is True
    return PayloadField(
        name=name,
        label=_as_text(label) or _label_for(name),
        value=value,
        type=infer_field_type(value, declared, opts, multi),
        editable=editable,
        options=opts,
        multiline=multi,
        required=required is True,
    )


class TaskPayload(BaseModel):
    """The author-written payload, read through the convention of API.md part 2.

    Built from any JSON object: keys outside the convention stay in ``extra`` and in ``raw``.
    """

    model_config = ConfigDict(frozen=True)

    title: str | None = None
    description: str | None = None
    fields: list[PayloadField] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_raw(cls, raw: Any) -> TaskPayload:
        data: dict[str, Any] = raw if isinstance(raw, dict) else {"value": raw}
        fields: list[PayloadField] = []
        by_name: dict[str, int] = {}

        def put(field: PayloadField) -> None:
            if field.name in by_name:
                fields[by_name[field.name]] = field
            else:
                by_name[field.name] = len(fields)
                fields.append(field)

        convention_keys = {"title", "description", "fields", "editable"}
        raw_fields = data.get("fields")
        if isinstance(raw_fields, dict):
            for name, value in raw_fields.items():
                put(_make_field(str(name), value))
        elif isinstance(raw_fields, list):
            for index, item in enumerate(raw_fields):
                if isinstance(item, dict) and "name" in item:
                    put(
                        _make_field(
                            str(item["name"]),
                            item.get("value"),
                            label=item.get("label"),
                            declared=item.get("type"),
                            options=item.get("options"),
                            multiline=item.get("multiline", False),
                            required=item.get("required", False),
                            editable=item.get("editable") is True,
                        )
                    )
                else:
                    # Not a field description: show it as a value rather than drop it.
                    put(_make_field(f"fields[{index}]", item))
        elif raw_fields is not None:
            convention_keys.discard("fields")

        raw_editable = data.get("editable")
        if isinstance(raw_editable, dict):
            for name, default in raw_editable.items():
                key = str(name)
                if key in by_name:
                    old = fields[by_name[key]]
                    put(
                        _make_field(
                            key,
                            default,
                            label=old.label,
                            declared=old.type.value if old.options is None else "enum",
                            options=old.options,
                            multiline=old.multiline,
                            required=old.required,
                            editable=True,
                        )
                    )
                else:
                    put(_make_field(key, default, editable=True))
        elif isinstance(raw_editable, list):
            for name in raw_editable:
                key = str(name)
                if key in by_name:
                    put(fields[by_name[key]].model_copy(update={"editable": True}))
                else:
                    put(_make_field(key, None, editable=True))
        elif raw_editable is not None:
            convention_keys.discard("editable")

        title = data.get("title")
        description = data.get("description")
        if title is not None and not isinstance(title, str):
            convention_keys.discard("title")
        if description is not None and not isinstance(description, str):
            convention_keys.discard("description")
        return cls(
            title=title if isinstance(title, str) else None,
            description=description if isinstance(description, str) else None,
            fields=fields,
            extra={k: v for k, v in data.items() if k not in convention_keys},
            raw=data,
        )

    @property
    def editable_fields(self) -> list[PayloadField]:
        return [f for f in self.fields if f.editable]

    def editable_values(self) -> dict[str, Any]:
        """All editable values, changed or not: downstream templates always find their keys."""
        return {f.name: f.value for f in self.fields if f.editable}


def _loose_moment(value: Any) -> Any:
    """A time as pydantic reads it, or None: an unreadable time must not hide the entry."""
    if isinstance(value, str):
        return loose_time(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None if not isinstance(value, datetime) else value


def _loose_text(value: Any) -> str | None:
    """Text where text belongs; a number or boolean as its text; anything else None (kept in
    raw, never shown as a name)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    return None


def _json_object(value: Any) -> dict[str, Any]:
    """Any JSON as an object: null is empty, a non-object is kept under ``value``."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return {"value": value}


class _Tolerant(BaseModel):
    """Keeps unknown keys and the exact JSON the model was parsed from."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        model = handler(data)
        if isinstance(data, Mapping):
            model._raw = dict(data)
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The JSON object as received (or as built, for models made in code)."""
        return self._raw or self.model_dump(mode="json", exclude_none=True)


class Task(TaskNames, _Tolerant):
    """A pending human task. Addressed by (workflow_id, run_id, id): ids are unique only per run."""

    id: str = Field(validation_alias=AliasChoices("id", "task_id"))
    workflow_id: str
    run_id: str
    workflow_name: str | None = None
    step_id: str | None = None
    task_type: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    prompt: str | None = None
    task_payload: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("task_payload", "context")
    )

    @field_validator("task_payload", mode="before")
    @classmethod
    def _payload_object(cls, value: Any) -> dict[str, Any]:
        return _json_object(value)

    @field_validator("workflow_name", "step_id", "task_type", "status", "prompt", mode="before")
    @classmethod
    def _loose_text(cls, value: Any) -> str | None:
        return _loose_text(value)

    @field_validator("created_at", mode="before")
    @classmethod
    def _loose_time(cls, value: Any) -> Any:
        return _loose_moment(value)

    @cached_property
    def payload(self) -> TaskPayload:
        """The payload read through the convention; parsed on first use, not on listing."""
        return TaskPayload.from_raw(self.task_payload)

    @property
    def key(self) -> tuple[str, str, str]:
        """The task's address: (workflow_id, run_id, task_id)."""
        return (self.workflow_id, self.run_id, self.id)

    @property
    def title(self) -> str:
        # Read straight from the payload: the inbox needs every title, not every payload.
        return self.title_from(self.task_payload.get("title"))

    @property
    def description(self) -> str | None:
        return self.payload.description

    @property
    def fields(self) -> list[PayloadField]:
        return self.payload.fields

    def editable_values(self) -> dict[str, Any]:
        return self.payload.editable_values()


class TaskList(_Tolerant):
    tasks: list[Task]


class CompletionRequest(BaseModel):
    """Body of POST …/complete. ``approved`` is strict: "yes" or 1 must never read as true."""

    model_config = ConfigDict(extra="forbid")

    approved: StrictBool
    result: dict[str, Any] | None = None


class Completion(_Tolerant):
    """The documented confirmation of POST …/complete: ``{"status": "completed", …}``.

    ``status`` is required: the client returns a Completion only for that answer, and raises
    :class:`~client.errors.UnconfirmedCompletionError` or
    :class:`~client.errors.CompletionFailedError` for any other 2xx body.
    """

    status: str
    task_id: str | None = None
    approved: bool | None = None


class RunEvent(_Tolerant):
    id: str
    type: str
    at: datetime | None = Field(
        default=None, validation_alias=AliasChoices("at", "timestamp", "created_at")
    )
    step_id: str | None = None
    data: dict[str, Any] | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _data_object(cls, value: Any) -> Any:
        if value is None or isinstance(value, dict):
            return value
        return {"value": value}


class EventList(_Tolerant):
    events: list[RunEvent]


# -- runs (API.md parts 1b, 2 and 3b) --------------------------------------------------------


class Run(RunNames, _Tolerant):
    """A run of the runs feed, in our contract's shape or the older spec's.

    ``status`` is the word as sent (stripped): an unknown one is shown, never an error;
    :attr:`state` reads it. ``updated_at`` is the last change, from ``updated_at``, ``ended_at``
    or ``completed_at``, whichever comes first in that order.
    """

    id: str = Field(validation_alias=AliasChoices("id", "run_id"))
    workflow_id: str
    workflow_name: str | None = None
    status: str = ""
    started_at: datetime | None = None
    updated_at: datetime | None = Field(
        default=None, validation_alias=AliasChoices("updated_at", "ended_at", "completed_at")
    )
    failure_code: str | None = None
    error: str | None = None
    pending_tasks: int | None = None

    @field_validator("workflow_name", "failure_code", mode="before")
    @classmethod
    def _loose_text(cls, value: Any) -> str | None:
        return _loose_text(value)

    @field_validator("status", mode="before")
    @classmethod
    def _status_word(cls, value: Any) -> str:
        text = _loose_text(value)
        return text.strip() if text else ""

    @field_validator("started_at", "updated_at", mode="before")
    @classmethod
    def _loose_time(cls, value: Any) -> Any:
        return _loose_moment(value)

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: Any) -> str | None:
        """A string, or an error object's message (``message``, ``error`` or ``detail``)."""
        if isinstance(value, dict):
            for key in ("message", "error", "detail"):
                if isinstance(value.get(key), str):
                    return str(value[key])
            return None
        return _loose_text(value)

    @field_validator("pending_tasks", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | None:
        """A count of tasks; a list of them counts as its length; anything else is unknown."""
        if isinstance(value, list):
            return len(value)
        if isinstance(value, bool):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        return value if isinstance(value, int) and value >= 0 else None


class RunList(_Tolerant):
    runs: list[Any]
    total: int | None = None

    @field_validator("total", mode="before")
    @classmethod
    def _total(cls, value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None


class RunContext(_Tolerant):
    """A run's variables and step results (``…/runs/{runID}/context``); any JSON object."""

    variables: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("variables", "inputs", "context")
    )
    steps: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("steps", "step_results", "outputs")
    )

    @field_validator("variables", "steps", mode="before")
    @classmethod
    def _object(cls, value: Any) -> dict[str, Any]:
        return _json_object(value)


class RunCommandResult(_Tolerant):
    """The answer of ``POST …/command``; undocumented, so every key is optional and loose."""

    run_id: str | None = Field(default=None, validation_alias=AliasChoices("run_id", "id"))
    workflow_id: str | None = None
    status: str | None = None

    @field_validator("run_id", "workflow_id", "status", mode="before")
    @classmethod
    def _loose_text(cls, value: Any) -> str | None:
        text = _loose_text(value)
        return text.strip() if text is not None else None

    @property
    def state(self) -> RunStatus:
        return run_state(self.status)


class ErrorBody(BaseModel):
    """The platform's error shape: ``{"error": "human readable", "code"?: "NOT_FOUND"}``."""

    error: str
    code: str | None = None
