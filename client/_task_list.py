"""Reading a task listing fast: an inbox can hold 100,000 tasks, about 50 MB of JSON.

Three costs dominate, and each is cut here without changing the answer:

- ``json.loads`` holds the GIL for the whole body (about a second at 100,000 tasks), so even in a
  worker thread it freezes the UI thread. The ``tasks`` array is decoded one element at a time,
  and the interpreter may switch threads between elements.
- The cyclic garbage collector rescans the millions of new containers again and again; they are
  acyclic JSON, so it is paused while they are built (:func:`client._gc.gc_paused`).
- Full pydantic validation of every task. The usual shape (string ids, text or null, a payload
  object) is read by hand into the very same :class:`Task`; anything else goes through
  ``Task.model_validate``, so errors and odd shapes are exactly what the model says. The payload
  is kept as received and read through its convention only when a task is opened.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import pydantic

from ._gc import gc_paused
from .models import Task, UnreadableTask, loose_time

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# Every key a Task field reads, aliases included: the rest are extras.
_FIELD_KEYS = frozenset(
    {"id", "task_id", "workflow_id", "run_id", "created_at", "task_payload", "context"}
    | {"workflow_name", "step_id", "task_type", "status", "prompt"}
)
_set = object.__setattr__
_new = Task.__new__


@dataclass(frozen=True, eq=False)
class TaskListing:
    """One answer of the inbox listing, with a digest of its bytes to spot an unchanged answer.

    ``changed`` is False when the answer was byte-for-byte the one ``since`` was read from: the
    tasks are then ``since``'s own objects, and nothing was decoded or validated.
    ``unreadable`` lists the entries of the answer's ``tasks`` array that are not tasks; the
    readable ones are in ``tasks`` all the same.
    """

    tasks: list[Task]
    digest: bytes
    changed: bool = True
    unreadable: list[UnreadableTask] = field(default_factory=list)


def body_hasher() -> Any:
    """A hash of a response body, fed as it arrives, to notice an identical answer.

    Not a security check: SHA-1 reads 1.5 GB/s here, twice BLAKE2b's speed.
    """
    return hashlib.sha1(usedforsecurity=False)


def unchanged(since: TaskListing) -> TaskListing:
    return replace(since, changed=False)


class _Unusual(Exception):
    """The body is not shaped like ``{"key": [...]}``: let ``json.loads`` read (or refuse) it."""


def decode_listing(content: bytes, key: str) -> Any:
    """``json.loads(content)``, decoding the ``key`` array of a top-level object element-wise."""
    text = content.decode(json.detect_encoding(content), "surrogatepass")
    with gc_paused():
        try:
            return _object_with_array(text, key)
        except (_Unusual, ValueError):
            # Malformed or unusual: json.loads gives the canonical answer or error.
            return json.loads(text)


def _skip(text: str, i: int) -> int:
    return _WHITESPACE.match(text, i).end()  # type: ignore[union-attr]  # always matches


def _object_with_array(text: str, key: str) -> dict[str, Any]:
    i = _skip(text, 0)
    if text[i : i + 1] != "{":
        raise _Unusual
    body: dict[str, Any] = {}
    i = _skip(text, i + 1)
    if text[i : i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i : i + 1] != '"':
                raise _Unusual
            name, i = _DECODER.raw_decode(text, i)
            i = _skip(text, i)
            if text[i : i + 1] != ":":
                raise _Unusual
            i = _skip(text, i + 1)
            value: Any
            if name == key and text[i : i + 1] == "[":
                value, i = _array(text, i + 1)
            else:
                value, i = _DECODER.raw_decode(text, i)
            body[name] = value  # a repeated key: the last one wins, as in json.loads
            i = _skip(text, i)
            separator = text[i : i + 1]
            i = _skip(text, i + 1)
            if separator == "}":
                break
            if separator != ",":
                raise _Unusual
    if _skip(text, i) != len(text):
        raise _Unusual
    return body


def _array(text: str, i: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    append = items.append
    decode = _DECODER.raw_decode
    i = _skip(text, i)
    if text[i : i + 1] == "]":
        return items, i + 1
    while True:
        item, i = decode(text, i)
        append(item)
        separator = text[i : i + 1]
        if separator not in (",", "]"):
            i = _skip(text, i)
            separator = text[i : i + 1]
        if separator == "]":
            return items, i + 1
        if separator != ",":
            raise _Unusual
        i += 1
        if text[i : i + 1] in (" ", "\n", "\r", "\t"):
            i = _skip(text, i)


def tasks_from_wire(items: Any) -> list[Task]:
    """The tasks of a decoded listing; takes ownership of the dicts (they become ``Task.raw``)."""
    if not isinstance(items, list):
        raise TypeError("not a list")  # never reached through TaskList, which checks first
    with gc_paused():
        return [_task(item) for item in items]


def validation_summary(exc: pydantic.ValidationError) -> str:
    """The first error of a validation, as ``"where: what (and N more)"``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def _unreadable_reason(raw: Any, exc: pydantic.ValidationError) -> str:
    if not isinstance(raw, dict):
        kind = _JSON_TYPES.get(type(raw), "number" if isinstance(raw, int | float) else "value")
        return f"not a JSON object (a {kind})"
    return validation_summary(exc)


def tasks_tolerantly(items: list[Any]) -> tuple[list[Task], list[UnreadableTask]]:
    """The readable tasks of a decoded ``tasks`` array, and each entry that is not one.

    Like :func:`tasks_from_wire` (same fast path, same tasks), but a malformed entry is set
    aside as an :class:`UnreadableTask` instead of failing the whole listing.
    """
    tasks: list[Task] = []
    unreadable: list[UnreadableTask] = []
    append = tasks.append
    with gc_paused():
        for index, item in enumerate(items):
            try:
                append(_task(item))
            except pydantic.ValidationError as exc:
                unreadable.append(UnreadableTask(index, item, _unreadable_reason(item, exc)))
    return tasks, unreadable


def _task(raw: Any) -> Task:
    # Written for speed (it runs once per task per refresh): one pass of checks, then the same
    # attributes pydantic's own validation would set. Anything unusual is the model's to read.
    if type(raw) is not dict or "task_id" in raw or ("task_payload" in raw and "context" in raw):
        return Task.model_validate(raw)  # the alias, or two names for one field: rare
    get = raw.get
    task_id = get("id")
    workflow_id = get("workflow_id")
    run_id = get("run_id")
    if type(task_id) is not str or type(workflow_id) is not str or type(run_id) is not str:
        return Task.model_validate(raw)
    workflow_name = get("workflow_name")
    step_id = get("step_id")
    task_type = get("task_type")
    status = get("status")
    prompt = get("prompt")
    created = get("created_at")
    payload = get("task_payload") if "context" not in raw else raw["context"]
    for text in (workflow_name, step_id, task_type, status, prompt):
        if text is not None and type(text) is not str:
            return Task.model_validate(raw)
    if created is not None:
        if type(created) is not str:
            return Task.model_validate(raw)
        created = loose_time(created)
    if payload is None:
        payload = {}
    elif type(payload) is dict:
        payload = payload.copy()
    else:
        return Task.model_validate(raw)
    # pydantic counts every key it was given, extras included, under the field's own name.
    fields_set = set(raw)
    if "context" in raw:
        fields_set.discard("context")
        fields_set.add("task_payload")
    extra = (
        {} if raw.keys() <= _FIELD_KEYS else {k: v for k, v in raw.items() if k not in _FIELD_KEYS}
    )
    task = _new(Task)
    _set(
        task,
        "__dict__",
        {
            "id": task_id,
            "workflow_id": workflow_id,
            "run_id": run_id,
            "workflow_name": workflow_name,
            "step_id": step_id,
            "task_type": task_type,
            "status": status,
            "created_at": created,
            "prompt": prompt,
            "task_payload": payload,
        },
    )
    _set(task, "__pydantic_fields_set__", fields_set)
    _set(task, "__pydantic_extra__", extra)
    _set(task, "__pydantic_private__", {"_raw": raw})
    return task
