"""The CLI's side of the one decision path: outbox, send, settle, audit – as the console does.

A re-run of the same decision for the same task reuses the idempotency key of the decision
already in the outbox, so a shell loop that retries after "not confirmed" can never apply a
decision twice, and a decision applied by an earlier invocation is reported as applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

from client import Secret, Task

from ..audit import AuditLog
from ..decisions import (
    DecisionService,
    NotRecorded,
    OutcomeNotRecorded,
    Settled,
    Settlement,
    Where,
    body_preview,
)
from ..outbox import EntryState, Outbox, OutboxEntry, OutboxError, Outcome
from ..safe_text import clean
from ..settings import ConsoleSettings
from ..task_refs import FullRef, TaskKey, key_text
from ._context import sync_client
from ._exit import API_ERROR, CONFLICT, NOT_CONFIRMED, OK, USAGE, CommandError, exit_code_for

RETRY_HINT = "`command-center outbox --retry` sends it again with the same key"


@dataclass(frozen=True)
class StoredRef:
    """A task known only from the outbox (no longer pending): enough to name and resend it."""

    workflow_id: str
    run_id: str
    id: str
    title: str

    @property
    def key(self) -> TaskKey:
        return (self.workflow_id, self.run_id, self.id)


def open_outbox() -> Outbox:
    """The outbox, or a clear refusal; a damaged file found at open is said on stderr."""
    try:
        outbox = Outbox.default()
    except OutboxError as exc:
        raise CommandError(f"{exc} Nothing was sent.", API_ERROR) from None
    if outbox.recovery is not None:
        click.echo(f"warning: {outbox.recovery.describe()}", err=True)
    return outbox


def exit_code_of(settlement: Settlement) -> int:
    """The documented exit code for how a decision ended."""
    how = settlement.how
    if how.applied:
        return OK
    if how in (Settled.ELSEWHERE, Settled.EARLIER_DECISION, Settled.UNKNOWN_COMPLETER):
        return CONFLICT
    if how in (Settled.QUEUED, Settled.GAVE_UP):
        return NOT_CONFIRMED
    if settlement.error is not None and how is Settled.REFUSED:
        return exit_code_for(settlement.error)
    return API_ERROR


def cli_message(settlement: Settlement) -> str:
    """The service's sentence, naming the task by the ref the CLI takes, with the CLI's way to
    send it again when it is kept."""
    entry = settlement.entry
    name = key_text(entry.task_key)
    if settlement.how is Settled.APPLIED:
        past = "Approved" if entry.approved else "Rejected"
        return f"{past} {name}: {clean(entry.title, max_len=100, multiline=False)}"
    message = f"{name}: {settlement.message}"
    if settlement.queued:
        message += f"; {RETRY_HINT} (and so does the next console you start)."
    elif settlement.how is Settled.GAVE_UP:
        message += f" {RETRY_HINT[: -len(' again with the same key')]} once more."
    return message


def _same(entry: OutboxEntry, approved: bool, result: Mapping[str, Any] | None) -> bool:
    return entry.approved == approved and (entry.result or None) == (dict(result or {}) or None)


def earlier_decision(
    service: DecisionService,
    key: TaskKey,
    *,
    approved: bool,
    result: Mapping[str, Any] | None,
    idempotency_key: str | None,
) -> OutboxEntry | None:
    """The stored decision this invocation repeats (its key is reused), or None for a new one.

    A *different* unsettled decision for the same task is refused: the operator must settle
    or discard it first, or one task would carry two competing decisions.
    """
    if idempotency_key is not None:
        assert service.outbox is not None
        stored = service.outbox.get(idempotency_key)
        if stored is None:
            return None
        if stored.state in (EntryState.UNDONE, EntryState.DISCARDED):
            raise CommandError(
                f"--idempotency-key {clean(idempotency_key, max_len=60)!r} belongs to a decision "
                f"that was {stored.state.value} ({stored.verb} {key_text(stored.task_key)}), "
                "which is never sent again: decide anew without that key.",
                USAGE,
            )
        if stored.task_key != key or not _same(stored, approved, result):
            raise CommandError(
                f"--idempotency-key {clean(idempotency_key, max_len=60)!r} belongs to another "
                f"decision in the outbox ({stored.verb} {key_text(stored.task_key)}): a key may "
                "name one decision only.",
                USAGE,
            )
        return stored
    for entry in service.for_task(key):  # newest first
        if entry.state in (EntryState.UNDONE, EntryState.DISCARDED):
            continue
        if _same(entry, approved, result):
            return entry
        if entry.state is not EntryState.DONE:
            raise CommandError(
                f"A different decision for {key_text(key)} is {entry.state.value} in the outbox "
                f"({entry.verb}, key {entry.key}). Send it with `command-center outbox --retry` "
                "or discard it with `command-center outbox --discard KEY` first.",
                USAGE,
            )
    return None


def repeated_result(
    service: DecisionService,
    target: Task | FullRef | StoredRef,
    approved: bool,
    result: Mapping[str, Any] | None,
    idempotency_key: str | None,
) -> Mapping[str, Any] | None:
    """The result of the stored approval that a re-run for a task no longer pending repeats.

    An approval sends every editable value, which the CLI cannot know once the task has left
    the inbox (a full ref, or a ref found only in the outbox): the newest stored approval of that
    task whose result holds every value given now is the decision being repeated, so its result
    (and with it its key) is reused. Otherwise ``result`` as given.
    """
    if isinstance(target, Task) or not approved or service.outbox is None:
        return result
    if idempotency_key is not None:
        stored = service.outbox.get(idempotency_key)
        candidates = [stored] if stored is not None and stored.task_key == target.key else []
    else:
        candidates = service.for_task(target.key)  # newest first
    given = dict(result or {})
    for entry in candidates:
        if not entry.approved or entry.state in (EntryState.UNDONE, EntryState.DISCARDED):
            continue
        held = entry.result or {}
        if all(name in held and held[name] == value for name, value in given.items()):
            return entry.result
    return result


def decide(
    settings: ConsoleSettings,
    token: Secret,
    target: Task | FullRef | StoredRef,
    *,
    approved: bool,
    result: Mapping[str, Any] | None,
    original: Mapping[str, Any] | None,
    yes: bool,
    interactive: bool,
    idempotency_key: str | None = None,
) -> None:
    """Confirm, record, send, settle and report one decision; exits with its code."""
    verb = "approve" if approved else "reject"
    name = key_text(target.key)
    raw_title = getattr(target, "title", "")
    title = clean(raw_title, max_len=100, multiline=False) if raw_title else ""
    outbox = open_outbox()
    service = _service(settings, token, outbox)
    try:
        result = repeated_result(service, target, approved, result, idempotency_key)
        earlier = earlier_decision(
            service, target.key, approved=approved, result=result, idempotency_key=idempotency_key
        )
        if earlier is not None and earlier.state is EntryState.DONE:
            _report_done(earlier, name)
            return
        if (
            earlier is not None
            and earlier.state is EntryState.FAILED
            and earlier.outcome is Outcome.UNCONFIRMED
        ):
            _report_gave_up(earlier, name)
        if not yes:
            _confirm(verb, name, title, approved, result, earlier, interactive)
        entry = earlier or _record(service, target, approved, result, original, idempotency_key)
        if entry.state is EntryState.FAILED:
            entry = outbox.retry(entry.key)
        elif entry.state is EntryState.HELD:
            entry = service.release(entry.key) or entry
        settlement = _send(service, entry)
    except OutboxError as exc:
        raise CommandError(f"{exc} Nothing more was sent.", API_ERROR) from None
    finally:
        service.client.close()
        outbox.close()
    _finish(settlement)


def _report_done(entry: OutboxEntry, name: str) -> None:
    outcome = entry.outcome.value if entry.outcome else "settled"
    when = entry.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    message = (
        f"This decision to {entry.verb} {name} was settled by an earlier run at {when}: "
        f"{outcome}. Nothing was sent."
    )
    applied = entry.outcome is not None and entry.outcome.value.startswith("applied")
    if applied:
        click.echo(message)
        return
    raise CommandError(message, CONFLICT if "completed" in outcome else API_ERROR)


def _report_gave_up(entry: OutboxEntry, name: str) -> None:
    """A re-run of a decision given up after undocumented answers sends nothing by itself."""
    raise CommandError(
        f"This decision to {entry.verb} {name} was not confirmed after {entry.odd_answers} "
        "undocumented answers and waits as failed in the outbox. Check the run, then "
        f"`command-center outbox --retry` sends it once more, or `command-center outbox "
        f"--discard {entry.key}` gives it up. Nothing was sent.",
        NOT_CONFIRMED,
    )


def _confirm(
    verb: str,
    name: str,
    title: str,
    approved: bool,
    result: Mapping[str, Any] | None,
    earlier: OutboxEntry | None,
    interactive: bool,
) -> None:
    if not interactive:
        raise CommandError(
            f"Not confirmed: standard input is not a terminal, so nothing was sent. "
            f"Pass --yes to {verb} {name}.",
            USAGE,
        )
    click.echo(f"About to {verb} {name}" + (f": {title}" if title else ""), err=True)
    if earlier is not None:
        click.echo(
            f"(the same decision is {earlier.state.value} in the outbox after "
            f"{earlier.attempts} attempt(s): it is sent again with its key {earlier.key})",
            err=True,
        )
    preview = body_preview(approved, result, max_len=4000)
    click.echo("Sending:\n  " + preview.replace("\n", "\n  "), err=True)
    if not click.confirm(f"{verb.capitalize()} this task?", default=False, err=True):
        click.echo("Nothing was sent.", err=True)
        raise click.exceptions.Exit(API_ERROR)


def _record(
    service: DecisionService,
    target: Task | FullRef | StoredRef,
    approved: bool,
    result: Mapping[str, Any] | None,
    original: Mapping[str, Any] | None,
    idempotency_key: str | None,
) -> OutboxEntry:
    try:
        return service.record(
            target.key,
            getattr(target, "title", "") or target.key[2],
            approved=approved,
            result=result,
            original=original,
            idempotency_key=idempotency_key,
            hold=False,  # the CLI's confirmation (or --yes) is the decision; no u key here
        )
    except NotRecorded as exc:
        raise CommandError(str(exc), API_ERROR) from None


def _service(settings: ConsoleSettings, token: Secret, outbox: Outbox) -> DecisionService:
    client = sync_client(settings, token)
    return DecisionService(client, outbox, AuditLog.default(), Where.of(settings))


def _send(service: DecisionService, entry: OutboxEntry) -> Settlement:
    try:
        return service.send_blocking(entry)
    except OutcomeNotRecorded as exc:  # sent, but how it ended is not stored: not confirmed
        raise CommandError(f"{exc} {RETRY_HINT}.", NOT_CONFIRMED) from None
    except NotRecorded as exc:
        raise CommandError(str(exc), API_ERROR) from None


def _finish(settlement: Settlement) -> None:
    code = exit_code_of(settlement)
    message = cli_message(settlement)
    if code == OK:
        click.echo(message)
        if settlement.audit_error:
            click.echo("warning: the audit line could not be written yet.", err=True)
        return
    raise CommandError(message, code)


def retry_all(settings: ConsoleSettings, token: Secret) -> int:
    """``outbox --retry``: send every sendable decision of this connection; the worst exit code."""
    outbox = open_outbox()
    service = _service(settings, token, outbox)
    try:
        entries = [e for e in service.unsettled() if not e.damaged]
        if not entries:
            click.echo("Nothing to send: no queued, held or failed decision for this connection.")
            return OK
        for entry in entries:
            if entry.state is EntryState.FAILED:
                outbox.retry(entry.key)
            elif entry.state is EntryState.HELD:
                service.release(entry.key)
        entries = [outbox.get(e.key) or e for e in entries]
        settlements = [_send(service, entry) for entry in entries]
        flush = service.flush_audit()
    except OutboxError as exc:
        raise CommandError(str(exc), API_ERROR) from None
    finally:
        service.client.close()
        outbox.close()
    codes = []
    for settlement in settlements:
        code = exit_code_of(settlement)
        codes.append(code)
        click.echo(cli_message(settlement), err=code != OK)
    if flush is not None:
        click.echo(f"warning: audit lines still cannot be written: {flush}", err=True)
    for worst in (NOT_CONFIRMED, API_ERROR, 3, CONFLICT):
        if worst in codes:
            return worst
    return OK


def stored_target(ref: str, entries: list[OutboxEntry]) -> StoredRef | None:
    """The outbox's decision a ref names when the task is no longer pending (a re-run)."""
    from ..task_refs import RefError, resolve_ref

    stored = [StoredRef(e.workflow_id, e.run_id, e.task_id, e.title) for e in entries]
    try:
        found = resolve_ref(ref, stored)  # type: ignore[arg-type]
    except RefError:
        return None
    return found if isinstance(found, StoredRef) else None


def describe_entries(entries: list[OutboxEntry]) -> str:
    return json.dumps([e.describe() for e in entries], ensure_ascii=True)
