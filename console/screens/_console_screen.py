"""The base of every full screen: typed access to the app and its services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

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
        reason = self.services.decision_blocker(task.key)
        if reason is not None:
            self.refuse(f"Cannot {doing}", reason)
            return False
        return True
