"""A payload field's value as safe text: shared by the detail screen and the preview pane."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..safe_text import safe, safe_json

if TYPE_CHECKING:
    from rich.text import Text

    from client import PayloadField

# Rich wraps a table cell slowly (about 13 s for 400 kB): a longer value is cut in the field
# list; the raw JSON view (J) shows it whole.
FIELD_VALUE_LIMIT = 10_000


def field_value_text(field: PayloadField, limit: int = FIELD_VALUE_LIMIT) -> Text:
    value = field.value
    if isinstance(value, str):
        text = safe(value)
    elif isinstance(value, bool) or value is None:
        text = safe(json.dumps(value))
    elif isinstance(value, int | float):
        text = safe(str(value))
    else:
        text = safe_json(value)
    more = len(text) - limit
    if more > 0:
        text.right_crop(more)
        text.append(f"… ({more:,} more characters: J shows the raw JSON)", style="dim italic")
    return text
