"""Typed values for payload fields, from what an operator typed in a form or on the command line.

One parser serves the edit screen and ``tasks approve --set``, so both accept and refuse the same.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from client import FieldType

if TYPE_CHECKING:
    from client import PayloadField

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


class FieldError(ValueError):
    """A value the operator typed that does not fit the field; the message is shown under it."""


def text_of(field: PayloadField, value: Any) -> str:
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
        # A switch gives a bool, a select its choice or None when blank (text: see parse_text).
        # A choice may be a current value the options do not list: kept, as the operator
        # left it. None is blank, unless the options list null itself.
        if kind is FieldType.ENUM and raw is None and None not in (field.options or []):
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


def parse_text(field: PayloadField, text: str) -> Any:
    """A value typed as text (``--set name=value``), checked against the field's type."""
    if field.type is FieldType.BOOLEAN:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise FieldError(f"Expected a boolean (true/false), got {text[:40]!r}.")
    if field.type is FieldType.ENUM:
        for option in field.options or []:
            if text == str(option):
                return option
        choices = ", ".join(str(o) for o in field.options or [])
        raise FieldError(f"Expected one of: {choices}; got {text[:40]!r}.")
    return parse_value(field, text)
