"""y, Y and w: a task's reference, its run id or its run's web link, to the operator's own
clipboard over SSH (OSC 52), and to tmux's paste buffer inside tmux."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from console.clipboard import web_url, web_url_problem
from console.screens.modals import NoticeScreen

from .conftest import ConsoleFactory, wait_for
from .test_console_flows import loaded, table
from .test_trust_at_the_keyboard import told as notes


async def test_y_and_shift_y_copy_the_reference_the_cli_takes_and_the_run_id(
    make_console: ConsoleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        task = table(app).rows[1].task
        await pilot.press("j", "y")
        assert app.clipboard == f"{task.run_id}/{task.id}"
        assert f"Task reference copied: {task.run_id}/{task.id}" in notes(app)
        await pilot.press("Y")
        assert app.clipboard == task.run_id
        await pilot.press("enter", "y")  # the same from the task's own screen
        assert app.clipboard == f"{task.run_id}/{task.id}"


async def test_inside_tmux_the_text_also_goes_to_its_paste_buffer(
    make_console: ConsoleFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in for tmux on PATH that keeps what it was given and how it was called.
    got = tmp_path / "buffer"
    args = tmp_path / "buffer.args"
    fake = tmp_path / "bin" / "tmux"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {args}\ncat > {got}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        task = table(app).rows[0].task
        await pilot.press("y")
        await wait_for(lambda: any("tmux's paste buffer" in n for n in notes(app)), pilot.pause)
        assert got.read_text() == f"{task.run_id}/{task.id}"
        assert args.read_text().split() == ["load-buffer", "-w", "-"]
        assert app.clipboard == f"{task.run_id}/{task.id}"  # and OSC 52 all the same
        fake.write_text("#!/bin/sh\nexit 1\n")
        await pilot.press("Y")
        await wait_for(lambda: any("tmux refused it" in n for n in notes(app)), pilot.pause)


async def test_w_copies_the_runs_web_link_or_says_how_to_set_one(
    make_console: ConsoleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        await pilot.press("w")
        assert isinstance(app.screen, NoticeScreen)
        assert "web_url" in str(app.screen.query_one("#notice-text").render())
    template = "https://console.example.com/workflows/{workflow_id}/runs/{run_id}?task={task_id}"
    app = make_console(web_url=template)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        task = table(app).rows[0].task
        await pilot.press("w")
        assert app.clipboard == template.format(
            workflow_id=task.workflow_id, run_id=task.run_id, task_id=task.id
        )
        assert any(n.startswith("Web link copied: https://") for n in notes(app))


def test_a_web_link_cannot_be_reshaped_by_an_id() -> None:
    template = "https://c.example.com/w/{workflow_id}/r/{run_id}"
    assert web_url(template, "wf/../admin", "run?x=1#y", "t") == (
        "https://c.example.com/w/wf%2F..%2Fadmin/r/run%3Fx%3D1%23y"
    )
    assert web_url_problem(template) is None
    assert "only {workflow_id}, {run_id}, {task_id}" in (web_url_problem("https://x/{token}") or "")
    assert "https://" in (web_url_problem("javascript:alert(1)//{run_id}") or "")
    assert "not a template" in (web_url_problem("https://x/{run_id") or "")


async def test_a_reference_with_control_characters_is_not_copied(
    make_console: ConsoleFactory, stub_state: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pasted into a shell, an ESC or a bidi override in a server's id would act as keys."""
    from server_stub.state import NewTask, Workflow

    monkeypatch.delenv("TMUX", raising=False)
    stub_state.add_workflow(Workflow("wf_odd", "Odd ids"))
    hostile = "run_\x1b]0;pwned\x07\u202e"
    stub_state.add_run("wf_odd", hostile, tasks=[NewTask("t", {"title": "Odd"}, "approval")])
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(app, pilot)
        key = next(r.key for r in table(app).rows if r.key[0] == "wf_odd")
        assert table(app).move_to_key(key)
        await pilot.press("y")
        assert isinstance(app.screen, NoticeScreen)
        assert app.clipboard == ""
        text = str(app.screen.query_one("#notice-text").render())
        assert "\x1b" not in text and "control" in text
