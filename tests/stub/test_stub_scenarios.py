"""The demo seed and the generator: coverage of the documented patterns, determinism, speed."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from client.models import FieldType, Task, TaskList
from server_stub import RunState, StubState, TaskGenerator, generate_tasks
from server_stub.scenarios import legacy_shape


def demo_tasks(state: StubState) -> list[Task]:
    return TaskList.model_validate_json(state.pending_body()).tasks


def test_the_demo_covers_the_documented_patterns(stub_state: StubState) -> None:
    tasks = demo_tasks(stub_state)
    by_workflow = Counter(t.workflow_id for t in tasks)

    assert 10 <= len(tasks) <= 15
    assert len(by_workflow) >= 4
    assert {"wf_customer_reply", "wf_ticket_triage", "wf_crm_extraction", "wf_pr_review"} <= set(
        by_workflow
    )
    email = next(t for t in tasks if t.workflow_id == "wf_customer_reply")
    assert {f.name for f in email.payload.editable_fields} == {"subject", "body"}
    assert next(f for f in email.fields if f.name == "body").type is FieldType.TEXT
    triage = next(t for t in tasks if t.workflow_id == "wf_ticket_triage")
    category = next(f for f in triage.fields if f.name == "category")
    assert category.type is FieldType.ENUM and category.editable and category.options
    assert any(f.name == "confidence" for f in triage.fields)
    crm = next(t for t in tasks if t.workflow_id == "wf_crm_extraction")
    crm_types = {f.type for f in crm.payload.editable_fields}
    assert {
        FieldType.STRING,
        FieldType.INTEGER,
        FieldType.NUMBER,
        FieldType.BOOLEAN,
        FieldType.ENUM,
    } <= crm_types
    assert any(f.required for f in crm.fields)


def test_the_pr_task_is_api_md_example(stub_state: StubState) -> None:
    raw = stub_state.list_run_pending("wf_pr_review", "run_7f3a9c1e5b2d")[0]
    example = {
        "id": "approve-review",
        "workflow_id": "wf_pr_review",
        "workflow_name": "PR review assistant",
        "run_id": "run_7f3a9c1e5b2d",
        "step_id": "approve-review",
        "task_type": "approval",
        "status": "pending",
        "task_payload": {
            "title": "Post review comment on PR #1432?",
            "description": "The LLM drafted this review. Approve to post it to GitHub.",
            "fields": {"repository": "acme/api", "pull_request": 1432, "confidence": 0.62},
            "editable": {"comment_body": "Looks good overall, but …"},
        },
    }
    created = raw.pop("created_at")
    assert raw == example
    assert datetime.fromisoformat(created) == datetime(2026, 11, 25, 9, 14, 3, 120000, UTC)


def test_the_demo_has_the_awkward_cases(stub_state: StubState, fixed_now: datetime) -> None:
    tasks = demo_tasks(stub_state)
    ages = [fixed_now - t.created_at for t in tasks if t.created_at is not None]
    runs = Counter((t.workflow_id, t.run_id) for t in tasks)

    assert min(ages) <= timedelta(minutes=10)
    assert max(ages) >= timedelta(days=3)
    assert max(runs.values()) == 2  # one run waits on two tasks
    markdown = [t for t in tasks if t.description and "```" in t.description]
    assert markdown and "## " in markdown[0].description and "\n- " in markdown[0].description
    unconventional = [t for t in tasks if not t.payload.title and not t.payload.fields]
    assert len(unconventional) == 1
    assert isinstance(unconventional[0].task_payload["anomaly"], dict)


def test_every_seeded_run_has_its_history_up_to_the_pause(stub_state: StubState) -> None:
    for task in demo_tasks(stub_state):
        events = stub_state.events(task.workflow_id, task.run_id)
        kinds = [e["type"] for e in events]
        assert kinds[0] == "run_started"
        assert "step_completed" in kinds  # at least one earlier step
        human = [e for e in events if e["type"] == "step_started" and e["step_id"] == task.step_id]
        assert human and human[0]["data"] == {"task_id": task.id}
        assert events[-1]["type"] == "state_changed"
        assert events[-1]["data"] == {"from": "running", "to": "paused"}
        assert len({e["id"] for e in events}) == len(events)


def test_the_legacy_shape_reads_as_the_same_task(stub_state: StubState) -> None:
    canonical = stub_state.list_run_pending("wf_pr_review", "run_7f3a9c1e5b2d")[0]
    legacy = legacy_shape(canonical)

    assert {"task_id", "context", "prompt"} <= legacy.keys()
    assert not {"id", "task_payload", "workflow_name", "step_id", "status"} & legacy.keys()
    old, new = Task.model_validate(legacy), Task.model_validate(canonical)
    assert old.key == new.key
    assert old.title == new.title == "Post review comment on PR #1432?"
    assert old.editable_values() == new.editable_values()


def test_generation_is_deterministic(fixed_now: datetime) -> None:
    def generated(seed: int, n: int) -> list[dict]:
        state = StubState(now=lambda: fixed_now)
        generate_tasks(state, n, seed=seed)
        return state.list_pending()

    same_a, same_b = generated(7, 300), generated(7, 300)
    assert same_a == same_b
    assert generated(8, 300) != same_a
    assert generated(7, 100) == same_a[:100]


def test_generated_tasks_are_varied_valid_and_completable(fixed_now: datetime) -> None:
    state = StubState(now=lambda: fixed_now)
    keys = generate_tasks(state, 400, seed=3)

    tasks = TaskList.model_validate_json(state.pending_body()).tasks
    assert [t.key for t in tasks] == keys
    assert len(set(keys)) == 400
    assert len({t.workflow_id for t in tasks}) >= 5
    assert len({t.title for t in tasks}) > 300
    ages = [fixed_now - t.created_at for t in tasks if t.created_at is not None]
    assert min(ages) >= timedelta(minutes=1) and max(ages) <= timedelta(days=7)
    for approved, (workflow_id, run_id, task_id) in zip([True, False] * 20, keys, strict=False):
        state.complete(workflow_id, run_id, task_id, approved=approved, result={"reason": "r"})
        expected = RunState.COMPLETED if approved else RunState.STOPPED
        assert state.run_state(workflow_id, run_id) is expected
        downstream = [e for e in state.events(workflow_id, run_id) if "input" in e.get("data", {})]
        assert downstream, f"no downstream step ran for {workflow_id}"


def test_a_generator_continues_its_sequence(fixed_now: datetime) -> None:
    state = StubState(now=lambda: fixed_now)
    generator = TaskGenerator(seed=1)
    first = generator.add(state, 50)
    more = generator.add(state, 50, fresh=True)
    spawned = TaskGenerator(seed=1, stream="spawned").add(state, 50)

    assert len({key[1] for key in first + more + spawned}) == 150
    fresh = [t for t in state.list_pending() if (t["workflow_id"], t["run_id"], t["id"]) in more]
    assert {t["created_at"] for t in fresh} == {"2026-11-25T12:00:00Z"}


def test_100k_tasks_generate_fast(fixed_now: datetime) -> None:
    state = StubState(now=lambda: fixed_now)

    started = time.perf_counter()
    keys = generate_tasks(state, 100_000)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    body = state.pending_body()
    listed = time.perf_counter() - started
    started = time.perf_counter()
    state.pending_body()
    cached = time.perf_counter() - started

    print(
        f"\n100,000 tasks: generated in {generated:.2f} s; inbox body {len(body) / 1e6:.0f} MB "
        f"built in {listed:.2f} s, then served from cache in {cached * 1000:.2f} ms"
    )
    assert state.pending_count == 100_000
    sample = [state.list_run_pending(wf, run)[0] for wf, run, _ in keys[::997]]
    TaskList.model_validate({"tasks": sample})
    assert body.startswith(b'{"tasks":[{') and body.endswith(b"}]}")
