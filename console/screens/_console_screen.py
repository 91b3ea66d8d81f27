"""The base of every full screen: typed access to the app and its services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from client import RunNames, Task

    from ..app import CommandCenterApp
    from ..inbox_model import RowDiff, TaskKey
    from ..messages import InboxChanged, RunsChanged, StatusChanged
    from ..run_commands import RunCommand
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
        self.show_badges()
        self.status_changed()

    def on_runs_changed(self, message: RunsChanged) -> None:
        self.show_badges()
        self.runs_changed()

    def on_screen_resume(self) -> None:
        self.show_badges()

    def show_badges(self) -> None:
        """The top line's ``● 4 pending · 1 draining``, on every screen that has one."""
        from ..widgets.status_line import StatusLine

        text = badges(self.services)
        for line in self.query(StatusLine):
            line.set_badges(text)

    def runs_changed(self) -> None:
        """A runs feed came in; screens that show runs repaint them."""

    def inbox_changed(self, diff: RowDiff) -> None:
        """A refresh or a decision changed rows; screens that show rows repaint them."""

    def status_changed(self) -> None:
        """The link, the pause or the unsettled counts changed."""

    def refuse(self, title: str, message: str) -> None:
        """Say no in a dialog that takes the keys typed next (see modals.NoticeScreen)."""
        from .modals import NoticeScreen

        self.app.bell()
        self.app.push_screen(NoticeScreen(title, message))

    def control_run(self, run: RunNames | None) -> None:
        """``c``: the run's commands, then a confirmation, then the request (a worker)."""
        from ..run_commands import commands_for, nothing_to_do
        from .modals import ConfirmScreen
        from .run_control import RunControlScreen, confirm_lines

        if run is None:
            self.refuse(
                "No run", "No run is selected, or the runs feed has not listed this one yet."
            )
            return
        runs = self.services.runs
        key = (run.workflow_id, run.id)
        awaiting = runs.is_awaiting(key)
        if not commands_for(run, awaiting=awaiting):
            self.refuse("Nothing to control", nothing_to_do(run))
            return
        if key in runs.commands:
            self.refuse(
                "A command is on its way",
                "This run's last command is not confirmed by the runs feed yet; wait for it.",
            )
            return

        def chosen(command: RunCommand | None) -> None:
            if command is None:
                return

            def answered(choice: str | None) -> None:
                if choice == "yes":
                    self.cc.send_run_command(run, command)

            self.app.push_screen(
                ConfirmScreen(
                    f"{command.label}: {run.short_id}?",
                    confirm_lines(run, command),
                    command.label.lower(),
                ),
                answered,
            )

        self.app.push_screen(RunControlScreen(run, awaiting=awaiting), chosen)

    def may_decide(self, task: Task, doing: str) -> bool:
        """Whether a new decision on ``task`` may be made now; refuses in a dialog if not."""
        reason = self.services.decision_blocker(task.key)
        if reason is not None:
            self.refuse(f"Cannot {doing}", reason)
            return False
        return True


def badges(services: ConsoleServices) -> str:
    """The Command Center's header badges: human tasks waiting, runs draining."""
    text = f"● {services.inbox.total:,} pending"
    draining = services.runs.draining
    return text + (f" · {draining:,} draining" if draining else "")
