"""The one place tests reach into Textual's private state (pinned textual 8.2.8)."""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App


def exit_text(app: App[object]) -> str:
    """What the app will print to the terminal as it exits after an error."""
    console = Console(file=io.StringIO(), width=200, color_system=None)
    for renderable in app._exit_renderables:
        console.print(renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return str(output)
