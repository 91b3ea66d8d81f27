"""StubState on its own: completion semantics, resumed runs, idempotency, scoping, thread safety."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest

from client.models import EventList, Task
from server_stub import RunState, StubState
from server_stub.state import (
    Conflict,
    DownstreamStep,
    EarlierStep,
    NewTask,
    NotFound,
    Workflow,
)

PR = ("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")
EMAIL = ("wf_customer_reply", "run_c1a7e2f04b19", "approve-email")
EMAIL_2 = ("wf_customer_reply", "run_5be09d3a7c61", "approve-email")
CONTRACT_RUN = ("wf_vendor_contract", "run_4c8b1f6e2a93")


def step_events(state: StubState, workflow_id: str, run_id: str, step_id: str) -> list[dict]:
    return [e for e in state.events(workflow_id, run_id) if e.get("step_id") == step_id]


def test_approve_with_result_merges_it_and_resumes_the_run(stub_state: StubState) -> None:
    before = len(stub_state.events(*PR[:2]))

    outcome = stub_state.complete(*PR, approved=True, result={"comment_body": "Ship it."})

    assert outcome.status_code == 200
    assert outcome.body == {"status": "completed", "task_id": "approve-review", "approved": True}
    assert not outcome.replayed
    assert not stub_state.is_pending(*PR)
    assert stub_state.completion_of(*PR) == {"comment_body": "Ship it.", "approved": True}
    assert stub_state.run_state(*PR[:2]) is RunState.COMPLETED
    new = stub_state.events(*PR[:2])[before:]
    assert [(e["type"], e.get("step_id")) for e in new] == [
        ("step_completed", "approve-review"),
        ("state_changed", None),
        ("step_started", "post-review-comment"),
        ("step_completed", "post-review-comment"),
        ("state_changed", None),
    ]
    assert new[0]["data"] == {"result": {"comment_body": "Ship it.", "approved": True}}
    consumed = {"repository": "acme/api", "pull_request": 1432, "comment_body": "Ship it."}
    assert new[2]["data"] == {"input": consumed}
    assert new[3]["data"]["input"] == consumed
    assert new[-1]["data"] == {"from": "running", "to": "completed"}
    assert all(e["at"] == "2026-11-25T12:00:00Z" for e in new)


def test_plain_approve_sends_the_drafted_values(stub_state: StubState) -> None:
    drafted = stub_state.list_run_pending(*EMAIL[:2])[0]["task_payload"]

    stub_state.complete(*EMAIL, approved=True)

    sent = step_events(stub_state, EMAIL[0], EMAIL[1], "send-email")[0]["data"]["input"]
    assert sent == {
        "to": "dana.whitfield@example.com",
        "subject": drafted["editable"]["subject"],
        "body": drafted["editable"]["body"],
    }
    assert "\n" in sent["body"]


def test_reject_takes_the_reject_branch_and_stops_the_run(stub_state: StubState) -> None:
    stub_state.complete(*PR, approved=False, result={"reason": "Tone is too harsh"})

    assert stub_state.run_state(*PR[:2]) is RunState.STOPPED
    assert step_events(stub_state, PR[0], PR[1], "post-review-comment") == []
    notify = step_events(stub_state, PR[0], PR[1], "notify-author")
    assert [e["type"] for e in notify] == ["step_started", "step_completed"]
    assert notify[0]["data"]["input"]["reason"] == "Tone is too harsh"
    assert stub_state.events(*PR[:2])[-1]["data"] == {"from": "running", "to": "stopped"}


def test_a_result_cannot_overturn_the_decision(stub_state: StubState) -> None:
    stub_state.complete(*PR, approved=False, result={"approved": True, "reason": "no"})

    assert stub_state.completion_of(*PR) == {"approved": False, "reason": "no"}
    assert stub_state.run_state(*PR[:2]) is RunState.STOPPED


def test_a_run_with_two_tasks_stays_paused_until_the_last(stub_state: StubState) -> None:
    assert [t["id"] for t in stub_state.list_run_pending(*CONTRACT_RUN)] == [
        "legal-review",
        "budget-approval",
    ]

    stub_state.complete(*CONTRACT_RUN, "legal-review", approved=True, result={"redlines": "ok"})

    assert stub_state.run_state(*CONTRACT_RUN) is RunState.PAUSED
    assert [t["id"] for t in stub_state.list_run_pending(*CONTRACT_RUN)] == ["budget-approval"]
    assert step_events(stub_state, *CONTRACT_RUN, "countersign-contract") == []

    stub_state.complete(
        *CONTRACT_RUN, "budget-approval", approved=True, result={"approved_amount_eur": 45000}
    )

    assert stub_state.run_state(*CONTRACT_RUN) is RunState.COMPLETED
    signed = step_events(stub_state, *CONTRACT_RUN, "countersign-contract")[0]["data"]["input"]
    assert signed == {
        "vendor": "Globex Logistics B.V.",
        "redlines": "ok",
        "approved_amount_eur": 45000,
    }


def test_one_rejection_in_a_two_task_run_stops_it(stub_state: StubState) -> None:
    stub_state.complete(*CONTRACT_RUN, "legal-review", approved=False, result={"reason": "§7"})
    stub_state.complete(*CONTRACT_RUN, "budget-approval", approved=True)

    assert stub_state.run_state(*CONTRACT_RUN) is RunState.STOPPED
    notify = step_events(stub_state, *CONTRACT_RUN, "notify-requester")[0]["data"]["input"]
    assert notify == {"vendor": "Globex Logistics B.V.", "reason": "§7"}


def test_equal_task_ids_in_two_runs_are_different_tasks(stub_state: StubState) -> None:
    stub_state.complete(*EMAIL, approved=True)

    assert stub_state.is_pending(*EMAIL_2)
    assert stub_state.run_state(*EMAIL_2[:2]) is RunState.PAUSED
    stub_state.complete(*EMAIL_2, approved=True)  # not a conflict: another run's task


def test_idempotency_replays_and_conflicts(stub_state: StubState) -> None:
    first = stub_state.complete(*PR, approved=True, result={"x": 1}, idempotency_key="k1")
    replay = stub_state.complete(*PR, approved=True, result={"x": 1}, idempotency_key="k1")

    assert replay.replayed
    assert (replay.status_code, replay.body) == (first.status_code, first.body)
    with pytest.raises(Conflict, match="already completed"):
        stub_state.complete(*PR, approved=True, result={"x": 1}, idempotency_key="k2")
    with pytest.raises(Conflict, match="already completed"):
        stub_state.complete(*PR, approved=True, result={"x": 1})
    with pytest.raises(Conflict, match="different request"):
        stub_state.complete(*PR, approved=True, result={"x": 2}, idempotency_key="k1")
    with pytest.raises(Conflict, match="different request"):
        stub_state.complete(*EMAIL, approved=True, result={"x": 1}, idempotency_key="k1")
    assert stub_state.is_pending(*EMAIL)
    assert stub_state.completed_count == 1


def test_unknown_ids_raise_not_found_naming_which(stub_state: StubState) -> None:
    with pytest.raises(NotFound, match="workflow 'wf_nope'"):
        stub_state.complete("wf_nope", PR[1], PR[2], approved=True)
    with pytest.raises(NotFound, match="run 'run_nope'"):
        stub_state.complete(PR[0], "run_nope", PR[2], approved=True)
    with pytest.raises(NotFound, match="task 'nope'"):
        stub_state.complete(PR[0], PR[1], "nope", approved=True)
    with pytest.raises(NotFound, match="run 'run_nope'"):
        stub_state.events(PR[0], "run_nope")


def test_other_tenants_and_projects_are_invisible(stub_state: StubState) -> None:
    stub_state.add_workflow(Workflow("wf_acme", "Acme flow", tenant="acme", project="ops"))
    stub_state.add_run("wf_acme", "run_acme1", tasks=[NewTask("t1", {"title": "Acme task"})])

    assert [t["id"] for t in stub_state.list_pending("acme")] == ["t1"]
    assert "t1" not in {t["id"] for t in stub_state.list_pending("demo")}
    assert stub_state.list_pending("acme", ["other"]) == []
    assert len(stub_state.list_pending()) == 13
    with pytest.raises(NotFound, match="workflow 'wf_acme'"):
        stub_state.complete("wf_acme", "run_acme1", "t1", approved=True, tenant="demo")
    with pytest.raises(NotFound, match="workflow 'wf_acme'"):
        stub_state.events("wf_acme", "run_acme1", tenant="acme", project="demo-project")


def test_the_inbox_body_follows_every_change(stub_state: StubState) -> None:
    first = stub_state.pending_body("demo")
    assert stub_state.pending_body("demo") is first  # cached

    stub_state.complete(*PR, approved=True)
    after_completion = stub_state.pending_body("demo")
    stub_state.add_run(PR[0], "run_new", tasks=[NewTask("approve-review", {"title": "New"})])
    after_add = stub_state.pending_body("demo")

    assert b"run_7f3a9c1e5b2d" in first
    assert b"run_7f3a9c1e5b2d" not in after_completion
    assert b"run_new" in after_add and b"run_new" not in after_completion


def test_times_follow_the_injected_clock(stub_state: StubState) -> None:
    task = Task.model_validate(stub_state.list_run_pending(*PR[:2])[0])
    # API.md's example time, reproduced relative to the clock.
    assert task.created_at == datetime(2026, 11, 25, 9, 14, 3, 120000, tzinfo=UTC)
    events = EventList.model_validate({"events": stub_state.events(*PR[:2])}).events
    assert [e.at for e in events] == sorted(e.at for e in events if e.at is not None)
    assert events[-1].at == task.created_at


def test_a_failed_add_leaves_no_half_made_run(stub_state: StubState) -> None:
    good = NewTask("a", {"title": "fine"})
    bad = NewTask("b", {"when": {1, 2}})  # a set is not JSON
    with pytest.raises(TypeError):
        stub_state.add_run(PR[0], "run_half", tasks=[good, bad])
    with pytest.raises(ValueError, match="share an id"):
        stub_state.add_run(PR[0], "run_half", tasks=[good, good])

    stub_state.add_run(PR[0], "run_half", tasks=[good])
    assert [t["id"] for t in stub_state.list_run_pending(PR[0], "run_half")] == ["a"]
    with pytest.raises(ValueError, match="already exists"):
        stub_state.add_run(PR[0], "run_half", tasks=[good])
    with pytest.raises(ValueError, match="unknown workflow"):
        stub_state.add_run("wf_nope", "run_x", tasks=[good])


def test_add_task_pauses_a_running_run_and_records_it(fixed_now: datetime) -> None:
    state = StubState(now=lambda: fixed_now)
    state.add_workflow(Workflow("wf", "Flow", on_approve=(DownstreamStep("go", ("v",)),)))
    state.add_run("wf", "run_1", earlier_steps=[EarlierStep("prep", {"n": 1})])
    assert state.run_state("wf", "run_1") is RunState.RUNNING

    state.add_task("wf", "run_1", NewTask("check", {"editable": {"v": 3}}))

    assert state.run_state("wf", "run_1") is RunState.PAUSED
    kinds = [(e["type"], e.get("step_id")) for e in state.events("wf", "run_1")]
    assert kinds == [
        ("run_started", None),
        ("step_started", "prep"),
        ("step_completed", "prep"),
        ("step_started", "check"),
        ("state_changed", None),
    ]
    state.complete("wf", "run_1", "check", approved=True)
    assert state.events("wf", "run_1")[-3]["data"] == {"input": {"v": 3}}
    with pytest.raises(ValueError, match="already finished"):
        state.add_task("wf", "run_1", NewTask("again", {}))


def test_returned_events_and_tasks_are_copies(stub_state: StubState) -> None:
    stub_state.events(*PR[:2])[0]["type"] = "tampered"
    stub_state.list_pending()[0]["id"] = "tampered"

    assert stub_state.events(*PR[:2])[0]["type"] == "run_started"
    assert stub_state.list_pending()[0]["id"] != "tampered"


def test_twenty_threads_one_winner(stub_state: StubState) -> None:
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            stub_state.complete(*PR, approved=True, idempotency_key=f"key-{n}")
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(outcomes) == {"ok": 1, "conflict": 19}
    completed = [e for e in stub_state.events(*PR[:2]) if e["type"] == "step_completed"]
    assert [e["step_id"] for e in completed].count("approve-review") == 1
