"""``outbox`` and ``audit``: the decisions still queued or failed, and those the server answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from ..audit import AuditLog
from ..outbox import EntryState, Outbox
from ..safe_text import clean
from ._context import connection_options, stdin_is_terminal
from ._decide import open_outbox
from ._exit import EXIT_CODES_HELP, USAGE, CommandError


def _since(value: str | None) -> datetime | None:
    """``--since``: an ISO date/time, or a duration like ``30m``, ``12h``, ``7d``."""
    if not value:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--since takes an ISO date/time or a duration like 30m, 12h, 7d; got {value!r}.",
            USAGE,
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@click.command(epilog=EXIT_CODES_HELP)
@connection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--all", "show_all", is_flag=True, help="Also settled, undone and discarded ones.")
@click.option(
    "--retry",
    is_flag=True,
    help="Send this connection's held, queued and failed decisions again, each with its own key.",
)
@click.option("--discard", metavar="KEY", help="Give up the decision with this idempotency key.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before --discard.")
@click.pass_context
def outbox(
    ctx: click.Context,
    as_json: bool,
    show_all: bool,
    retry: bool,
    discard: str | None,
    yes: bool,
) -> None:
    """Decisions written but not yet confirmed by the server (held, queued or failed).

    Queued ones are sent again, with the same idempotency key, by the next console that runs
    or by --retry; failed ones wait to be retried or discarded (here, or in the console's
    outbox screen, O).
    """
    if retry and discard:
        raise CommandError("Choose one of --retry and --discard.", USAGE)
    if retry:
        from ._context import open_connection
        from ._decide import retry_all

        settings, token = open_connection(ctx)
        code = retry_all(settings, token)
        if code:
            raise click.exceptions.Exit(code)
        return
    store = open_outbox()  # says so on stderr if it had to recover a damaged file
    try:
        if discard:
            _discard(store, discard, yes)
            return
        states = tuple(EntryState) if show_all else UNSETTLED
        entries = store.entries(states)
    finally:
        store.close()
    if as_json:
        for entry in entries:
            record = {
                **entry.describe(),
                "state": entry.state.value,
                "outcome": entry.outcome.value if entry.outcome else None,
                "last_error": entry.last_error,
                "damaged": entry.damaged,
                "created_at": entry.created_at.isoformat(),
            }
            click.echo(json.dumps(record, ensure_ascii=True))
        return
    if not entries:
        click.echo("The outbox is empty: no decision is waiting to be sent or retried.")
        return
    for entry in entries:
        ref = f"{entry.workflow_id}/{entry.run_id}/{entry.task_id}"
        outcome = f" – {entry.outcome.value}" if entry.outcome else ""
        click.echo(
            f"{entry.state.value:<9} {entry.verb:<7} {clean(ref, multiline=False)}  "
            f"{clean(entry.title, max_len=50, multiline=False)}{outcome}  (profile "
            f"{clean(entry.profile, multiline=False)}, {entry.attempts} attempt(s), "
            f"key {entry.key})"
        )
        if entry.damaged:
            click.echo(f"          unreadable: {clean(entry.damaged, max_len=160)}")
        elif entry.last_error:
            click.echo(f"          last error: {clean(entry.last_error, max_len=160)}")


UNSETTLED = (EntryState.HELD, EntryState.QUEUED, EntryState.FAILED)


def _discard(store: Outbox, key: str, yes: bool) -> None:
    entry = store.get(key)
    if entry is None or entry.state not in UNSETTLED:
        raise CommandError(
            f"No held, queued or failed decision has the key {clean(key, max_len=60)!r}; "
            "`command-center outbox` lists them with their keys.",
            USAGE,
        )
    what = f"{entry.verb} {clean(entry.title, max_len=60, multiline=False)}"
    if not yes:
        if not stdin_is_terminal():
            raise CommandError(
                "Not confirmed: standard input is not a terminal. Pass --yes to discard.", USAGE
            )
        sent = (
            f" It was sent {entry.attempts} time(s) without a confirmation and may already "
            "have been applied."
            if entry.attempts
            else ""
        )
        click.echo(f"Discard the decision to {what}? It will never be sent.{sent}", err=True)
        if not click.confirm("Discard it?", default=False, err=True):
            click.echo("Nothing was discarded.", err=True)
            raise click.exceptions.Exit(1)
    from ..decisions import discard_decision

    discard_decision(store, AuditLog.default(), key)
    click.echo(f"Discarded the decision to {what}; the task stays pending on the platform.")


@click.command()
@click.option("--since", help="Only records since an ISO time or a duration (30m, 12h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="The raw JSON lines.")
def audit(since: str | None, as_json: bool) -> None:
    """Every decision the server answered, and every run command sent: when, who, what."""
    read = AuditLog.default().read(since=_since(since), kinds=("decision", "run_command"))
    for record in read.records:
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=True, sort_keys=True))
            continue
        if record.get("kind") == "run_command":
            click.echo(_run_command_line(record))
            continue
        ref = f"{record.get('workflow_id')}/{record.get('run_id')}/{record.get('task_id')}"
        verb = "approved" if record.get("approved") else "rejected"
        edits = record.get("edits") or {}
        edited = f", edited {', '.join(sorted(edits))}" if edits else ""
        click.echo(
            f"{clean(str(record.get('at')), multiline=False)}  {verb:<8} "
            f"{clean(ref, multiline=False)}  {clean(str(record.get('title')), max_len=50)}"
            f"  [{clean(str(record.get('outcome')))}] by "
            f"{clean(str(record.get('operator')), multiline=False)}{edited}"
        )
    if read.skipped:
        click.echo(f"({read.skipped} damaged line(s) skipped)", err=True)
    if not read.records and not as_json:
        click.echo("Nothing recorded" + (" in that period." if since else " yet."))


def _run_command_line(record: dict[str, Any]) -> str:
    """``<at>  stop     wf/run_…  (graceful) [applied: stopped] by alice@box``."""
    params = record.get("params") or {}
    mode = f" ({clean(str(params['mode']), multiline=False)})" if params.get("mode") else ""
    ref = clean(f"{record.get('workflow_id')}/{record.get('run_id')}", multiline=False)
    outcome = clean(str(record.get("outcome")), multiline=False)
    status = record.get("status")
    if status:
        outcome += f": {clean(str(status), max_len=30, multiline=False)}"
    return (
        f"{clean(str(record.get('at')), multiline=False)}  "
        f"{clean(str(record.get('command')), max_len=8, multiline=False):<8} {ref}{mode}  "
        f"[{outcome}] by {clean(str(record.get('operator')), multiline=False)}"
    )
