"""The Textual app: wires the services to the screens and owns the two long-lived flows.

Refresh: timer → worker → ``services.refresh_inbox()`` → row diff → every screen that cares.
Decision: screen → modal → ``submit_decision`` (outbox, held for the undo window) → worker
→ ``DecisionService.send`` → notification → inbox update.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import get_current_worker

from client import APIError

from . import crash
from .alerts import AlertGate, send_alert
from .bulk import SEND_AT_ONCE
from .decisions import Decision, NotRecorded, OutcomeNotRecorded, Settlement
from .error_text import describe_error
from .inbox_model import RowDiff, TaskKey
from .messages import DecisionMade, InboxChanged, RunsChanged, StatusChanged
from .outbox import EntryState, OutboxEntry, OutboxError
from .safe_text import clean
from .screens._console_screen import ConsoleScreen
from .screens.help import HelpScreen
from .screens.inbox import InboxScreen
from .screens.modals import ConfirmScreen
from .services import ConsoleServices, RunCommandRefused

if TYPE_CHECKING:
    from textual.command import Provider

    from client import RunNames, Task

    from .bulk import BatchPlan
    from .run_commands import RunCommand


def _task_commands() -> type[Provider]:
    """The palette's task commands, loaded when the palette first opens (its module and
    Textual's palette are slow to import, and the first frame needs neither)."""
    from .commands import TaskCommands

    return TaskCommands


class CommandCenterApp(App[None]):
    TITLE = "Command Center"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar = App.COMMANDS | {_task_commands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        # Hidden from the footer (q quits on the inbox, ? lists it): 80 columns must show ? Help.
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False, id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        # The status line says "↶ 1 held · u undo" whenever there is something to undo.
        Binding("u", "undo", "Undo", show=False, id="app.undo"),
    ]

    def __init__(
        self,
        services: ConsoleServices,
        *,
        secrets: Callable[[], tuple[str, ...]] = tuple,
    ) -> None:
        super().__init__()
        self.services = services
        # What a crash report must never show (the token); a function, so no attribute holds it.
        self._secrets = secrets
        self._refresh_timer: Timer | None = None
        self._drain_timer: Timer | None = None
        self._countdown: Timer | None = None
        self._audit_warned = False
        # New-task alerts: at most one per burst, 30 s apart; the workflows of tasks held back.
        self._alerts = AlertGate()
        self._alert_labels: list[str] = []
        if services.settings.theme:
            self.theme = services.settings.theme

    def _sending(self, key: TaskKey) -> None:
        self._broadcast_inbox(RowDiff(changed=[key]))
        self._broadcast_status()

    def on_mount(self) -> None:
        self.services.sending = self._sending
        if self.services.settings.keymap:
            self.set_keymap(self.services.settings.keymap)
        self.push_screen(InboxScreen())
        self.refresh_inbox()
        for notice in self.services.start_notices:
            self.notify(notice, title="Saved state", severity="error", timeout=30, markup=False)
        self._send_leftovers()
        self._flush_audit()

    async def on_unmount(self) -> None:
        await self.services.aclose()

    def _fatal_error(self) -> None:
        """Textual's hook for an unhandled exception (textual 8.2.8, pinned): its own report
        prints every frame's locals, the token among them. Ours is two lines on screen and a
        redacted report on disk (console/crash.py)."""
        error = sys.exc_info()[1] or RuntimeError("unknown error")
        secrets = self._secrets()
        report = crash.write_report(error, secrets)
        self.bell()
        self.panic(Text(crash.crash_message(error, report, secrets)))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and symbols of this screen", self.action_help)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

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
            services.record_failure(exc)
        else:
            if diff:
                self._broadcast_inbox(diff)
                self._index_search()
            self._alert_new(diff)
            await services.refresh_runs()
            self._broadcast_runs()
            self._say_drafts_left()
            self._say_marks_left()
        finally:
            self.schedule_refresh()
            self._broadcast_status()

    def _say_drafts_left(self) -> None:
        """A task that left the inbox took a draft with it (completed elsewhere, or expired)."""
        left, self.services.left_with_drafts = self.services.left_with_drafts, []
        if left:
            names = ", ".join(clean(t, max_len=40, multiline=False) for t in left[:3])
            more = f" and {len(left) - 3} more" if len(left) > 3 else ""
            self.notify(
                f"{names}{more}: no longer pending, so the draft was dropped, unsent.",
                title="A task with a draft left the inbox",
                severity="warning",
                timeout=12,
                markup=False,
            )

    def _alert_new(self, diff: RowDiff) -> None:
        """Ring (or ask for a desktop notification) when tasks arrived: once per burst."""
        kind = self.services.settings.notify
        if kind not in ("bell", "desktop"):
            return
        inbox = self.services.inbox
        arrived = [key for key in diff.added if inbox.is_new(key)]
        self._alert_labels += [label for key in arrived if (label := inbox.label_of(key))]
        if not (self._alerts.arrived(len(arrived)) if arrived else self._alerts.due()):
            return
        labels, self._alert_labels = self._alert_labels, []
        send_alert(self, kind, self._alerts.covered, labels)  # type: ignore[arg-type]

    def _say_marks_left(self) -> None:
        """Marked tasks that left the inbox (completed elsewhere, or expired) lose their mark."""
        inbox = self.services.inbox
        left, inbox.marks_left = inbox.marks_left, []
        if left:
            names = ", ".join(clean(t, max_len=40, multiline=False) for t in left[:3])
            more = f" and {len(left) - 3:,} more" if len(left) > 3 else ""
            self.notify(
                f"{names}{more}: no longer pending, so no longer marked.",
                title=f"{len(left):,} marked task(s) left the inbox",
                severity="warning",
                timeout=8,
                markup=False,
            )

    @work(thread=True, exclusive=True, group="search-index")
    def _index_search(self) -> None:
        """The filter's text of new rows, made before the operator types (payloads decoded);
        then the task models, which the first frame did without, so that opening a task for
        the first time does not wait for pydantic to load."""
        worker = get_current_worker()
        self.services.inbox.index_search(cancelled=lambda: worker.is_cancelled)
        import client.models  # noqa: F401

    def _console_screens(self) -> list[ConsoleScreen]:
        """The screens that show the inbox's state. Only they are told of changes: a message
        to any other screen (Textual's default one under them) costs a repaint of the whole
        terminal, every poll."""
        return [screen for screen in self.screen_stack if isinstance(screen, ConsoleScreen)]

    def _broadcast_inbox(self, diff: RowDiff) -> None:
        for screen in self._console_screens():
            screen.post_message(InboxChanged(diff))

    def _close_screens_about(self, key: TaskKey) -> None:
        """After our own decision, screens showing that task have nothing left to offer."""
        while len(self.screen_stack) > 2:  # the default screen and the inbox stay
            screen = self.screen
            if not isinstance(screen, ConsoleScreen) or screen.about_task() != key:
                break
            self.pop_screen()

    def refresh_status(self) -> None:
        """Markers and counts changed outside a refresh (a discard, an undo): repaint them."""
        self.services.reload_unsettled()
        self._broadcast_inbox(RowDiff())
        self._broadcast_status()

    def _broadcast_runs(self) -> None:
        for screen in self._console_screens():
            screen.post_message(RunsChanged())

    @work(group="run-commands")
    async def send_run_command(self, run: RunNames, command: RunCommand) -> None:
        """One run command, said in a notification; the feed is read again to confirm it."""
        services = self.services
        self._broadcast_runs()  # the row says "⟳ pausing…" at once
        try:
            message = await services.run_command(run, command)
        except RunCommandRefused as exc:
            self.notify(
                str(exc),
                title=f"Not done: {command.label}",
                severity="warning",
                timeout=12,
                markup=False,
            )
        except APIError as exc:
            self.notify(
                describe_error(exc, doing=command.label.lower()),
                title=f"Not done: {command.label}",
                severity="error",
                timeout=12,
                markup=False,
            )
        else:
            self.notify(message, title=f"{command.label}: {run.short_id}", markup=False)
            await services.refresh_runs()
        finally:
            problem, services.run_audit_problem = services.run_audit_problem, None
            if problem is not None:
                self.notify(
                    f"The audit line of this run command could not be written: {problem}",
                    title="Audit log",
                    severity="warning",
                    markup=False,
                )
            self._broadcast_runs()

    def _broadcast_status(self) -> None:
        for screen in self._console_screens():
            screen.post_message(StatusChanged())

    # -- decision flow --------------------------------------------------------------------------

    def on_decision_made(self, message: DecisionMade) -> None:
        self.submit_decision(message.decision)

    def submit_decision(self, decision: Decision) -> None:
        """Outbox first (held for the undo window), then the request; told in a notification."""
        services = self.services
        try:
            entry = services.record(decision)
        except NotRecorded as exc:
            self.notify(str(exc), title="Not sent", severity="error", timeout=12, markup=False)
            return
        self._broadcast_inbox(RowDiff(changed=[decision.task.key]))
        self._broadcast_status()
        if entry.state is EntryState.HELD:
            self._hold(entry)
        else:
            self.send_decision(entry)
        self._move_on(decision.task.key)

    @work(group="batch")
    async def submit_batch(self, plan: BatchPlan, reason: str | None) -> None:
        """A decision per task of ``plan``: recorded (held as one for the undo window), then
        sent on its own, a few at a time; the status line counts them, a summary ends it."""
        services = self.services
        self._broadcast_status()
        entries, problem = await services.record_batch(plan, reason)
        self._broadcast_inbox(RowDiff(changed=[e.task_key for e in entries]))
        self._broadcast_status()
        if problem is not None:
            self.notify(
                f"{len(entries):,} of {len(plan.rows):,} decisions were recorded and go on; the "
                f"rest were not recorded, so not sent: {problem}",
                title="Batch cut short",
                severity="error",
                timeout=15,
                markup=False,
            )
        held = [e.send_after for e in entries if e.send_after is not None]
        if held:
            self._ensure_countdown()
            await anyio.sleep(max(0.0, (max(held) - datetime.now(UTC)).total_seconds()))
        await self._send_batch(entries)

    async def _send_batch(self, entries: Sequence[OutboxEntry]) -> None:
        services = self.services
        tally = services.batch
        assert tally is not None
        limit = anyio.Semaphore(SEND_AT_ONCE)

        async def one(entry: OutboxEntry) -> None:
            async with limit:
                try:
                    released = services.release_for_batch(entry)
                except OutboxError as exc:
                    tally.failed_to_send(entry.title, clean(str(exc)))
                    return
                if released is None:
                    return  # undone: counted by the undo
                try:
                    settlement = await services.send(released)
                except NotRecorded as exc:
                    tally.failed_to_send(entry.title, str(exc))
                    return
                tally.add(settlement)
                self._settle(settlement)
                self._broadcast_status()

        async with anyio.create_task_group() as group:
            for entry in entries:
                group.start_soon(one, entry)
        self._broadcast_status()
        if tally.settled == tally.undone and not tally.not_recorded:
            return  # all taken back: u said so
        trouble = tally.failed or tally.queued or tally.not_recorded
        note = f"\nFirst failure: {tally.first_failure}" if tally.first_failure else ""
        kept = "; failed ones stay marked" if tally.failed else ""
        self.notify(
            f"{tally.summary()}{kept}.{note}",
            title=f"Batch: {tally.total:,} {'approvals' if entries[0].approved else 'rejections'}"
            if entries
            else "Batch",
            severity="warning" if trouble else "information",
            timeout=15 if trouble else 8,
            markup=False,
        )

    def _move_on(self, key: TaskKey) -> None:
        """After a decision made on a task's own screen, show the next task of the inbox's view
        (``after_decision = "next"``: a queue is worked through with a y a y …) or the inbox.
        The decided row stays in the inbox, marked, until its decision settles."""
        from .screens.detail import DetailScreen

        screen = self.screen
        if not isinstance(screen, DetailScreen) or screen.about_task() != key:
            return  # decided from the inbox: the cursor stays where the operator put it
        onward = self.services.settings.after_decision == "next"
        following = self._next_open_task(key) if onward else None
        self.pop_screen()
        inbox = next((s for s in self.screen_stack if isinstance(s, InboxScreen)), None)
        if following is None:
            if onward:
                self.notify("No other task of this view is waiting.", title="Inbox", timeout=4)
            return
        if inbox is not None:
            inbox.select(following.key)
        self.push_screen(DetailScreen(following))

    def _next_open_task(self, key: TaskKey) -> Task | None:
        """The first task after ``key`` in the inbox's view (then from its top) with no
        decision of this console on its way and nothing unreadable about it."""
        services = self.services
        rows = services.inbox.rows()
        at = rows.find(key)
        if at is None:
            return None
        for index in chain(range(at + 1, len(rows)), range(at)):
            candidate = rows[index].key
            if (
                candidate in services.unsettled
                or candidate in services.in_flight
                or candidate in services.unreadable
                or candidate in services.decided
            ):
                continue
            task = services.inbox.get(candidate)
            if task is not None:
                return task
        return None

    def _hold(self, entry: OutboxEntry) -> None:
        """Send when the undo window ends, unless ``u`` took the decision back first."""
        assert entry.send_after is not None
        wait = max(0.0, (entry.send_after - datetime.now(UTC)).total_seconds())
        self.set_timer(wait, lambda: self._release(entry.key))
        self._ensure_countdown()

    def _release(self, key: str) -> None:
        try:
            entry = self.services.decisions.release(key)
        except OutboxError as exc:
            self.notify(clean(str(exc)), title="Not sent", severity="error", markup=False)
            return
        if entry is not None:  # None: undone meanwhile
            self.send_decision(entry)

    def _ensure_countdown(self) -> None:
        """Tick the ``↶ held Ns`` markers each second while anything is held."""
        if self._countdown is None:
            self._countdown = self.set_interval(1.0, self._count_down)

    def _count_down(self) -> None:
        self.services.reload_unsettled()
        held = self.services.counts()["held"]
        self._broadcast_inbox(RowDiff())
        self._broadcast_status()
        if not held and self._countdown is not None:
            self._countdown.stop()
            self._countdown = None

    def _send_leftovers(self) -> None:
        """Decisions an earlier console left held or queued: send them, and say so."""
        services = self.services
        held = services.held()
        for entry in held:
            try:
                services.decisions.release(entry.key)
            except OutboxError:
                break
        if held:
            names = ", ".join(
                f"{e.verb} {clean(e.title, max_len=30, multiline=False)}" for e in held[:3]
            )
            more = f" and {len(held) - 3} more" if len(held) > 3 else ""
            self.notify(
                f"Sending {len(held)} decision(s) that were in their undo window when the "
                f"console last stopped: {names}{more}.",
                title="Held decisions sent",
                timeout=12,
                markup=False,
            )
        if services.queued():
            self.drain_outbox()

    def action_undo(self) -> None:
        try:
            entry, message = self.services.undo_latest()
        except NotRecorded as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(message, title="Undo" if entry else "Nothing undone", markup=False)
        if entry is not None:
            self._broadcast_inbox(RowDiff(changed=[entry.task_key]))
        self._broadcast_status()

    @work(group="decisions")
    async def send_decision(self, entry: OutboxEntry) -> None:
        """One attempt for a stored decision, reported in words."""
        try:
            settlement = await self.services.send(entry)
        except NotRecorded as exc:
            self._not_recorded(exc)
            return
        finally:
            self._broadcast_status()
        self._report(settlement)

    def _not_recorded(self, exc: NotRecorded) -> None:
        title = "Not recorded" if isinstance(exc, OutcomeNotRecorded) else "Not sent"
        self.notify(str(exc), title=title, severity="error", timeout=12, markup=False)

    @work(exclusive=True, group="outbox-drain")
    async def drain_outbox(self) -> None:
        """Send queued decisions again (after a failure, or left over from an earlier run)."""
        for entry in self.services.queued():
            try:
                settlement = await self.services.send(entry)
            except NotRecorded as exc:
                self._not_recorded(exc)
                break
            self._report(settlement, quiet_when_queued=True)
            if settlement.queued:
                break  # still unreachable: keep the order, try again later
        self._flush_audit()
        self._broadcast_status()
        if self.services.queued():
            self._schedule_drain()

    def _flush_audit(self) -> None:
        problem = self.services.decisions.flush_audit()
        if problem is not None and not self._audit_warned:
            self._audit_warned = True
            self.notify(
                f"Audit lines of applied decisions still cannot be written: {problem}",
                title="Audit log",
                severity="warning",
                markup=False,
            )

    def _schedule_drain(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.stop()
        self._drain_timer = self.set_timer(self.services.drain_delay(), self.drain_outbox)

    def _settle(self, settlement: Settlement) -> None:
        """What a settled attempt changes on screen, said or not (a batch sums them up)."""
        key = settlement.entry.task_key
        if settlement.how.applied:
            self.services.drain_failures = 0
            self._close_screens_about(key)
            self._broadcast_inbox(RowDiff(removed=[key]))
        elif settlement.queued:
            self.services.drain_failures += 1
            self._broadcast_inbox(RowDiff(changed=[key]))
            self._schedule_drain()
        else:
            removed = key not in self.services.inbox
            self._broadcast_inbox(RowDiff(removed=[key]) if removed else RowDiff(changed=[key]))

    def _report(self, settlement: Settlement, *, quiet_when_queued: bool = False) -> None:
        entry = settlement.entry
        title = clean(entry.title, max_len=60, multiline=False)
        how = settlement.how
        self._settle(settlement)
        if how.applied:
            severity = "warning" if settlement.audit_error else "information"
            self.notify(settlement.message, title="Done", severity=severity, markup=False)
        elif settlement.queued:
            if not quiet_when_queued:
                self.notify(
                    settlement.message + " and will be sent again with the same key.",
                    title=f"Queued: {title}",
                    severity="warning",
                    timeout=10,
                    markup=False,
                )
        else:
            verb = "approved" if entry.approved else "rejected"
            self.notify(
                settlement.message,
                title=f"Already completed: {title}" if how.task_done else f"Not {verb}: {title}",
                severity="error" if not how.task_done else "warning",
                timeout=12,
                markup=False,
            )

    # -- quitting -------------------------------------------------------------------------------

    def action_quit(self) -> None:
        """Quit, but first say what happens to decisions that are not confirmed yet."""
        entries = [
            e
            for e in self.services.reload_unsettled()
            if e.state in (EntryState.HELD, EntryState.QUEUED)
        ]
        if not entries or isinstance(self.screen, ConfirmScreen):
            self.exit()
            return
        lines = [quit_line(e, e.task_key in self.services.in_flight) for e in entries[:8]]
        if len(entries) > 8:
            lines.append(f"… and {len(entries) - 8} more, kept the same way.")

        def answered(choice: str | None) -> None:
            if choice == "yes":
                self.exit()

        self.push_screen(
            ConfirmScreen(f"{len(entries)} decision(s) not confirmed yet", lines, "quit anyway"),
            answered,
        )


def quit_line(entry: OutboxEntry, sending: bool) -> str:
    """What quitting does to one unconfirmed decision, in words."""
    what = f"{entry.verb} {clean(entry.title, max_len=40, multiline=False)}"
    if entry.state is EntryState.HELD:
        return (
            f"↶ held: {what} – not sent yet; the next console you start sends it (u undoes it now)."
        )
    if sending:
        return f"⟳ sending: {what} – may land now; if unconfirmed, it stays queued in the outbox."
    return (
        f"⧗ queued: {what} – kept in the outbox and sent again, with the same key, by the next "
        "console or `command-center outbox --retry`."
    )
