"""A screen about one current task: approve, reject, edit and run view work the same everywhere."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from client import Task
from client.models import reject_result

from ..inbox_model import RowDiff
from ..services import Decision
from ._console_screen import ConsoleScreen


class TaskScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", id="task.approve"),
        Binding("x", "reject", "Reject", id="task.reject"),
        Binding("e", "edit", "Edit", id="task.edit"),
        Binding("o", "run_view", "Run", id="task.run"),
    ]

    def current_task(self) -> Task | None:
        raise NotImplementedError

    def run_target(self) -> Task | None:
        return self.current_task()

    def _actionable(self) -> Task | None:
        task = self.current_task()
        if task is None:
            self.app.bell()
            return None
        if task.key in self.services.in_flight:
            self.notify("A decision for this task is already being sent.", markup=False)
            return None
        pending = self.services.unsettled.get(task.key)
        if pending is not None:
            self.notify(
                f"A decision to {pending.verb} this task is {pending.state.value} in the outbox "
                "(O): retry or discard it there first.",
                markup=False,
            )
            return None
        return task

    def action_approve(self) -> None:
        from .modals import ConfirmApproveScreen

        task = self._actionable()
        if task is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.cc.submit_decision(Decision(task, approved=True))

        self.app.push_screen(ConfirmApproveScreen(task), confirmed)

    def action_reject(self) -> None:
        from .modals import RejectScreen

        task = self._actionable()
        if task is None:
            return

        def chosen(reason: str | None) -> None:
            if reason is not None:
                decision = Decision(task, approved=False, result=reject_result(reason))
                self.cc.submit_decision(decision)

        self.app.push_screen(RejectScreen(task), chosen)

    def action_edit(self) -> None:
        from .edit import EditScreen

        task = self._actionable()
        if task is None:
            return
        if not task.payload.editable_fields:
            self.notify("This task has no editable values: approve (a) or reject (x) it.")
            return
        self.app.push_screen(EditScreen(task))

    def action_run_view(self) -> None:
        from .run import RunScreen

        task = self.run_target()
        if task is None:
            self.app.bell()
            return
        self.app.push_screen(RunScreen(task.workflow_id, task.run_id))

    def inbox_changed(self, diff: RowDiff) -> None:
        """Called by the app after each refresh or decision."""

    def status_changed(self) -> None:
        """Called by the app when the connection or pause state changed."""
