"""One form control per editable payload value, typed from the payload, with its own validation."""

from __future__ import annotations

import json
import math
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Switch, TextArea

from client import FieldType, PayloadField

from .safe_text import safe


class FieldError(ValueError):
    """A value the operator typed that does not fit the field; the message is shown under it."""


def _text_of(field: PayloadField, value: Any) -> str:
    """The editable text for a value: JSON for structures, plain for scalars."""
    if field.type is FieldType.JSON:
        return json.dumps(value, indent=2, ensure_ascii=False)
    if value is None:
        return ""
    return str(value)


def parse_value(field: PayloadField, raw: Any) -> Any:
    """The typed value for what the control holds; raises FieldError with a readable reason."""
    kind = field.type
    if kind in (FieldType.BOOLEAN, FieldType.ENUM):
        if kind is FieldType.ENUM and raw is Select.BLANK:
            if field.required:
                raise FieldError("Choose one of the options.")
            return None
        return raw
    text = str(raw)
    if kind in (FieldType.STRING, FieldType.TEXT):
        if field.required and not text.strip():
            raise FieldError("Required: enter a value.")
        if text == "" and field.value is None:
            return None  # untouched empty value stays what it was
        return text
    stripped = text.strip()
    if not stripped:
        if field.required:
            raise FieldError("Required: enter a value.")
        return None
    if kind is FieldType.INTEGER:
        try:
            return int(stripped)
        except ValueError:
            raise FieldError(f"Not a whole number: {stripped[:40]!r}.") from None
    if kind is FieldType.NUMBER:
        try:
            number = float(stripped)
        except ValueError:
            raise FieldError(f"Not a number: {stripped[:40]!r}.") from None
        if not math.isfinite(number):
            raise FieldError("Must be a finite number.")
        return int(number) if number.is_integer() and isinstance(field.value, int) else number
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise FieldError(f"Not valid JSON: {exc.msg} at line {exc.lineno}.") from None


class FieldEditor(Vertical):
    """Label, control and the validation message of one editable value."""

    DEFAULT_CSS = """
    FieldEditor { height: auto; margin-bottom: 1; }
    FieldEditor > .field-label { text-style: bold; }
    FieldEditor > .field-error { color: $error; }
    FieldEditor > TextArea { height: 8; }
    FieldEditor.-multiline > TextArea { height: 10; }
    """

    def __init__(self, field: PayloadField, current: Any, *, cursor_blink: bool = True) -> None:
        super().__init__(classes="-multiline" if field.type is FieldType.TEXT else "")
        self.field = field
        self.current = current
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        field = self.field
        label = safe(field.label, multiline=False)
        label.append(f"  ({field.type.value}{', required' if field.required else ''})", "dim")
        yield Label(label, classes="field-label")
        yield self._control()
        yield Label("", classes="field-error")

    def _control(self) -> Widget:
        field, value = self.field, self.current
        if field.type is FieldType.BOOLEAN:
            return Switch(value=bool(value), id="control")
        if field.type is FieldType.ENUM:
            options = [(safe(str(o), multiline=False), o) for o in field.options or []]
            allow_blank = value not in (field.options or []) or not field.required
            select: Select[Any] = Select(options, allow_blank=allow_blank, id="control")
            if value in (field.options or []):
                select.value = value
            return select
        if field.type in (FieldType.TEXT, FieldType.JSON):
            area = TextArea(_text_of(field, value), id="control", soft_wrap=True)
            area.cursor_blink = self.cursor_blink
            area.show_line_numbers = field.type is FieldType.JSON
            return area
        kind = {FieldType.INTEGER: "integer", FieldType.NUMBER: "number"}.get(field.type, "text")
        # No select-on-focus: a stray key must not replace a drafted value.
        box = Input(
            _text_of(field, value),
            type=kind,  # type: ignore[arg-type]
            id="control",
            select_on_focus=False,
        )
        box.cursor_blink = self.cursor_blink
        return box

    @property
    def control(self) -> Widget:
        return self.query_one("#control")

    def raw(self) -> Any:
        """What the control holds, untyped: kept as the draft when the operator leaves."""
        control = self.control
        if isinstance(control, TextArea):
            return control.text
        if isinstance(control, Switch | Select | Input):
            return control.value
        raise TypeError(type(control))  # pragma: no cover

    def validate(self) -> tuple[bool, Any]:
        """(ok, typed value); shows or clears the message under the field."""
        error_label = self.query_one(".field-error", Label)
        try:
            value = parse_value(self.field, self.raw())
        except FieldError as exc:
            error_label.update(safe(f"✗ {exc}"))
            return False, None
        error_label.update("")
        return True, value
