"""Runs in StubState: the command state machine, transitions over time, the feed, the context,
idempotent commands, the event stream's bookkeeping, the demo's runs and the run generator."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server_stub import (
    ManualClock,
    PlannedStep,
    RunState,
    StubState,
    generate_runs,
    generate_tasks,
    seed_demo,
)
from server_stub.state import Conflict, DownstreamStep, EarlierStep, NewTask, NotFound, Workflow

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
FLOW = Workflow(
    "wf_t",
    "Test flow",
    on_approve=(DownstreamStep("after", ("v",), {"ok": True}),),
    run_steps=(PlannedStep("a", 10, {"n": 1}), PlannedStep("b", 20, {"n": 2})),
)
STEPS = FLOW.run_steps
FAILED_CODES = {
    "MCP_TOOL_FAILED",
    "LLM_REQUEST_FAILED",
    "INSUFFICIENT_CREDITS",
    "RUN_STALLED_OR_TIMED_OUT",
    "DRAIN_TIMEOUT",
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def state(clock: ManualClock) -> StubState:
    state = StubState(now=clock, drain_seconds=5)
    state.add_workflow(FLOW)
    return state


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def kinds(state: StubState, run_id: str, workflow_id: str = "wf_t") -> list[tuple[Any, ...]]:
    return [
        (e["type"], e.get("step_id"), e["at"])
        for e in state.events(workflow_id, run_id)
        if e["type"] != "run_started"
    ]


def new_events(state: StubState, run_id: str, before: int) -> list[dict[str, Any]]:
    return state.events("wf_t", run_id)[before:]


# -- the state machine, every command in every state -----------------------------------------


def make(state: StubState, kind: str) -> str:
    """A run of ``wf_t`` in the named state; returns its id."""
    run_id = f"run_{kind.replace('-', '_')}"
    if kind == "paused-human":
        state.add_run("wf_t", run_id, tasks=[NewTask("check", {"editable": {"v": 1}})])
    elif kind == "paused-operator":
        state.add_run("wf_t", run_id, status="paused", steps=STEPS)
    elif kind in ("pending", "queued", "starting"):
        state.add_run("wf_t", run_id, status=kind, starts_in=60, steps=STEPS)
    elif kind in ("running", "draining"):
        state.add_run("wf_t", run_id, status=kind, steps=STEPS)
    else:
        code = {"failed": "MCP_TOOL_FAILED"}.get(kind)
        state.add_run("wf_t", run_id, status=kind, failure_code=code)
    return run_id


STATES = [
    "running",
    "pending",
    "queued",
    "starting",
    "paused-operator",
    "paused-human",
    "draining",
    "failed",
    "stopped",
    "completed",
]
COMMANDS = ["pause", "resume", "stop", "stop-graceful"]
# The status after the command, or (in words) why it is refused with a 409.
TABLE: dict[str, dict[str, str]] = {
    "running": {
        "pause": "paused",
        "resume": "the run is not paused (it is running)",
        "stop": "stopped",
        "stop-graceful": "draining",
    },
    **{
        kind: {
            "pause": "paused",
            "resume": f"the run is not paused (it is {kind})",
            "stop": "stopped",
            "stop-graceful": "draining",
        }
        for kind in ("pending", "queued", "starting")
    },
    "paused-operator": {
        "pause": "the run is already paused",
        "resume": "running",
        "stop": "stopped",
        "stop-graceful": "draining",
    },
    "paused-human": {
        "pause": "the run is already paused: it waits for a human task",
        "resume": "the run waits for a human task; complete the task to resume it",
        "stop": "stopped",
        "stop-graceful": "draining",
    },
    "draining": {
        "pause": "the run is draining (a graceful stop is in progress)",
        "resume": "a draining run cannot be resumed",
        "stop": "stopped",
        "stop-graceful": "the run is already draining; escalate with mode immediate",
    },
    "failed": {
        "pause": "a failed run cannot be paused",
        "resume": "a failed run cannot be resumed; start a new run",
        "stop": "the run has already failed",
        "stop-graceful": "the run has already failed",
    },
    "stopped": {
        "pause": "a stopped run cannot be paused",
        "resume": "a stopped run cannot be resumed",
        "stop": "the run is already stopped",
        "stop-graceful": "the run is already stopped",
    },
    "completed": {
        "pause": "a completed run cannot be paused",
        "resume": "a completed run cannot be resumed",
        "stop": "the run has already completed",
        "stop-graceful": "the run has already completed",
    },
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", STATES)
def test_every_command_in_every_state(state: StubState, kind: str, command: str) -> None:
    run_id = make(state, kind)
    name, _, graceful = command.partition("-")
    mode = "graceful" if graceful else None
    before = state.run_summary("wf_t", run_id)
    events = len(state.events("wf_t", run_id))
    expected = TABLE[kind][command]

    if expected in {s.value for s in RunState}:
        outcome = state.command("wf_t", name, run_id, mode=mode)
        assert outcome.status_code == 200 and not outcome.replayed
        assert outcome.body == {"run_id": run_id, "workflow_id": "wf_t", "status": expected}
        assert state.run_state("wf_t", run_id) == expected
        change = [e for e in state.events("wf_t", run_id) if e["type"] == "state_changed"][-1]
        assert change["data"]["to"] == expected and change["data"]["command"] == name
    else:
        with pytest.raises(Conflict) as refused:
            state.command("wf_t", name, run_id, mode=mode)
        assert str(refused.value).startswith(f"cannot {name} run {run_id!r}: ")
        assert expected in str(refused.value)
        assert state.run_summary("wf_t", run_id) == before
        assert len(state.events("wf_t", run_id)) == events


def test_unknown_runs_and_workflows_and_foreign_tenants_are_not_found(state: StubState) -> None:
    state.add_workflow(Workflow("wf_acme", "Acme", tenant="acme", project="ops"))
    state.add_run("wf_acme", "run_acme", steps=STEPS)

    with pytest.raises(NotFound, match="run 'run_nope' not found in workflow 'wf_t'"):
        state.command("wf_t", "pause", "run_nope")
    with pytest.raises(NotFound, match="workflow 'wf_nope' not found"):
        state.command("wf_nope", "pause", "run_x")
    with pytest.raises(NotFound, match="workflow 'wf_acme' not found"):
        state.command("wf_acme", "pause", "run_acme", tenant="demo", project="demo-project")
    with pytest.raises(NotFound, match="run 'run_acme' not found in workflow 'wf_t'"):
        state.command("wf_t", "pause", "run_acme")
    assert state.run_state("wf_acme", "run_acme") is RunState.RUNNING


def test_malformed_commands_are_value_errors(state: StubState) -> None:
    run_id = make(state, "running")
    for args, kwargs, words in [
        (("frob", run_id), {}, "unknown command 'frob'"),
        (("pause", None), {}, "pause needs params.run_id"),
        (("pause", run_id), {"mode": "graceful"}, "mode applies to stop only"),
        (("stop", run_id), {"mode": "slowly"}, "mode must be 'immediate' or 'graceful'"),
        (("start", run_id), {}, "start takes trigger params only"),
    ]:
        with pytest.raises(ValueError, match=words):
            state.command("wf_t", *args, **kwargs)
    assert state.run_state("wf_t", run_id) is RunState.RUNNING


# -- transitions over time -------------------------------------------------------------------


def test_a_running_run_performs_its_steps_then_completes(
    state: StubState, clock: ManualClock
) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS)
    clock.advance(9.9)
    assert state.run_state("wf_t", "run_1") is RunState.RUNNING
    assert kinds(state, "run_1") == [("step_started", "a", at(0))]

    clock.advance(20.1)  # 30 s: both steps are done
    assert state.run_state("wf_t", "run_1") is RunState.COMPLETED
    assert kinds(state, "run_1") == [
        ("step_started", "a", at(0)),
        ("step_completed", "a", at(10)),
        ("step_started", "b", at(10)),
        ("step_completed", "b", at(30)),
        ("state_changed", None, at(30)),
    ]
    summary = state.run_summary("wf_t", "run_1")
    assert summary["status"] == "completed" and summary["updated_at"] == at(30)


def test_a_failing_step_fails_the_run_with_its_code(state: StubState, clock: ManualClock) -> None:
    failing = PlannedStep("call-tool", 4, failure_code="MCP_TOOL_FAILED", error="tool said no")
    state.add_run("wf_t", "run_1", steps=[STEPS[0], failing, STEPS[1]])

    clock.advance(14)

    summary = state.run_summary("wf_t", "run_1")
    assert summary["status"] == "failed"
    assert summary["failure_code"] == "MCP_TOOL_FAILED" and summary["error"] == "tool said no"
    assert summary["updated_at"] == at(14)
    failed = state.events("wf_t", "run_1")[-2:]
    assert failed[0]["type"] == "step_failed" and failed[0]["step_id"] == "call-tool"
    assert failed[0]["data"] == {"error": "tool said no", "failure_code": "MCP_TOOL_FAILED"}
    assert failed[1]["data"]["to"] == "failed"
    assert "b" not in {e.get("step_id") for e in state.events("wf_t", "run_1")}


def test_queued_runs_start_on_their_own(state: StubState, clock: ManualClock) -> None:
    state.add_run("wf_t", "run_q", status="queued", starts_in=30, steps=STEPS)
    state.add_run("wf_t", "run_p", status="pending", steps=STEPS)  # waits for a command
    assert state.events("wf_t", "run_q") == [
        {"id": "evt_q_01", "type": "state_changed", "at": at(0), "data": {"to": "queued"}}
    ]

    clock.advance(31)
    assert state.run_state("wf_t", "run_q") is RunState.STARTING
    clock.advance(1)
    assert state.run_state("wf_t", "run_q") is RunState.RUNNING
    assert [(e["type"], e.get("data")) for e in state.events("wf_t", "run_q")[1:]] == [
        ("state_changed", {"from": "queued", "to": "starting"}),
        ("state_changed", {"from": "starting", "to": "running"}),
        ("run_started", {"workflow_name": "Test flow"}),
        ("step_started", None),
    ]
    assert state.run_summary("wf_t", "run_q")["started_at"] == at(0)  # when it was triggered
    clock.advance(3600)
    assert state.run_state("wf_t", "run_q") is RunState.COMPLETED
    assert state.run_state("wf_t", "run_p") is RunState.PENDING


def test_pause_lets_the_step_in_flight_finish_and_starts_no_new_one(
    state: StubState, clock: ManualClock
) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS)
    clock.advance(3)
    state.command("wf_t", "pause", "run_1")
    clock.advance(100)
    assert state.run_state("wf_t", "run_1") is RunState.PAUSED
    assert kinds(state, "run_1")[-2:] == [
        ("state_changed", None, at(3)),
        ("step_completed", "a", at(10)),  # in flight: it completes
    ]

    state.command("wf_t", "resume", "run_1")
    assert kinds(state, "run_1")[-2:] == [
        ("state_changed", None, at(103)),
        ("step_started", "b", at(103)),  # scheduling goes on from the resume
    ]
    clock.advance(20)
    assert state.run_state("wf_t", "run_1") is RunState.COMPLETED


def test_a_queued_run_paused_then_resumed_starts_running(
    state: StubState, clock: ManualClock
) -> None:
    state.add_run("wf_t", "run_q", status="queued", starts_in=30, steps=STEPS)
    state.command("wf_t", "pause", "run_q")
    clock.advance(60)  # its start time passes while paused: it stays paused
    assert state.run_state("wf_t", "run_q") is RunState.PAUSED

    state.command("wf_t", "resume", "run_q")

    assert state.run_state("wf_t", "run_q") is RunState.RUNNING
    assert [e["type"] for e in state.events("wf_t", "run_q")[-3:]] == [
        "state_changed",
        "run_started",
        "step_started",
    ]


def test_a_graceful_stop_drains_for_the_drain_time_then_stops(
    state: StubState, clock: ManualClock
) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS)
    clock.advance(2)
    outcome = state.command("wf_t", "stop", "run_1", mode="graceful")
    assert outcome.body["status"] == "draining"

    clock.advance(4.9)
    assert state.run_state("wf_t", "run_1") is RunState.DRAINING
    clock.advance(0.1)  # the state's drain time, 5 s
    summary = state.run_summary("wf_t", "run_1")
    assert summary["status"] == "stopped" and summary["failure_code"] == "RUN_STOPPED"
    assert summary["updated_at"] == at(7)
    assert kinds(state, "run_1")[-3:] == [
        ("state_changed", None, at(2)),
        ("step_completed", "a", at(7)),  # the active step was let finish
        ("state_changed", None, at(7)),
    ]
    assert state.events("wf_t", "run_1")[-1]["data"] == {
        "from": "draining",
        "to": "stopped",
        "failure_code": "RUN_STOPPED",
        "error": "stopped by an operator (graceful stop)",
    }
    clock.advance(600)
    assert "b" not in {e.get("step_id") for e in state.events("wf_t", "run_1")}


def test_a_drain_longer_than_its_timeout_fails_with_drain_timeout(
    state: StubState, clock: ManualClock
) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS, drain_seconds=60, drain_timeout=20)
    state.command("wf_t", "stop", "run_1", mode="graceful")

    clock.advance(19)
    assert state.run_state("wf_t", "run_1") is RunState.DRAINING
    clock.advance(1)
    summary = state.run_summary("wf_t", "run_1")
    assert summary["status"] == "failed" and summary["failure_code"] == "DRAIN_TIMEOUT"
    assert "20 s drain timeout" in summary["error"]
    cancelled, failed = state.events("wf_t", "run_1")[-2:]
    assert cancelled["type"] == "step_cancelled" and cancelled["step_id"] == "a"
    assert cancelled["data"] == {"cancelled": True, "reason": "drain_timeout"}
    assert failed["data"]["to"] == "failed" and failed["at"] == at(20)


def test_an_immediate_stop_escalates_a_slow_drain(state: StubState, clock: ManualClock) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS, drain_seconds=60)
    state.command("wf_t", "stop", "run_1", mode="graceful")
    clock.advance(10)

    outcome = state.command("wf_t", "stop", "run_1", mode="immediate")

    assert outcome.body["status"] == "stopped"
    cancelled, stopped = state.events("wf_t", "run_1")[-2:]
    assert cancelled["data"] == {"cancelled": True, "reason": "run_stopped"}
    assert stopped["data"]["from"] == "draining" and stopped["data"]["mode"] == "immediate"
    events = len(state.events("wf_t", "run_1"))
    clock.advance(120)  # the drain's end passes: nothing more happens
    assert len(state.events("wf_t", "run_1")) == events
    assert state.run_summary("wf_t", "run_1")["failure_code"] == "RUN_STOPPED"


def test_an_immediate_stop_cancels_in_flight_work(state: StubState, clock: ManualClock) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS)
    clock.advance(4)

    state.command("wf_t", "stop", "run_1")  # immediate by default

    assert kinds(state, "run_1")[-2:] == [
        ("step_cancelled", "a", at(4)),
        ("state_changed", None, at(4)),
    ]
    assert state.events("wf_t", "run_1")[-1]["data"] == {
        "from": "running",
        "to": "stopped",
        "command": "stop",
        "mode": "immediate",
        "failure_code": "RUN_STOPPED",
        "error": "stopped by an operator (immediate stop)",
    }
    clock.advance(600)
    assert "step_completed" not in {e["type"] for e in state.events("wf_t", "run_1")[1:]}


@pytest.mark.parametrize("mode", ["immediate", "graceful"])
def test_a_stop_withdraws_the_runs_pending_tasks(stub_state: StubState, mode: str) -> None:
    run = ("wf_vendor_contract", "run_4c8b1f6e2a93")
    pending = stub_state.pending_count

    stub_state.command(*run[:1], "stop", run[1], mode=mode)

    assert stub_state.pending_count == pending - 2
    assert stub_state.list_run_pending(*run) == []
    assert {t["run_id"] for t in stub_state.list_pending()}.isdisjoint({run[1]})
    assert stub_state.run_summary(*run)["pending_tasks"] == 0
    cancelled = [e for e in stub_state.events(*run) if e["type"] == "step_cancelled"]
    assert [(e["step_id"], e["data"]["task_id"]) for e in cancelled] == [
        ("legal-review", "legal-review"),
        ("budget-approval", "budget-approval"),
    ]
    with pytest.raises(Conflict, match="no longer pending: its run was stopped"):
        stub_state.complete(*run, "legal-review", approved=True)


def test_reads_apply_due_transitions_and_advance_reports_them(
    state: StubState, clock: ManualClock
) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS)
    assert state.seconds_until_due() == 10

    clock.advance(10)
    assert state.advance() == 2  # step a completed, step b started
    assert state.advance() == 0
    assert state.seconds_until_due() == 20
    clock.advance(30)
    assert state.list_runs()[0]["status"] == "completed"  # a read applies what fell due
    assert state.seconds_until_due() is None


# -- the feed ----------------------------------------------------------------------------------


def test_the_feed_is_most_recently_changed_first(state: StubState, clock: ManualClock) -> None:
    state.add_run("wf_t", "run_old", status="completed", created_at=T0 - timedelta(hours=3))
    state.add_run("wf_t", "run_a", steps=STEPS, created_at=T0 - timedelta(seconds=5))
    state.add_run("wf_t", "run_b", status="paused", steps=STEPS)
    assert [r["id"] for r in state.list_runs()] == ["run_b", "run_a", "run_old"]

    clock.advance(1)
    state.command("wf_t", "pause", "run_a")
    runs = state.list_runs()
    assert [r["id"] for r in runs] == ["run_a", "run_b", "run_old"]
    assert runs[0] == {
        "id": "run_a",
        "workflow_id": "wf_t",
        "workflow_name": "Test flow",
        "status": "paused",
        "started_at": at(-5 - 1),
        "updated_at": at(1),
        "pending_tasks": 0,
    }
    assert list(runs[0]) == [
        "id",
        "workflow_id",
        "workflow_name",
        "status",
        "started_at",
        "updated_at",
        "pending_tasks",
    ]


def test_the_feed_body_is_cached_until_a_run_changes(state: StubState, clock: ManualClock) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS)
    first = state.runs_body("demo")
    assert state.runs_body("demo") is first

    clock.advance(10)  # a step ends: the run changed
    after_step = state.runs_body("demo")
    state.command("wf_t", "stop", "run_1")
    after_stop = state.runs_body("demo")

    assert after_step is not first and after_step != first
    assert b'"status":"stopped"' in after_stop
    body, tag = state.tagged_runs_body("demo")
    assert body is after_stop and state.tagged_runs_body("demo") == (body, tag)


def test_the_feed_is_scoped_by_tenant_project_and_workflow(state: StubState) -> None:
    state.add_workflow(Workflow("wf_acme", "Acme", tenant="acme", project="ops"))
    state.add_workflow(Workflow("wf_other", "Other project", project="proj-other"))
    state.add_run("wf_acme", "run_acme")
    state.add_run("wf_other", "run_other")
    state.add_run("wf_t", "run_mine")

    assert [r["id"] for r in state.list_runs("acme")] == ["run_acme"]
    assert {r["id"] for r in state.list_runs("demo")} == {"run_mine", "run_other"}
    assert [r["id"] for r in state.list_runs("demo", ["demo-project"])] == ["run_mine"]
    assert [r["id"] for r in state.list_runs(workflow_id="wf_t")] == ["run_mine"]
    for tenant, projects in [("demo", None), ("acme", ["other"]), ("demo", ["proj-other"])]:
        with pytest.raises(NotFound, match="workflow 'wf_acme' not found"):
            state.runs_body(tenant, projects, workflow_id="wf_acme")
    with pytest.raises(NotFound, match="workflow 'wf_nope' not found"):
        state.runs_body(workflow_id="wf_nope")


def test_tasks_runs_show_their_pending_count_and_stay_paused(stub_state: StubState) -> None:
    runs = {r["id"]: r for r in stub_state.list_runs()}

    contract = runs["run_4c8b1f6e2a93"]
    assert contract["status"] == "paused" and contract["pending_tasks"] == 2
    stub_state.complete("wf_vendor_contract", "run_4c8b1f6e2a93", "legal-review", approved=True)
    contract = stub_state.run_summary("wf_vendor_contract", "run_4c8b1f6e2a93")
    assert contract["status"] == "paused" and contract["pending_tasks"] == 1
    assert stub_state.list_runs()[0]["id"] == "run_4c8b1f6e2a93"  # just changed


# -- the context ------------------------------------------------------------------------------


def test_the_context_after_a_completion(stub_state: StubState) -> None:
    run = ("wf_pr_review", "run_7f3a9c1e5b2d")
    waiting = stub_state.run_context(*run)
    assert waiting["steps"]["approve-review"] == {
        "status": "waiting",
        "result": {},
        "task_id": "approve-review",
    }

    stub_state.complete(*run, "approve-review", approved=True, result={"comment_body": "LGTM"})

    context = stub_state.run_context(*run)
    assert context["run_id"] == run[1] and context["workflow_id"] == run[0]
    assert context["variables"] == {
        "repository": "acme/api",
        "pull_request": 1432,
        "confidence": 0.62,
    }
    assert list(context["steps"]) == [
        "fetch-diff",
        "draft-review",
        "approve-review",
        "post-review-comment",
    ]
    assert context["steps"]["fetch-diff"] == {
        "status": "completed",
        "result": {"files_changed": 7, "additions": 212, "deletions": 48},
    }
    assert context["steps"]["approve-review"] == {
        "status": "completed",
        "result": {"comment_body": "LGTM", "approved": True},
        "task_id": "approve-review",
    }
    assert context["steps"]["post-review-comment"] == {
        "status": "completed",
        "result": {"posted": True},
        "input": {"repository": "acme/api", "pull_request": 1432, "comment_body": "LGTM"},
    }


def test_the_context_of_running_failed_and_stopped_runs(
    state: StubState, clock: ManualClock
) -> None:
    failing = PlannedStep("b", 5, failure_code="LLM_REQUEST_FAILED", error="401 invalid_api_key")
    state.add_run("wf_t", "run_f", steps=[STEPS[0], failing], variables={"date": "2026-11-24"})
    state.add_run("wf_t", "run_s", steps=STEPS)
    clock.advance(12)
    state.command("wf_t", "stop", "run_s")

    failed = state.run_context("wf_t", "run_f")
    assert failed["variables"] == {"date": "2026-11-24"}
    assert failed["steps"] == {
        "a": {"status": "completed", "result": {"n": 1}},
        "b": {
            "status": "running",
            "result": {},
        },
    }
    clock.advance(3)
    assert state.run_context("wf_t", "run_f")["steps"]["b"] == {
        "status": "failed",
        "result": {},
        "error": "401 invalid_api_key",
        "failure_code": "LLM_REQUEST_FAILED",
    }
    stopped = state.run_context("wf_t", "run_s")["steps"]
    assert stopped == {
        "a": {"status": "completed", "result": {"n": 1}},
        "b": {"status": "cancelled", "result": {}},
    }
    assert state.run_context("wf_t", "run_s")["variables"] == {}
    with pytest.raises(NotFound, match="run 'run_x'"):
        state.run_context("wf_t", "run_x")


# -- start, idempotency, concurrency ----------------------------------------------------------


def test_start_runs_the_workflows_steps_with_the_params_as_variables(
    state: StubState, clock: ManualClock
) -> None:
    outcome = state.command("wf_t", "start", params={"date": "2026-11-25"})

    run_id = outcome.body["run_id"]
    assert outcome.body == {
        "run_id": run_id,
        "workflow_id": "wf_t",
        "status": "running",
        "started_at": at(0),
    }
    assert run_id.startswith("run_") and len(run_id) == 16
    assert state.run_context("wf_t", run_id)["variables"] == {"date": "2026-11-25"}
    assert [e["type"] for e in state.events("wf_t", run_id)] == ["run_started", "step_started"]
    clock.advance(30)
    assert state.run_state("wf_t", run_id) is RunState.COMPLETED
    again = state.command("wf_t", "start", params={"date": "2026-11-25"})
    assert again.body["run_id"] != run_id


def test_commands_are_idempotent_under_one_key(stub_state: StubState) -> None:
    run = ("wf_support_digest", "run_d51c0a8e7f24")
    first = stub_state.command(run[0], "stop", run[1], mode="graceful", idempotency_key="k1")
    replay = stub_state.command(run[0], "stop", run[1], mode="graceful", idempotency_key="k1")
    assert replay.replayed and replay.body == first.body == {
        "run_id": run[1],
        "workflow_id": run[0],
        "status": "draining",
    }
    stub_state.command(run[0], "stop", run[1], mode="immediate")
    assert (
        stub_state.command(run[0], "stop", run[1], mode="graceful", idempotency_key="k1").body[
            "status"
        ]
        == "draining"
    )  # the first answer, though the run has stopped since

    with pytest.raises(Conflict, match="different request"):
        stub_state.command(run[0], "stop", run[1], idempotency_key="k1")
    with pytest.raises(Conflict, match="already stopped"):
        stub_state.command(run[0], "stop", run[1], idempotency_key="k2")
    pr = ("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")
    with pytest.raises(Conflict, match="different request"):
        stub_state.complete(*pr, approved=True, idempotency_key="k1")
    stub_state.complete(*pr, approved=True, idempotency_key="k3")
    with pytest.raises(Conflict, match="different request"):
        stub_state.command(pr[0], "pause", pr[1], idempotency_key="k3")
    started = stub_state.command("wf_warehouse_sync", "start", idempotency_key="s1")
    again = stub_state.command("wf_warehouse_sync", "start", idempotency_key="s1")
    assert again.replayed and again.body == started.body
    # A stop without a mode is the immediate one: the same request.
    other = ("wf_lead_enrichment", "run_8b2f4e1a9c63")
    stub_state.command(other[0], "stop", other[1], idempotency_key="k4")
    assert stub_state.command(
        other[0], "stop", other[1], mode="immediate", idempotency_key="k4"
    ).replayed


def test_twenty_threads_pausing_one_run_have_one_winner(state: StubState) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            state.command("wf_t", "pause", "run_1")
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(outcomes) == {"ok": 1, "conflict": 19}
    changes = [e for e in state.events("wf_t", "run_1") if e["type"] == "state_changed"]
    assert len(changes) == 1


# -- the stream's bookkeeping -------------------------------------------------------------------


def test_the_stream_replays_after_a_live_or_a_history_event(
    state: StubState, clock: ManualClock
) -> None:
    state.add_run("wf_t", "run_1", earlier_steps=[EarlierStep("prep")], steps=STEPS)
    state.add_run("wf_t", "run_2", steps=STEPS)
    opened, cursor = state.stream_open("wf_t")
    assert opened == [] and cursor == state.event_seq
    state.command("wf_t", "pause", "run_1")
    state.command("wf_t", "pause", "run_2")

    frames, cursor = state.stream_after("wf_t", cursor)
    assert [(f["run_id"], f["type"], f["data"]["to"]) for f in frames] == [
        ("run_1", "state_changed", "paused"),
        ("run_2", "state_changed", "paused"),
    ]
    assert frames[0] == {
        "id": "evt_1_05",
        "type": "state_changed",
        "run_id": "run_1",
        "workflow_id": "wf_t",
        "at": at(0),
        "data": {"from": "running", "to": "paused", "command": "pause"},
    }
    assert state.stream_after("wf_t", cursor) == ([], cursor)
    # After a live event: what followed it, in the whole workflow or one run.
    after, _ = state.stream_open("wf_t", since="evt_1_05")
    assert [f["id"] for f in after] == ["evt_2_03"]
    assert state.stream_open("wf_t", since="evt_1_05", run_id="run_1")[0] == []
    # After a history event: the rest of that run's history, then everything since it was added.
    replayed, _ = state.stream_open("wf_t", since="evt_1_02")
    assert [f["id"] for f in replayed] == ["evt_1_03", "evt_1_04", "evt_1_05", "evt_2_03"]
    for bad in ["evt_1_99", "evt_nope_01", "nonsense", "evt_2_03x"]:
        with pytest.raises(NotFound, match="not found in workflow 'wf_t'"):
            state.stream_open("wf_t", since=bad)
    with pytest.raises(NotFound, match="run 'run_9'"):
        state.stream_open("wf_t", run_id="run_9")


def test_listeners_hear_of_changes_from_any_thread_outside_the_lock(
    state: StubState, clock: ManualClock
) -> None:
    state.add_run("wf_t", "run_1", steps=STEPS)
    heard: list[int] = []
    # A listener that reads the state would deadlock if it were called under the lock.
    unsubscribe = state.subscribe(lambda: heard.append(len(state.list_runs())))

    worker = threading.Thread(target=state.command, args=("wf_t", "pause", "run_1"))
    worker.start()
    worker.join(5)
    clock.advance(10)
    state.advance()  # the step in flight completes: an event, so a call
    state.advance()  # nothing new: no call
    unsubscribe()
    state.command("wf_t", "resume", "run_1")

    assert heard == [1, 1]


# -- the demo and the generator ---------------------------------------------------------------


def test_the_demo_fills_every_command_center_section(
    stub_state: StubState, fixed_now: datetime
) -> None:
    runs = stub_state.list_runs("demo")
    statuses = Counter(r["status"] for r in runs)
    day_ago = fixed_now - timedelta(hours=24)

    def when(run: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(run["updated_at"].replace("Z", "+00:00"))

    awaiting = [r for r in runs if r["pending_tasks"]]
    recent = [r for r in runs if r["status"] in ("failed", "stopped") and when(r) >= day_ago]
    assert len(runs) == 26 and stub_state.pending_count == 12
    assert len(awaiting) == 11 and sum(r["pending_tasks"] for r in awaiting) == 12
    assert statuses["running"] == 3 and statuses["draining"] == 1
    assert {r["status"] for r in runs if not r["pending_tasks"]} >= {
        "running",
        "paused",
        "queued",
        "pending",
        "draining",
        "failed",
        "stopped",
        "completed",
    }
    assert {r["failure_code"] for r in recent if r["status"] == "failed"} == FAILED_CODES
    assert all(r.get("error") for r in recent)
    assert any(r["status"] == "failed" and when(r) < day_ago for r in runs)
    assert [r["status"] for r in runs].count("stopped") == 1


def test_the_demos_draining_run_ends_within_twenty_seconds(clock: ManualClock) -> None:
    state = StubState(now=clock)
    seed_demo(state)
    draining = [r for r in state.list_runs() if r["status"] == "draining"]
    assert len(draining) == 1
    run = (draining[0]["workflow_id"], draining[0]["id"])

    clock.advance(20)

    assert state.run_summary(*run)["status"] == "stopped"
    clock.advance(200)  # and the queued run has started by now
    statuses = {r["id"]: r["status"] for r in state.list_runs()}
    assert statuses["run_0a4d9e2b7c18"] == "running"


def test_a_demo_run_fails_on_its_own_minutes_in(clock: ManualClock) -> None:
    state = StubState(now=clock)
    seed_demo(state)

    clock.advance(4 * 60)
    assert state.run_state("wf_support_digest", "run_d51c0a8e7f24") is RunState.RUNNING
    clock.advance(2 * 60)

    summary = state.run_summary("wf_support_digest", "run_d51c0a8e7f24")
    assert summary["status"] == "failed" and summary["failure_code"] == "MCP_TOOL_FAILED"
    assert "slack.post_message" in summary["error"]


def test_build_state_generates_runs_beside_the_seed() -> None:
    from server_stub.runner import build_state

    state = build_state("empty", tasks=3, runs=40)
    assert state.run_count == 43 and state.pending_count >= 3
    assert len(build_state("demo", runs=10).list_runs()) == 36


def test_a_graceful_stop_of_the_marked_demo_run_times_out(clock: ManualClock) -> None:
    state = StubState(now=clock)
    seed_demo(state)
    state.command("wf_warehouse_sync", "stop", "run_3e9a1c77d2b0", mode="graceful")

    clock.advance(20)

    summary = state.run_summary("wf_warehouse_sync", "run_3e9a1c77d2b0")
    assert summary["status"] == "failed" and summary["failure_code"] == "DRAIN_TIMEOUT"


def test_generated_runs_are_deterministic_and_cover_every_status(fixed_now: datetime) -> None:
    def generated(seed: int, n: int) -> list[dict[str, Any]]:
        state = StubState(now=lambda: fixed_now)
        generate_runs(state, n, seed=seed)
        return state.list_runs()

    same_a, same_b = generated(5, 600), generated(5, 600)
    assert same_a == same_b
    assert generated(6, 600) != same_a
    statuses = Counter(r["status"] for r in same_a)
    assert set(statuses) == {s.value for s in RunState}
    codes = Counter(r.get("failure_code") for r in same_a if r["status"] == "failed")
    assert set(codes) >= FAILED_CODES
    assert all(r["error"] for r in same_a if r["status"] == "failed")
    assert 30 <= sum(r["pending_tasks"] for r in same_a) <= 100


def test_generated_runs_move_on_and_can_be_commanded(clock: ManualClock) -> None:
    state = StubState(now=clock)
    keys = generate_runs(state, 300, seed=2, awaiting=0.0)
    assert state.pending_count == 0 and len(set(keys)) == 300
    statuses = {(r["workflow_id"], r["id"]): r["status"] for r in state.list_runs()}
    running = [key for key in keys if statuses[key] == "running"]

    for key in running[:10]:
        state.command(key[0], "pause", key[1])
    clock.advance(6 * 3600)
    later = Counter(r["status"] for r in state.list_runs())

    assert later["running"] == 0 and later["paused"] >= 10  # the rest finished or failed
    assert later["draining"] == 0 and later["queued"] == 0


def test_tasks_and_runs_generate_side_by_side(fixed_now: datetime) -> None:
    state = StubState(now=lambda: fixed_now)
    generate_tasks(state, 200)
    seed_demo(state)
    keys = set(generate_runs(state, 500))

    runs = state.list_runs()
    awaiting = sum(r["pending_tasks"] for r in runs if (r["workflow_id"], r["id"]) in keys)
    assert len(runs) == 200 + 26 + 500
    assert 20 <= awaiting <= 80
    assert state.pending_count == 200 + 12 + awaiting


def test_10k_runs_generate_and_list_fast(fixed_now: datetime) -> None:
    state = StubState(now=lambda: fixed_now)

    started = time.perf_counter()
    generate_runs(state, 10_000)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    body = state.runs_body("demo")
    listed = time.perf_counter() - started
    started = time.perf_counter()
    state.runs_body("demo")
    cached = time.perf_counter() - started

    print(
        f"\n10,000 runs: generated in {generated:.2f} s; feed {len(body) / 1e6:.1f} MB built in "
        f"{listed:.2f} s (failures applied), then served from cache in {cached * 1000:.2f} ms"
    )
    assert state.run_count == 10_000
    assert body.startswith(b'{"runs":[{') and body.endswith(b"}]}")
    assert generated < 10 and listed < 10
