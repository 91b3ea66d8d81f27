"""Decisions not yet settled: held ones wait out their undo window, queued ones are re-sent on
their own, failed ones wait for you. Discarding asks first: it cannot be taken back."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from ..decisions import NotRecorded
from ..outbox import EntryState, OutboxEntry, OutboxError
from ..safe_text import clean
from ..widgets.key_bar import KeyBar
from ..widgets.status_line import StatusLine
from ..widgets.task_table import entry_marker
from ._console_screen import ConsoleScreen


class OutboxTable(DataTable[Text]):
    """The outbox rows; j/k move like everywhere else in the console."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "First", show=False),
        Binding("G", "scroll_bottom", "Last", show=False),
    ]


class OutboxScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry", id="outbox.retry"),
        Binding("d", "discard", "Discard", id="outbox.discard"),
        Binding("R", "reload", "Reload", id="outbox.reload"),
        Binding("escape,q", "back", "Back", id="outbox.back"),
    ]
    HELP_EXTRA: ClassVar[list[tuple[str, str]]] = [("j / k / ↑ / ↓", "Move")]

    def compose(self) -> ComposeResult:
        yield StatusLine("Outbox", id="outbox-head")
        yield OutboxTable(id="outbox", cursor_type="row", zebra_stripes=True)
        yield Static(id="outbox-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(OutboxTable)
        table.add_columns("State", "Decision", "Task", "Title", "Tries", "Last error")
        self.action_reload()
        table.focus()

    def action_reload(self) -> None:
        table = self.query_one(OutboxTable)
        cursor = table.cursor_row
        table.clear()
        entries = self.services.reload_unsettled()
        for entry in entries:
            symbol, word = entry_marker(entry)
            if entry.task_key in self.services.in_flight:
                symbol, word = "⟳", "sending"
            error = f"unreadable: {entry.damaged}" if entry.damaged else entry.last_error or ""
            table.add_row(
                Text(f"{symbol} {word}"),
                Text(entry.verb),
                Text(clean(f"{entry.run_id[:8]}/{entry.task_id}", multiline=False)),
                Text(clean(entry.title, max_len=40, multiline=False)),
                Text(str(entry.attempts)),
                Text(clean(error, max_len=60, multiline=False)),
                key=entry.key,
            )
        if entries:
            table.move_cursor(row=min(cursor, len(entries) - 1))
        self.query_one("#outbox-head", StatusLine).set_head(self._head(entries))

    def _head(self, entries: list[OutboxEntry]) -> str:
        if not entries:
            return "Outbox: empty – no decision is waiting to be sent or retried"
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry.state.value] = counts.get(entry.state.value, 0) + 1
        parts = " · ".join(f"{n} {state}" for state, n in counts.items())
        return f"Outbox: {len(entries)} decision(s) not confirmed – {parts}"

    def _selected(self) -> OutboxEntry | None:
        table = self.query_one(OutboxTable)
        if table.row_count == 0:
            self.app.bell()
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.services.outbox.get(str(key)) if key and self.services.outbox else None

    def action_retry(self) -> None:
        entry = self._selected()
        if entry is None:
            return
        if entry.state is EntryState.HELD:
            self.refuse(
                "Not yet",
                "This decision is in its undo window: it is sent when the "
                "window ends (u undoes it).",
            )
            return
        if entry.state is EntryState.FAILED:
            try:
                self.services.outbox.retry(entry.key)  # type: ignore[union-attr]
            except OutboxError as exc:
                self.refuse("Cannot retry", str(exc))
                return
        self.services.drain_failures = 0
        self.cc.drain_outbox()
        self.notify(f"Sending again: {clean(entry.title, max_len=50, multiline=False)}")
        self.action_reload()

    def action_discard(self) -> None:
        from .modals import ConfirmScreen

        entry = self._selected()
        if entry is None:
            return
        title = clean(entry.title, max_len=60, multiline=False)
        lines = [
            f"Discard the decision to {entry.verb} “{title}”?",
            "It will never be sent; the task stays pending on the platform for anyone to decide.",
        ]
        if entry.attempts and not entry.damaged:
            lines.append(
                f"It was sent {entry.attempts} time(s) without a confirmation: it may already "
                "have been applied – check the run (o on the task) before deciding again."
            )

        def answered(choice: str | None) -> None:
            if choice == "yes":
                self._discard(entry)

        self.app.push_screen(ConfirmScreen("Discard this decision?", lines, "discard"), answered)

    def _discard(self, entry: OutboxEntry) -> None:
        try:
            self.services.decisions.discard(entry.key)
        except (NotRecorded, OutboxError) as exc:
            self.refuse("Not discarded", str(exc))
            return
        self.notify(
            f"Discarded the decision to {entry.verb} "
            f"{clean(entry.title, max_len=50, multiline=False)}; it will not be sent, and the "
            "task stays pending.",
            markup=False,
        )
        self.action_reload()
        self.cc.refresh_status()

    def status_changed(self) -> None:
        """The app calls this after the queue was sent again."""
        self.action_reload()

    def action_back(self) -> None:
        self.dismiss()
