"""One form control per editable payload value, typed from the payload, with its own validation."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Switch, TextArea
from textual.widgets.select import NoSelection

from client import FieldType, PayloadField

from ..field_values import FieldError, parse_value, text_of
from ..safe_text import LINE_MAX, clean, escape_json_source, safe

NOT_AN_OPTION = " (not an option)"
"""After a current enum value its options do not list: offered, so it can be kept as it is."""


def shown_text(field: PayloadField, text: str) -> str:
    """What a form control shows for ``text``: controls, bidi and invisible characters visible.

    Put into a control as it is, the server's text would reach the terminal raw. A JSON value
    stays valid JSON for the same value (``\\u`` escapes inside its strings). Tabs are drawn
    safely by the controls themselves and kept; line ends all become ``\\n``, as a text area
    given mixed ones would change them. Left untouched, a control gives back the exact text.
    """
    if field.type is FieldType.JSON:
        return escape_json_source(text)
    multiline = field.type is FieldType.TEXT
    return "\t".join(clean(part, multiline=multiline) for part in text.split("\t"))


def same_value(a: Any, b: Any) -> bool:
    """Equal as JSON values: the option ``1`` is not ``true``, as Python's ``1 == True`` says."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _select_keys(values: list[Any]) -> list[Any]:
    """What the Select holds for each choice: the value itself, or its index if it cannot be.

    A Select keeps its values in a set: an unhashable option (a list) would crash it, and two
    options a set cannot tell apart (``1`` and ``true``, duplicates) would be one choice.
    """
    try:
        if len(set(values)) == len({(type(v), v) for v in values}) == len(values):
            return list(values)
    except TypeError:  # unhashable, e.g. a list or a tuple holding one
        pass
    return list(range(len(values)))


def _bool_word(value: bool) -> Text:
    """A switch's state in words: the switch alone is a shaded block under NO_COLOR."""
    return Text("true" if value else "false", style="bold")


class FieldEditor(Vertical):
    """Label, control and the validation message of one editable value."""

    DEFAULT_CSS = """
    FieldEditor { height: auto; margin-bottom: 1; }
    FieldEditor > .field-label { text-style: bold; }
    FieldEditor > .field-error { color: $error; }
    FieldEditor > TextArea { height: 8; }
    FieldEditor.-multiline > TextArea { height: 10; }
    FieldEditor > .field-row { height: auto; }
    FieldEditor > .field-row > .field-state { height: 3; content-align: left middle; padding: 0 1; }
    """

    def __init__(
        self, field: PayloadField, current: Any, *, cursor_blink: bool = True, draft: bool = False
    ) -> None:
        """``current`` is the field's value, or with ``draft`` what :meth:`raw` gave earlier."""
        super().__init__(classes="-multiline" if field.type is FieldType.TEXT else "")
        self.field = field
        self.current = current
        self.cursor_blink = cursor_blink
        # A text control shows `shown`; left as it is, it gives back `source` – the server's
        # exact text – so an approval without edits sends exactly what the payload held.
        self.source = str(current) if draft else text_of(field, current)
        self.shown = shown_text(field, self.source)
        # An enum's choices: the values a select key stands for (see _select).
        self._choices: dict[Any, Any] = {}
        self._error_shown = False

    def compose(self) -> ComposeResult:
        field = self.field
        label = safe(field.label, multiline=False)
        label.append(f"  ({field.type.value}{', required' if field.required else ''})", "dim")
        yield Label(label, classes="field-label")
        if field.type is FieldType.BOOLEAN:
            switch = Switch(value=bool(self.current), id="control")
            yield Horizontal(
                switch, Label(_bool_word(switch.value), classes="field-state"), classes="field-row"
            )
        else:
            yield self._control()
        yield Label("", classes="field-error")

    def _control(self) -> Widget:
        field = self.field
        if field.type is FieldType.ENUM:
            return self._select()
        if field.type in (FieldType.TEXT, FieldType.JSON):
            area = TextArea(self.shown, id="control", soft_wrap=True)
            area.cursor_blink = self.cursor_blink
            area.show_line_numbers = field.type is FieldType.JSON
            return area
        kind = {FieldType.INTEGER: "integer", FieldType.NUMBER: "number"}.get(field.type, "text")
        # No select-on-focus: a stray key must not replace a drafted value.
        box = Input(
            self.shown,
            type=kind,  # type: ignore[arg-type]
            id="control",
            select_on_focus=False,
        )
        box.cursor_blink = self.cursor_blink
        return box

    def _select(self) -> Select[Any]:
        """The options with the current value selected.

        A current value the options do not list is offered first, marked as such, and selected:
        left as it is, the approval sends the value the payload held. Blank only for no value or
        an optional field; a required one with a value cannot be emptied.
        """
        field, value = self.field, self.current
        values = list(field.options or [])
        labels = [safe(o, max_len=LINE_MAX, multiline=False) for o in values]
        match = next((i for i, o in enumerate(values) if same_value(value, o)), None)
        if match is None and value is not None:
            label = safe(value, max_len=LINE_MAX, multiline=False)
            label.append(NOT_AN_OPTION, style="italic")
            values.insert(0, value)
            labels.insert(0, label)
            match = 0
        keys = _select_keys(values)
        self._choices = dict(zip(keys, values, strict=True))
        selected: Any = Select.NULL if match is None else keys[match]
        return Select(
            list(zip(labels, keys, strict=True)),
            prompt="(no value: choose one)" if field.required else "(no value)",
            allow_blank=not field.required or match is None,
            value=selected,
            id="control",
        )

    @property
    def control(self) -> Widget:
        return self.query_one("#control")

    def raw(self) -> Any:
        """What the control holds, untyped: kept as the draft when the operator leaves."""
        control = self.control
        if isinstance(control, TextArea | Input):
            text = control.text if isinstance(control, TextArea) else control.value
            return self.source if text == self.shown else text
        if isinstance(control, Select):
            key = control.value
            # Blank is Select.NULL, a NoSelection: it must never reach JSON.
            return None if isinstance(key, NoSelection) else self._choices[key]
        if isinstance(control, Switch):
            return control.value
        raise TypeError(type(control))  # pragma: no cover

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _control_changed(
        self, event: Input.Changed | TextArea.Changed | Select.Changed | Switch.Changed
    ) -> None:
        """A message about the previous value would mislead: check the new one instead."""
        if isinstance(event, Switch.Changed):
            self.query_one(".field-state", Label).update(_bool_word(event.value))
        if self._error_shown:
            self.validate()

    def validate(self) -> tuple[bool, Any]:
        """(ok, typed value); shows or clears the message under the field."""
        error_label = self.query_one(".field-error", Label)
        try:
            value = parse_value(self.field, self.raw())
            # The value travels back as JSON: 1e400 in a payload reads as infinity, which
            # JSON cannot carry, and the request could not even be built.
            json.dumps(value, allow_nan=False)
        except FieldError as exc:
            return self._refuse(f"✗ {exc}")
        except ValueError:
            return self._refuse("✗ JSON cannot carry Infinity or NaN: enter a finite number.")
        except TypeError:  # pragma: no cover - every control gives JSON values
            return self._refuse("✗ This value cannot be sent as JSON.")
        error_label.update("")
        self._error_shown = False
        return True, value

    def _refuse(self, message: str) -> tuple[bool, Any]:
        """Show why the value cannot be sent; a later change of it re-checks (see above)."""
        self.query_one(".field-error", Label).update(safe(message))
        self._error_shown = True
        return False, None
