"""The edit form's controls: enums show and keep their value, booleans say theirs in words,
messages follow the value, and focus comes back to the field after the review."""

from __future__ import annotations

import json
from typing import Any

import pytest
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from console.app import CommandCenterApp
from console.screens.edit import EditScreen, ReviewScreen
from console.widgets.field_inputs import FieldEditor
from server_stub import StubState
from server_stub.state import NewTask, Workflow

from .conftest import ConsoleFactory
from .test_console_flows import loaded, plain, select

WORKFLOW_ID = "wf_field_editors"
TASK_ID = "check-fields"


def enum_field(name: str, value: Any, options: list[Any], *, required: bool) -> dict[str, Any]:
    return {
        "name": name,
        "label": name.capitalize(),
        "value": value,
        "type": "enum",
        "options": options,
        "editable": True,
        "required": required,
    }


def add_task(state: StubState, fields: list[dict[str, Any]]) -> None:
    """One run of a workflow of its own, waiting on a task with these fields."""
    state.add_workflow(Workflow(WORKFLOW_ID, "Field editors"))
    payload = {"title": "Check the fields", "fields": fields}
    state.add_run(WORKFLOW_ID, "run_f1e1d0000001", tasks=[NewTask(TASK_ID, payload, "edit")])


async def open_form(app: CommandCenterApp, pilot: Any, predicate: Any) -> EditScreen:
    await loaded(app, pilot)
    select(app, predicate)
    await pilot.press("e")
    assert isinstance(app.screen, EditScreen)
    return app.screen


def editor(app: CommandCenterApp, name: str) -> FieldEditor:
    return next(e for e in app.screen.query(FieldEditor) if e.field.name == name)


def message(app: CommandCenterApp, name: str) -> str:
    return str(editor(app, name).query_one(".field-error", Label).content)


def select_shows(control: Widget) -> str:
    """What a closed Select shows as its value."""
    assert isinstance(control, Select)
    return str(control.query_one("SelectCurrent #label", Static).render())


def is_ours(task: Any) -> bool:
    return bool(task.workflow_id == WORKFLOW_ID)


async def test_blank_enums_are_none_or_ask_for_a_choice_and_never_crash(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    add_task(
        stub_state,
        [
            enum_field("region", None, ["eu", "us"], required=True),
            enum_field("tier", None, ["gold", "silver"], required=False),
        ],
    )
    app = make_console()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_form(app, pilot, is_ours)
        assert editor(app, "tier").raw() is None  # not Select.NULL: that is no JSON value
        await pilot.press("ctrl+s")
        assert app.screen is screen  # no review with a required value missing, and no crash
        assert message(app, "region") == "✗ Choose one of the options."
        assert message(app, "tier") == ""
        region = editor(app, "region").control
        assert isinstance(region, Select)
        region.value = "eu"
        await pilot.pause()
        assert message(app, "region") == ""  # the value changed: the message went with it
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ReviewScreen)
        assert sent(app) == {"region": "eu", "tier": None}


def sent(app: CommandCenterApp) -> dict[str, Any]:
    """What approving from the review would send in ``result``, as JSON carries it."""
    assert isinstance(app.screen, ReviewScreen)
    values: dict[str, Any] = json.loads(json.dumps(app.screen.values, allow_nan=False))
    return values


async def test_an_enum_value_outside_its_options_is_shown_and_kept_as_it_was(
    make_console: ConsoleFactory, stub_state: StubState
) -> None:
    add_task(stub_state, [enum_field("region", "apac", ["eu", "us"], required=True)])
    app = make_console()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_form(app, pilot, is_ours)
        control = editor(app, "region").control
        assert select_shows(control) == "apac (not an option)"
        await pilot.press("ctrl+s")  # untouched: no crash, the value the payload held
        assert isinstance(app.screen, ReviewScreen)
        assert sent(app) == {"region": "apac"}
        assert "No value changed" in plain(app.screen.query_one("#diff", Static).content)
        await pilot.press("escape")
        assert isinstance(control, Select)
        control.value = "us"  # the listed options stay choosable
        await pilot.press("ctrl+s")
        assert sent(app) == {"region": "us"}
        await pilot.press("escape")
        control.value = "apac"  # and back to the value as it was
        await pilot.press("ctrl+s")
        assert sent(app) == {"region": "apac"}


async def test_enums_show_their_current_value(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_form(app, pilot, lambda t: "category" in t.editable_values())
        for name in ("category", "priority"):
            field_editor = editor(app, name)
            assert select_shows(field_editor.control) == field_editor.field.value


@pytest.mark.parametrize("no_color", [False, True])
async def test_a_boolean_says_true_or_false_and_toggles_from_the_keyboard(
    make_console: ConsoleFactory, monkeypatch: pytest.MonkeyPatch, no_color: bool
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    app = make_console()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_form(app, pilot, lambda t: t.editable_values().get("existing_customer"))
        field_editor = editor(app, "existing_customer")
        state = field_editor.query_one(".field-state", Label)
        assert str(state.content) == "true"
        while not isinstance(app.focused, Switch):
            await pilot.press("tab")
        await pilot.press("space")
        assert field_editor.raw() is False and str(state.content) == "false"
        await pilot.press("enter")
        assert field_editor.raw() is True and str(state.content) == "true"
        assert "true" in app.export_screenshot()


async def test_a_message_goes_once_the_value_is_fixed(make_console: ConsoleFactory) -> None:
    app = make_console()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_form(app, pilot, lambda t: "employee_count" in t.editable_values())
        box = editor(app, "employee_count").control
        assert isinstance(box, Input)
        box.value = "-"
        await pilot.press("ctrl+s")
        assert app.screen is screen
        assert message(app, "employee_count") == "✗ Not a whole number: '-'."
        box.value = "4.5"  # still wrong: the message names the value now in the field
        await pilot.pause()
        assert message(app, "employee_count") == "✗ Not a whole number: '4.5'."
        box.value = "-5"
        await pilot.pause()
        assert message(app, "employee_count") == ""
        box.value = "-"  # fixed once: no nagging while typing until the next review
        await pilot.pause()
        assert message(app, "employee_count") == ""
        box.value = "57"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ReviewScreen)


async def test_focus_returns_to_the_field_being_edited_after_the_review(
    make_console: ConsoleFactory,
) -> None:
    app = make_console()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_form(app, pilot, lambda t: "industry" in t.editable_values())
        industry = editor(app, "industry").control
        while app.focused is not industry:
            await pilot.press("tab")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ReviewScreen)
        screen.set_focus(None)  # focus lost meanwhile (e.g. the terminal lost and regained it)
        await pilot.press("escape")
        resumed: object = app.screen
        assert resumed is screen and app.focused is industry
        await pilot.press("ctrl+s", "escape")
        assert app.focused is industry
