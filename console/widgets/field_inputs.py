"""One form control per editable payload value, typed from the payload, with its own validation."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Switch, TextArea

from client import FieldType, PayloadField

from ..field_values import FieldError, parse_value, text_of
from .safe_text import clean, escape_json_source, safe


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


class FieldEditor(Vertical):
    """Label, control and the validation message of one editable value."""

    DEFAULT_CSS = """
    FieldEditor { height: auto; margin-bottom: 1; }
    FieldEditor > .field-label { text-style: bold; }
    FieldEditor > .field-error { color: $error; }
    FieldEditor > TextArea { height: 8; }
    FieldEditor.-multiline > TextArea { height: 10; }
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
            return None if control.value is Select.BLANK else control.value
        if isinstance(control, Switch):
            return control.value
        raise TypeError(type(control))  # pragma: no cover

    def validate(self) -> tuple[bool, Any]:
        """(ok, typed value); shows or clears the message under the field."""
        error_label = self.query_one(".field-error", Label)
        try:
            value = parse_value(self.field, self.raw())
            # The value travels back as JSON: 1e400 in a payload reads as infinity, which
            # JSON cannot carry, and the request could not even be built.
            json.dumps(value, allow_nan=False)
        except FieldError as exc:
            error_label.update(safe(f"✗ {exc}"))
            return False, None
        except ValueError:
            error_label.update(safe("✗ JSON cannot carry Infinity or NaN: enter a finite number."))
            return False, None
        error_label.update("")
        return True, value
