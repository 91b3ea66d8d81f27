"""Why the inbox is not live: the last failed refresh in full, for the operator to act on."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..safe_text import safe
from ..services import ConsoleServices


def _when(moment: Any) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


def connection_table(services: ConsoleServices) -> Table:
    """The link's state, the last good refresh and, while failing, the failed answer."""
    state = services.connection
    now = services.clock()
    table = Table.grid(padding=(0, 2))
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", ratio=1, overflow="fold")
    table.add_row("Now", safe(state.describe(now, stale_after=services.stale_after())))
    table.add_row("Platform", safe(services.settings.base_url, multiline=False))
    table.add_row("Last good refresh", _when(state.last_ok))
    if state.failures:
        table.add_row("Failing since", f"{_when(state.failing_since)} ({state.failures} in a row)")
        table.add_row("Why", safe(state.last_error or "", max_len=1000))
        for name, value in state.evidence.items():
            table.add_row(name.capitalize(), safe(value, max_len=400))
    return table


class ConnectionScreen(ModalScreen[None]):
    """``L`` from the inbox; refreshed each second while open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,L", "close", "Close", id="connection.close"),
    ]

    def __init__(self, services: ConsoleServices) -> None:
        super().__init__()
        self.services = services

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal help"):
            yield Static(Text("Link to the platform", style="bold"), classes="modal-title")
            yield Static(connection_table(self.services), id="connection")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        self.set_interval(1.0, self._update)

    def _update(self) -> None:
        self.query_one("#connection", Static).update(connection_table(self.services))

    def action_close(self) -> None:
        self.dismiss()
