"""The Textual app: wires the services to the screens and owns the two long-lived flows.

Refresh: timer → worker → ``services.refresh_inbox()`` → row diff → every screen that cares.
Decision: screen → modal → ``submit_decision`` → worker → notification → inbox update.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer

from client import APIError

from . import _runtime
from .commands import TaskCommands
from .error_text import describe_error
from .inbox_model import RowDiff, TaskKey
from .screens.help import HelpScreen
from .screens.inbox import InboxScreen
from .services import ConsoleServices, Decision, SendResult
from .widgets.safe_text import clean


class CommandCenterApp(App[None]):
    TITLE = "Command Center"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar = App.COMMANDS | {TaskCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
    ]

    def __init__(self, services: ConsoleServices) -> None:
        super().__init__()
        self.services = services
        self._refresh_timer: Timer | None = None
        self._drain_timer: Timer | None = None
        if services.settings.theme:
            self.theme = services.settings.theme

    def on_mount(self) -> None:
        if self.services.settings.keymap:
            self.set_keymap(self.services.settings.keymap)
        self.push_screen(InboxScreen())
        self.set_interval(1.0, self._collect_garbage)
        self.refresh_inbox()
        self.services.reload_unsettled()
        if self.services.queued():
            self.drain_outbox()  # decisions left over from an earlier run

    async def on_unmount(self) -> None:
        await self.services.aclose()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and symbols of this screen", self.action_help)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def _collect_garbage(self) -> None:
        _runtime.collect_when_idle(busy=self.services.building)

    # -- refresh flow ---------------------------------------------------------------------------

    def schedule_refresh(self, delay: float | None = None) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
            self._refresh_timer = None
        if self.services.paused:
            return
        wait = self.services.next_refresh_in() if delay is None else delay
        self._refresh_timer = self.set_timer(wait, self.refresh_inbox)

    def toggle_pause(self) -> None:
        self.services.paused = not self.services.paused
        self.schedule_refresh()
        self._broadcast_status()

    @work(exclusive=True, group="inbox-refresh")
    async def refresh_inbox(self) -> None:
        """One poll; whatever happens, the next one is scheduled (unless paused)."""
        services = self.services
        try:
            diff = await services.refresh_inbox()
        except APIError as exc:
            services.record_failure(describe_error(exc, doing="refreshing the inbox"))
        else:
            if diff:
                self._broadcast_inbox(diff)
        finally:
            self.schedule_refresh()
            self._broadcast_status()

    def _broadcast_inbox(self, diff: RowDiff) -> None:
        for screen in self.screen_stack:
            handler = getattr(screen, "inbox_changed", None)
            if handler is not None:
                handler(diff)

    def _close_screens_about(self, key: TaskKey) -> None:
        """After our own decision, screens showing that task have nothing left to offer."""
        while len(self.screen_stack) > 2:  # the default screen and the inbox stay
            target = getattr(self.screen, "target", None)
            if getattr(target, "key", None) != key:
                break
            self.pop_screen()

    def _broadcast_status(self) -> None:
        for screen in self.screen_stack:
            handler = getattr(screen, "status_changed", None)
            if handler is not None:
                handler()

    # -- decision flow --------------------------------------------------------------------------

    @work(group="decisions")
    async def submit_decision(self, decision: Decision) -> None:
        """Outbox first, then the request; the result is told in a notification."""
        self._broadcast_inbox(RowDiff(changed=[decision.task.key]))
        try:
            result = await self.services.decide(decision)
        except (OSError, ValueError, sqlite3.Error) as exc:
            # The outbox could not take it (disk full, unwritable state dir, text it cannot
            # store): nothing was sent, and the operator must know.
            self.notify(
                f"The decision could not be recorded, so it was not sent: {clean(str(exc))}",
                title="Not sent",
                severity="error",
                timeout=12,
                markup=False,
            )
            return
        finally:
            self._broadcast_status()
        self._report(result)

    @work(exclusive=True, group="outbox-drain")
    async def drain_outbox(self) -> None:
        """Send queued decisions again (after a failure, or left over from an earlier run)."""
        for entry in self.services.queued():
            result = await self.services.send(entry)
            self._report(result, quiet_when_queued=True)
            if result.queued:
                break  # still unreachable: keep the order, try again later
        self._broadcast_status()
        if self.services.queued():
            self._schedule_drain()

    def _schedule_drain(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.stop()
        self._drain_timer = self.set_timer(self.services.drain_delay(), self.drain_outbox)

    def _report(self, result: SendResult, *, quiet_when_queued: bool = False) -> None:
        entry = result.entry
        key = entry.task_key
        verb = "Approved" if entry.approved else "Rejected"
        title = clean(entry.title, max_len=60, multiline=False)
        if result.completion is not None:
            self.services.drain_failures = 0
            self.notify(f"{verb}: {title}", title="Done", markup=False)
            self._close_screens_about(key)
            self._broadcast_inbox(RowDiff(removed=[key]))
            return
        error = result.error
        assert error is not None
        doing = "approving" if entry.approved else "rejecting"
        if result.queued:
            self.services.drain_failures += 1
            if not quiet_when_queued:
                self.notify(
                    f"{describe_error(error, doing=doing)} The decision is kept and will be "
                    "sent again with the same key.",
                    title=f"Queued: {title}",
                    severity="warning",
                    timeout=10,
                    markup=False,
                )
            self._broadcast_inbox(RowDiff(changed=[key]))
            self._schedule_drain()
            return
        self.notify(
            describe_error(error, doing=doing),
            title=f"Not {verb.lower()}: {title}",
            severity="error",
            timeout=12,
            markup=False,
        )
        removed = key not in self.services.inbox
        self._broadcast_inbox(RowDiff(removed=[key]) if removed else RowDiff(changed=[key]))
