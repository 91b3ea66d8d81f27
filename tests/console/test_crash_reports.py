"""A crash shows two lines and writes a report without secrets; bad ids never crash-loop."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from console.crash import crash_message, redact, report_text, write_report
from console.outbox import EntryState, Outbox
from console.screens.inbox import InboxScreen
from server_stub import DEMO_CONTRIBUTOR_TOKEN

from ._textual_internals import exit_text
from .conftest import ConsoleFactory, wait_for
from .test_console_flows import loaded

TOKEN = DEMO_CONTRIBUTOR_TOKEN


def _explode(token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}  # a local a Rich traceback would print
    raise RuntimeError(f"boom while sending with {headers}")


def test_the_report_has_the_stack_but_no_locals_and_no_token(tmp_path: Path) -> None:
    try:
        _explode(TOKEN)
    except RuntimeError as exc:
        error = exc
    text = report_text(error, (TOKEN,))
    assert "_explode" in text and "RuntimeError" in text  # the stack is there
    assert TOKEN not in text and "Bearer [REDACTED]" in text
    path = write_report(error, (TOKEN,), tmp_path / "state")
    assert (path is not None and path.read_text() == text) or TOKEN not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    message = crash_message(error, path, (TOKEN,))
    assert TOKEN not in message and str(path) in message


def test_shapes_of_a_token_are_redacted_even_when_not_given() -> None:
    text = "Authorization: bearer pat_abc123_secret; also pat_zzzz9999 in a message"
    assert redact(text) == "Authorization: bearer [REDACTED]; also [REDACTED] in a message"


async def test_an_unhandled_error_in_the_console_ends_it_with_our_words(
    make_console: ConsoleFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COMMAND_CENTER_STATE_DIR", str(tmp_path / "crash-state"))

    def broken(self: Any) -> None:
        _explode(TOKEN)

    monkeypatch.setattr(InboxScreen, "action_sort", broken)
    app = make_console()
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(100, 30)) as pilot:
            await loaded(app, pilot)
            await pilot.press("s")
            await wait_for(lambda: not app.is_running, pilot.pause)
    shown = exit_text(app) + capfd.readouterr().err  # printed at exit, or still pending
    assert "The console stopped on an unexpected error" in shown
    assert TOKEN not in shown and "headers" not in shown.split("(", 1)[0]
    (report,) = (tmp_path / "crash-state").glob("crash-*.txt")
    assert TOKEN not in report.read_text() and "_explode" in report.read_text()
    assert str(report) in "".join(shown.split())  # the terminal may wrap the path


async def test_a_decision_with_an_id_that_would_change_the_url_fails_once_and_never_loops(
    make_console: ConsoleFactory, outbox: Outbox
) -> None:
    """A stored decision whose task id is '..' is refused before sending, every start."""
    entry = outbox.submit(
        profile="default",
        base_url="http://stub.test",
        tenant="demo",
        project="demo-project",
        task_key=("wf_pr_review", "run_7f3a9c1e5b2d", ".."),
        title="a task with a hostile id",
        approved=True,
        result=None,
    )
    for _ in range(2):  # two starts: the second sends nothing more
        app = make_console()
        async with app.run_test(size=(100, 30)) as pilot:
            await loaded(app, pilot)
            await wait_for(
                lambda: outbox.get(entry.key).state is EntryState.FAILED,  # type: ignore[union-attr]
                pilot.pause,
            )
            assert app.is_running
    stored = outbox.get(entry.key)
    assert stored is not None and stored.attempts == 1
    assert "Not sent" in (stored.last_error or "") or ".." in (stored.last_error or "")


def test_a_running_command_can_leave_no_core_file(tmp_path: Path) -> None:
    """/proc/<pid>/limits of a CLI command waiting on a server that never answers."""
    import socket
    import subprocess
    import sys

    listener = socket.create_server(("127.0.0.1", 0))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "COMMAND_CENTER_BASE_URL": f"http://127.0.0.1:{listener.getsockname()[1]}",
        "COMMAND_CENTER_TENANT": "demo",
        "COMMAND_CENTER_TOKEN": TOKEN,
        "COMMAND_CENTER_CONFIG": str(tmp_path / "none.toml"),
        "COMMAND_CENTER_STATE_DIR": str(tmp_path / "state"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "tasks", "list"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        listener.settimeout(20)
        conn, _ = listener.accept()  # the command is running and waiting for an answer
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        (line,) = [line for line in limits.splitlines() if line.startswith("Max core file size")]
        assert line.split()[4:6] == ["0", "0"], line
        conn.close()
    finally:
        proc.kill()
        proc.wait(10)
        listener.close()
