"""``command-center tasks …`` against the stub over loopback HTTP, through click's CliRunner.

CliRunner's stdin is not a terminal, so approve/reject need ``--yes`` unless a test makes the
command believe it is interactive. Every invocation also checks that no token reaches the output.
"""

from __future__ import annotations

import importlib
import json
import socket
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from rich.cells import cell_len

from client import CommandCenterClient
from console.cli import main
from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    DEMO_VIEWER_TOKEN,
    StubServer,
)
from server_stub.state import NewTask, Workflow
from tests.conftest import FIXED_NOW
from tests.fixed_platform import fixed_platform

# ``console.cli.tasks`` the attribute is the click group; the module is in sys.modules.
TASKS = importlib.import_module("console.cli.tasks")

BUDGET = ("wf_vendor_contract", "run_4c8b1f6e2a93", "budget-approval")
CRM = ("wf_crm_extraction", "run_7a1d3c9e6f02", "review-extraction")
PR = ("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")
INVENTORY = ("wf_inventory_reconcile", "run_f0e1d2c3b4a5", "approve-adjustment")
BAD_TOKEN = "pat_not_a_real_token_4f1c9e"

Run = Callable[..., Result]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Run]:
    """``cli(base_url)(*args, token=…, input=…, columns=…, env=…)`` runs ``command-center``."""
    monkeypatch.setattr(TASKS, "_now", lambda: FIXED_NOW)
    # Retries of a refused connection need not wait in tests.
    monkeypatch.setattr(CommandCenterClient, "_sleep", staticmethod(lambda _seconds: None))

    def for_url(base_url: str) -> Run:
        def run(
            *args: str,
            token: str | None = DEMO_CONTRIBUTOR_TOKEN,
            input: str | None = None,
            columns: int = 200,
            env: dict[str, str | None] | None = None,
        ) -> Result:
            environment: dict[str, str | None] = {
                "COMMAND_CENTER_TOKEN": token,
                "COMMAND_CENTER_BASE_URL": base_url,
                "COMMAND_CENTER_TENANT": DEMO_TENANT,
                "COMMAND_CENTER_PROJECT": DEMO_PROJECT,
                "COMMAND_CENTER_CONFIG": str(tmp_path / "no-such-config.toml"),
                "COMMAND_CENTER_PROFILE": None,
                "COLUMNS": str(columns),
                **(env or {}),
            }
            result = CliRunner(env=environment).invoke(
                main, list(args), input=input, prog_name="command-center"
            )
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise AssertionError(
                    "".join(traceback.format_exception(result.exception))
                ) from result.exception
            for secret in (DEMO_CONTRIBUTOR_TOKEN, DEMO_VIEWER_TOKEN, BAD_TOKEN):
                assert secret not in result.stdout and secret not in result.stderr
            return result

        return run

    return for_url


@pytest.fixture
def run(cli: Callable[[str], Run], live_stub: StubServer) -> Run:
    return cli(live_stub.url)


def _table(result: Result) -> list[list[str]]:
    """Table rows (header dropped), cells split on the two-space gaps."""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["REF", "AGE", "WORKFLOW", "TYPE", "TITLE"]
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines[1:]]


def _keys(tasks: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(t["workflow_id"], t["run_id"], t["id"]) for t in tasks]


# -- list ------------------------------------------------------------------------------------------


def test_list_table_shows_every_pending_task_with_a_usable_ref(
    run: Run, live_stub: StubServer
) -> None:
    result = run("tasks", "list")
    assert result.exit_code == 0, result.stderr
    rows = _table(result)
    assert len(rows) == live_stub.state.pending_count == 12
    by_ref = {row[0]: row for row in rows}
    assert by_ref["run_7f3a/approve-review"] == [
        "run_7f3a/approve-review",
        "2h45",
        "PR review assistant",
        "approval",
        "Post review comment on PR #1432?",
    ]
    assert by_ref["run_c1a7/approve-email"][1] == "4m"
    # Each ref names its task for the other commands.
    shown = run("tasks", "show", "run_4c8b/budget-approval", "--json")
    assert json.loads(shown.stdout)["id"] == "budget-approval"


def test_list_table_is_cut_to_the_terminal_width(run: Run) -> None:
    result = run("tasks", "list", columns=70)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert all(cell_len(line) <= 70 for line in lines)
    assert any(line.endswith("…") for line in lines)
    assert any(line.startswith("run_f0e1/approve-adjustment ") for line in lines)  # never cut


def test_list_json_lines_are_the_raw_tasks(run: Run, live_stub: StubServer) -> None:
    result = run("tasks", "list", "--json")
    assert result.exit_code == 0
    tasks = [json.loads(line) for line in result.stdout.splitlines()]
    assert _keys(tasks) == _keys(live_stub.state.list_pending())
    assert tasks == live_stub.state.list_pending()


def test_list_json_array_is_one_array_of_raw_tasks(run: Run, live_stub: StubServer) -> None:
    result = run("tasks", "list", "--json-array")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == live_stub.state.list_pending()


def test_list_json_forms_are_exclusive(cli: Callable[[str], Run]) -> None:
    result = cli(f"http://127.0.0.1:{_closed_port()}")("tasks", "list", "--json", "--json-array")
    assert result.exit_code == 2 and "one of --json and --json-array" in result.stderr


def test_list_filters_by_workflow_and_run_prefix(run: Run) -> None:
    by_workflow = run("tasks", "list", "--workflow", "wf_customer_reply", "--json")
    assert [json.loads(line)["run_id"] for line in by_workflow.stdout.splitlines()] == [
        "run_c1a7e2f04b19",
        "run_5be09d3a7c61",
        "run_a93f61d20e8c",
    ]
    by_run = run("tasks", "list", "--run", "run_4c8b", "--json")
    assert [json.loads(line)["id"] for line in by_run.stdout.splitlines()] == [
        "legal-review",
        "budget-approval",
    ]
    nothing = run("tasks", "list", "--workflow", "wf_unknown")
    assert nothing.exit_code == 0 and nothing.stdout == ""
    assert "No pending tasks matching the filters" in nothing.stderr


def test_list_run_prefix_shared_by_two_runs_is_refused(run: Run) -> None:
    result = run("tasks", "list", "--run", "run_7")
    assert result.exit_code == 2
    assert "run_7a1d3c9e6f02" in result.stderr and "run_7f3a9c1e5b2d" in result.stderr


def test_list_workflow_and_run_together_ask_the_runs_endpoint(
    run: Run, live_stub: StubServer
) -> None:
    full = run("tasks", "list", "--workflow", BUDGET[0], "--run", BUDGET[1], "--json")
    assert full.exit_code == 0
    expected = live_stub.state.list_run_pending(BUDGET[0], BUDGET[1])
    assert [json.loads(line) for line in full.stdout.splitlines()] == expected
    prefix = run("tasks", "list", "--workflow", BUDGET[0], "--run", "run_4c", "--json")
    assert [json.loads(line) for line in prefix.stdout.splitlines()] == expected
    # The run endpoint needs project_contributor; the inbox filter does not.
    viewer = run(
        "tasks", "list", "--workflow", BUDGET[0], "--run", BUDGET[1], token=DEMO_VIEWER_TOKEN
    )
    assert viewer.exit_code == 3
    assert run("tasks", "list", "--run", BUDGET[1], token=DEMO_VIEWER_TOKEN).exit_code == 0


def test_list_unknown_run_of_a_workflow_is_bad_input(run: Run) -> None:
    result = run("tasks", "list", "--workflow", BUDGET[0], "--run", "run_nope")
    assert result.exit_code == 2
    assert "No run 'run_nope' in workflow 'wf_vendor_contract'" in result.stderr


# -- show ------------------------------------------------------------------------------------------


def test_show_for_people(run: Run) -> None:
    result = run("tasks", "show", "run_0d4e/confirm-category")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Support ticket triage › run_0d4e8b2f9a71 › confirm-category"
    assert "Ref:    wf_ticket_triage/run_0d4e8b2f9a71/confirm-category" in lines
    assert "Type:   review" in lines
    assert "Age:    12m (created 2026-11-25 11:48:00 UTC)" in lines
    assert "Title:  Confirm category of ticket SUP-48213" in lines
    assert any("classifier's confidence (0.41)" in line for line in lines)
    assert "  ✎ category    enum    billing" in lines
    assert "    ticket_id   string  SUP-48213" in lines
    assert any("one of: billing, technical, account, shipping, other; required" in x for x in lines)
    # A multi-line value keeps its lines, aligned under the value column.
    excerpt = lines.index(
        "    excerpt     text    I upgraded to Team on Monday and my card was charged twice."
    )
    assert lines[excerpt + 1].startswith(" " * 24 + "Also the old seats")


def test_show_lists_payload_keys_outside_the_convention(run: Run) -> None:
    result = run("tasks", "show", "approve-adjustment")
    assert result.exit_code == 0
    assert "Other payload keys" in result.stdout
    assert '  sku: "WH2-88431"' in result.stdout and "  adjustment: -28" in result.stdout


def test_show_json_is_the_raw_task(run: Run, live_stub: StubServer) -> None:
    result = run("tasks", "show", "wf_pr_review/run_7f3a9c1e5b2d/approve-review", "--json")
    assert result.exit_code == 0
    (expected,) = [t for t in live_stub.state.list_pending() if t["run_id"] == PR[1]]
    assert json.loads(result.stdout) == expected


def test_server_text_is_cleaned_everywhere(run: Run, live_stub: StubServer) -> None:
    evil = "\x1b]52;c;ZXZpbA==\x07Pay \u202eevil\x9b31m"
    state = live_stub.state
    state.add_workflow(Workflow("wf_evil", evil))
    payload = {"title": evil, "description": evil, "fields": {"note": evil}, "x": evil}
    for run_id in ("run_e0e0e0e0e0e0", "run_e1e1e1e1e1e1"):
        state.add_run("wf_evil", run_id, tasks=[NewTask("check", payload)])
    outputs = [
        run("tasks", "list"),
        run("tasks", "list", "--json"),
        run("tasks", "list", "--json-array"),
        run("tasks", "show", "run_e0e0/check"),
        run("tasks", "show", "run_e0e0/check", "--json"),
        run("tasks", "reject", "check", "--yes"),  # ambiguous: the candidates' titles
    ]
    assert outputs[-1].exit_code == 2 and "Pay" in outputs[-1].stderr
    for index, result in enumerate(outputs):
        text = result.stdout + result.stderr
        assert not any(ch in text for ch in "\x1b\x07\u202e\x9b"), index
    assert "\\x1b]52;c;ZXZpbA==\\x07Pay \\u202eevil\\x9b31m" in outputs[3].stdout
    assert json.loads(outputs[4].stdout)["task_payload"]["title"] == evil


# -- approve ---------------------------------------------------------------------------------------


def test_approve_with_typed_sets_sends_every_editable_value(
    run: Run, live_stub: StubServer
) -> None:
    result = run(
        "tasks",
        "approve",
        "run_7a1d/review-extraction",
        "--set",
        "employee_count=250",
        "--set",
        "annual_revenue_usd=2.5e7",
        "--set",
        "existing_customer=yes",
        "--set",
        "industry=retail",
        "--yes",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Approved wf_crm_extraction/run_7a1d3c9e6f02/review-extraction: "
        "Check CRM fields extracted for Northwind Traders GmbH\n"
    )
    assert live_stub.state.completion_of(*CRM) == {
        "company_name": "Northwind Traders GmbH",  # untouched defaults go too
        "employee_count": 250,
        "annual_revenue_usd": 25_000_000.0,
        "existing_customer": True,
        "industry": "retail",
        "contact_email": "j.keller@northwind.example",
        "approved": True,
    }


def test_approve_merges_result_json(run: Run, live_stub: StubServer) -> None:
    result = run(
        "tasks",
        "approve",
        "run_7f3a/approve-review",
        "--set",
        "comment_body=LGTM",
        "--result-json",
        '{"labels": ["ok"], "notify": false}',
        "--yes",
    )
    assert result.exit_code == 0, result.stderr
    assert live_stub.state.completion_of(*PR) == {
        "comment_body": "LGTM",
        "labels": ["ok"],
        "notify": False,
        "approved": True,
    }


def test_approve_without_editable_values_sends_only_approved(
    run: Run, live_stub: StubServer
) -> None:
    result = run("tasks", "approve", "approve-adjustment", "--yes")
    assert result.exit_code == 0
    assert live_stub.state.completion_of(*INVENTORY) == {"approved": True}


@pytest.mark.parametrize(
    ("assignment", "type_name"),
    [
        ("employee_count=many", "integer"),
        ("annual_revenue_usd=lots", "number"),
        ("existing_customer=maybe", "boolean"),
        ("industry=space", "enum"),
    ],
)
def test_approve_set_value_of_the_wrong_type(
    run: Run, live_stub: StubServer, assignment: str, type_name: str
) -> None:
    result = run("tasks", "approve", "run_7a1d/review-extraction", "--set", assignment, "--yes")
    assert result.exit_code == 2
    name = assignment.split("=")[0]
    assert f"--set {name}:" in result.stderr and f"({type_name} field)" in result.stderr
    assert live_stub.state.is_pending(*CRM)


def test_approve_set_on_a_non_editable_or_unknown_field(run: Run, live_stub: StubServer) -> None:
    shown = run("tasks", "approve", "run_7a1d/review-extraction", "--set", "source_email_id=x")
    assert shown.exit_code == 2
    assert "source_email_id: that field is not editable" in shown.stderr
    assert "Editable fields: company_name, employee_count" in shown.stderr
    unknown = run("tasks", "approve", "run_7a1d/review-extraction", "--set", "colour=red")
    assert unknown.exit_code == 2 and "colour: no such field" in unknown.stderr
    none = run("tasks", "approve", "approve-adjustment", "--set", "sku=X", "--yes")
    assert none.exit_code == 2 and "no editable fields" in none.stderr
    assert live_stub.state.is_pending(*CRM) and live_stub.state.is_pending(*INVENTORY)


@pytest.mark.parametrize(
    ("extra_args", "message"),
    [
        (["--result-json", "[1, 2]"], "must be a JSON object ({...}), got an array"),
        (["--result-json", '"text"'], "must be a JSON object ({...}), got a string"),
        (["--result-json", "{nope"], "--result-json is not valid JSON"),
        (["--result-json", '{"approved": false}'], 'may not hold "approved"'),
        (["--set", "priority", "--yes"], "--set takes NAME=VALUE"),
        (
            ["--set", "priority=low", "--result-json", '{"priority": "high"}'],
            "priority is given by both --set and --result-json",
        ),
    ],
)
def test_approve_refuses_bad_options_before_calling_the_api(
    cli: Callable[[str], Run], extra_args: list[str], message: str
) -> None:
    # Nothing listens on this URL: the refusal must come first.
    url = f"http://127.0.0.1:{_closed_port()}"
    result = cli(url)("tasks", "approve", "confirm-category", *extra_args, "--yes")
    assert result.exit_code == 2
    assert message in result.stderr


# -- reject ----------------------------------------------------------------------------------------


def test_reject_with_reason(run: Run, live_stub: StubServer) -> None:
    result = run("tasks", "reject", "budget-approval", "--reason", "over budget", "--yes")
    assert result.exit_code == 0
    assert result.stdout == (
        "Rejected wf_vendor_contract/run_4c8b1f6e2a93/budget-approval: "
        "Approve €48,000 for Globex Logistics (24 months)?\n"
    )
    assert live_stub.state.completion_of(*BUDGET) == {"reason": "over budget", "approved": False}


def test_reject_without_reason_sends_no_result(run: Run, live_stub: StubServer) -> None:
    assert run("tasks", "reject", "run_7f3a/approve-review", "-y").exit_code == 0
    assert live_stub.state.completion_of(*PR) == {"approved": False}


# -- confirmation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["approve", "reject"])
def test_without_yes_and_without_a_terminal_nothing_is_sent(
    run: Run, live_stub: StubServer, command: str
) -> None:
    result = run("tasks", command, "budget-approval")
    assert result.exit_code == 2
    assert "Pass --yes" in result.stderr and "nothing was sent" in result.stderr
    assert live_stub.state.is_pending(*BUDGET)


def test_on_a_terminal_the_command_shows_what_it_sends_and_asks(
    run: Run, live_stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TASKS, "stdin_is_terminal", lambda: True)
    declined = run(
        "tasks", "approve", "budget-approval", "--set", "approved_amount_eur=40000", input="\n"
    )
    assert declined.exit_code == 1
    assert '"approved_amount_eur": 40000' in declined.stderr
    assert "Approve this task? [y/N]" in declined.stderr and "Nothing was sent." in declined.stderr
    assert declined.stdout == "" and live_stub.state.is_pending(*BUDGET)
    accepted = run(
        "tasks", "approve", "budget-approval", "--set", "approved_amount_eur=40000", input="y\n"
    )
    assert accepted.exit_code == 0
    assert live_stub.state.completion_of(*BUDGET) == {
        "approved_amount_eur": 40000,
        "approved": True,
    }


# -- refs ------------------------------------------------------------------------------------------


def test_an_ambiguous_ref_lists_the_candidates(run: Run, live_stub: StubServer) -> None:
    result = run("tasks", "approve", "approve-email", "--yes")
    assert result.exit_code == 2
    assert "'approve-email' matches 3 pending tasks" in result.stderr
    for run_id in ("run_c1a7e2f04b19", "run_5be09d3a7c61", "run_a93f61d20e8c"):
        assert f"wf_customer_reply/{run_id}/approve-email  " in result.stderr
        assert live_stub.state.is_pending("wf_customer_reply", run_id, "approve-email")


def test_an_unknown_ref_says_so(run: Run) -> None:
    result = run("tasks", "show", "deploy-to-prod")
    assert result.exit_code == 2
    assert "No pending task matches 'deploy-to-prod'" in result.stderr
    assert "command-center tasks list" in result.stderr


def test_a_full_ref_of_a_completed_task_is_a_conflict(run: Run, live_stub: StubServer) -> None:
    assert run("tasks", "approve", "run_4c8b/budget-approval", "--yes").exit_code == 0
    full = "/".join(BUDGET)
    again = run("tasks", "reject", full, "--reason", "changed my mind", "--yes")
    assert again.exit_code == 4
    # The run's events show the approval this outbox applied a moment ago: said as such.
    assert "already completed by an earlier decision from this outbox" in again.stderr
    assert "(approved=true)" in again.stderr and "not applied" in again.stderr
    assert live_stub.state.completion_of(*BUDGET) == {
        "approved_amount_eur": 48000,
        "approved": True,
    }
    typed = run("tasks", "approve", full, "--set", "approved_amount_eur=1", "--yes")
    assert typed.exit_code == 2 and "--set cannot be checked" in typed.stderr
    shown = run("tasks", "show", full)
    assert shown.exit_code == 2 and "is not pending" in shown.stderr


# -- auth, network, connection options -------------------------------------------------------------


def test_a_viewer_cannot_approve(run: Run, live_stub: StubServer) -> None:
    result = run("tasks", "approve", "budget-approval", "--yes", token=DEMO_VIEWER_TOKEN)
    assert result.exit_code == 3
    assert "project_contributor" in result.stderr and "workflow:run" in result.stderr
    assert live_stub.state.is_pending(*BUDGET)


def test_a_bad_token_is_an_auth_failure(run: Run) -> None:
    result = run("tasks", "list", token=BAD_TOKEN)
    assert result.exit_code == 3
    assert "rejected the token (401)" in result.stderr


def test_server_down_is_an_api_error(cli: Callable[[str], Run]) -> None:
    result = cli(f"http://127.0.0.1:{_closed_port()}")("tasks", "list")
    assert result.exit_code == 1
    assert "Cannot reach the platform" in result.stderr


def test_connection_options_work_on_the_group_and_the_subcommand(
    cli: Callable[[str], Run], live_stub: StubServer
) -> None:
    run = cli("")  # no base URL in the environment
    assert run("tasks", "list").exit_code == 2
    on_main = run("--base-url", live_stub.url, "tasks", "list", "--json")
    on_group = run("tasks", "--base-url", live_stub.url, "list", "--json")
    on_command = run("tasks", "list", "--base-url", live_stub.url, "--json")
    for result in (on_main, on_group, on_command):
        assert result.exit_code == 0, result.stderr
        assert len(result.stdout.splitlines()) == 12
    # The subcommand's value wins over the group's.
    dead = f"http://127.0.0.1:{_closed_port()}"
    assert run("--base-url", dead, "tasks", "list", "--base-url", live_stub.url).exit_code == 0
    assert run("--base-url", live_stub.url, "tasks", "list", "--base-url", dead).exit_code == 1


def test_token_from_stdin(run: Run) -> None:
    result = run(
        "tasks", "list", "--token-stdin", "--json", token=None, input=f"{DEMO_CONTRIBUTOR_TOKEN}\n"
    )
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 12


# -- help and completion ---------------------------------------------------------------------------


def test_tasks_help_lists_the_commands_with_examples() -> None:
    result = CliRunner().invoke(main, ["tasks", "--help"], prog_name="command-center")
    assert result.exit_code == 0
    commands = result.stdout.split("Commands:")[1]
    for name in ("list", "show", "approve", "reject"):
        assert f"  {name} " in commands
        sub = CliRunner().invoke(main, ["tasks", name, "-h"], prog_name="command-center")
        assert sub.exit_code == 0 and f"command-center tasks {name}" in sub.stdout
        assert "Examples:" in sub.stdout and "--base-url" in sub.stdout


def test_shell_completion_works_out_of_the_box() -> None:
    source = CliRunner(env={"_COMMAND_CENTER_COMPLETE": "bash_source"}).invoke(
        main, [], prog_name="command-center"
    )
    assert source.exit_code == 0
    assert "_command_center_completion" in source.stdout and "complete " in source.stdout
    words = CliRunner(
        env={
            "_COMMAND_CENTER_COMPLETE": "bash_complete",
            "COMP_WORDS": "command-center tasks ",
            "COMP_CWORD": "2",
        }
    ).invoke(main, [], prog_name="command-center")
    assert {"plain,list", "plain,show", "plain,approve", "plain,reject"} <= set(
        words.stdout.split()
    )
    options = CliRunner(
        env={
            "_COMMAND_CENTER_COMPLETE": "bash_complete",
            "COMP_WORDS": "command-center tasks approve --",
            "COMP_CWORD": "3",
        }
    ).invoke(main, [], prog_name="command-center")
    assert {"plain,--set", "plain,--result-json", "plain,--yes"} <= set(options.stdout.split())


def test_list_table_is_oldest_first(run: Run, live_stub: StubServer) -> None:
    result = run("tasks", "list")
    assert result.exit_code == 0, result.output
    titles = [row[-1] for row in _table(result)]
    tasks = sorted(live_stub.state.list_pending(), key=lambda t: t["created_at"])
    assert [t["task_payload"].get("title", t["id"])[:10] for t in tasks] == [
        title[:10] for title in titles
    ]


def test_list_shows_the_readable_tasks_and_names_the_unreadable_ones(
    cli: Callable[[str], Run],
) -> None:
    """One bad entry in a real loopback server's listing: the good task is listed, the bad one
    named on stderr, and the exit code (6) says the list is incomplete."""
    good = {"id": "approve-x", "workflow_id": "wf", "run_id": "run_12345678", "task_payload": {}}
    body = json.dumps({"tasks": [good, {"id": 7}, "not even an object"]}).encode()
    with fixed_platform(body) as platform:
        run = cli(platform.url)
        table = run("tasks", "list")
        lines = run("tasks", "list", "--json")
    for result in (table, lines):
        assert result.exit_code == 6, result.stderr
        assert "2 entries of the platform's answer could not be read" in result.stderr
        assert "entry 1:" in result.stderr and "entry 2:" in result.stderr
    assert "approve-x" in table.stdout
    assert [json.loads(line)["id"] for line in lines.stdout.splitlines()] == ["approve-x"]


def test_a_nan_editable_default_is_refused_in_words_not_a_traceback(
    cli: Callable[[str], Run],
) -> None:
    """JSON from a real loopback server with NaN as an editable default: approving would send
    every editable value, and JSON cannot carry NaN – refused before anything is sent."""
    task = (
        '{"id": "approve-nan", "workflow_id": "wf", "run_id": "run_nan00001", '
        '"task_payload": {"title": "NaN inside", "editable": {"limit": NaN}}}'
    )
    with fixed_platform(('{"tasks": [' + task + "]}").encode()) as platform:
        result = cli(platform.url)("tasks", "approve", "approve-nan", "--yes")
    assert result.exit_code == 1, result.stderr
    assert "cannot be sent" in result.stderr and "JSON cannot carry" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert platform.posts == []
