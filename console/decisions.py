"""One decision path for every front end: outbox first, then the request, then the audit line.

The console, the CLI and browser mode all decide through :class:`DecisionService`, so a
decision is stored, sent, settled, audited and *told* the same way wherever it was made:

1. :meth:`DecisionService.record` writes it to the outbox with its idempotency key (held for the
   undo window when there is one). If that write fails, nothing is sent and the caller says why.
2. :meth:`DecisionService.send` makes one attempt and settles it by evidence, never by status
   alone: a 2xx counts only when it is the documented ``{"status": "completed"}``; a 409 after
   an attempt whose answer was lost is compared with the run's events before anyone is told
   whose decision was applied.
3. The audit line is appended after the outbox knows the outcome; when it cannot be written the
   operator is told the decision *was applied* and the line is written again later.

The body rule lives here too (:func:`decision_result`), so every confirmation can show exactly
what will be sent.
"""

from __future__ import annotations

import contextlib
import enum
import json
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from client import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AsyncCommandCenterClient,
    CommandCenterClient,
    CompletionFailedError,
    ConflictError,
    InvalidIdError,
    RateLimitError,
    ServerError,
    UnconfirmedCompletionError,
    check_address,
    reject_result,
)

if TYPE_CHECKING:
    from client import Completion, RunEvent, Task

from .audit import AuditLog
from .error_text import describe_error
from .outbox import EntryState, Outbox, OutboxEntry, OutboxError, Outcome
from .safe_text import clean
from .settings import ConsoleSettings

TaskKey = tuple[str, str, str]

# What an attempt asks its driver to call.
_COMPLETE = "complete"
_EVENTS = "events"

# An undocumented 2xx (204, HTML, a body without "status") is sent again with the same key this
# many times in all; then the decision waits as failed for the operator, never resent forever.
MAX_ODD_ANSWERS = 3


# -- the body rule ------------------------------------------------------------------------------


def decision_result(
    editable: Mapping[str, Any],
    *,
    approved: bool,
    edits: Mapping[str, Any] | None = None,
    reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The ``result`` a decision sends, the same from every front end.

    Approving a task that has editable values sends all of them (edited or not), so
    ``{{steps.<id>.result.<key>}}`` always resolves downstream; a task without any sends no
    result. A rejection sends its reason, when given, as ``result.reason``.
    """
    if not approved:
        return reject_result(reason)
    values = {**editable, **(edits or {}), **(extra or {})}
    return values or None


def request_body(approved: bool, result: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON the platform receives, for showing in a confirmation before it is sent."""
    body: dict[str, Any] = {"approved": approved}
    if result is not None:
        body["result"] = dict(result)
    return body


def body_preview(approved: bool, result: Mapping[str, Any] | None, *, max_len: int = 600) -> str:
    """The request body as cleaned, indented JSON, cut to ``max_len`` characters."""
    text = json.dumps(request_body(approved, result), indent=2, ensure_ascii=False, default=str)
    return clean(text, max_len=max_len)


@dataclass(frozen=True)
class Decision:
    """An operator's approve/reject of one task, its body already built by the rule above."""

    task: Task
    approved: bool
    result: dict[str, Any] | None
    original: dict[str, Any] | None = None  # the editable values before the operator's edits

    @classmethod
    def approve(cls, task: Task, edits: Mapping[str, Any] | None = None) -> Decision:
        editable = task.editable_values()
        result = decision_result(editable, approved=True, edits=edits)
        return cls(task, True, result, editable if result is not None else None)

    @classmethod
    def reject(cls, task: Task, reason: str | None = None) -> Decision:
        return cls(task, False, decision_result({}, approved=False, reason=reason))

    def body(self) -> dict[str, Any]:
        """The request body this decision sends, for a confirmation to show."""
        return request_body(self.approved, self.result)


# -- what happened ------------------------------------------------------------------------------


class Settled(enum.Enum):
    """How one attempt ended, in the operator's terms."""

    APPLIED = "applied"
    APPLIED_EARLIER = "applied by an earlier attempt"
    ELSEWHERE = "completed by someone else"
    EARLIER_DECISION = "already completed by an earlier decision from this outbox"
    UNKNOWN_COMPLETER = "already completed; could not tell by whom"
    REFUSED = "refused"
    NOT_COMPLETED = "the platform said it did not complete"
    GAVE_UP = "not confirmed after repeated undocumented answers"
    QUEUED = "not confirmed; kept in the outbox"

    @property
    def applied(self) -> bool:
        return self in (Settled.APPLIED, Settled.APPLIED_EARLIER)

    @property
    def task_done(self) -> bool:
        """The task is no longer pending, whoever completed it."""
        return self in (
            Settled.APPLIED,
            Settled.APPLIED_EARLIER,
            Settled.ELSEWHERE,
            Settled.EARLIER_DECISION,
            Settled.UNKNOWN_COMPLETER,
        )


_OUTCOME_OF = {
    Settled.APPLIED: Outcome.APPLIED,
    Settled.APPLIED_EARLIER: Outcome.APPLIED_EARLIER,
    Settled.ELSEWHERE: Outcome.ELSEWHERE,
    Settled.EARLIER_DECISION: Outcome.EARLIER_DECISION,
    Settled.UNKNOWN_COMPLETER: Outcome.UNKNOWN_COMPLETER,
    Settled.REFUSED: Outcome.REFUSED,
    Settled.NOT_COMPLETED: Outcome.NOT_COMPLETED,
    Settled.GAVE_UP: Outcome.UNCONFIRMED,
}


@dataclass(frozen=True)
class Settlement:
    """One attempt's end: the stored entry, what it means, and the sentence that says so."""

    entry: OutboxEntry
    how: Settled
    message: str
    error: Exception | None = None
    completion: Completion | None = None
    # The decision was applied but its audit line could not be written (it is retried).
    audit_error: str | None = None
    # The step's recorded result, when a 409 was resolved by reading the run's events.
    recorded: Mapping[str, Any] | None = None

    @property
    def queued(self) -> bool:
        return self.how is Settled.QUEUED


class NotRecorded(Exception):
    """The outbox could not take the decision, so nothing was sent."""


class OutcomeNotRecorded(NotRecorded):
    """The platform answered, but the outbox could not record how: the decision stays stored
    as it was and is checked again by resending it with the same key."""


@dataclass(frozen=True)
class Where:
    """The connection a decision belongs to (its outbox rows are kept per connection)."""

    profile: str
    base_url: str
    tenant: str
    project: str | None

    @classmethod
    def of(cls, settings: ConsoleSettings) -> Where:
        """The connection ``settings`` name (no profile name: "default"), console and CLI alike."""
        return cls(
            settings.profile or "default", settings.base_url, settings.tenant, settings.project
        )

    def filter(self) -> dict[str, str]:
        return {"profile": self.profile, "base_url": self.base_url, "tenant": self.tenant}


# -- evidence for a 409 -------------------------------------------------------------------------


def recorded_decision(events: Sequence[RunEvent], task_id: str) -> dict[str, Any] | None:
    """The step result the run recorded for ``task_id``, from its events; None if not shown.

    The human step is found by its id (in the platform's docs the task id is the step id) or by
    a ``step_started`` event that names the task.
    """
    steps = {task_id}
    for event in events:
        started = event.type == "step_started" and event.step_id and event.data
        if started and event.data and event.data.get("task_id") == task_id:
            steps.add(str(event.step_id))
    for event in reversed(events):
        if event.type != "step_completed" or event.step_id not in steps or not event.data:
            continue
        result = event.data.get("result")
        if isinstance(result, dict) and isinstance(result.get("approved"), bool):
            return result
    return None


def matches(entry: OutboxEntry, recorded: Mapping[str, Any]) -> bool:
    """Whether the recorded step result is exactly what ``entry`` sent."""
    if recorded.get("approved") is not entry.approved:
        return False
    return all(recorded.get(name) == value for name, value in (entry.result or {}).items())


# -- the sentences ------------------------------------------------------------------------------


def _title(entry: OutboxEntry) -> str:
    return clean(entry.title, max_len=60, multiline=False)


def _doing(entry: OutboxEntry) -> str:
    return "approving" if entry.approved else "rejecting"


def _past(entry: OutboxEntry) -> str:
    return "Approved" if entry.approved else "Rejected"


def _sentence(
    entry: OutboxEntry, how: Settled, error: Exception | None, recorded: Mapping[str, Any] | None
) -> str:
    doing = _doing(entry)
    if how is Settled.APPLIED:
        return f"{_past(entry)}: {_title(entry)}"
    if how is Settled.APPLIED_EARLIER:
        return (
            f"{_past(entry)}: {_title(entry)} – applied by your earlier attempt, whose answer was "
            "lost; the run's events show exactly your decision."
        )
    if how is Settled.ELSEWHERE:
        theirs = ""
        if recorded is not None:
            theirs = f" (approved={'true' if recorded.get('approved') else 'false'})"
        return (
            f"Someone else completed {_title(entry)} first{theirs}. Your decision to "
            f"{entry.verb} it was not applied."
        )
    if how is Settled.EARLIER_DECISION:
        return (
            f"{_title(entry)} was already completed by an earlier decision from this outbox "
            f"(approved={'true' if recorded and recorded.get('approved') else 'false'}); this "
            f"decision to {entry.verb} it was not applied."
        )
    if how is Settled.UNKNOWN_COMPLETER:
        return (
            f"{_title(entry)} was already completed (409); could not tell by whom – the run's "
            "events do not show the step's result. Open the run view to check."
        )
    if how is Settled.QUEUED:
        assert error is not None
        return (
            f"{describe_error(error, doing=doing)} Not confirmed: the decision is kept in the "
            + ("outbox")
        )
    if how is Settled.GAVE_UP:
        return (
            f"Not confirmed after {entry.odd_answers} undocumented answers ({_short(error)}). "
            "The decision waits as failed in the outbox: check the run, then retry or discard it."
        )
    if how is Settled.NOT_COMPLETED:
        return f"Not {_past(entry).lower()}: the platform answered but did not complete it: " + (
            _short(error)
        )
    assert error is not None
    if not isinstance(error, APIError):
        return f"Not sent: the request could not be built – {clean(str(error), max_len=300)}"
    return describe_error(error, doing=doing)


def _short(error: Exception | None) -> str:
    if error is None:
        return "no answer"
    words = getattr(error, "error", None) or error.message
    return clean(str(words), max_len=300, multiline=False)


def _audit_quietly(audit: AuditLog, entry: OutboxEntry, outcome: Outcome) -> None:
    """An audit line for something that sent nothing (undo, discard): best effort."""
    # Nothing reached the platform, so nothing is untold if this line is missing.
    with contextlib.suppress(OSError):
        audit.record(entry, outcome)


def discard_decision(outbox: Outbox, audit: AuditLog, key: str) -> OutboxEntry:
    """Give up a stored decision for good (the console's d, ``outbox --discard``)."""
    entry = outbox.discard(key)
    _audit_quietly(audit, entry, Outcome.DISCARDED)
    return entry


# -- the service --------------------------------------------------------------------------------


def _call(client: Any, call: str, entry: OutboxEntry) -> Any:
    """The client call an attempt asked for (a coroutine from the async client)."""
    if call == _EVENTS:
        return client.list_run_events(entry.workflow_id, entry.run_id)
    return client.complete_task(
        *entry.task_key, approved=entry.approved, result=entry.result, idempotency_key=entry.key
    )


def _resume(
    flow: Generator[str, Any, Settlement], answer: Any, *, thrown: bool = False
) -> str | Settlement:
    """Hand an attempt its answer (or throw it the error); the next call or the settlement."""
    try:
        return flow.throw(answer) if thrown else flow.send(answer)
    except StopIteration as stop:
        settlement: Settlement = stop.value
        return settlement


@contextlib.contextmanager
def _outcome_recorded() -> Iterator[None]:
    """An outbox write failing after the request went out must not read as 'not sent'."""
    try:
        yield
    except OutboxError as exc:
        raise OutcomeNotRecorded(
            f"The platform answered, but the outbox could not record it ({clean(str(exc))}). "
            "The decision stays stored and is checked again by sending it with the same key, "
            "so it cannot be applied twice."
        ) from None


def _ambiguous(error: APIError) -> bool:
    """An attempt that may have been applied although no confirmation came back."""
    if isinstance(error, APIConnectionError | ServerError):
        return True
    return isinstance(error, APIStatusError) and error.status_code == 408


class DecisionService:
    """Records, sends, settles and audits decisions; shared by the console and the CLI."""

    def __init__(
        self,
        client: AsyncCommandCenterClient | CommandCenterClient,
        outbox: Outbox | None,
        audit: AuditLog,
        where: Where,
        *,
        hold_seconds: float = 0.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        outbox_problem: str | None = None,
    ) -> None:
        self.client = client
        self.outbox = outbox
        self.audit = audit
        self.where = where
        self.hold_seconds = max(0.0, hold_seconds)
        self.clock = clock
        # Why decisions cannot be taken (the outbox could not be opened), or None.
        self.outbox_problem = outbox_problem if outbox is None else None

    # -- recording ---------------------------------------------------------------------------

    def _store(self) -> Outbox:
        if self.outbox is None:
            raise NotRecorded(
                "Decisions are off: "
                + (self.outbox_problem or "the outbox could not be opened")
                + " Nothing was sent."
            )
        return self.outbox

    def record(
        self,
        task_key: TaskKey,
        title: str,
        *,
        approved: bool,
        result: Mapping[str, Any] | None,
        original: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        hold: bool = True,
    ) -> OutboxEntry:
        """Write the decision before anything is sent; raises :class:`NotRecorded`."""
        store = self._store()
        try:
            check_address(*task_key)
        except InvalidIdError as exc:
            raise NotRecorded(f"This decision cannot be sent: {clean(str(exc))}") from None
        try:
            json.dumps(result, allow_nan=False)
        except ValueError:
            raise NotRecorded(
                "This decision cannot be sent: a value in it is infinite or not a number, which "
                "JSON cannot carry. Edit the value (e) or reject the task. Nothing was sent."
            ) from None
        try:
            return store.submit(
                **self.where.filter(),
                project=self.where.project,
                task_key=task_key,
                title=title,
                approved=approved,
                result=dict(result) if result is not None else None,
                original=dict(original) if original is not None else None,
                key=idempotency_key,
                hold_seconds=self.hold_seconds if hold else 0.0,
                now=self.clock(),
            )
        except (OutboxError, OSError, ValueError) as exc:
            raise NotRecorded(
                f"The decision could not be recorded, so it was not sent: {clean(str(exc))}"
            ) from None

    def unsettled(self) -> list[OutboxEntry]:
        """Held, queued and failed decisions of this connection, oldest first."""
        if self.outbox is None:
            return []
        return self.outbox.entries(**self.where.filter())

    def for_task(self, task_key: TaskKey) -> list[OutboxEntry]:
        """Every stored decision for one task on this connection, newest first."""
        if self.outbox is None:
            return []
        return self.outbox.for_task(task_key, **self.where.filter())

    def undo(self, key: str) -> OutboxEntry | None:
        """Take back a held decision; None when it was already on its way (too late)."""
        store = self._store()
        try:
            entry = store.undo(key)
        except OutboxError as exc:
            raise NotRecorded(f"The decision could not be undone: {clean(str(exc))}") from None
        if entry is not None:
            self._audit_quietly(entry, Outcome.UNDONE)
        return entry

    def release(self, key: str) -> OutboxEntry | None:
        """End a decision's undo window now: it becomes queued, to be sent."""
        return self._store().release(key)

    def discard(self, key: str) -> OutboxEntry:
        """Give up a queued or failed decision; it is never sent again."""
        return discard_decision(self._store(), self.audit, key)

    def _audit_quietly(self, entry: OutboxEntry, outcome: Outcome) -> None:
        _audit_quietly(self.audit, entry, outcome)

    # -- sending -----------------------------------------------------------------------------

    async def send(self, entry: OutboxEntry) -> Settlement:
        """One attempt for a stored decision, with its stored key, settled truthfully."""
        assert isinstance(self.client, AsyncCommandCenterClient)
        flow = self._attempt(entry)
        step: str | Settlement = next(flow)
        with _outcome_recorded():
            while isinstance(step, str):
                try:
                    answer = await _call(self.client, step, entry)
                except (APIError, ValueError) as exc:  # ValueError: refused before sending
                    step = _resume(flow, exc, thrown=True)
                else:
                    step = _resume(flow, answer)
        return step

    def send_blocking(self, entry: OutboxEntry) -> Settlement:
        """:meth:`send` with a blocking client (the CLI needs no event loop of its own)."""
        assert isinstance(self.client, CommandCenterClient)
        flow = self._attempt(entry)
        step: str | Settlement = next(flow)
        with _outcome_recorded():
            while isinstance(step, str):
                try:
                    answer = _call(self.client, step, entry)
                except (APIError, ValueError) as exc:
                    step = _resume(flow, exc, thrown=True)
                else:
                    step = _resume(flow, answer)
        return step

    def _attempt(self, entry: OutboxEntry) -> Generator[str, Any, Settlement]:
        """The whole attempt but the I/O: yields which call to make, is sent its answer (or
        thrown its error), and returns the settlement. Shared by both drivers above."""
        store = self._store()
        try:
            entry = store.attempt(entry.key)
        except OutboxError as exc:
            raise NotRecorded(
                f"The attempt could not be recorded, so nothing was sent: {clean(str(exc))}"
            ) from None
        try:
            completion = yield _COMPLETE
        except ConflictError as exc:
            # A 409 means the task is completed; by whom is read from the run's events.
            try:
                events = yield _EVENTS
            except (APIError, ValueError):
                events = []
            return self._conflict(entry, exc, events)
        except CompletionFailedError as exc:
            return self._fail(entry, Settled.NOT_COMPLETED, exc)
        except UnconfirmedCompletionError as exc:
            entry = store.requeue(entry.key, str(exc), ambiguous=True, odd_answer=True)
            if entry.odd_answers >= MAX_ODD_ANSWERS:
                return self._fail(entry, Settled.GAVE_UP, exc)
            return self._queued(entry, exc)
        except (APIConnectionError, ServerError, RateLimitError, APIResponseValidationError) as exc:
            entry = store.requeue(entry.key, str(exc), ambiguous=_ambiguous(exc))
            return self._queued(entry, exc)
        except APIStatusError as exc:
            if exc.status_code == 408:  # the server timed out: unconfirmed, like a 5xx
                entry = store.requeue(entry.key, str(exc), ambiguous=True)
                return self._queued(entry, exc)
            return self._fail(entry, Settled.REFUSED, exc)
        except ValueError as exc:
            # The client refused to build the request (an id that would change the URL, a
            # value JSON cannot carry): nothing was sent, and sending again cannot help.
            return self._fail(entry, Settled.REFUSED, exc)
        return self._done(entry, Settled.APPLIED, completion=completion)

    def _queued(self, entry: OutboxEntry, error: APIError) -> Settlement:
        return Settlement(
            entry, Settled.QUEUED, _sentence(entry, Settled.QUEUED, error, None), error
        )

    def _fail(self, entry: OutboxEntry, how: Settled, error: Exception) -> Settlement:
        assert self.outbox is not None
        failed = self.outbox.fail(entry.key, str(error), _OUTCOME_OF[how])
        return Settlement(failed, how, _sentence(failed, how, error, None), error)

    def _conflict(
        self, entry: OutboxEntry, exc: ConflictError, events: Sequence[RunEvent]
    ) -> Settlement:
        """Whose decision completed the task, by what the run recorded for its step."""
        earlier = exc.maybe_ours or entry.attempts > 1 or entry.ambiguous
        recorded = recorded_decision(events, entry.task_id)
        if recorded is None:
            how = Settled.UNKNOWN_COMPLETER
        elif earlier and matches(entry, recorded):
            how = Settled.APPLIED_EARLIER
        elif self._decided_before(entry, recorded):
            how = Settled.EARLIER_DECISION
        else:
            how = Settled.ELSEWHERE
        exc.maybe_ours = how is Settled.APPLIED_EARLIER
        return self._done(entry, how, error=exc, recorded=recorded)

    def _decided_before(self, entry: OutboxEntry, recorded: Mapping[str, Any]) -> bool:
        """Whether another decision of this outbox, applied earlier, is what the run recorded."""
        return any(
            other.key != entry.key
            and other.state is EntryState.DONE
            and other.outcome in (Outcome.APPLIED, Outcome.APPLIED_EARLIER)
            and matches(other, recorded)
            for other in self.for_task(entry.task_key)
        )

    def _done(
        self,
        entry: OutboxEntry,
        how: Settled,
        *,
        completion: Completion | None = None,
        error: Exception | None = None,
        recorded: Mapping[str, Any] | None = None,
    ) -> Settlement:
        """The platform's final word: out of the queue first, then the audit line."""
        assert self.outbox is not None
        entry = self.outbox.confirm(entry.key, _OUTCOME_OF[how])
        message = _sentence(entry, how, error, recorded)
        audit_error = self._audit(entry)
        if audit_error is not None:
            message += (
                f" The audit line could not be written ({audit_error}); it will be written "
                "again later."
            )
        return Settlement(entry, how, message, error, completion, audit_error, recorded)

    def _audit(self, entry: OutboxEntry) -> str | None:
        """Append the settled decision's audit line; the reason in words when it failed."""
        assert self.outbox is not None
        outcome = entry.outcome or "unknown: the outbox row was damaged"
        try:
            self.audit.record(entry, outcome)
        except OSError as exc:
            return clean(f"{exc.strerror or exc} – {exc.filename or self.audit.path}")
        # The line exists; at worst a later flush writes it twice.
        with contextlib.suppress(OutboxError):
            self.outbox.mark_audited(entry.key)
        return None

    def flush_audit(self) -> str | None:
        """Write the audit lines that failed earlier; the first reason if some still fail."""
        if self.outbox is None:
            return None
        for entry in self.outbox.unaudited():
            problem = self._audit(entry)
            if problem is not None:
                return problem
        return None
