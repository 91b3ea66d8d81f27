"""The outbox and the audit log on real SQLite and real files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from console.audit import AuditLog, edits_of, operator_identity
from console.cli import main
from console.outbox import EntryState, Outbox, Outcome

KEY = ("wf_email", "run_1", "approve-email")


def submit(outbox: Outbox, **overrides: object) -> str:
    values: dict[str, object] = {
        "profile": "prod",
        "base_url": "https://api.example.test",
        "tenant": "acme",
        "project": "p",
        "task_key": KEY,
        "title": "Send the email?",
        "approved": True,
        "result": {"subject": "Hi", "body": "edited"},
        "original": {"subject": "Hi", "body": "draft"},
    } | overrides
    return outbox.submit(**values).key  # type: ignore[arg-type]


def test_a_decision_survives_reopening_and_walks_its_states(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.sqlite3"
    outbox = Outbox(path)
    key = submit(outbox)
    outbox.attempt(key)
    outbox.requeue(key, "connection reset")
    outbox.close()

    reopened = Outbox(path)
    (entry,) = reopened.entries()
    assert (entry.key, entry.state, entry.attempts) == (key, EntryState.QUEUED, 1)
    assert entry.result == {"subject": "Hi", "body": "edited"}
    assert entry.last_error == "connection reset"
    reopened.fail(key, "403 forbidden", Outcome.REFUSED)
    assert reopened.entries(profile="prod")[0].state is EntryState.FAILED
    assert reopened.entries(profile="other") == []
    reopened.retry(key)
    assert reopened.get(key).state is EntryState.QUEUED  # type: ignore[union-attr]
    reopened.confirm(key, Outcome.APPLIED)
    assert reopened.entries() == []
    done = reopened.entries([EntryState.DONE])[0]
    assert done.outcome is Outcome.APPLIED and done.last_error is None
    other = submit(reopened, task_key=("w", "r", "t"))
    reopened.discard(other)
    assert reopened.entries() == []


def test_files_are_user_only(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "state" / "outbox.sqlite3")
    submit(outbox)
    audit = AuditLog(tmp_path / "state" / "audit.jsonl")
    audit.record(outbox.entries()[0], Outcome.APPLIED)
    for path in (outbox.path, audit.path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_a_committed_decision_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    script = textwrap.dedent(
        f"""
        import os
        from console.outbox import Outbox
        box = Outbox(__import__("pathlib").Path({str(path)!r}))
        box.submit(profile="p", base_url="u", tenant="t", project=None,
                   task_key=("w", "r", "t"), title="x", approved=False,
                   result={{"reason": "no"}}, key="k-1")
        os._exit(9)  # no close, no cleanup: like a kill -9 right after the write
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), check=False)
    assert proc.returncode == 9
    (entry,) = Outbox(path).entries()
    assert (entry.key, entry.approved, entry.result) == ("k-1", False, {"reason": "no"})


def test_audit_records_who_what_and_the_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.9 52311 10.0.0.5 22")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    submit(outbox)
    audit = AuditLog(tmp_path / "audit.jsonl")
    line = audit.record(outbox.entries()[0], Outcome.APPLIED)
    assert line["edits"] == {"body": {"from": "draft", "to": "edited"}}
    assert line["ssh_client"] == "203.0.113.9" and "@" in line["operator"]
    assert (line["workflow_id"], line["run_id"], line["task_id"]) == KEY
    assert json.loads(audit.path.read_text().splitlines()[0]) == line


def test_audit_read_skips_a_line_cut_by_a_crash_and_filters_by_time(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    submit(outbox)
    entry = outbox.entries()[0]
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.record(entry, Outcome.APPLIED, at=datetime.now(UTC) - timedelta(days=3))
    audit.record(entry, Outcome.ELSEWHERE)
    with audit.path.open("a") as handle:
        handle.write('{"at": "2026-11-25T10:00:00+00:00", "approv')  # torn write
    read = audit.read()
    assert len(read.records) == 2 and read.skipped == 1
    recent = audit.read(since=datetime.now(UTC) - timedelta(days=1))
    assert [r["outcome"] for r in recent.records] == ["completed by someone else"]


def test_edits_of_and_identity_without_ssh() -> None:
    assert edits_of({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"b": {"from": 2, "to": 3}}
    assert edits_of(None, {"a": 1}) == {}
    assert "ssh_client" not in operator_identity({})


def test_cli_outbox_and_audit(tmp_path: Path) -> None:
    env = {"COMMAND_CENTER_STATE_DIR": str(tmp_path)}
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    key = submit(outbox)
    outbox.requeue(key, "503 from the platform")
    AuditLog(tmp_path / "audit.jsonl").record(outbox.entries()[0], Outcome.APPLIED)
    runner = CliRunner(env=env)
    listed = runner.invoke(main, ["outbox"])
    assert listed.exit_code == 0 and "queued" in listed.output and "503" in listed.output
    as_json = runner.invoke(main, ["outbox", "--json"])
    assert json.loads(as_json.output)["idempotency_key"] == key
    audited = runner.invoke(main, ["audit", "--since", "1h"])
    assert (
        audited.exit_code == 0 and "approved" in audited.output and "edited body" in audited.output
    )
    bad = runner.invoke(main, ["audit", "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since" in bad.output
