"""``command-center runs …`` through click's CliRunner, against a small platform of its own.

The platform (a ThreadingHTTPServer on loopback) serves the documented shapes of API.md parts 1b,
2 and 3b: the runs feed in our shape and the older spec's, contexts, events, and the command
endpoint with the stub's transitions (409 for an impossible one). A test may script the next
answers of a path. Every invocation checks that no token reaches the output.
"""

from __future__ import annotations

import copy
import importlib
import json
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from client import CommandCenterClient
from console.audit import AuditLog
from console.cli import main
from console.paths import state_dir

RUNS = importlib.import_module("console.cli.runs")

TOKEN = "pat_runs_contributor_5e1d"
VIEWER = "pat_runs_viewer_77aa"
NOW = datetime.now(UTC).replace(microsecond=0)


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def _feed() -> list[Any]:
    return [
        {
            "id": "run_7f3a9c1e5b2d",
            "workflow_id": "wf_pr_review",
            "workflow_name": "PR review assistant",
            "status": "paused",
            "started_at": _at(165),
            "updated_at": _at(160),
            "pending_tasks": 1,
        },
        {
            "id": "run_7f3a0000aaaa",
            "workflow_id": "wf_pr_review",
            "workflow_name": "PR review assistant",
            "status": "running",
            "started_at": _at(30),
            "updated_at": _at(2),
            "pending_tasks": 0,
        },
        {
            "id": "run_b2c4d6e8f0a1",
            "workflow_id": "wf_ticket_triage",
            "workflow_name": "Ticket triage",
            "status": "failed",
            "started_at": _at(200),
            "updated_at": _at(90),
            "failure_code": "MCP_TOOL_FAILED",
            "error": {"message": "jira: 401 Unauthorized"},
            "pending_tasks": 0,
        },
        {  # the older published spec's shape
            "run_id": "run_29d8e7a4c0f6",
            "workflow_id": "wf_invoices",
            "status": "cancelled",
            "started_at": _at(3000),
            "completed_at": _at(2900),
            "inputs": {"invoice": 17},
            "outputs": {},
        },
        {
            "id": "run_e5f6a7b8c9d0",
            "workflow_id": "wf_invoices",
            "status": "hibernating",
            "started_at": _at(50),
            "updated_at": _at(40),
        },
    ]


@dataclass
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Platform:
    url: str = ""
    runs: list[Any] = field(default_factory=_feed)
    wrap: str = "object"  # "object", "total" or "list"
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    contexts: dict[str, Any] = field(default_factory=dict)
    # Scripted answers, by path, used before the platform's own: (status, body or None).
    script: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    on_events: Callable[[Platform], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def commands(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "POST"]

    def run(self, run_id: str) -> dict[str, Any]:
        return next(
            r for r in self.runs if isinstance(r, dict) and run_id in (r.get("id"), r.get("run_id"))
        )

    def answer(self, method: str, path: str, token: str, body: Any) -> tuple[int, Any]:
        scripted = self.script.get(path)
        if scripted:
            return scripted.pop(0)
        if token not in (TOKEN, VIEWER):
            return 401, {"error": "invalid token", "code": "UNAUTHORIZED"}
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/v1/runs":
            runs = copy.deepcopy(self.runs)
            if self.wrap == "list":
                return 200, runs
            return 200, {"runs": runs} | ({"total": 40} if self.wrap == "total" else {})
        if method == "GET" and parts[-1] == "events":
            if self.on_events is not None:
                self.on_events(self)
            return 200, {"events": copy.deepcopy(self.events.get(parts[4], []))}
        if method == "GET" and parts[-1] == "context":
            if parts[4] not in self.contexts:
                return 404, {"error": "run not found", "code": "NOT_FOUND"}
            return 200, self.contexts[parts[4]]
        if method == "GET" and parts[-2:] == ["tasks", "pending"]:
            return 200, {"tasks": []}
        if method == "POST" and parts[-1] == "command":
            if token == VIEWER:
                return 403, {"error": "requires project_contributor", "code": "UNAUTHORIZED"}
            return self._command(parts[2], body)
        return 404, {"error": f"no route {path}", "code": "NOT_FOUND"}

    def _command(self, workflow_id: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or body.get("command") not in ("pause", "resume", "stop"):
            return 422, {"error": "bad command", "code": "VALIDATION_ERROR"}
        run_id = (body.get("params") or {}).get("run_id")
        try:
            run = self.run(run_id)
        except StopIteration:
            return 404, {"error": "run not found", "code": "NOT_FOUND"}
        status, command = run["status"], body["command"]
        mode = body["params"].get("mode")
        moves = {
            ("pause", "running"): "paused",
            ("resume", "paused"): "running",
        }
        if command == "stop" and status in ("running", "paused", "pending", "draining"):
            new = "draining" if mode == "graceful" and status != "draining" else "stopped"
        elif (command, status) in moves:
            new = moves[(command, status)]
        else:
            return 409, {"error": f"cannot {command} a {status} run", "code": "CONFLICT"}
        run["status"] = new
        return 200, {"run_id": run_id, "workflow_id": workflow_id, "status": new}


@pytest.fixture
def platform() -> Iterator[Platform]:
    state = Platform()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            with state.lock:
                state.sent.append(Sent(method, self.path, dict(self.headers), body))
                status, answer = state.answer(method, self.path, token, body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


Invoke = Callable[..., Result]


@pytest.fixture
def run(platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``run(*args, token=…, input=…, columns=…)`` runs ``command-center`` against the platform."""
    monkeypatch.setattr(RUNS, "_now", lambda: NOW)
    monkeypatch.setattr(RUNS, "_sleep", lambda _seconds: None)
    monkeypatch.setattr(CommandCenterClient, "_sleep", staticmethod(lambda _seconds: None))

    def invoke(
        *args: str, token: str = TOKEN, input: str | None = None, columns: int = 200
    ) -> Result:
        environment = {
            "COMMAND_CENTER_TOKEN": token,
            "COMMAND_CENTER_BASE_URL": platform.url,
            "COMMAND_CENTER_TENANT": "acme",
            "COMMAND_CENTER_PROJECT": "proj-1",
            "COMMAND_CENTER_CONFIG": str(tmp_path / "no-such-config.toml"),
            "COMMAND_CENTER_PROFILE": None,
            "COLUMNS": str(columns),
        }
        result = CliRunner(env=environment).invoke(
            main, list(args), input=input, prog_name="command-center"
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(
                "".join(traceback.format_exception(result.exception))
            ) from result.exception
        for secret in (TOKEN, VIEWER):
            assert secret not in result.stdout and secret not in result.stderr
        return result

    return invoke


def _rows(result: Result) -> list[list[str]]:
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "WORKFLOW", "AGE", "CHANGED", "FAILURE"]
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines[1:]]


def _audit() -> list[dict[str, Any]]:
    return AuditLog(state_dir() / "audit.jsonl").read(kinds=("run_command",)).records


# -- list ----------------------------------------------------------------------------------------


def test_list_is_a_table_newest_change_first(run: Invoke) -> None:
    result = run("runs", "list")
    assert result.exit_code == 0, result.stderr
    assert _rows(result) == [
        ["run_7f3a0", "▶ running", "PR review assistant", "30m", "2m"],
        ["run_e5f6", "? hibernating", "wf_invoices", "50m", "40m"],
        ["run_b2c4", "✗ failed", "Ticket triage", "3h20", "1h30", "MCP_TOOL_FAILED"],
        ["run_7f3a9", "⏸ paused", "PR review assistant", "2h45", "2h40"],
        ["run_29d8", "■ stopped (cancelled)", "wf_invoices", "2d", "2d"],
    ]


def test_the_refs_of_the_table_name_their_runs(run: Invoke, platform: Platform) -> None:
    platform.contexts["run_7f3a9c1e5b2d"] = {"variables": {"pr": 1432}}
    shown = run("runs", "show", "run_7f3a9", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "run": platform.runs[0], "context": {"variables": {"pr": 1432}},
    }  # fmt: skip
    ambiguous = run("runs", "show", "run_7f3a")
    assert ambiguous.exit_code == 2
    assert "matches 2 runs" in ambiguous.stderr
    assert "wf_pr_review/run_7f3a9c1e5b2d" in ambiguous.stderr
    assert "wf_pr_review/run_7f3a0000aaaa" in ambiguous.stderr


def test_list_filters_by_status_and_last_change(run: Invoke) -> None:
    def ids(*args: str) -> list[str]:
        result = run("runs", "list", "--json", *args)
        assert result.exit_code == 0, result.stderr
        return [
            json.loads(line).get("id") or json.loads(line)["run_id"]
            for line in result.stdout.splitlines()
        ]

    assert ids("--status", "failed,stopped") == ["run_b2c4d6e8f0a1", "run_29d8e7a4c0f6"]
    assert ids("--status", "CANCELLED") == ["run_29d8e7a4c0f6"]
    assert ids("--status", "active") == ["run_7f3a0000aaaa", "run_7f3a9c1e5b2d"]
    assert ids("--status", "hibernating") == ["run_e5f6a7b8c9d0"]
    assert ids("--status", "paused", "--status", "running") == [
        "run_7f3a0000aaaa", "run_7f3a9c1e5b2d",
    ]  # fmt: skip
    assert ids("--since", "1h") == ["run_7f3a0000aaaa", "run_e5f6a7b8c9d0"]
    assert ids("--since", "2h", "--status", "terminal") == ["run_b2c4d6e8f0a1"]


def test_list_json_is_the_raw_runs(run: Invoke, platform: Platform) -> None:
    result = run("runs", "list", "--json", "--status", "stopped")
    assert [json.loads(line) for line in result.stdout.splitlines()] == [platform.runs[3]]


def test_list_reads_a_bare_list_and_says_when_the_platform_has_more(
    run: Invoke, platform: Platform
) -> None:
    platform.wrap = "list"
    assert len(_rows(run("runs", "list"))) == 5
    platform.wrap = "total"
    result = run("runs", "list")
    assert result.exit_code == 0 and len(_rows(result)) == 5
    assert "the platform counts 40 runs and listed 5" in result.stderr


def test_entries_that_are_not_runs_are_named_and_the_rest_listed(
    run: Invoke, platform: Platform
) -> None:
    platform.runs += [42, {"id": "run_orphan"}]
    result = run("runs", "list")
    assert result.exit_code == 6
    assert len(_rows(result)) == 5
    assert "2 entries of the runs feed could not be read" in result.stderr
    assert "entry 6: workflow_id: Field required" in result.stderr


def test_a_bad_filter_is_bad_input(run: Invoke, platform: Platform) -> None:
    result = run("runs", "list", "--since", "yesterday")
    assert result.exit_code == 2 and "--since" in result.stderr
    assert platform.sent == []


# -- show ----------------------------------------------------------------------------------------


def test_show_for_people(run: Invoke, platform: Platform) -> None:
    platform.contexts["run_b2c4d6e8f0a1"] = {
        "inputs": {"ticket": "OPS-12"},
        "step_results": {"classify": {"label": "bug"}},
    }
    result = run("runs", "show", "run_b2c4")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Ticket triage › run_b2c4d6e8f0a1" in out
    assert "Workflow: Ticket triage (wf_ticket_triage)" in out
    assert "Status:   ✗ failed" in out
    assert "Failure:  MCP_TOOL_FAILED – An MCP tool returned an error." in out
    assert "Error:    jira: 401 Unauthorized" in out
    assert "Pending:  none" in out
    assert '"ticket": "OPS-12"' in out and '"label": "bug"' in out
    assert out.index("Variables") < out.index("OPS-12") < out.index("Steps") < out.index("bug")


def test_show_counts_pending_tasks_and_says_waiting_is_not_stuck(
    run: Invoke, platform: Platform
) -> None:
    platform.contexts["run_7f3a9c1e5b2d"] = {"variables": {}, "steps": {}}
    result = run("runs", "show", "wf_pr_review/run_7f3a9c1e5b2d")
    assert result.exit_code == 0, result.stderr
    assert "1 human task waiting: awaiting approval, not stuck" in result.stdout
    assert result.stdout.count("(none)") == 2


def test_show_a_run_the_feed_does_not_list(run: Invoke, platform: Platform) -> None:
    platform.contexts["run_elsewhere"] = {"variables": {"a": 1}}
    result = run("runs", "show", "wf_other/run_elsewhere")
    assert result.exit_code == 0, result.stderr
    assert "the runs feed does not list this run" in result.stdout
    gone = run("runs", "show", "wf_other/run_nowhere")
    assert gone.exit_code == 1
    assert "No run 'run_nowhere' in workflow 'wf_other' (404: run not found)" in gone.stderr


def test_a_listed_run_whose_context_cannot_be_read_is_shown_all_the_same(
    run: Invoke,
) -> None:
    result = run("runs", "show", "run_b2c4")
    assert result.exit_code == 1
    assert "Status:   ✗ failed" in result.stdout and "Variables" not in result.stdout
    assert "No run 'run_b2c4d6e8f0a1' in workflow 'wf_ticket_triage' (404" in result.stderr


def test_a_full_ref_works_when_the_feed_cannot_be_read(run: Invoke, platform: Platform) -> None:
    platform.script["/v1/runs"] = [(200, {"items": []})]
    result = run("runs", "pause", "wf_pr_review/run_7f3a0000aaaa", "--yes")
    assert result.exit_code == 0, result.stderr
    assert (
        "warning: The platform sent an answer we cannot read: GET /v1/runs answered 200 with an "
        "unexpected shape: runs: Field required. Using wf_pr_review/run_7f3a0000aaaa as given."
    ) in result.stderr
    assert "Paused run run_7f3a0000aaaa of workflow wf_pr_review" in result.stdout
    assert len(platform.commands()) == 1
    # A bare run id needs the feed to find its workflow.
    platform.script["/v1/runs"] = [(200, {"items": []})]
    short = run("runs", "pause", "run_7f3a0", "--yes")
    assert short.exit_code == 1 and "GET /v1/runs answered 200" in short.stderr
    assert len(platform.commands()) == 1


def test_an_unknown_run_is_bad_input(run: Invoke) -> None:
    result = run("runs", "show", "run_nope")
    assert result.exit_code == 2
    assert "No run 'run_nope' in the runs feed" in result.stderr


# -- events --------------------------------------------------------------------------------------


def _event(n: int, kind: str, step: str | None = None, **data: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"id": f"evt_{n:02d}", "type": kind, "at": _at(60 - n)}
    if step:
        event["step_id"] = step
    if data:
        event["data"] = data
    return event


def test_events_are_a_timeline_with_summaries(run: Invoke, platform: Platform) -> None:
    platform.events["run_b2c4d6e8f0a1"] = [
        _event(1, "run_started", workflow_name="Ticket triage"),
        _event(2, "step_completed", "lookup", skipped=True, reason="out_of_scope"),
        _event(3, "step_failed", "jira", failure_code="MCP_TOOL_FAILED", error="401"),
        _event(
            4,
            "step_cancelled",
            "notify",
            cancelled=True,
            reason="run_failed",
            caused_by_step_id="jira",
        ),
        _event(5, "state_changed", **{"from": "running", "to": "failed"}),
    ]
    result = run("runs", "events", "run_b2c4")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "TYPE", "STEP", "SUMMARY"]
    assert [line.split()[2] for line in lines[1:]] == [
        "run_started", "step_completed", "step_failed", "step_cancelled", "state_changed",
    ]  # fmt: skip
    assert lines[2].endswith("lookup                skipped (out_of_scope)")
    assert lines[3].endswith("MCP_TOOL_FAILED: 401")
    assert lines[4].endswith("cancelled (run_failed) caused by step jira")
    assert lines[5].endswith("running → failed")
    raw = run("runs", "events", "run_b2c4", "--json")
    assert [json.loads(line) for line in raw.stdout.splitlines()] == platform.events[
        "run_b2c4d6e8f0a1"
    ]


def test_follow_prints_each_new_event_once_until_the_run_ends(
    run: Invoke, platform: Platform
) -> None:
    timeline = [
        _event(1, "run_started"),
        _event(2, "step_started", "draft"),
        _event(3, "step_completed", "draft", result={"ok": True}),
        _event(4, "state_changed", **{"from": "running", "to": "completed"}),
    ]
    run_id = "run_7f3a0000aaaa"
    polls: list[int] = []

    def advance(state: Platform) -> None:
        polls.append(1)
        shown = min(len(polls) + 1, len(timeline))
        state.events[run_id] = timeline[:shown]
        if shown == len(timeline):
            state.run(run_id)["status"] = "completed"

    platform.on_events = advance
    result = run("runs", "events", run_id, "--follow")
    assert result.exit_code == 0, result.stderr
    printed = [line.split()[2] for line in result.stdout.splitlines()[1:]]
    assert printed == ["run_started", "step_started", "step_completed", "state_changed"]
    # The status is read before the events: the last events are printed, then it ends.
    assert len(polls) == 4
    assert "The run is ✓ completed." in result.stderr


def test_follow_waits_out_a_failing_platform(run: Invoke, platform: Platform) -> None:
    run_id = "run_29d8e7a4c0f6"  # stopped already: one good look ends it
    platform.events[run_id] = [_event(1, "run_started")]
    path = f"/v1/workflows/wf_invoices/runs/{run_id}/events"
    platform.script[path] = [(503, {"error": "maintenance"})] * 3  # the client retries twice
    result = run("runs", "events", run_id, "--follow")
    assert result.exit_code == 0, result.stderr
    assert "warning: The platform failed (503)" in result.stderr
    assert len(result.stdout.splitlines()) == 2


# -- pause / resume / stop -----------------------------------------------------------------------


def test_pause_sends_the_documented_command_and_audits_it(run: Invoke, platform: Platform) -> None:
    result = run("runs", "pause", "run_7f3a0", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        "Paused run run_7f3a0000aaaa of workflow PR review assistant (wf_pr_review): "
        "the platform says ⏸ paused."
    )
    (sent,) = platform.commands()
    assert sent.path == "/v1/workflows/wf_pr_review/command"
    assert sent.body == {"command": "pause", "params": {"run_id": "run_7f3a0000aaaa"}}
    assert sent.headers["X-Tenant-Id"] == "acme" and sent.headers["X-Project-Id"] == "proj-1"
    (line,) = _audit()
    assert line["kind"] == "run_command"
    assert (line["workflow_id"], line["run_id"], line["command"]) == (
        "wf_pr_review", "run_7f3a0000aaaa", "pause",
    )  # fmt: skip
    assert (line["outcome"], line["status"]) == ("applied", "paused")
    assert line["idempotency_key"] == sent.headers["Idempotency-Key"]
    assert line["tenant"] == "acme" and line["base_url"] == platform.url and "operator" in line
    listed = run("audit")  # the audit command lists run commands beside decisions
    assert listed.exit_code == 0, listed.stderr
    assert "pause    wf_pr_review/run_7f3a0000aaaa  [applied: paused] by " in listed.stdout


@pytest.mark.parametrize(
    ("args", "body", "said"),
    [
        (
            [],
            {"command": "stop", "params": {"run_id": "run_7f3a9c1e5b2d", "mode": "immediate"}},
            "Stopped run run_7f3a9c1e5b2d of workflow PR review assistant (wf_pr_review): "
            "the platform says ■ stopped.",
        ),
        (
            ["--graceful"],
            {"command": "stop", "params": {"run_id": "run_7f3a9c1e5b2d", "mode": "graceful"}},
            "Stopping gracefully run run_7f3a9c1e5b2d of workflow PR review assistant "
            "(wf_pr_review): the platform says ⏹ draining.",
        ),
    ],
)
def test_stop_immediately_or_gracefully(
    run: Invoke, platform: Platform, args: list[str], body: dict[str, Any], said: str
) -> None:
    result = run("runs", "stop", "run_7f3a9", *args, "--yes")
    assert result.exit_code == 0, result.stderr
    assert [s.body for s in platform.commands()] == [body]
    assert result.stdout.strip() == said
    assert _audit()[0]["params"] == {"mode": body["params"]["mode"]}


def test_resume_of_a_paused_run(run: Invoke, platform: Platform) -> None:
    result = run("runs", "resume", "wf_pr_review/run_7f3a9c1e5b2d", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "the platform says ▶ running" in result.stdout
    assert platform.commands()[0].body == {
        "command": "resume", "params": {"run_id": "run_7f3a9c1e5b2d"},
    }  # fmt: skip


def test_without_yes_and_without_a_terminal_nothing_is_sent(
    run: Invoke, platform: Platform
) -> None:
    result = run("runs", "stop", "run_7f3a9")
    assert result.exit_code == 2
    assert "Pass --yes to stop run_7f3a9" in result.stderr
    assert platform.sent == [] and _audit() == []


IMMEDIATE = "Immediate stop can leave downstream steps unexecuted; you cannot resume a stopped run."
GRACEFUL = (
    "The run drains: active steps finish, pending ones never start; it then stops and "
    "cannot be resumed."
)


@pytest.mark.parametrize(
    ("args", "consequence"),
    [
        (["stop", "run_7f3a9"], IMMEDIATE),
        (["stop", "run_7f3a9", "--graceful"], GRACEFUL),
        (["pause", "run_7f3a0"], "no new steps start until the run is resumed"),
    ],
)
def test_on_a_terminal_it_names_the_run_and_the_consequence_and_asks(
    run: Invoke,
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    consequence: str,
) -> None:
    monkeypatch.setattr(RUNS, "stdin_is_terminal", lambda: True)
    declined = run("runs", *args, input="n\n")
    assert declined.exit_code == 1
    assert "of workflow PR review assistant (wf_pr_review), now" in declined.stderr
    assert consequence in declined.stderr
    assert "Nothing was sent." in declined.stderr
    assert platform.commands() == [] and _audit() == []
    accepted = run("runs", *args, input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert len(platform.commands()) == 1 and len(_audit()) == 1


def test_resuming_a_stopped_run_is_a_conflict_explained(run: Invoke, platform: Platform) -> None:
    result = run("runs", "resume", "run_29d8", "--yes")
    assert result.exit_code == 4
    assert (
        "The platform refused to resume run run_29d8e7a4c0f6 of workflow wf_invoices (409): "
        "cannot resume a cancelled run." in result.stderr
    )
    assert "The run is already stopped, and a stopped run cannot be resumed." in result.stderr
    (line,) = _audit()
    assert (line["outcome"], line["status"]) == ("conflict", "cancelled")
    assert line["error"] == "cannot resume a cancelled run"


def test_pausing_a_paused_run(run: Invoke) -> None:
    result = run("runs", "pause", "run_7f3a9", "--yes")
    assert result.exit_code == 4 and "The run is already paused." in result.stderr


def test_a_409_after_a_lost_attempt_may_be_ours(run: Invoke, platform: Platform) -> None:
    path = "/v1/workflows/wf_pr_review/command"
    platform.script[path] = [
        (503, {"error": "maintenance"}),
        (409, {"error": "run is already stopped", "code": "CONFLICT"}),
    ]
    platform.run("run_7f3a9c1e5b2d")["status"] = "stopped"  # as if the first attempt landed
    result = run("runs", "stop", "run_7f3a9", "--yes")
    assert result.exit_code == 4
    assert "may have been applied: the run is already stopped." in result.stderr
    first, second = platform.commands()
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body
    assert _audit()[0]["idempotency_key"] == first.headers["Idempotency-Key"]


def test_an_answer_without_a_status_is_checked_in_the_feed(run: Invoke, platform: Platform) -> None:
    platform.script["/v1/workflows/wf_pr_review/command"] = [(202, None)]
    result = run("runs", "pause", "run_7f3a0", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "did not say its new status; the runs feed shows ▶ running" in result.stdout
    assert _audit()[0]["outcome"] == "applied"


def test_a_viewer_may_not_control_runs(run: Invoke, platform: Platform) -> None:
    result = run("runs", "stop", "run_7f3a9", "--yes", token=VIEWER)
    assert result.exit_code == 3
    assert "Not allowed (403): requires project_contributor" in result.stderr
    assert _audit()[0]["outcome"] == "refused"


def test_a_bad_token_is_an_auth_failure(run: Invoke) -> None:
    result = run("runs", "list", token="pat_wrong_1")
    assert result.exit_code == 3


def test_a_server_failure_may_have_landed(run: Invoke, platform: Platform) -> None:
    platform.script["/v1/workflows/wf_pr_review/command"] = [(503, {"error": "down"})] * 3
    result = run("runs", "stop", "run_7f3a9", "--yes")
    assert result.exit_code == 1
    assert "The platform failed (503)" in result.stderr
    assert len({s.headers["Idempotency-Key"] for s in platform.commands()}) == 1
    assert _audit()[0]["outcome"] == "unconfirmed"


def test_run_commands_leave_decision_records_as_they_were(run: Invoke) -> None:
    run("runs", "pause", "run_7f3a0", "--yes")
    log = AuditLog(state_dir() / "audit.jsonl")
    (line,) = log.read(kinds=None).records
    assert line["kind"] == "run_command" and "approved" not in line and "task_id" not in line
    # Readers of decisions (`command-center audit`) never take a run command for one.
    assert log.read().records == []
    listed = run("audit")
    assert listed.exit_code == 0 and "rejected" not in listed.stdout


def test_runs_is_in_the_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert "runs" in result.stdout
    group = CliRunner().invoke(main, ["runs", "--help"])
    for command in ("list", "show", "events", "pause", "resume", "stop"):
        assert f"  {command} " in group.stdout
