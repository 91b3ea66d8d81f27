"""``runs list|show|events|pause|resume|stop``: the runs feed and run control from a shell.

As ``tasks``: server text goes through ``clean``, JSON is ASCII-escaped, messages go to stderr,
exit codes are the documented ones. A run is named by its id (or a unique prefix, as ``runs
list`` shows it) and found in the tenant's runs feed, or as WORKFLOW/RUN. Pause, resume and stop
ask first on a terminal (``--yes`` otherwise), send one ``Idempotency-Key`` for every retry, and
write a ``run_command`` line to the audit log whatever the platform answered.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Final, Literal

import click

from client import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    CommandCenterClient,
    ConflictError,
    InvalidIdError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    Run,
    RunCommandResult,
    RunContext,
    RunEvent,
    RunListing,
    RunStatus,
    ServerError,
    UnreadableRun,
)
from client.models import failure_meaning, run_state, short_run_id

from ..audit import AuditLog
from ..decisions import Where
from ..error_text import describe_error
from ..inbox_model import format_age
from ..run_commands import CONSEQUENCES, outcome_of, status_text, why_refused
from ..safe_text import clean
from ..settings import ConsoleSettings
from ._context import connection_options, open_client, stdin_is_terminal
from ._exit import CONFLICT, PARTIAL, USAGE, CommandError, exit_code_for
from .records import _since
from .tasks import _fit, _indent, _json_out, _one_line, _table

__all__ = ["runs", "status_text"]

RUNS_EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 API or network error, 2 usage or bad input, 3 authentication or "
    "permission, 4 conflict (the platform refused the transition, e.g. the run is already "
    "stopped), 6 some entries of the runs feed could not be read (runs list shows the others), "
    "130 interrupted (Ctrl-C)."
)
_RUN_HELP = (
    "RUN names a run: its id, a unique prefix of it (as `runs list` shows it), or "
    "WORKFLOW/RUN for a run the runs feed does not list."
)

# Seconds between two looks at a followed run.
POLL_SECONDS = 2.0
_sleep: Callable[[float], None] = time.sleep


def _now() -> datetime:
    """The clock ages are measured with (replaced in tests)."""
    return datetime.now(UTC)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({format_age(_now() - moment)} ago)"


def _age(moment: datetime | None) -> str:
    return format_age(_now() - moment if moment is not None else None)


# -- errors --------------------------------------------------------------------------------------


def _failure(exc: APIError | InvalidIdError, doing: str, run: str, workflow: str) -> CommandError:
    """A client error as the operator's sentence about runs, with its documented exit code."""
    if isinstance(exc, InvalidIdError):
        return CommandError(describe_error(exc), USAGE)
    server = _one_line(getattr(exc, "error", ""), 300)
    if isinstance(exc, NotFoundError):
        message = (
            f"No run {_one_line(run, 60)!r} in workflow {_one_line(workflow, 60)!r} "
            f"(404: {server}). `command-center runs list` shows the runs."
        )
    elif isinstance(exc, PermissionDeniedError):
        message = (
            f"Not allowed (403): {server}. Reading runs needs the project_viewer role and the "
            "workflow:read scope; pausing, resuming and stopping them needs the "
            "project_contributor role and the workflow:run scope – ask a project admin for "
            "what is missing."
        )
    else:
        message = describe_error(exc, doing=doing)
    return CommandError(message, exit_code_for(exc))


@contextmanager
def _api(doing: str, run: str = "", workflow: str = "") -> Iterator[None]:
    try:
        yield
    except (APIError, InvalidIdError) as exc:
        raise _failure(exc, doing, run, workflow) from None


# -- naming a run --------------------------------------------------------------------------------

Key = tuple[str, str]  # (workflow_id, run_id)


def _unique(runs: Sequence[Run]) -> list[Run]:
    seen: dict[Key, Run] = {}
    for run in runs:
        seen.setdefault(run.key, run)
    return list(seen.values())


def short_refs(runs: Sequence[Run]) -> dict[Key, str]:
    """For each run the shortest prefix of its id, never shorter than its short id (as the
    platform's console shows it), that names it alone; WORKFLOW/RUN for an id that two
    workflows share."""
    unique = _unique(runs)
    ids = sorted({run.id for run in unique})
    need: dict[str, int] = {}
    for a, b in pairwise(ids):
        common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        length = (common if common is not None else min(len(a), len(b))) + 1
        need[a] = max(need.get(a, 0), length)
        need[b] = max(need.get(b, 0), length)
    shared = Counter(run.id for run in unique)
    refs: dict[Key, str] = {}
    for run in unique:
        if shared[run.id] > 1:
            refs[run.key] = f"{run.workflow_id}/{run.id}"
        else:
            refs[run.key] = run.id[: max(len(short_run_id(run.id)), need.get(run.id, 0))]
    return refs


def _candidates(runs: Sequence[Run]) -> str:
    lines = [
        f"  {_one_line(run.workflow_id, 40)}/{_one_line(run.id, 60)}  "
        f"{_one_line(run.workflow_label, 40)}  {status_text(run.status)}"
        for run in runs[:15]
    ]
    if len(runs) > 15:
        lines.append(f"  … and {len(runs) - 15} more")
    return "\n".join(lines)


def resolve_run(ref: str, runs: Sequence[Run]) -> tuple[str, str, Run | None]:
    """(workflow_id, run_id, the run if listed) that ``ref`` names; the most exact reading
    that matches decides: WORKFLOW/RUN, the run id, a prefix of it (with or without WORKFLOW/)."""
    text = ref.strip()
    if not text:
        raise CommandError("The run reference is empty. " + _RUN_HELP, USAGE)
    unique = _unique(runs)

    def prefixed(run: Run) -> bool:
        if run.id.startswith(text):
            return True
        head = run.workflow_id + "/"
        return (
            text.startswith(head) and len(text) > len(head) and run.id.startswith(text[len(head) :])
        )

    for reading in (
        lambda run: f"{run.workflow_id}/{run.id}" == text,
        lambda run: run.id == text,
        prefixed,
    ):
        matches = [run for run in unique if reading(run)]
        if len(matches) == 1:
            return matches[0].workflow_id, matches[0].id, matches[0]
        if matches:
            raise CommandError(
                f"{_one_line(text, 80)!r} matches {len(matches)} runs; name one as "
                f"WORKFLOW/RUN:\n{_candidates(matches)}",
                USAGE,
            )
    workflow, slash, run_id = text.partition("/")
    if slash and workflow and run_id:
        return workflow, run_id, None  # sent as given: the platform says whether it exists
    raise CommandError(
        f"No run {_one_line(text, 80)!r} in the runs feed. `command-center runs list` shows "
        "them; WORKFLOW/RUN names a run the feed does not list.",
        USAGE,
    )


def _feed(client: CommandCenterClient) -> RunListing:
    with _api("listing runs"):
        return client.list_runs()


def _locate(client: CommandCenterClient, ref: str) -> tuple[str, str, Run | None]:
    """The run ``ref`` names, found in the feed; a WORKFLOW/RUN is used as given when the
    feed cannot be read (its shape is undocumented), saying so."""
    try:
        listing = client.list_runs()
    except (APIError, InvalidIdError) as exc:
        workflow, slash, run_id = ref.strip().partition("/")
        if not (slash and workflow and run_id) or isinstance(exc, AuthenticationError):
            raise _failure(exc, "listing runs", "", "") from None
        reason = describe_error(exc, doing="listing runs")
        click.echo(
            f"warning: {reason.rstrip('.')}. Using {_one_line(ref, 120)} as given.", err=True
        )
        return workflow, run_id, None
    return resolve_run(ref, listing.runs)


def _find(client: CommandCenterClient, key: Key) -> Run | None:
    """The run as the feed lists it now, or None (not listed, or the feed cannot be read)."""
    try:
        listing = client.list_runs()
    except (APIError, InvalidIdError):
        return None
    return next((run for run in listing.runs if run.key == key), None)


# -- the group -----------------------------------------------------------------------------------


@click.group(
    short_help="List, inspect, follow, pause, resume and stop workflow runs.",
    epilog="\b\nExamples:\n"
    "  command-center runs list --status failed --since 24h\n"
    "  command-center runs show run_7f3a\n"
    "  command-center runs events run_7f3a --follow\n"
    "  command-center runs stop run_7f3a --graceful --yes\n\n" + RUNS_EXIT_CODES_HELP,
)
@connection_options
def runs() -> None:
    """The tenant's workflow runs: list, inspect and follow them, pause, resume and stop them.

    Connection options work here and on each subcommand. Pausing, resuming and stopping ask
    for confirmation on a terminal and need --yes otherwise; each is written to the audit log.
    """


# -- list ----------------------------------------------------------------------------------------


def _status_filter(words: Sequence[str]) -> Callable[[Run], bool] | None:
    """``--status`` words: documented statuses (any case; cancelled is stopped), ``active``,
    ``terminal``, or any other word matched as the platform sent it."""
    wanted = [w.strip() for word in words for w in word.split(",") if w.strip()]
    if not wanted:
        return None
    states = {run_state(w) for w in wanted} - {RunStatus.UNKNOWN}
    groups = {w.casefold() for w in wanted} & {"active", "terminal", "unknown"}
    sent = {w.casefold() for w in wanted}

    def keep(run: Run) -> bool:
        state = run.state
        return (
            state in states
            or run.status.casefold() in sent
            or ("active" in groups and state.active)
            or ("terminal" in groups and state.terminal)
            or ("unknown" in groups and state is RunStatus.UNKNOWN)
        )

    return keep


def _newest_change_first(found: Sequence[Run]) -> list[Run]:
    def order(run: Run) -> tuple[bool, float]:
        changed = run.changed_at
        return (changed is None, -changed.timestamp() if changed is not None else 0.0)

    return sorted(found, key=order)


def _failure_cell(run: Run) -> str:
    if run.failure_code:
        return _one_line(run.failure_code)
    return _one_line(run.error) if run.error and run.state is RunStatus.FAILED else ""


def _warn_unreadable(unreadable: Sequence[UnreadableRun]) -> None:
    count = len(unreadable)
    click.echo(
        f"warning: {count} entr{'y' if count == 1 else 'ies'} of the runs feed could not be "
        "read as runs (the others are listed):",
        err=True,
    )
    for entry in unreadable[:20]:
        raw = _one_line(json.dumps(entry.raw, ensure_ascii=True, default=repr), 120)
        click.echo(f"  entry {entry.index}: {_one_line(entry.reason, 120)} – {raw}", err=True)
    if count > 20:
        click.echo(f"  … and {count - 20} more", err=True)
    raise click.exceptions.Exit(PARTIAL)


@runs.command(
    "list",
    short_help="List runs, the last changed first (a table, or JSON for scripts).",
    epilog="\b\nExamples:\n"
    "  command-center runs list\n"
    "  command-center runs list --status failed --status stopped --since 24h\n"
    "  command-center runs list --status active --json | jq -r .id",
)
@connection_options
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS",
    help="Only runs in this status (repeatable, or comma-separated): running, paused, pending, "
    "queued, starting, draining, failed, stopped, completed, or active / terminal; any other "
    "word is matched as the platform sends it.",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Only runs that last changed within a duration (30m, 24h, 7d) or since an ISO time.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="One run per line, as the server sent it (JSON Lines)."
)
@click.pass_context
def list_runs(
    ctx: click.Context, statuses: tuple[str, ...], since: str | None, as_json: bool
) -> None:
    """List the tenant's runs, the most recently changed first.

    For people, a table: RUN (what the other runs commands take), status, workflow, age since
    it started, time since its last change, and its failure code. --json prints each run's
    JSON as the platform sent it, one per line.
    """
    after = _since(since)
    keep = _status_filter(statuses)
    _, client = open_client(ctx)
    with client:
        listing = _feed(client)
    found = [
        run
        for run in listing.runs
        if (keep is None or keep(run))
        and (after is None or (run.changed_at is not None and run.changed_at >= after))
    ]
    found = _newest_change_first(found)
    if as_json:
        for run in found:
            click.echo(_json_out(run.raw))
    elif not found:
        filtered = " matching the filters" if keep or after else ""
        click.echo(f"No runs{filtered}.", err=True)
    else:
        refs = short_refs(listing.runs)
        rows = [
            [
                _one_line(refs[run.key]),
                status_text(run.status),
                _one_line(run.workflow_label),
                _age(run.started_at),
                _age(run.changed_at),
                _failure_cell(run),
            ]
            for run in found
        ]
        headers = ["RUN", "STATUS", "WORKFLOW", "AGE", "CHANGED", "FAILURE"]
        for line in _table(headers, rows, shutil.get_terminal_size().columns):
            click.echo(line)
    listed = len(listing.runs) + len(listing.unreadable)
    if listing.total is not None and listing.total > listed:
        click.echo(f"note: the platform counts {listing.total} runs and listed {listed}.", err=True)
    if listing.unreadable:
        _warn_unreadable(listing.unreadable)


# -- show ----------------------------------------------------------------------------------------


def _pending_text(client: CommandCenterClient, key: Key, run: Run | None) -> str:
    """The run's pending human tasks: the feed's count, else the run's own task endpoint."""
    count = run.pending_tasks if run is not None else None
    if count is None:
        try:
            count = len(client.list_run_pending_tasks(*key))
        except (APIError, InvalidIdError):
            return "unknown"
    if count == 0:
        return "none"
    hint = f"`command-center tasks list --workflow {key[0]} --run {key[1]}`"
    waiting = f"{count} human task{'s' if count != 1 else ''} waiting"
    return f"{waiting}: awaiting approval, not stuck ({_one_line(hint, 200)})"


def _json_block(title: str, value: dict[str, Any]) -> list[str]:
    out = ["", click.style(title, bold=True)]
    if not value:
        return [*out, "  (none)"]
    body = clean(json.dumps(value, indent=2, ensure_ascii=False, default=repr))
    return [*out, "  " + _indent(body, "  ")]


def _show_text(key: Key, run: Run | None, pending: str) -> list[str]:
    workflow_id, run_id = key
    label = run.workflow_label if run is not None else workflow_id
    out = [click.style(f"{_one_line(label, 60)} › {_one_line(run_id, 80)}", bold=True)]
    rows = [("Run", _one_line(f"{workflow_id}/{run_id}"))]
    if run is None:
        rows.append(("Status", "? (the runs feed does not list this run)"))
    else:
        workflow = _one_line(workflow_id)
        if run.workflow_name:
            workflow = f"{_one_line(run.workflow_name)} ({workflow})"
        rows += [
            ("Workflow", workflow),
            ("Status", status_text(run.status)),
            ("Started", _when(run.started_at)),
            ("Changed", _when(run.updated_at) if run.updated_at else "?"),
        ]
        if run.failure_code:
            meaning = failure_meaning(run.failure_code) or "not a documented failure code"
            rows.append(("Failure", f"{_one_line(run.failure_code)} – {meaning}"))
        if run.error:
            rows.append(("Error", _one_line(run.error, 300)))
    rows.append(("Pending", pending))
    out.extend(f"{label + ':':<9} {value}" for label, value in rows)
    return out


@runs.command(
    "show",
    short_help="One run: status, failure, pending tasks, variables and step results.",
    epilog="\b\nExamples:\n"
    "  command-center runs show run_7f3a\n"
    "  command-center runs show wf_pr_review/run_7f3a9c1e5b2d --json | jq .context\n\n" + _RUN_HELP,
)
@connection_options
@click.argument("run")
@click.option(
    "--json", "as_json", is_flag=True, help='{"run": …, "context": …} as the server sent them.'
)
@click.pass_context
def show(ctx: click.Context, run: str, as_json: bool) -> None:
    """Show one run: its status, when it started and last changed, its failure code and what
    that code means, its pending human tasks, and its context (variables and step results)."""
    _, client = open_client(ctx)
    with client:
        workflow_id, run_id, found = _locate(client, run)
        context: RunContext | None = None
        failed: CommandError | None = None
        try:
            context = client.get_run_context(workflow_id, run_id)
        except (APIError, InvalidIdError) as exc:
            failed = _failure(exc, "reading the run's context", run_id, workflow_id)
            if found is None:  # nothing else is known of it: perhaps there is no such run
                raise failed from None
        if as_json:
            record = {
                "run": found.raw if found is not None else None,
                "context": context.raw if context is not None else None,
            }
            click.echo(_json_out(record, indent=2))
        else:
            pending = _pending_text(client, (workflow_id, run_id), found)
            lines = _show_text((workflow_id, run_id), found, pending)
            if context is not None:
                lines += _json_block("Variables", context.variables)
                lines += _json_block("Steps", context.steps)
            click.echo("\n".join(lines))
    if failed is not None:  # the run is shown; its context could not be read
        raise failed


# -- events --------------------------------------------------------------------------------------


def _words(value: Any) -> str:
    if isinstance(value, dict):
        message = value.get("message") or value.get("error")
        if isinstance(message, str):
            return message
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)


def event_summary(event: RunEvent) -> str:
    """One line about an event, from the keys the docs name; any other data as compact JSON."""
    data = event.data or {}
    kind = event.type
    if kind == "state_changed" and ("from" in data or "to" in data):
        return f"{_words(data.get('from', '?'))} → {_words(data.get('to', '?'))}"
    if data.get("skipped") is True:
        reason = data.get("reason")
        return "skipped" + (f" ({_words(reason)})" if reason else "")
    if kind == "step_cancelled" or data.get("cancelled") is True:
        parts = ["cancelled"]
        if data.get("reason"):
            parts.append(f"({_words(data['reason'])})")
        if data.get("caused_by_step_id"):
            parts.append(f"caused by step {_words(data['caused_by_step_id'])}")
        return " ".join(parts)
    if kind == "step_failed" or kind == "run_rejected":
        code = data.get("failure_code") or data.get("code")
        error = data.get("error") or data.get("message") or data.get("reason")
        said = [_words(v) for v in (code, error) if v]
        if said:
            return ": ".join(said)
    if kind == "step_completed" and "result" in data and len(data) == 1:
        return "result " + _words(data["result"])
    return _words(data) if data else ""


_EVENT_WIDTHS = (19, 14, 20)  # time, type, step; the summary takes the rest


def _event_line(event: RunEvent, width: int) -> str:
    when = f"{event.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if event.at else "?"
    cells = [
        _fit(when, _EVENT_WIDTHS[0]),
        _fit(event.type, _EVENT_WIDTHS[1]),
        _fit(event.step_id or "", _EVENT_WIDTHS[2]),
    ]
    rest = max(20, width - sum(_EVENT_WIDTHS) - 6)
    return "  ".join([*cells, _one_line(event_summary(event), rest)]).rstrip()


def _state_from_events(events: Sequence[RunEvent]) -> RunStatus:
    """The status the last ``state_changed`` event moved the run to (UNKNOWN without one)."""
    for event in reversed(events):
        to = (event.data or {}).get("to")
        if event.type == "state_changed" and isinstance(to, str):
            return run_state(to)
    return RunStatus.UNKNOWN


# Failures a follower waits out (the client has retried them already); others end it.
_PASSING = (APIConnectionError, ServerError, RateLimitError)


@runs.command(
    "events",
    short_help="A run's event timeline; --follow prints new events until the run ends.",
    epilog="\b\nExamples:\n"
    "  command-center runs events run_7f3a\n"
    "  command-center runs events run_7f3a --follow\n"
    "  command-center runs events run_7f3a --json | jq -r .type\n\n" + _RUN_HELP,
)
@connection_options
@click.argument("run")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help=f"Look again every {POLL_SECONDS:g} s and print only new events, until the run is "
    "failed, stopped or completed (or Ctrl-C).",
)
@click.option("--json", "as_json", is_flag=True, help="One event per line, as the server sent it.")
@click.pass_context
def events(ctx: click.Context, run: str, follow: bool, as_json: bool) -> None:
    """Show a run's events, oldest first: time (UTC), type, step and a one-line summary."""
    _, client = open_client(ctx)
    width = shutil.get_terminal_size().columns
    with client:
        workflow_id, run_id, found = _locate(client, run)
        key = (workflow_id, run_id)
        seen: set[str] = set()
        header = not as_json
        while True:
            state = RunStatus.UNKNOWN
            if follow and found is not None:  # the status first: no event after it is missed
                listed = _find(client, key)
                state = listed.state if listed is not None else RunStatus.UNKNOWN
            try:
                timeline = client.list_run_events(workflow_id, run_id)
            except _PASSING as exc:
                if not follow:
                    raise _failure(exc, "reading the run's events", run_id, workflow_id) from None
                click.echo(f"warning: {describe_error(exc, doing='reading events')}", err=True)
                _sleep(POLL_SECONDS)
                continue
            except (APIError, InvalidIdError) as exc:
                raise _failure(exc, "reading the run's events", run_id, workflow_id) from None
            fresh = [event for event in timeline if event.id not in seen]
            seen.update(event.id for event in fresh)
            if header and fresh:
                header = False
                click.echo(f"{'TIME (UTC)':<19}  {'TYPE':<14}  {'STEP':<20}  SUMMARY")
            for event in fresh:
                click.echo(_json_out(event.raw) if as_json else _event_line(event, width))
            if not follow:
                if not timeline:
                    click.echo("No events yet.", err=True)
                return
            if state is RunStatus.UNKNOWN:
                state = _state_from_events(timeline)
            if state.terminal:
                click.echo(f"The run is {status_text(state.value)}.", err=True)
                return
            _sleep(POLL_SECONDS)


# -- pause / resume / stop -----------------------------------------------------------------------

Command = Literal["pause", "resume", "stop"]

_DONE: Final = {
    "pause": "Paused",
    "resume": "Resumed",
    "immediate": "Stopped",
    "graceful": "Stopping gracefully",
}


def _run_name(key: Key, run: Run | None) -> str:
    workflow = _one_line(key[0], 60)
    if run is not None and run.workflow_name:
        workflow = f"{_one_line(run.workflow_name, 60)} ({workflow})"
    return f"run {_one_line(key[1], 80)} of workflow {workflow}"


def _confirm(command: str, variant: str, key: Key, run: Run | None) -> None:
    now = f", now {status_text(run.status)}" if run is not None else " (not in the runs feed)"
    click.echo(f"About to {command} {_run_name(key, run)}{now}.", err=True)
    click.echo(CONSEQUENCES[variant], err=True)
    if not click.confirm(f"{command.capitalize()} this run?", default=False, err=True):
        click.echo("Nothing was sent.", err=True)
        raise click.exceptions.Exit(1)


def _audit(
    settings: ConsoleSettings, key: Key, command: str, params: dict[str, Any], **how: Any
) -> None:
    """The audit line; failing to write it must not hide what the platform answered."""
    try:
        AuditLog.default().record_run_command(
            dataclasses.asdict(Where.of(settings)),
            workflow_id=key[0],
            run_id=key[1],
            command=command,
            params=params,
            **how,
        )
    except OSError as exc:
        click.echo(f"warning: the audit line could not be written: {exc}", err=True)


def _control(
    ctx: click.Context,
    ref: str,
    command: Command,
    mode: Literal["immediate", "graceful"] | None,
    yes: bool,
) -> None:
    """Confirm, send, explain and audit one run command; exits with its documented code."""
    variant = mode or command
    interactive = stdin_is_terminal()
    if not yes and not interactive:
        raise CommandError(
            "Not confirmed: standard input is not a terminal, so nothing was sent. "
            f"Pass --yes to {command} {_one_line(ref, 80)}.",
            USAGE,
        )
    settings, client = open_client(ctx)
    with client:
        workflow_id, run_id, run = _locate(client, ref)
        key = (workflow_id, run_id)
        if not yes:
            _confirm(command, variant, key, run)
        idempotency_key = str(uuid.uuid4())
        params = {"mode": mode} if mode else {}
        doing = {"pause": "pausing", "resume": "resuming", "stop": "stopping"}[command] + " the run"
        try:
            if command == "pause":
                result = client.pause_run(workflow_id, run_id, idempotency_key=idempotency_key)
            elif command == "resume":
                result = client.resume_run(workflow_id, run_id, idempotency_key=idempotency_key)
            else:
                assert mode is not None
                result = client.stop_run(
                    workflow_id, run_id, mode=mode, idempotency_key=idempotency_key
                )
        except InvalidIdError as exc:
            raise _failure(exc, doing, run_id, workflow_id) from None
        except APIError as exc:
            now = _find(client, key) if isinstance(exc, ConflictError) else None
            _audit(
                settings,
                key,
                command,
                params,
                outcome=outcome_of(exc),
                idempotency_key=idempotency_key,
                status=now.status if now is not None else None,
                error=getattr(exc, "error", None) or exc.message,
            )
            if isinstance(exc, ConflictError):
                raise CommandError(
                    _conflict_message(exc, command, mode, key, run, now), CONFLICT
                ) from None
            raise _failure(exc, doing, run_id, workflow_id) from None
        said, where = _new_status(client, key, result)
        _audit(
            settings,
            key,
            command,
            params,
            outcome="applied",
            idempotency_key=idempotency_key,
            status=said,
        )
    click.echo(f"{_DONE[variant]} {_run_name(key, run)}: {where}.")


def _conflict_message(
    exc: ConflictError, command: str, mode: str | None, key: Key, run: Run | None, now: Run | None
) -> str:
    server = _one_line(exc.error, 300)
    why = why_refused(command, mode, now)
    message = f"The platform refused to {command} {_run_name(key, run)} (409): {server}. "
    if exc.maybe_ours:
        message += (
            "An earlier attempt of this command got no clear answer and may have been applied: "
        )
        return message + why + "."
    return message + why[0].upper() + why[1:] + "."


def _new_status(
    client: CommandCenterClient, key: Key, result: RunCommandResult
) -> tuple[str | None, str]:
    """The status after the command, as the platform answered or else as the feed shows it."""
    if result.status:
        return result.status, f"the platform says {status_text(result.status)}"
    now = _find(client, key)
    if now is None:
        return None, "the platform's answer did not say its new status"
    return now.status, (
        "the platform's answer did not say its new status; the runs feed shows "
        + status_text(now.status)
    )


_YES = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask; required when not on a terminal."
)


@runs.command(
    "pause",
    short_help="Pause a run: no new steps start until it is resumed.",
    epilog="\b\nExamples:\n  command-center runs pause run_7f3a --yes\n\n"
    + _RUN_HELP
    + "\n\n"
    + RUNS_EXIT_CODES_HELP,
)
@connection_options
@click.argument("run")
@_YES
@click.pass_context
def pause(ctx: click.Context, run: str, yes: bool) -> None:
    """Pause a run: scheduling stops, steps in flight may complete; resume continues it."""
    _control(ctx, run, "pause", None, yes)


@runs.command(
    "resume",
    short_help="Resume a paused run.",
    epilog="\b\nExamples:\n  command-center runs resume run_7f3a --yes\n\n"
    + _RUN_HELP
    + "\n\n"
    + RUNS_EXIT_CODES_HELP,
)
@connection_options
@click.argument("run")
@_YES
@click.pass_context
def resume(ctx: click.Context, run: str, yes: bool) -> None:
    """Resume a paused run. Stopped and failed runs never resume (exit 4)."""
    _control(ctx, run, "resume", None, yes)


@runs.command(
    "stop",
    short_help="Stop a run for good: now, or --graceful after a drain.",
    epilog="\b\nExamples:\n"
    "  command-center runs stop run_7f3a --yes\n"
    "  command-center runs stop run_7f3a --graceful --yes\n\n"
    + _RUN_HELP
    + "\n\n"
    + RUNS_EXIT_CODES_HELP,
)
@connection_options
@click.argument("run")
@click.option(
    "--graceful",
    is_flag=True,
    help="Drain first: active steps finish, pending ones never start (status draining).",
)
@_YES
@click.pass_context
def stop(ctx: click.Context, run: str, graceful: bool, yes: bool) -> None:
    """Stop a run. Immediately (the default): halt now, in-flight calls are cancelled and
    downstream steps may never run. --graceful: the run drains, then stops. Either way a
    stopped run cannot be resumed."""
    _control(ctx, run, "stop", "graceful" if graceful else "immediate", yes)
