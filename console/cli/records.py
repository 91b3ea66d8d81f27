"""``outbox`` and ``audit``: the decisions still queued or failed, and those the server answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from ..audit import AuditLog
from ..outbox import EntryState, Outbox
from ..widgets.safe_text import clean
from ._exit import USAGE, CommandError


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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--all", "show_all", is_flag=True, help="Also confirmed and discarded decisions.")
def outbox(as_json: bool, show_all: bool) -> None:
    """Decisions written but not yet confirmed by the server (queued or failed).

    Queued ones are sent again, with the same idempotency key, by the next console that runs;
    failed ones wait to be retried or discarded in the console's outbox screen (O).
    """
    states = tuple(EntryState) if show_all else (EntryState.QUEUED, EntryState.FAILED)
    store = Outbox.default()
    try:
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
                "created_at": entry.created_at.isoformat(),
            }
            click.echo(json.dumps(record, ensure_ascii=True))
        return
    if not entries:
        click.echo("The outbox is empty: every decision was confirmed by the server.")
        return
    for entry in entries:
        ref = f"{entry.workflow_id}/{entry.run_id}/{entry.task_id}"
        click.echo(
            f"{entry.state.value:<9} {entry.verb:<7} {clean(ref, multiline=False)}  "
            f"{clean(entry.title, max_len=50, multiline=False)}  (profile {entry.profile}, "
            f"{entry.attempts} attempt(s))"
        )
        if entry.last_error:
            click.echo(f"          last error: {clean(entry.last_error, max_len=160)}")


@click.command()
@click.option("--since", help="Only decisions since an ISO time or a duration (30m, 12h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="The raw JSON lines.")
def audit(since: str | None, as_json: bool) -> None:
    """Every decision the server answered: when, who, what was sent and what was edited."""
    read = AuditLog.default().read(since=_since(since))
    for record in read.records:
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=True, sort_keys=True))
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
        click.echo("No decisions recorded" + (" in that period." if since else " yet."))
