"""A screen about one current task: approve, reject, edit and run view work the same everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.binding import Binding, BindingType

from ..clipboard import in_tmux, to_tmux_buffer, web_url
from ..decisions import Decision
from ..messages import DecisionMade
from ..safe_text import clean
from ._console_screen import ConsoleScreen

if TYPE_CHECKING:
    from client import Task


class TaskScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", id="task.approve"),
        Binding("x", "reject", "Reject", id="task.reject"),
        Binding("e", "edit", "Edit", id="task.edit"),
        Binding("o", "run_view", "Run", id="task.run"),
        Binding("y", "copy_ref", "Copy task reference", show=False, id="task.copy_ref"),
        Binding("Y", "copy_run", "Copy run ID", show=False, id="task.copy_run"),
        Binding("w", "web_link", "Web link of the run", show=False, id="task.web_link"),
    ]

    def current_task(self) -> Task | None:
        raise NotImplementedError

    def run_target(self) -> Task | None:
        return self.current_task()

    def no_task_reason(self) -> str:
        return "No task is selected."

    def _actionable(self, doing: str) -> Task | None:
        """The task under the cursor if a new decision may be made on it; else refuse, modally."""
        task = self.current_task()
        if task is None:
            self.refuse(f"Cannot {doing}", self.no_task_reason())
            return None
        return task if self.may_decide(task, doing) else None

    def action_approve(self) -> None:
        from .modals import ApprovalPlan, ConfirmApproveScreen

        task = self._actionable("approve")
        if task is None:
            return
        plain = Decision.approve(task)
        draft = self.services.draft_edits(task)
        if draft is None:
            plan = ApprovalPlan(plain.body())
            edited = plain
        else:
            edited = Decision.approve(task, draft.values)
            plan = ApprovalPlan(
                edited.body() if draft.error is None else plain.body(),
                draft_changes=draft.changed,
                draft_error=draft.error,
                plain_body=plain.body(),
            )

        def confirmed(choice: str | None) -> None:
            if choice == "edits":
                self.app.post_message(DecisionMade(edited))
            elif choice == "plain":
                self.app.post_message(DecisionMade(plain))

        self.app.push_screen(ConfirmApproveScreen(task, plan), confirmed)

    def action_reject(self) -> None:
        from .modals import RejectScreen

        task = self._actionable("reject")
        if task is None:
            return

        def chosen(reason: str | None) -> None:
            if reason is not None:
                self.app.post_message(DecisionMade(Decision.reject(task, reason)))

        self.app.push_screen(RejectScreen(task), chosen)

    def action_edit(self) -> None:
        from .edit import EditScreen

        task = self._actionable("edit")
        if task is None:
            return
        if not task.payload.editable_fields:
            self.refuse(
                "Nothing to edit", "This task has no editable values: approve (a) or reject (x) it."
            )
            return
        self.app.push_screen(EditScreen(task))

    def action_run_view(self) -> None:
        from .run import RunScreen

        task = self.run_target()
        if task is None:
            self.refuse("No run", "No task is selected.")
            return
        self.app.push_screen(RunScreen(task.workflow_id, task.run_id))

    # -- copy over SSH ----------------------------------------------------------------------------

    def action_copy_ref(self) -> None:
        """The reference the CLI takes (``run_…/task-id``), to the operator's clipboard."""
        task = self._to_copy()
        if task is not None:
            self._copy(f"{task.run_id}/{task.id}", "Task reference")

    def action_copy_run(self) -> None:
        task = self._to_copy()
        if task is not None:
            self._copy(task.run_id, "Run ID")

    def action_web_link(self) -> None:
        """The run's page in the platform's web console, from the profile's ``web_url``."""
        task = self._to_copy()
        if task is None:
            return
        template = self.services.settings.web_url
        if not template:
            profile = self.services.settings.profile or "default"
            self.refuse(
                "No web link",
                f"Profile {profile!r} has no web_url. Set one, for example:\n"
                'web_url = "https://console.example.com/workflows/{workflow_id}/runs/{run_id}"',
            )
            return
        self._copy(web_url(template, task.workflow_id, task.run_id, task.id), "Web link")

    def _to_copy(self) -> Task | None:
        task = self.current_task()
        if task is None:
            self.refuse("Nothing to copy", self.no_task_reason())
        return task

    def _copy(self, text: str, what: str) -> None:
        shown = clean(text, max_len=300, multiline=False)
        if shown != text:  # pasted, control characters would run as keys in a terminal
            self.refuse(
                "Not copied",
                f"The {what.lower()} holds control or invisible characters ({shown}): "
                "pasted into a terminal they could act as keys.",
            )
            return
        self.app.copy_to_clipboard(text)
        if in_tmux():
            self._copy_to_tmux(text, what)
        else:
            self.notify(clean(text, max_len=300), title=f"{what} copied", markup=False)

    @work(thread=True, group="clipboard")
    def _copy_to_tmux(self, text: str, what: str) -> None:
        problem = to_tmux_buffer(text)
        note = clean(text, max_len=300)
        if problem is None:
            title = f"{what} copied (and to tmux's paste buffer)"
        else:
            title = f"{what} sent to the terminal's clipboard; {problem}"
        self.app.call_from_thread(self.notify, note, title=title, markup=False)
