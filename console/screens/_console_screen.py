"""The base of every full screen: typed access to the app and its services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from ..outbox import EntryState

if TYPE_CHECKING:
    from client import Task

    from ..app import CommandCenterApp
    from ..inbox_model import RowDiff, TaskKey
    from ..messages import InboxChanged, StatusChanged
    from ..services import ConsoleServices


class ConsoleScreen(Screen[None]):
    @property
    def cc(self) -> CommandCenterApp:
        return self.app  # type: ignore[return-value]

    @property
    def services(self) -> ConsoleServices:
        return self.cc.services

    def about_task(self) -> TaskKey | None:
        """The task this screen is about, if any: it closes after our own decision on it."""
        return None

    def on_inbox_changed(self, message: InboxChanged) -> None:
        self.inbox_changed(message.diff)

    def on_status_changed(self, message: StatusChanged) -> None:
        self.status_changed()

    def inbox_changed(self, diff: RowDiff) -> None:
        """A refresh or a decision changed rows; screens that show rows repaint them."""

    def status_changed(self) -> None:
        """The link, the pause or the unsettled counts changed."""

    def refuse(self, title: str, message: str) -> None:
        """Say no in a dialog that takes the keys typed next (see modals.NoticeScreen)."""
        from .modals import NoticeScreen

        self.app.bell()
        self.app.push_screen(NoticeScreen(title, message))

    def may_decide(self, task: Task, doing: str) -> bool:
        """Whether a new decision on ``task`` may be made now; refuses in a dialog if not."""
        services = self.services
        if task.key in services.unreadable:
            self.refuse(
                f"Cannot {doing}",
                "This entry of the platform's answer is not a readable task, so nothing can be "
                "decided on it. Enter shows its raw JSON.",
            )
            return False
        if services.decisions.outbox is None:
            self.refuse(f"Cannot {doing}", services.decisions.outbox_problem or "No outbox.")
            return False
        if task.key in services.in_flight:
            self.refuse(f"Cannot {doing}", "A decision for this task is being sent right now.")
            return False
        pending = services.unsettled.get(task.key)
        if pending is not None:
            if pending.state is EntryState.HELD:
                where = "is held in its undo window: press u to undo it first."
            elif pending.state is EntryState.QUEUED:
                where = "is queued in the outbox and will be sent again; see the outbox (O)."
            else:
                where = "failed and waits in the outbox (O): retry or discard it there first."
            self.refuse(f"Cannot {doing}", f"A decision to {pending.verb} this task {where}")
            return False
        return True
