"""Screens as SVG snapshots at 80x24 and 120x40 (triage screens at 80x24 and 160x45), with fixed
data, clock and zone, no blinking.

Regenerate on purpose only: `pytest tests/console/test_snapshots.py --snapshot-update`, then look
at the SVGs that changed (snapshot_report.html).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

from console.screens.run import RunScreen

from .conftest import ConsoleFactory, wait_for

SIZES = [(80, 24), (120, 40)]


async def _loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await wait_for(lambda: app.services.last_refresh is not None, pilot.pause)  # type: ignore[attr-defined]
    await pilot.pause()


def _first_with(key: str) -> Callable[[Pilot[Any]], Any]:
    async def go(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        app: Any = pilot.app
        from console.widgets.task_table import TaskTable

        table = app.screen.query_one("#tasks", TaskTable)
        row = next(r for r in table.rows if key in r.task.full().editable_values())
        table.move_to_key(row.key)
        await pilot.pause()

    return go


def _then(first: Callable[[Pilot[Any]], Any], *keys: str) -> Callable[[Pilot[Any]], Any]:
    async def go(pilot: Pilot[Any]) -> None:
        await first(pilot)
        await pilot.press(*keys)
        await pilot.pause()

    return go


async def _review(pilot: Pilot[Any]) -> None:
    await _first_with("body")(pilot)
    await pilot.press("e")
    area = pilot.app.screen.query_one(TextArea)
    area.text = area.text.replace("Hi", "Hello", 1) + "\nP.S. Refund on its way."
    await pilot.press("ctrl+s")
    await pilot.pause()


async def _run_view(pilot: Pilot[Any]) -> None:
    await _first_with("body")(pilot)
    await pilot.press("o")
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen)
    await wait_for(lambda: screen.story is not None, pilot.pause)
    await pilot.pause()


SCENES: dict[str, Callable[[Pilot[Any]], Any]] = {
    "inbox": _loaded,
    "detail": _then(_first_with("body"), "enter"),
    "detail_json": _then(_first_with("body"), "enter", "J"),
    "edit": _then(_first_with("body"), "e"),
    "review": _review,
    "confirm": _then(_loaded, "a"),
    "reject": _then(_loaded, "x"),
    "help": _then(_loaded, "question_mark"),
    "run": _run_view,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scene", list(SCENES))
def test_screen(
    snap_compare: Any, make_console: ConsoleFactory, scene: str, size: tuple[int, int]
) -> None:
    assert snap_compare(make_console(), terminal_size=size, run_before=SCENES[scene])


# -- triage at speed (issue 13): the preview pane, marks and a batch's confirmation ---------------

TRIAGE_SIZES = [(80, 24), (160, 45)]


async def _preview(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    from console.widgets.task_preview import TaskPreview

    if pilot.app.size.width < 140:
        await pilot.press("v")  # below 140 columns the pane is asked for; from 140 it is there
    await pilot.press("j", "j")
    pane = pilot.app.screen.query_one(TaskPreview)
    await wait_for(lambda: pane._shown is not None and pane._shown[0] is not None, pilot.pause)
    await pilot.pause()


async def _marked(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("space", "space", "j", "space")  # rows 1, 2 and 4
    await pilot.pause()


TRIAGE: dict[str, Callable[[Pilot[Any]], Any]] = {
    "preview": _preview,
    "marks": _marked,
    "batch_approve": _then(_marked, "a"),
    "batch_reject": _then(_loaded, "asterisk", "x"),
}


@pytest.mark.parametrize("size", TRIAGE_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scene", list(TRIAGE))
def test_triage_screen(
    snap_compare: Any, make_console: ConsoleFactory, scene: str, size: tuple[int, int]
) -> None:
    assert snap_compare(make_console(), terminal_size=size, run_before=TRIAGE[scene])


# -- the whole Command Center (issue 14): each section and the run control menu ------------------


async def _runs_loaded(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    app: Any = pilot.app
    await wait_for(lambda: app.services.runs.loaded, pilot.pause)
    await pilot.pause()


def _section(number: int) -> Callable[[Pilot[Any]], Any]:
    return _then(_runs_loaded, str(number))


CENTER: dict[str, Callable[[Pilot[Any]], Any]] = {
    "running": _section(2),
    "draining": _section(3),
    "failed": _section(4),
    "control": _then(_runs_loaded, "2", "c"),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scene", list(CENTER))
def test_command_center_screen(
    snap_compare: Any, make_console: ConsoleFactory, scene: str, size: tuple[int, int]
) -> None:
    assert snap_compare(make_console(), terminal_size=size, run_before=CENTER[scene])
