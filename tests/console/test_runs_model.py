"""The Command Center's sections from a runs feed, without Textual (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from client import Run
from console.inbox_model import SortKey
from console.run_commands import GRACEFUL, IMMEDIATE, PAUSE, RESUME, commands_for, why_refused
from console.runs_model import RunsModel, Section

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def run(run_id: str, status: str, *, minutes: float = 10, changed: float = 1, **extra: Any) -> Run:
    return Run.model_validate(
        {
            "id": run_id,
            "workflow_id": extra.pop("workflow_id", "wf_crm"),
            "workflow_name": extra.pop("workflow_name", "CRM sync"),
            "status": status,
            "started_at": (NOW - timedelta(minutes=minutes)).isoformat(),
            "updated_at": (NOW - timedelta(minutes=changed)).isoformat(),
            **extra,
        }
    )


def model_of(*runs: Run, awaiting: set[tuple[str, str]] = frozenset()) -> RunsModel:  # type: ignore[assignment]
    model = RunsModel(clock=lambda: NOW)
    model.apply(runs)
    model.set_awaiting(awaiting)
    return model


def ids(model: RunsModel, section: Section, text: str = "") -> list[str]:
    return [row.run.id for row in model.rows(section, text)]


def test_each_status_lands_in_its_section() -> None:
    model = model_of(
        run("run_a", "running"),
        run("run_b", "paused"),
        run("run_c", "queued"),
        run("run_d", "draining"),
        run("run_e", "failed", failure_code="MCP_TOOL_FAILED", changed=60),
        run("run_f", "cancelled", changed=120),  # the older spec's word for stopped
        run("run_g", "failed", changed=25 * 60),  # more than 24 h ago: not "recently"
        run("run_h", "completed"),
        run("run_i", "paused"),  # waits on a task of the inbox
        run("run_j", "hibernating"),  # unknown: shown as it came, never dropped
        awaiting={("wf_crm", "run_i")},
    )
    assert set(ids(model, Section.RUNNING)) == {"run_a", "run_b", "run_c", "run_j"}
    assert ids(model, Section.DRAINING) == ["run_d"]
    assert ids(model, Section.FAILED) == ["run_e", "run_f"]  # newest change first
    assert ids(model, Section.APPROVAL) == ["run_i"]
    assert model.draining == 1 and model.active


def test_filter_and_sort_work_in_a_runs_section() -> None:
    model = model_of(
        run("run_29d8aaaa", "failed", failure_code="LLM_REQUEST_FAILED", minutes=60, changed=5),
        run("run_77bb0000", "failed", failure_code="MCP_TOOL_FAILED", minutes=90, changed=50),
        run("run_1234cccc", "stopped", workflow_id="wf_mail", workflow_name="Mail", changed=9),
    )
    assert ids(model, Section.FAILED, "mcp") == ["run_77bb0000"]  # failure codes are words
    assert ids(model, Section.FAILED, "run:29d8") == ["run_29d8aaaa"]
    assert ids(model, Section.FAILED, "workflow:mail") == ["run_1234cccc"]
    assert ids(model, Section.FAILED, "!workflow:mail type:llm") == ["run_29d8aaaa"]
    assert ids(model, Section.FAILED, "marked") == []  # a term about tasks matches no run
    assert ids(model, Section.FAILED) == ["run_29d8aaaa", "run_1234cccc", "run_77bb0000"]
    model.sort = SortKey.AGE  # oldest start first
    assert ids(model, Section.FAILED) == ["run_77bb0000", "run_29d8aaaa", "run_1234cccc"]


def test_a_command_mark_lasts_until_the_feed_shows_its_outcome() -> None:
    paused = run("run_a", "running")
    model = model_of(paused)
    model.sent(paused.key, "pause")
    assert model.command_of(paused.key) == "⟳ pausing…"
    model.apply([run("run_a", "running")])  # the feed has not caught up
    assert model.command_of(paused.key) == "⟳ pausing…"
    model.apply([run("run_a", "paused")])
    assert model.command_of(paused.key) is None


def test_the_menu_offers_what_the_status_allows_and_a_409_is_explained() -> None:
    assert commands_for(run("r", "running")) == [PAUSE, GRACEFUL, IMMEDIATE]
    assert commands_for(run("r", "paused")) == [RESUME, GRACEFUL, IMMEDIATE]
    assert commands_for(run("r", "paused"), awaiting=True) == [GRACEFUL, IMMEDIATE]
    assert commands_for(run("r", "draining")) == [IMMEDIATE]  # escalation only
    assert commands_for(run("r", "stopped")) == []
    assert commands_for(run("r", "failed")) == []
    assert "stopped run cannot be resumed" in why_refused("resume", None, run("r", "stopped"))
    assert "already paused" in why_refused("pause", None, run("r", "paused"))
    assert "already stopping gracefully" in why_refused("stop", "graceful", run("r", "draining"))
    assert IMMEDIATE.body("run_x") == {
        "command": "stop",
        "params": {"run_id": "run_x", "mode": "immediate"},
    }
    assert PAUSE.body("run_x") == {"command": "pause", "params": {"run_id": "run_x"}}
