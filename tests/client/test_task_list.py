"""The fast listing reader must give exactly what json.loads + pydantic give, for any input."""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from client._gc import gc_paused
from client._task_list import decode_listing, tasks_from_wire
from client.models import Task, TaskList

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
# Values that hit every branch of the fast path and of its fallbacks.
loose = st.one_of(
    st.text(max_size=8),
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.just("2026-11-26T01:02:03Z"),
    st.just("2026-11-26T01:02:03"),
    st.just("2026-11-26T01:02:03+05:00"),
    st.just("yesterday"),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
    st.lists(json_scalars, max_size=2),
)
keys = st.sampled_from(
    [
        "id",
        "task_id",
        "workflow_id",
        "run_id",
        "workflow_name",
        "step_id",
        "task_type",
        "status",
        "prompt",
        "created_at",
        "task_payload",
        "context",
        "extra_key",
        "other",
    ]
)
well_formed = st.fixed_dictionaries(
    {"id": st.text(max_size=6), "workflow_id": st.text(max_size=6), "run_id": st.text(max_size=6)},
    optional={
        "workflow_name": st.text(max_size=6) | st.none(),
        "created_at": st.just("2026-11-26T01:02:03.5Z") | st.none(),
        "task_payload": st.dictionaries(st.text(max_size=4), json_values, max_size=3),
        "surprise": json_values,
    },
)
task_objects = well_formed | st.dictionaries(keys, loose, max_size=12)


def _outcome(make: Any) -> tuple[str, Any]:
    try:
        task = make()
    except pydantic.ValidationError as exc:
        return "error", [(e["loc"], e["type"]) for e in exc.errors()]
    return "task", (
        task.model_dump(),
        task.model_fields_set,
        task.model_extra,
        task.raw,
        task.key,
        task.title,
        task.payload,
        repr(task),
    )


@settings(max_examples=400, deadline=None)
@given(task_objects)
def test_a_task_read_by_hand_equals_the_validated_model(raw: dict[str, Any]) -> None:
    expected = _outcome(lambda: Task.model_validate(raw))
    # tasks_from_wire takes ownership of the dicts, so give it its own copy.
    actual = _outcome(lambda: tasks_from_wire([json.loads(json.dumps(raw))])[0])
    assert actual == expected
    if expected[0] == "task":
        assert tasks_from_wire([dict(raw)])[0] == Task.model_validate(raw)


def test_the_payload_of_a_fast_task_is_its_own_copy() -> None:
    raw = {"id": "t", "workflow_id": "w", "run_id": "r", "task_payload": {"title": "x"}}
    task = tasks_from_wire([raw])[0]
    task.task_payload["title"] = "changed"
    assert task.raw["task_payload"] == {"title": "x"}
    assert task.raw is raw  # kept as received, not copied


def test_a_bad_task_in_a_listing_is_reported_with_its_position() -> None:
    from client._base import _parse_tasks, _read_tasks
    from client.models import UnreadableTask

    good = {"id": "t", "workflow_id": "w", "run_id": "r"}
    bad = {"id": "x", "workflow_id": "w"}
    report = _read_tasks({"tasks": [good, good, bad]})
    assert [t.key for t in report.tasks] == [("w", "r", "t")] * 2
    assert report.unreadable == [UnreadableTask(2, bad, "run_id: Field required")]
    assert len(_parse_tasks({"tasks": [good, good, bad]})) == 2


listing_texts = st.one_of(
    st.builds(
        lambda tasks, extra, pad: json.dumps({**extra, "tasks": tasks}, indent=pad),
        st.lists(json_values, max_size=5),
        st.dictionaries(st.text(max_size=4), json_values, max_size=2),
        st.sampled_from([None, 0, 2]),
    ),
    st.builds(lambda v: json.dumps(v), json_values),
    st.text(max_size=40),
    st.sampled_from(
        [
            '{"tasks": [1, 2,]}',
            '{"tasks": [1 2]}',
            '{"tasks": [1, 2]} x',
            '{"tasks": [1], "tasks": [2]}',
            ' \n{ "tasks" : [ 1 , {"a": [ ]} ] , "n": NaN } \t',
            '{"tasks": []}',
            "{}",
            '{"tasks": [',
            '{"tasks": "not a list"}',
            '\ufeff{"tasks": []}',
            '{"tasks": [Infinity, -0.0, 1e999]}',
        ]
    ),
)


def _decoded(make: Any) -> tuple[str, Any]:
    try:
        return "value", repr(make())
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__name__


@settings(max_examples=400, deadline=None)
@given(listing_texts, st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_element_wise_decoding_equals_json_loads(text: str, encoding: str) -> None:
    try:
        content = text.encode(encoding)
    except UnicodeEncodeError:
        return
    assert _decoded(lambda: decode_listing(content, "tasks")) == _decoded(
        lambda: json.loads(content)
    )


def test_decoding_lets_another_thread_run_between_tasks() -> None:
    """json.loads holds the GIL for the whole body; the element-wise reader must not."""
    content = json.dumps({"tasks": [{"id": str(i), "pad": "x" * 200} for i in range(60_000)]})
    ticks = 0
    done = threading.Event()

    def decode() -> None:
        decode_listing(content.encode(), "tasks")
        done.set()

    thread = threading.Thread(target=decode)
    thread.start()
    while not done.is_set():
        ticks += 1
        done.wait(0.001)
    thread.join()
    assert ticks > 3  # the main thread got the interpreter back several times mid-decode


def test_gc_pauses_nest_and_resume_only_if_it_was_running() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_task_list_model_still_reads_the_same_listing() -> None:
    body = {"tasks": [{"task_id": "t", "workflow_id": "w", "run_id": "r", "context": [1]}]}
    assert TaskList.model_validate(body).tasks == tasks_from_wire(body["tasks"])


def test_a_compressed_listing_is_hashed_and_read_once_decompressed() -> None:
    import gzip

    import httpx

    from client import CommandCenterClient

    body = json.dumps({"tasks": [{"id": "t", "workflow_id": "w", "run_id": "r"}]}).encode()
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        return httpx.Response(
            200,
            content=gzip.compress(body),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with CommandCenterClient("http://platform.test", "pat_x", "acme", http_client=http) as cc:
        first = cc.poll_pending_tasks()
        assert [t.key for t in first.tasks] == [("w", "r", "t")]
        again = cc.poll_pending_tasks(first)
        assert not again.changed and again.digest == first.digest
    assert len(sent) == 2


@settings(max_examples=300, deadline=None)
@given(st.lists(task_objects | json_values, max_size=6))
def test_a_tolerant_listing_keeps_exactly_the_tasks_the_model_reads(items: list[Any]) -> None:
    from client._task_list import tasks_tolerantly

    expected: list[Task] = []
    bad: list[int] = []
    for index, item in enumerate(items):
        try:
            expected.append(Task.model_validate(item))
        except pydantic.ValidationError:
            bad.append(index)
    tasks, unreadable = tasks_tolerantly(json.loads(json.dumps(items)))
    assert tasks == expected
    assert [entry.index for entry in unreadable] == bad
    assert all(entry.raw == items[entry.index] and entry.reason for entry in unreadable)
