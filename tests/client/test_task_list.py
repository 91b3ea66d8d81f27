"""The listing decoder must give exactly what json.loads + pydantic give, for any input."""

from __future__ import annotations

import json
from typing import Any

import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from client._task_list import ListedTask, TaskListing, decode_listing, listing_of
from client.models import Task, TaskList, UnreadableTask

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


def _listing(items: list[Any]) -> TaskListing:
    return listing_of(decode_listing(json.dumps({"tasks": items}).encode()))


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


def _listed_outcome(raw: dict[str, Any]) -> tuple[str, Any]:
    listing = _listing([raw])
    if listing.unreadable:
        return _outcome(lambda: Task.model_validate(listing.unreadable[0].raw))
    (listed,) = listing.tasks
    outcome = _outcome(listed.full)
    shown = (
        listed.key,
        listed.title,
        listed.created_at,
        listed.workflow_label,
        listed.short_run_id,
        listed.workflow_name,
        listed.step_id,
        listed.task_type,
        listed.status,
        listed.prompt,
        listed.raw,
    )
    task = listed.full()
    assert shown == (
        task.key,
        task.title,
        task.created_at,
        task.workflow_label,
        task.short_run_id,
        task.workflow_name,
        task.step_id,
        task.task_type,
        task.status,
        task.prompt,
        task.raw,
    )
    return outcome


@settings(max_examples=400, deadline=None)
@given(task_objects)
def test_a_listed_task_equals_the_validated_model(raw: dict[str, Any]) -> None:
    expected = _outcome(lambda: Task.model_validate(raw))
    assert _listed_outcome(raw) == expected


def test_a_bad_task_in_a_listing_is_reported_with_its_position() -> None:
    from client._base import _parse_tasks, _read_tasks

    good = {"id": "t", "workflow_id": "w", "run_id": "r"}
    bad = {"id": "x", "workflow_id": "w"}
    content = json.dumps({"tasks": [good, good, bad]}).encode()
    report = _read_tasks(decode_listing(content))
    assert [t.key for t in report.tasks] == [("w", "r", "t")] * 2
    assert report.unreadable == [UnreadableTask(2, bad, "run_id: Field required")]
    assert len(_parse_tasks(decode_listing(content))) == 2


listing_texts = st.one_of(
    st.builds(
        lambda tasks, extra, pad: json.dumps({**extra, "tasks": tasks}, indent=pad),
        st.lists(task_objects | json_values, max_size=5),
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
            '{"tasks": [{"id": "a", "workflow_id": "w", "run_id": "r"}], "tasks": []}',
            ' \n{ "tasks" : [ 1 , {"a": [ ]} ] , "n": NaN } \t',
            '{"tasks": [{"id": "a", "workflow_id": "w", "run_id": "r", "x": NaN}]}',
            '{"tasks": []}',
            "{}",
            '{"tasks": [',
            '{"tasks": "not a list"}',
            '\ufeff{"tasks": []}',
            '{"tasks": [Infinity, -0.0, 1e999]}',
        ]
    ),
)


def _read(make: Any) -> tuple[str, Any]:
    """What a listing reader gives: the tasks' models and the unreadable entries, or the error."""
    try:
        tasks, unreadable = make()
    except pydantic.ValidationError:
        return "not a listing", None
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__name__
    return "listing", (repr(list(tasks)), [(e.index, repr(e.raw), e.reason) for e in unreadable])


def _by_json_loads(content: bytes) -> tuple[list[Task], list[UnreadableTask]]:
    body = json.loads(content)
    if not (isinstance(body, dict) and isinstance(body.get("tasks"), list)):
        TaskList.model_validate(body)
    tasks: list[Task] = []
    unreadable: list[UnreadableTask] = []
    for index, item in enumerate(body["tasks"]):
        try:
            tasks.append(Task.model_validate(item))
        except pydantic.ValidationError:
            unreadable.append(UnreadableTask(index, item, "?"))
    return tasks, unreadable


def _by_the_decoder(content: bytes) -> tuple[list[Task], list[UnreadableTask]]:
    listing = listing_of(decode_listing(content))
    return [t.full() for t in listing.tasks], listing.unreadable


@settings(max_examples=400, deadline=None)
@given(listing_texts, st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_a_listing_reads_as_json_loads_and_the_model_read_it(text: str, encoding: str) -> None:
    try:
        content = text.encode(encoding)
    except UnicodeEncodeError:
        return
    ours = _read(lambda: _by_the_decoder(content))
    expected = _read(lambda: _by_json_loads(content))
    if ours[0] == "listing" and expected[0] == "listing":
        # Same tasks, same unreadable entries (the reasons are checked elsewhere).
        assert ours[1][0] == expected[1][0]
        assert [e[:2] for e in ours[1][1]] == [e[:2] for e in expected[1][1]]
    else:
        assert ours == expected


def test_task_list_model_still_reads_the_same_listing() -> None:
    body = {"tasks": [{"task_id": "t", "workflow_id": "w", "run_id": "r", "context": [1]}]}
    assert TaskList.model_validate(body).tasks == [t.full() for t in _listing(body["tasks"]).tasks]


def test_an_unchanged_listing_is_compared_not_decoded_even_compressed() -> None:
    import gzip

    import httpx

    from client import CommandCenterClient

    bodies = [
        json.dumps({"tasks": [{"id": "t", "workflow_id": "w", "run_id": "r"}]}).encode(),
    ] * 2 + [json.dumps({"tasks": [{"id": "t", "workflow_id": "w", "run_id": "r2"}]}).encode()]
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = bodies[len(sent)]
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
        assert not again.changed and again.body == first.body
        assert again.tasks[0] is first.tasks[0]
        third = cc.poll_pending_tasks(again)
        assert third.changed and [t.key for t in third.tasks] == [("w", "r2", "t")]
    assert len(sent) == 3


def test_a_poll_keeps_the_objects_of_unchanged_tasks_and_builds_new_ones() -> None:

    one = {"id": "a", "workflow_id": "w", "run_id": "r1", "task_payload": {"title": "A"}}
    two = {"id": "b", "workflow_id": "w", "run_id": "r2", "task_payload": {"title": "B"}}
    odd = {"task_id": "c", "workflow_id": "w", "run_id": "r3", "context": {"title": "C"}}
    first = _poll([one, two, odd], None)
    model = first.tasks[0].full()
    changed = {**two, "task_payload": {"title": "B, edited"}}
    second = _poll([one, changed, odd], first)
    assert second.tasks[0] is first.tasks[0] and second.tasks[0].full() is model
    assert second.tasks[1] is not first.tasks[1] and second.tasks[1].title == "B, edited"
    assert second.tasks[2] is first.tasks[2]  # read by the model, kept all the same
    assert [t.raw for t in second.tasks] == [one, changed, odd]


def test_names_that_tasks_repeat_are_one_object_per_listing() -> None:
    """Workflow ids and names, step ids, types, statuses: one string each, however many tasks
    repeat it (the decoder makes a copy per task; 100,000 tasks kept 30 MB of copies)."""

    def task(i: int) -> dict[str, Any]:
        return {
            "id": "approve-email",
            "workflow_id": "wf_reply",
            "workflow_name": "Customer reply drafter",
            "run_id": f"run_{i:04d}",
            "step_id": "approve-email",
            "task_type": "edit",
            "status": "pending",
            "task_payload": {"title": f"Reply {i}"},
        }

    first = _poll([task(i) for i in range(9000)], None)  # more than one decoding pass
    names = ("id", "workflow_id", "workflow_name", "step_id", "task_type", "status")
    for name in names:
        assert len({id(getattr(t, name)) for t in first.tasks}) == 1, name
    assert len({t.run_id for t in first.tasks}) == 9000
    # A changed listing: the tasks read anew share their names too.
    second = _poll([task(i) for i in range(9000)] + [task(9000), task(9001)], first)
    new = second.tasks[-2:]
    assert all(getattr(new[0], n) is getattr(new[1], n) for n in names)
    assert second.tasks[0] is first.tasks[0]


def _poll(items: list[Any], since: TaskListing | None) -> TaskListing:
    import httpx

    from client import CommandCenterClient

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"tasks": items})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with CommandCenterClient("http://platform.test", "pat_x", "acme", http_client=http) as cc:
        return cc.poll_pending_tasks(since)


@settings(max_examples=300, deadline=None)
@given(st.lists(task_objects | json_values, max_size=6))
def test_a_tolerant_listing_keeps_exactly_the_tasks_the_model_reads(items: list[Any]) -> None:
    expected: list[Task] = []
    bad: list[int] = []
    for index, item in enumerate(items):
        try:
            expected.append(Task.model_validate(item))
        except pydantic.ValidationError:
            bad.append(index)
    listing = _listing(items)
    assert [t.full() for t in listing.tasks] == expected
    assert [entry.index for entry in listing.unreadable] == bad
    assert all(entry.raw == items[entry.index] and entry.reason for entry in listing.unreadable)


payloads = st.fixed_dictionaries(
    {},
    optional={
        "title": loose,
        "description": loose,
        "fields": loose
        | st.dictionaries(st.text(max_size=4), json_values, max_size=3)
        | st.lists(
            st.fixed_dictionaries(
                {"name": st.text(max_size=4)}, optional={"value": json_values, "label": loose}
            )
            | json_values,
            max_size=3,
        ),
        "editable": loose | st.lists(st.text(max_size=4), max_size=2),
        "other": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_the_filter_reads_every_text_the_payload_shows(payload: dict[str, Any]) -> None:
    raw = {"id": "t", "workflow_id": "w", "run_id": "r", "task_payload": payload}
    (listed,) = _listing([raw]).tasks
    texts = listed.payload_texts()
    model = ListedTask.of(Task.model_validate(raw)).payload_texts()
    assert set(model) <= set(texts)
    shown = Task.model_validate(raw).payload
    if shown.title:
        assert shown.title in texts
    if shown.description:
        assert shown.description in texts
    for f in shown.fields:
        if isinstance(f.value, str) and f.value:
            assert f.value in texts


def test_the_filter_texts_of_the_documented_task() -> None:
    raw = {
        "id": "approve-review",
        "workflow_id": "wf_pr_review",
        "run_id": "run_7f3a9c1e5b2d",
        "task_payload": {
            "title": "Post review comment on PR #1432?",
            "description": "The LLM drafted this review.",
            "fields": {"repository": "acme/api", "pull_request": 1432, "confidence": 0.62},
            "editable": {"comment_body": "Looks good overall"},
        },
    }
    (listed,) = _listing([raw]).tasks
    assert listed.payload_texts() == [
        "Post review comment on PR #1432?",
        "The LLM drafted this review.",
        "acme/api",
        "1432",
        "0.62",
        "Looks good overall",
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(task_objects | json_values, max_size=6),
    st.lists(task_objects | json_values, max_size=6),
    st.randoms(use_true_random=False),
)
def test_a_listing_read_against_the_last_one_is_the_same_listing(
    old: list[Any], new: list[Any], rng: Any
) -> None:
    """Reading against the last listing reuses unchanged tasks and changes nothing else."""
    items = [*new, *rng.sample(old, k=len(old) // 2)]  # some tasks carried over
    rng.shuffle(items)
    content = json.dumps({"tasks": items}).encode()
    since = _listing(old)
    alone = listing_of(decode_listing(content))
    again = listing_of(decode_listing(content, since))
    assert [t.full() for t in again.tasks] == [t.full() for t in alone.tasks]
    assert [t.raw for t in again.tasks] == [t.raw for t in alone.tasks]
    assert [(e.index, e.raw) for e in again.unreadable] == [
        (e.index, e.raw) for e in alone.unreadable
    ]
    shown = [json.dumps(t.raw) for t in since.tasks]
    old_keys = [t.key for t in since.tasks]
    new_shown = [json.dumps(t.raw) for t in again.tasks]
    for task, text in zip(again.tasks, new_shown, strict=True):
        if shown.count(text) == 1 and new_shown.count(text) == 1:
            kept = since.tasks[shown.index(text)]
            if old_keys.count(kept.key) == 1:
                assert task is kept  # the same JSON: the same object, not a new one
