"""``tasks list|show|approve|reject``: the inbox from scripts and shells.

Every string the server sent passes through ``clean`` before it is printed, JSON output is
ASCII-escaped (so it stays valid JSON and cannot carry a terminal escape), messages go to stderr
and the exit codes are the documented ones (``_exit``). Deciding on a task needs ``--yes`` unless
standard input is a terminal, where the command shows what it will send and asks first.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from rich.cells import cell_len

from client import (
    APIError,
    CommandCenterClient,
    InvalidIdError,
    NotFoundError,
    PayloadField,
    Task,
    UnreadableTask,
)
from client.models import FieldType

from ..decisions import Where, decision_result
from ..error_text import describe_error
from ..field_values import FieldError, parse_text
from ..inbox_model import format_age
from ..outbox import EntryState
from ..safe_text import clean
from ..settings import ConsoleSettings
from ..task_refs import FullRef, RefError, key_text, resolve_ref, short_refs
from ._context import (
    connection_options,
    open_client,
    open_connection,
    stdin_is_terminal,
    sync_client,
)
from ._decide import StoredRef, decide, open_outbox, stored_target
from ._exit import EXIT_CODES_HELP, PARTIAL, USAGE, CommandError, exit_code_for

__all__ = ["tasks"]

_REF_HELP = (
    "REF names a pending task: TASK (its id, when unique), RUN/TASK or WORKFLOW/RUN/TASK; "
    "RUN may be a unique prefix of the run id, as `tasks list` shows it."
)


def _now() -> datetime:
    """The clock ages are measured with (replaced in tests)."""
    return datetime.now(UTC)


def _one_line(text: Any, max_len: int | None = None) -> str:
    return clean("" if text is None else str(text), max_len=max_len, multiline=False)


def _json_out(value: Any, *, indent: int | None = None) -> str:
    # ASCII escapes keep it valid JSON while no control or bidi character reaches the terminal.
    separators = (",", ":") if indent is None else None
    return json.dumps(value, ensure_ascii=True, indent=indent, separators=separators)


def _age(task: Task) -> str:
    return format_age(_now() - task.created_at if task.created_at else None)


@contextmanager
def _api(doing: str) -> Iterator[None]:
    """Turn a client error into its operator sentence and documented exit code."""
    try:
        yield
    except APIError as exc:
        raise CommandError(describe_error(exc, doing=doing), exit_code_for(exc)) from None
    except InvalidIdError as exc:
        raise CommandError(describe_error(exc), USAGE) from None


def _resolve(ref: str, inbox: Sequence[Task]) -> Task | FullRef:
    try:
        return resolve_ref(ref, inbox)
    except RefError as exc:
        raise CommandError(exc.message, USAGE) from None


@click.group(
    short_help="List, show, approve and reject pending tasks (scriptable).",
    epilog="\b\nExamples:\n"
    "  command-center tasks list\n"
    "  command-center tasks show run_7f3a/approve-review\n"
    "  command-center tasks approve run_7f3a/approve-review --set comment_body='LGTM' --yes\n"
    "  command-center tasks reject budget-approval --reason 'over budget' --yes\n\n"
    + EXIT_CODES_HELP,
)
@connection_options
def tasks() -> None:
    """List, inspect, approve and reject pending tasks, from a shell or a script.

    Connection options work here and on each subcommand; the token comes from
    COMMAND_CENTER_TOKEN, --token-stdin or the profile's stored login. Approving and
    rejecting ask for confirmation on a terminal, and need --yes otherwise.
    """


# -- list ------------------------------------------------------------------------------------------

_GAP = "  "


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells and padded to exactly that width."""
    cut = clean(text, max_len=width, multiline=False)
    return cut + " " * max(0, width - cell_len(cut))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[str]:
    """Columns sized to their content; the title (last) takes what the terminal has left.

    The ref column is never cut: it is what a reader copies into the next command.
    """
    widths = [
        max([cell_len(h)] + [cell_len(row[i]) for row in rows]) for i, h in enumerate(headers)
    ]
    caps = {2: 28, 3: 12}  # workflow name, task type
    for column, cap in caps.items():
        widths[column] = min(widths[column], cap)
    fixed = sum(widths[:-1]) + len(_GAP) * (len(headers) - 1)
    spare = width - fixed - min(widths[-1], 40)
    if spare < 0:  # keep 40 cells of title if we can, shrinking the workflow name to 8
        give = min(-spare, max(0, widths[2] - 8))
        widths[2] -= give
        fixed -= give
    widths[-1] = max(10, min(widths[-1], width - fixed))
    lines = []
    for row in [list(headers), *rows]:
        cells = [_fit(cell, widths[i]) for i, cell in enumerate(row[:-1])]
        cells.append(clean(row[-1], max_len=widths[-1], multiline=False))
        lines.append(_GAP.join(cells).rstrip())
    return lines


def _run_choice(prefix: str, inbox: Sequence[Task], workflow_id: str | None) -> str | None:
    """The one run id ``prefix`` names among pending tasks (exact wins), or None if none does."""
    runs: dict[str, Task] = {}
    for task in inbox:
        if (workflow_id is None or task.workflow_id == workflow_id) and task.run_id.startswith(
            prefix
        ):
            runs.setdefault(task.run_id, task)
    if prefix in runs or len(runs) <= 1:
        return prefix if prefix in runs else next(iter(runs), None)
    lines = "\n".join(
        f"  {_one_line(run)}  {_one_line(task.workflow_label, 40)}"
        for run, task in sorted(runs.items())
    )
    raise CommandError(
        f"--run {_one_line(prefix, 60)!r} matches {len(runs)} runs; give more of the id:\n{lines}",
        USAGE,
    )


def _run_tasks(client: CommandCenterClient, workflow_id: str, run: str) -> list[Task]:
    """One run's pending tasks from its own endpoint; ``run`` may be a unique prefix."""
    doing = "listing the run's tasks"
    try:
        return client.list_run_pending_tasks(workflow_id, run)
    except NotFoundError as exc:
        server = _one_line(exc.error, 200)
    except APIError as exc:
        raise CommandError(describe_error(exc, doing=doing), exit_code_for(exc)) from None
    except InvalidIdError as exc:
        raise CommandError(describe_error(exc), USAGE) from None
    # Not a run id: perhaps a prefix of one, which only the inbox can expand.
    with _api("listing the inbox"):
        inbox = client.list_pending_tasks()
    full = _run_choice(run, inbox, workflow_id)
    if full is None or full == run:
        raise CommandError(
            f"No run {_one_line(run, 60)!r} in workflow {_one_line(workflow_id, 60)!r} "
            f"(404: {server}). `command-center tasks list` shows the pending ones.",
            USAGE,
        )
    with _api(doing):
        return client.list_run_pending_tasks(workflow_id, full)


@tasks.command(
    "list",
    short_help="List pending tasks (a table, or JSON for scripts).",
    epilog="\b\nExamples:\n"
    "  command-center tasks list\n"
    "  command-center tasks list --workflow wf_pr_review\n"
    "  command-center tasks list --run run_7f3a --json\n"
    "  command-center tasks list --json-array | jq -r '.[].id'\n"
    "  command-center tasks list --workflow wf_pr_review --run run_7f3a9c1e5b2d",
)
@connection_options
@click.option(
    "--json",
    "as_lines",
    is_flag=True,
    help="One task per line, as the server sent it (JSON Lines).",
)
@click.option(
    "--json-array", "as_array", is_flag=True, help="All tasks as one JSON array (for jq)."
)
@click.option("--workflow", "workflow_id", metavar="ID", help="Only tasks of this workflow id.")
@click.option(
    "--run", "run_id", metavar="ID", help="Only tasks of this run (its id or a unique prefix)."
)
@click.pass_context
def list_tasks(
    ctx: click.Context,
    as_lines: bool,
    as_array: bool,
    workflow_id: str | None,
    run_id: str | None,
) -> None:
    """List pending tasks: the table oldest first (stalled approvals cost money), JSON as served.

    For people, a table: REF (what the other commands take), age, workflow, type and title,
    cut to the terminal's width. For scripts, --json prints one raw task object per line and
    --json-array a single array; both are the server's JSON, ASCII-escaped.

    --workflow and --run filter the tenant inbox; given together they ask the run's own
    endpoint instead (which needs the project_contributor role).
    """
    if as_lines and as_array:
        raise CommandError("Choose one of --json and --json-array.", USAGE)
    _, client = open_client(ctx)
    with client:
        unreadable: list[UnreadableTask] = []
        if workflow_id and run_id:
            found = _run_tasks(client, workflow_id, run_id)
            inbox: Sequence[Task] = found
        else:
            with _api("listing the inbox"):
                report = client.list_pending_tasks_report()
            inbox = report.tasks
            unreadable = report.unreadable
            found = [t for t in inbox if workflow_id is None or t.workflow_id == workflow_id]
            if run_id:
                run = _run_choice(run_id, found, None)
                found = [t for t in found if t.run_id == run]
    if as_lines:
        for task in found:
            click.echo(_json_out(task.raw))
    elif as_array:
        click.echo(_json_out([task.raw for task in found], indent=2))
    else:
        _print_table(inbox, found, filtered=bool(workflow_id or run_id))
    if unreadable:
        _warn_unreadable(unreadable)


def _warn_unreadable(unreadable: Sequence[UnreadableTask]) -> None:
    """The entries that are not tasks, on stderr, and the documented exit code for it."""
    click.echo(
        f"warning: {len(unreadable)} entr{'y' if len(unreadable) == 1 else 'ies'} of the "
        "platform's answer could not be read as tasks (the others are listed):",
        err=True,
    )
    for entry in unreadable[:20]:
        raw = _one_line(json.dumps(entry.raw, ensure_ascii=True, default=repr), 120)
        click.echo(f"  entry {entry.index}: {_one_line(entry.reason, 120)} – {raw}", err=True)
    if len(unreadable) > 20:
        click.echo(f"  … and {len(unreadable) - 20} more", err=True)
    raise click.exceptions.Exit(PARTIAL)


def _print_table(inbox: Sequence[Task], found: Sequence[Task], *, filtered: bool) -> None:
    if not found:
        matching = " matching the filters" if filtered else ""
        click.echo(f"No pending tasks{matching}.", err=True)
        return
    refs = short_refs(inbox)
    found = sorted(
        found, key=lambda t: (t.created_at is None, t.created_at and t.created_at.timestamp())
    )
    rows = [
        [
            _one_line(refs.get(task.key, "/".join(task.key))),
            _age(task),
            _one_line(task.workflow_label),
            _one_line(task.task_type or "?"),
            _one_line(task.title),
        ]
        for task in found
    ]
    width = shutil.get_terminal_size().columns
    for line in _table(["REF", "AGE", "WORKFLOW", "TYPE", "TITLE"], rows, width):
        click.echo(line)


# -- show ------------------------------------------------------------------------------------------


def _indent(text: str, prefix: str) -> str:
    first, *rest = text.split("\n")
    return "\n".join([first, *(prefix + line if line else line for line in rest)])


def _value_text(field: PayloadField) -> str:
    value = field.value
    if field.type is FieldType.JSON or isinstance(value, bool) or value is None:
        if value is None and field.type is not FieldType.JSON:
            return "(empty)"
        return clean(json.dumps(value, indent=2, ensure_ascii=False))
    return clean(str(value))


def _field_lines(fields: Sequence[PayloadField]) -> list[str]:
    """One line per field: ✎ if editable, name (what --set takes), type, value; then notes."""
    names = [_one_line(field.name, 32) for field in fields]
    name_width = max(cell_len(name) for name in names)
    type_width = max(len(field.type.value) for field in fields)
    pad = " " * (4 + name_width + 2 + type_width + 2)
    lines = []
    for field, name in zip(fields, names, strict=True):
        mark = "✎" if field.editable else " "
        lead = f"  {mark} {_fit(name, name_width)}  {field.type.value:<{type_width}}  "
        lines.append((lead + _indent(_value_text(field), pad)).rstrip())
        notes = []
        if field.label != field.name.replace("_", " ").strip().capitalize():
            notes.append(f"label: {_one_line(field.label, 60)}")
        if field.options:
            notes.append("one of: " + ", ".join(_one_line(o, 40) for o in field.options))
        if field.required:
            notes.append("required")
        if notes:
            lines.append(pad + "; ".join(notes))
    return lines


def _show_text(task: Task) -> str:
    out: list[str] = []
    crumbs = [task.workflow_label, task.run_id, task.step_id or task.id]
    out.append(click.style(" › ".join(_one_line(c, 60) for c in crumbs), bold=True))
    created = ""
    if task.created_at is not None:
        created = f" (created {task.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"
    rows = [
        ("Ref", key_text(task.key)),
        ("Type", _one_line(task.task_type or "?")),
        ("Age", _age(task) + created),
        ("Title", _one_line(task.title)),
    ]
    if task.status and task.status != "pending":
        rows.append(("Status", _one_line(task.status)))
    out.extend(f"{label + ':':<7} {value}" for label, value in rows)
    if task.description:
        out += ["", click.style("Description", bold=True)]
        out += ["  " + line for line in clean(task.description).split("\n")]
    if task.fields:
        out += [
            "",
            click.style("Fields", bold=True) + "  (✎ editable: approve with --set NAME=VALUE)",
        ]
        out += _field_lines(task.fields)
    extra = task.payload.extra
    if extra:
        out += ["", click.style("Other payload keys", bold=True)]
        for key, value in extra.items():
            body = clean(json.dumps(value, indent=2, ensure_ascii=False))
            out.append(f"  {_one_line(key, 60)}: " + _indent(body, "  "))
    return "\n".join(out)


@tasks.command(
    "show",
    short_help="Everything about one pending task.",
    epilog="\b\nExamples:\n"
    "  command-center tasks show approve-adjustment\n"
    "  command-center tasks show run_7f3a/approve-review\n"
    "  command-center tasks show wf_pr_review/run_7f3a9c1e5b2d/approve-review --json | jq .\n\n"
    + _REF_HELP,
)
@connection_options
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="The task's raw JSON as the server sent it.")
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show one pending task: where it is, its age, title, description and fields.

    Editable fields are marked ✎ with their type (what `tasks approve --set` accepts); payload
    keys outside the convention are shown as JSON.
    """
    _, client = open_client(ctx)
    with client, _api("listing the inbox"):
        inbox = client.list_pending_tasks()
    target = _resolve(ref, inbox)
    if isinstance(target, FullRef):
        raise CommandError(
            f"{target} is not pending: it was completed, or it is not visible to this token. "
            "`command-center tasks list` shows what is pending.",
            USAGE,
        )
    click.echo(_json_out(target.raw, indent=2) if as_json else _show_text(target))


# -- approve / reject ------------------------------------------------------------------------------

Target = Task | FullRef | StoredRef

_KEY_OPTION = click.option(
    "--idempotency-key",
    metavar="KEY",
    help="The decision's Idempotency-Key (default: a new one, or the key of the same decision "
    "already in the outbox). Give the same KEY again to re-send the same decision safely.",
)


def _parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CommandError(f"--set takes NAME=VALUE, got {_one_line(pair, 60)!r}.", USAGE)
        if name in values:
            raise CommandError(f"--set {_one_line(name, 60)} is given twice.", USAGE)
        values[name] = text
    return values


_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number"}


def _parse_result_json(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"--result-json is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            USAGE,
        ) from None
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_KINDS.get(type(value), "a number")
        raise CommandError(f"--result-json must be a JSON object ({{...}}), got {kind}.", USAGE)
    if "approved" in value:
        raise CommandError(
            '--result-json may not hold "approved": the decision is the command itself.', USAGE
        )
    return value


def _names(fields: Sequence[PayloadField]) -> str:
    return ", ".join(_one_line(f.name, 40) for f in fields)


def _typed_sets(task: Task, texts: Mapping[str, str]) -> dict[str, Any]:
    """``--set`` values parsed against the task's editable fields; refusals name the field."""
    editable = {f.name: f for f in task.payload.editable_fields}
    shown = {f.name for f in task.fields}
    values: dict[str, Any] = {}
    for name, text in texts.items():
        field = editable.get(name)
        if field is None:
            what = "that field is not editable in" if name in shown else "no such field in"
            hint = (
                f"Editable fields: {_names(list(editable.values()))}."
                if editable
                else "This task has no editable fields; --result-json adds values to the result."
            )
            raise CommandError(
                f"--set {_one_line(name, 40)}: {what} {key_text(task.key)}. {hint}", USAGE
            )
        try:
            values[name] = parse_text(field, text)
        except FieldError as exc:
            raise CommandError(
                f"--set {_one_line(name, 40)}: expected {_expected(field)} "
                f"({field.type.value} field). {exc}",
                USAGE,
            ) from None
    return values


def _expected(field: PayloadField) -> str:
    kind = field.type
    if kind is FieldType.ENUM:
        return "one of " + ", ".join(_one_line(o, 40) for o in field.options or [])
    return {
        FieldType.STRING: "a string",
        FieldType.TEXT: "text",
        FieldType.INTEGER: "an integer",
        FieldType.NUMBER: "a number",
        FieldType.BOOLEAN: "a boolean (true/false)",
        FieldType.JSON: "JSON",
    }[kind]


def _lookup(client: CommandCenterClient, ref: str, settings: ConsoleSettings) -> Target:
    """The task ``ref`` names: pending in the inbox, or known from the outbox (a re-run)."""
    with _api("listing the inbox"):
        inbox = client.list_pending_tasks()
    try:
        return resolve_ref(ref, inbox)
    except RefError as exc:
        outbox = open_outbox()
        try:
            entries = outbox.entries(tuple(EntryState), **Where.of(settings).filter())
        finally:
            outbox.close()
        stored = stored_target(ref, entries)
        if stored is None:
            raise CommandError(exc.message, USAGE) from None
        return stored


def _stored_result(
    settings: ConsoleSettings, target: StoredRef, approved: bool, texts: Mapping[str, str]
) -> dict[str, Any] | None:
    """The result of the stored decision this re-run repeats; refuses one that differs."""
    outbox = open_outbox()
    try:
        entries = outbox.for_task(target.key, **Where.of(settings).filter())
    finally:
        outbox.close()
    for entry in entries:
        if entry.approved != approved:
            continue
        stored = entry.result or {}
        if all(name in stored and _same_text(stored[name], text) for name, text in texts.items()):
            return entry.result
    raise CommandError(
        f"{key_text(target.key)} is not pending, and the outbox holds no decision to "
        f"{'approve' if approved else 'reject'} it with these values, so --set cannot be "
        "checked. `command-center outbox` shows what is stored.",
        USAGE,
    )


def _same_text(value: Any, text: str) -> bool:
    """Whether ``text`` (a --set value) is how ``value`` would have been typed."""
    if isinstance(value, str):
        return value == text
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return str(value) == text


@tasks.command(
    "approve",
    short_help="Approve a pending task, optionally with edited values.",
    epilog="\b\nExamples:\n"
    "  command-center tasks approve run_7f3a/approve-review --yes\n"
    "  command-center tasks approve run_7a1d/review-extraction --set employee_count=250 \\\n"
    "      --set existing_customer=true --set industry=retail --yes\n"
    '  command-center tasks approve budget-approval --result-json \'{"po": "PO-1"}\' --yes\n\n'
    + _REF_HELP
    + "\n\n"
    + EXIT_CODES_HELP,
)
@connection_options
@click.argument("ref")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change an editable field (repeatable); VALUE is checked against the field's type.",
)
@click.option(
    "--result-json",
    metavar="JSON",
    help="A JSON object of more keys for the step's result.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask; required when not on a terminal.")
@_KEY_OPTION
@click.pass_context
def approve(
    ctx: click.Context,
    ref: str,
    sets: tuple[str, ...],
    result_json: str | None,
    yes: bool,
    idempotency_key: str | None,
) -> None:
    """Approve a pending task; its run resumes.

    The result sent holds every editable value – the task's defaults with --set applied – so
    downstream steps always find their keys, plus the keys of --result-json. A task with
    nothing editable and no options is approved with just {"approved": true}.

    A full WORKFLOW/RUN/TASK that is no longer pending is sent as given (the server answers
    whether it was already completed, exit 4); --set cannot be checked for it and is refused.
    """
    extra = _parse_result_json(result_json)
    texts = _parse_sets(sets)
    both = sorted(set(texts) & set(extra))
    if both:
        raise CommandError(
            f"{_one_line(', '.join(both), 80)} is given by both --set and --result-json.", USAGE
        )
    settings, token = open_connection(ctx)
    with sync_client(settings, token) as client:
        target = _lookup(client, ref, settings)
    original: dict[str, Any] | None = None
    if isinstance(target, Task):
        original = target.editable_values()
        result = decision_result(
            original, approved=True, edits=_typed_sets(target, texts), extra=extra
        )
    elif isinstance(target, StoredRef) and not extra:
        result = _stored_result(settings, target, True, texts)
    elif texts:
        raise CommandError(
            f"{target} is not pending in the inbox, so its fields and their types are "
            "unknown and --set cannot be checked. Use --result-json to send values as given.",
            USAGE,
        )
    else:
        result = decision_result({}, approved=True, extra=extra)
    decide(
        settings,
        token,
        target,
        approved=True,
        result=result,
        original=original or None,
        yes=yes,
        interactive=stdin_is_terminal(),
        idempotency_key=idempotency_key,
    )


@tasks.command(
    "reject",
    short_help="Reject a pending task, optionally saying why.",
    epilog="\b\nExamples:\n"
    "  command-center tasks reject budget-approval --reason 'over budget' --yes\n"
    "  command-center tasks reject wf_pr_review/run_29d8e7a4c0f6/approve-review --yes\n\n"
    + _REF_HELP
    + "\n\n"
    + EXIT_CODES_HELP,
)
@connection_options
@click.argument("ref")
@click.option("--reason", metavar="TEXT", help="Why; sent as the result's reason.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask; required when not on a terminal.")
@_KEY_OPTION
@click.pass_context
def reject(
    ctx: click.Context, ref: str, reason: str | None, yes: bool, idempotency_key: str | None
) -> None:
    """Reject a pending task; its run takes the rejection branch.

    A full WORKFLOW/RUN/TASK that is no longer pending is sent as given (exit 4 if it was
    already completed).
    """
    settings, token = open_connection(ctx)
    with sync_client(settings, token) as client:
        target = _lookup(client, ref, settings)
    decide(
        settings,
        token,
        target,
        approved=False,
        result=decision_result({}, approved=False, reason=reason),
        original=None,
        yes=yes,
        interactive=stdin_is_terminal(),
        idempotency_key=idempotency_key,
    )
