"""Reading a task listing: a typed head per task, each task's JSON kept raw until it is opened.

An inbox can hold 100,000 tasks, 75 MB of JSON. msgspec decodes the listing twice, both times
in C: once into one raw span per task (a view into the body, nothing copied), once into a typed
head per task – the ids, names and creation time, and the title from the head of the payload.
The pydantic :class:`~client.models.Task` of an entry is built from its span only when asked for
(:meth:`ListedTask.full`), so a listing costs a small fraction of ``json.loads`` and leaves
almost nothing for the garbage collector to scan.

The tolerance of API.md part 3 is the model's: an entry the typed head cannot read (a number
where a name belongs, ``context`` for ``task_payload``, ``task_id`` for ``id``, a payload that is
not an object) is read by ``json.loads`` + ``Task.model_validate``, and a body msgspec refuses
(``NaN``, say) goes to ``json.loads`` whole.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any, overload

import msgspec

from ._light import TaskNames, UnreadableTask, loose_time

if TYPE_CHECKING:
    import pydantic

    from .models import Task

# pydantic and the models are imported where a model is built: a listing of the usual shape is
# read without them, and the console paints its first rows before they are loaded.

__all__ = ["ListedTask", "TaskListing", "Tasks", "decode_listing", "listing_of"]


class _PayloadHead(msgspec.Struct, gc=False):
    title: Any = None


class _Spans(msgspec.Struct):
    tasks: list[msgspec.Raw]


class _Field(msgspec.Struct, gc=False):
    value: Any = None


class _PayloadText(msgspec.Struct, gc=False):
    title: Any = None
    description: Any = None
    fields: list[_Field] | dict[str, Any] | None = None
    editable: dict[str, Any] | list[Any] | None = None


class _TextHead(msgspec.Struct, gc=False):
    task_payload: _PayloadText | None = None


_TEXT = msgspec.json.Decoder(_TextHead)
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)
_UNSET = msgspec.UNSET


def _shown(value: Any) -> str | None:
    """A payload value as the filter reads it: text as is, numbers and booleans as JSON."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, dict | list):
        return None
    return json.dumps(value)


class ListedTask(TaskNames, msgspec.Struct, gc=False, eq=False):
    """A pending task as the listing names it, with its JSON kept for when it is opened.

    Reads like :class:`Task` for what the inbox shows (ids, names, ``created_at``, ``title``);
    :meth:`full` gives the :class:`Task` itself, built once, on first use. Decoded by msgspec
    straight from the listing: any key of a task not named here is skipped, and kept in the span.
    """

    id: str
    workflow_id: str
    run_id: str
    workflow_name: str | None = None
    step_id: str | None = None
    task_type: str | None = None
    status: str | None = None
    created_text: str | None = msgspec.field(default=None, name="created_at")
    prompt: str | None = None
    payload_head: _PayloadHead | None = msgspec.field(default=None, name="task_payload")
    # Present only in the older spec's shape, which the model reads (aliases, two payloads).
    task_id: Any = msgspec.UNSET
    context: Any = msgspec.UNSET
    # Set after decoding, whatever the wire held under these names: the task's JSON (a view
    # into the listing's body), its model once built, its creation time once parsed.
    _span: Any = None  # msgspec.Raw
    _model: Any = None  # Task
    _created: Any = msgspec.UNSET  # float | None: POSIX seconds (a float is half a datetime)
    _key: Any = None  # tuple[str, str, str]

    @classmethod
    def of(cls, task: Task) -> ListedTask:
        """A listed task for a model already built (the tolerant path, stand-ins)."""
        return cls(
            task.id,
            task.workflow_id,
            task.run_id,
            task.workflow_name,
            task.step_id,
            task.task_type,
            task.status,
            None,
            task.prompt,
            _PayloadHead(task.title),
            _model=task,
            _created=task.created_at.timestamp() if task.created_at else None,
        )

    @property
    def created_at(self) -> datetime | None:
        """When the task was created (in UTC: the same instant the wire gave)."""
        stamp = self.created_stamp
        return None if stamp is None else datetime.fromtimestamp(stamp, UTC)

    @property
    def created_stamp(self) -> float | None:
        """``created_at`` in POSIX seconds: parsed on first use, and the text let go; kept as a
        float (half a ``datetime``), which a sort reads as it is."""
        created = self._created
        if created is msgspec.UNSET:
            text = self.created_text
            moment = loose_time(text) if text is not None else None
            created = self._created = moment.timestamp() if moment is not None else None
            self.created_text = None
        return created  # type: ignore[no-any-return]  # a float or None once parsed

    @property
    def title(self) -> str:
        head = self.payload_head
        return self.title_from(head.title if head is not None else None)

    @property
    def key(self) -> tuple[str, str, str]:
        """The task's address: (workflow_id, run_id, task_id)."""
        key: tuple[str, str, str] | None = self._key
        if key is None:
            key = self._key = (self.workflow_id, self.run_id, self.id)
        return key

    def full(self) -> Task:
        """The task as the model reads it, built from the kept JSON on first use."""
        task: Task | None = self._model
        if task is None:
            from .models import Task

            assert self._span is not None  # a listed task has a span or a model
            task = self._model = Task.model_validate(json.loads(bytes(self._span)))
        return task

    @property
    def raw(self) -> dict[str, Any]:
        """The JSON object as received."""
        if self._model is None and self._span is not None:
            raw: dict[str, Any] = json.loads(bytes(self._span))
            return raw
        return self.full().raw

    def same_json(self, other: ListedTask) -> bool:
        """Whether both were listed from the same JSON (a refresh keeps unchanged rows)."""
        if self._span is not None and other._span is not None:
            return bool(self._span == other._span)
        return self.raw == other.raw

    def payload_texts(self) -> list[str]:
        """The payload's words for a filter: title, description and every field value."""
        if self._span is not None and self._model is None:
            try:
                payload = _TEXT.decode(self._span).task_payload
            except _DECODE_ERRORS:
                pass  # a payload off the convention: the model reads it
            else:
                return _texts_of(payload) if payload is not None else []
        model = self.full().payload
        texts = [t for t in (model.title, model.description) if t]
        texts += [t for t in map(_shown, (f.value for f in model.fields)) if t]
        return texts

    def __repr__(self) -> str:
        return f"ListedTask({self.key!r}, title={self.title!r})"


_SPANS = msgspec.json.Decoder(_Spans)
_HEADS = msgspec.json.Decoder(list[ListedTask])
_HEAD = msgspec.json.Decoder(ListedTask)
# Tasks decoded per pass (see decode_listing).
_PASS = 256  # small: the joined pass stays in cache, and its memory is reused at once
# Distinct names kept for sharing in one listing; the table starts over beyond (a platform
# whose task ids are all different must not make it grow with the listing).
_MAX_NAMES = 50_000


def _texts_of(payload: _PayloadText) -> list[str]:
    texts = [t for t in (payload.title, payload.description) if isinstance(t, str) and t]
    fields = payload.fields
    values: list[Any] = []
    if isinstance(fields, list):
        values = [f.value for f in fields]
    elif isinstance(fields, dict):
        values = list(fields.values())
    editable = payload.editable
    if isinstance(editable, dict):
        values += editable.values()
    texts += [t for t in map(_shown, values) if t]
    return texts


class Tasks(Sequence["Task"]):
    """The tasks of a listing as :class:`Task` models, each built when first read.

    Reading all 100,000 of a big inbox costs seconds; counting them, or reading a few, does not.
    """

    __slots__ = ("_listed",)

    def __init__(self, listed: Sequence[ListedTask]) -> None:
        self._listed = listed

    def __len__(self) -> int:
        return len(self._listed)

    @overload
    def __getitem__(self, index: int) -> Task: ...
    @overload
    def __getitem__(self, index: slice) -> list[Task]: ...
    def __getitem__(self, index: int | slice) -> Task | list[Task]:
        if isinstance(index, slice):
            return [listed.full() for listed in self._listed[index]]
        return self._listed[index].full()

    def __iter__(self) -> Iterator[Task]:
        return (listed.full() for listed in self._listed)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Tasks | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by content, like a list

    def __repr__(self) -> str:
        # Not the models: a repr (a debugger, a crash report) must not build 100,000 of them.
        return f"<Tasks: {len(self)} tasks>"


@dataclass(frozen=True, eq=False)
class TaskListing:
    """One answer of the inbox listing, with its body to spot an unchanged answer.

    ``changed`` is False when the answer was byte for byte the body of ``since``, or the server
    said so (a 304 to the ``If-None-Match`` of ``etag``, when it gave one): the tasks are then
    ``since``'s own objects and nothing was decoded. ``unreadable`` lists the entries of the
    ``tasks`` array that are not tasks; the readable ones are in ``tasks`` all the same.
    """

    tasks: Sequence[ListedTask]  # a tuple: the collector skips it (see docs/performance.md)
    body: bytes = field(default=b"", repr=False)
    changed: bool = True
    unreadable: list[UnreadableTask] = field(default_factory=list)
    etag: str | None = None


def validation_problem(exc: BaseException) -> str | None:
    """The summary of a pydantic validation error, or None for any other exception.

    Asked without importing pydantic: if it is not loaded, no model raised ``exc``.
    """
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(exc, pydantic.ValidationError):
        return None
    return validation_summary(exc)


def validation_summary(exc: pydantic.ValidationError) -> str:
    """The first error of a validation, as ``"where: what (and N more)"``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def _unreadable(index: int, raw: Any, exc: pydantic.ValidationError) -> UnreadableTask:
    if not isinstance(raw, dict):
        kind = _JSON_TYPES.get(type(raw), "number" if isinstance(raw, int | float) else "value")
        return UnreadableTask(index, raw, f"not a JSON object (a {kind})")
    return UnreadableTask(index, raw, validation_summary(exc))


def _with_span(
    head: ListedTask, span: msgspec.Raw, share: Callable[[Any, Any], Any]
) -> ListedTask | None:
    """A freshly decoded head with its JSON, nothing the wire may have put in its own slots,
    and one string object for each name that many tasks repeat (``share``: a names table's
    ``setdefault``); None for a head in an unusual shape (the model reads those).

    The decoder makes a new string per task and field; shared, a big inbox keeps far less.
    """
    if head.task_id is not _UNSET or head.context is not _UNSET:
        return None
    head._span, head._model, head._key, head._created = span, None, None, _UNSET
    head.id = share(head.id, head.id)
    head.workflow_id = share(head.workflow_id, head.workflow_id)
    head.workflow_name = share(head.workflow_name, head.workflow_name)  # None stays None
    head.step_id = share(head.step_id, head.step_id)
    head.task_type = share(head.task_type, head.task_type)
    head.status = share(head.status, head.status)
    return head


def _by_the_model(
    index: int, item: Any, tasks: list[ListedTask], bad: list[UnreadableTask]
) -> None:
    import pydantic

    from .models import Task

    try:
        tasks.append(ListedTask.of(Task.model_validate(item)))
    except pydantic.ValidationError as exc:
        bad.append(_unreadable(index, item, exc))


@dataclass(frozen=True)
class Decoded:
    """A listing body that msgspec refused, as ``json.loads`` read it (for :func:`listing_of`)."""

    content: bytes
    body: Any
    since: TaskListing | None = None


def decode_listing(content: bytes, since: TaskListing | None = None) -> TaskListing | Decoded:
    """The listing of a body, or the body as ``json.loads`` reads it (``ValueError`` if not JSON).

    With ``since``, the listing read before, a task whose JSON is byte for byte the same is
    ``since``'s own object (its model, if built, kept) and is not decoded again. Only the shape
    is left to :func:`listing_of`, which raises ``pydantic.ValidationError`` for JSON that is
    not ``{"tasks": [...]}``, as ``TaskList.model_validate`` would.
    """
    try:
        spans = _SPANS.decode(content).tasks
    except _DECODE_ERRORS:
        return Decoded(content, json.loads(content), since)
    if since is not None and since.tasks:
        return _read_each(spans, content, since.tasks)
    # A few thousand tasks per pass, their names shared before the next: the copies the
    # decoder made are freed while the next pass can reuse their memory. Decoded all at once,
    # 100,000 tasks' copies were freed only after, leaving their memory as holes in the heap.
    tasks: list[ListedTask] = []
    names: dict[str, str] = {}
    for start in range(0, len(spans), _PASS):
        part = spans[start : start + _PASS]
        try:
            heads = _HEADS.decode(b"".join((b"[", b",".join(part), b"]")))
        except _DECODE_ERRORS:
            return _read_each(spans, content, [])  # some entry is unusual
        if len(names) > _MAX_NAMES:
            names.clear()
        listed = list(map(_with_span, heads, part, repeat(names.setdefault)))
        if None in listed:
            return _read_each(spans, content, [])
        tasks += listed  # type: ignore[arg-type]  # no None in it
    return TaskListing(tuple(tasks), content)


# How far ahead in the last listing a changed poll looks for the next task of the new one.
_LOOKAHEAD = 8


def _read_each(spans: list[msgspec.Raw], content: bytes, old: Sequence[ListedTask]) -> TaskListing:
    """Each entry read on its own, or taken from ``old`` where its JSON is the same bytes.

    Both listings are walked side by side: a platform lists in a stable order, so an unchanged
    task is usually the next one of ``old``, or a few places on when some were completed in
    between. Taken over, it keeps its identity and its model, and its span moves to the new
    body, so only one listing body stays in memory.
    """
    tasks: list[ListedTask] = []
    bad: list[UnreadableTask] = []
    names: dict[str, str] = {}
    positions: dict[tuple[str, str, str], int] | None = None
    count = len(old)
    j = 0
    for index, span in enumerate(spans):
        found = -1
        if j < count and old[j]._span == span:
            found = j  # the usual case: the next one
        elif count:
            for k in range(j + 1, min(j + _LOOKAHEAD, count)):
                if old[k]._span == span:
                    found = k
                    break
        if found < 0:
            task = _read_one(index, span, tasks, bad, names)
            if task is None or not count:
                continue
            if positions is None:
                positions = {t.key: n for n, t in enumerate(old)}
            found = positions.get(task.key, -1)  # moved, or read by the model
            if found < 0 or not old[found].same_json(task):
                continue
            tasks.pop()
        previous = old[found]
        if previous._span is not None:
            previous._span = span
        tasks.append(previous)
        j = found + 1
    return TaskListing(tuple(tasks), content, unreadable=bad)


def _read_one(
    index: int,
    span: msgspec.Raw,
    tasks: list[ListedTask],
    bad: list[UnreadableTask],
    names: dict[str, str],
) -> ListedTask | None:
    """Read one entry into ``tasks`` (or ``bad``); the task read, if any."""
    try:
        head: ListedTask | None = _HEAD.decode(span)
    except _DECODE_ERRORS:
        head = None
    if len(names) > _MAX_NAMES:
        names.clear()
    listed = _with_span(head, span, names.setdefault) if head is not None else None
    if listed is not None:
        tasks.append(listed)
        return listed
    before = len(tasks)
    _by_the_model(index, json.loads(bytes(span)), tasks, bad)
    return tasks[-1] if len(tasks) > before else None


def listing_of(decoded: TaskListing | Decoded) -> TaskListing:
    """``{"tasks": [...]}`` read entry by entry: one malformed task does not fail the listing."""
    if isinstance(decoded, TaskListing):
        return decoded
    body = decoded.body
    if not (isinstance(body, dict) and isinstance(body.get("tasks"), list)):
        from .models import TaskList

        TaskList.model_validate(body)  # raises: not a listing
    tasks: list[ListedTask] = []
    bad: list[UnreadableTask] = []
    for index, item in enumerate(body["tasks"]):
        _by_the_model(index, item, tasks, bad)
    if decoded.since is not None and decoded.since.tasks:
        # As the side-by-side walk would: the same JSON keeps the last listing's object.
        known = {t.key: t for t in decoded.since.tasks}
        for i, task in enumerate(tasks):
            previous = known.get(task.key)
            if previous is not None and previous.same_json(task):
                tasks[i] = previous
    return TaskListing(tuple(tasks), decoded.content, unreadable=bad)


def unchanged(since: TaskListing) -> TaskListing:
    return replace(since, changed=False)
