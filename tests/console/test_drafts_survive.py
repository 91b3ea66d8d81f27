"""Edit-form drafts that survive a dropped SSH session: written as they change, restored after a
restart, marked on the row, dropped (and said) when the task goes."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from textual.widgets import TextArea

from client import AsyncCommandCenterClient
from console.screens.edit import DRAFT_PAUSE, EditScreen
from console.widgets.field_inputs import FieldEditor

from .conftest import ConsoleFactory, answer, wait_for
from .test_console_flows import loaded, select, table


def row_text(app: Any, key: Any) -> str:
    tasks = table(app)
    index = tasks.rows.find(key)
    assert index is not None
    return tasks.render_line(index + 1 - round(tasks.scroll_y)).text


async def _type_a_draft(app: Any, pilot: Any) -> Any:
    task = select(app, lambda t: "body" in t.editable_values())
    await pilot.press("e")
    assert isinstance(app.screen, EditScreen)
    area = next(e.control for e in app.screen.query(FieldEditor) if e.field.name == "body")
    assert isinstance(area, TextArea)
    area.text = "Typed over SSH, then the link dropped."
    await pilot.pause(DRAFT_PAUSE + 0.2)  # no Esc, no ctrl+s: the terminal just goes away
    return task


async def test_a_draft_typed_before_the_terminal_died_is_back_after_a_restart(
    make_console: ConsoleFactory, tmp_path: Path
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        task = await _type_a_draft(app, pilot)
    drafts = tmp_path / "state" / "drafts.sqlite3"
    assert stat.S_IMODE(drafts.stat().st_mode) == 0o600
    again = make_console()  # a new console on the same state directory
    async with again.run_test(size=(120, 30)) as pilot:
        await loaded(again, pilot)
        assert "✎ draft" in row_text(again, task.key)
        select(again, lambda t: t.key == task.key)
        await pilot.press("e")
        editor = next(e for e in again.screen.query(FieldEditor) if e.field.name == "body")
        assert editor.raw() == "Typed over SSH, then the link dropped."


async def test_opening_the_form_without_typing_keeps_no_draft(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        task = select(app, lambda t: "body" in t.editable_values())
        await pilot.press("e")
        await pilot.pause(DRAFT_PAUSE + 0.2)
        await pilot.press("escape")
        assert task.key not in app.services.drafts
        assert "✎" not in row_text(app, task.key)


async def test_a_draft_goes_with_its_decision_and_is_said_when_its_task_leaves(
    make_console: ConsoleFactory, other_operator: AsyncCommandCenterClient
) -> None:
    app = make_console()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(app, pilot)
        task = await _type_a_draft(app, pilot)
        await pilot.press("escape")
        await other_operator.complete_task(*task.key, approved=False)  # decided elsewhere
        await pilot.press("R")
        await wait_for(lambda: task.key not in app.services.inbox, pilot.pause)
        await wait_for(lambda: any("draft" in n.title for n in app._notifications), pilot.pause)
        assert task.key not in app.services.drafts
        # A draft of a task this console decides goes with the decision, saying nothing.
        other = await _type_a_draft(app, pilot)
        await pilot.press("ctrl+s")
        await answer(pilot, "y")
        await wait_for(lambda: other.key not in app.services.inbox, pilot.pause)
        assert other.key not in app.services.drafts
    again = make_console()
    async with again.run_test(size=(120, 30)) as pilot:
        await loaded(again, pilot)
        assert again.services.drafts == {}
