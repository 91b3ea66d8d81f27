"""Decisions not yet settled: queued ones are re-sent on their own; failed ones wait for you."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from ..outbox import EntryState, OutboxEntry
from ..widgets.safe_text import clean
from ..widgets.task_table import FAILED, QUEUED
from ._console_screen import ConsoleScreen


class OutboxScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry", id="outbox.retry"),
        Binding("d", "discard", "Discard", id="outbox.discard"),
        Binding("R", "reload", "Reload", id="outbox.reload"),
        Binding("escape,q", "back", "Back", id="outbox.back"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Outbox: decisions not yet confirmed", classes="status-line", id="outbox-head")
        yield DataTable(id="outbox", cursor_type="row", zebra_stripes=True)
        yield Static(id="outbox-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("State", "Decision", "Task", "Title", "Tries", "Last error")
        self.action_reload()
        table.focus()

    def action_reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        entries = self.services.reload_unsettled()
        for entry in entries:
            marker = QUEUED if entry.state is EntryState.QUEUED else FAILED
            table.add_row(
                Text(f"{marker[0]} {marker[1]}"),
                Text(entry.verb),
                Text(clean(f"{entry.run_id[:8]}/{entry.task_id}", multiline=False)),
                Text(clean(entry.title, max_len=40, multiline=False)),
                Text(str(entry.attempts)),
                Text(clean(entry.last_error or "", max_len=60, multiline=False)),
                key=entry.key,
            )
        head = f"Outbox: {len(entries)} decision(s) not yet confirmed"
        if not entries:
            head = "Outbox: empty – every decision was confirmed by the server"
        self.query_one("#outbox-head", Static).update(head)

    def _selected(self) -> OutboxEntry | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            self.app.bell()
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.services.outbox.get(str(key)) if key else None

    def action_retry(self) -> None:
        entry = self._selected()
        if entry is None:
            return
        if entry.state is EntryState.FAILED:
            self.services.outbox.retry(entry.key)
        self.services.drain_failures = 0
        self.cc.drain_outbox()
        self.notify(f"Sending again: {clean(entry.title, max_len=50, multiline=False)}")
        self.action_reload()

    def action_discard(self) -> None:
        entry = self._selected()
        if entry is None:
            return
        self.services.outbox.discard(entry.key)
        self.notify(
            f"Discarded the decision to {entry.verb} "
            f"{clean(entry.title, max_len=50, multiline=False)}; the task stays pending."
        )
        self.action_reload()

    def status_changed(self) -> None:
        """The app calls this after the queue was sent again."""
        self.action_reload()

    def action_back(self) -> None:
        self.dismiss()
