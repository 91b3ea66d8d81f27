"""The ``command-center`` command: the console itself and the commands around it.

Commands live in modules named for what they do: ``stub`` (stub-server, demo, serve), ``auth``
(login, logout, profiles), ``tasks`` (scriptable list/show/approve/reject), ``runs`` (the runs
feed and run control: list/show/events/pause/resume/stop).
"""

from __future__ import annotations

import importlib
import sys

import click

from client import __version__

from ._context import Connection, connection_options, read_token, resolve_connection
from ._exit import EXIT_CODES_HELP, INTERRUPTED, USAGE, CommandError

# Subcommand → module that defines it. Imported when invoked (or listed by --help), so opening
# the console does not load the code of every other command first.
_SUBCOMMANDS = {
    "audit": "records",
    "demo": "stub",
    "login": "auth",
    "logout": "auth",
    "outbox": "records",
    "profiles": "auth",
    "runs": "runs",
    "serve": "stub",
    "stub-server": "stub",
    "tasks": "tasks",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _SUBCOMMANDS.get(cmd_name)
        if module is None:
            return super().get_command(ctx, cmd_name)
        commands = importlib.import_module(f".{module}", __name__)
        command = getattr(commands, cmd_name.replace("-", "_"))
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; Ctrl-C ends it with exit 130 and one line, not click's "Aborted!"
        (exit 1, which reads as an API error) and never a traceback."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            pass
        except click.Abort as exc:
            # click's prompts turn Ctrl-C into Abort; an Abort of its own (EOF) stays as it is.
            if not isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
                raise
        _say_interrupted()
        raise click.exceptions.Exit(INTERRUPTED)


def _say_interrupted() -> None:
    try:
        # The terminal already echoed "^C"; start a fresh line there, not in a log file.
        fresh_line = sys.stderr.isatty()
    except (AttributeError, ValueError):
        fresh_line = False
    click.echo(("\n" if fresh_line else "") + "Interrupted.", err=True)


@click.group(
    cls=_LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, "-V", "--version", prog_name="command-center")
@connection_options
@click.option(
    "--filter",
    "filter_text",
    metavar="TEXT",
    help="Open the inbox filtered by TEXT (the inbox's filter language).",
)
@click.option(
    "--view",
    "view_name",
    metavar="NAME",
    help="Open the inbox on the profile's named view NAME (a [profiles.<name>.views] entry).",
)
@click.pass_context
def main(ctx: click.Context, filter_text: str | None, view_name: str | None) -> None:
    """Command Center: triage the human tasks that pause AI-agent workflow runs.

    Without a subcommand, opens the console on the active profile.
    """
    from ..crash import disable_core_dumps

    disable_core_dumps()  # every command may hold the token: no core file may keep it
    if ctx.invoked_subcommand is not None:
        if filter_text is not None or view_name is not None:
            flag = "--filter" if filter_text is not None else "--view"
            raise CommandError(
                f"{flag} chooses what the console opens on; it does not apply to "
                f"`command-center {ctx.invoked_subcommand}`.",
                USAGE,
            )
        return
    if filter_text is not None and view_name is not None:
        raise CommandError(
            "--filter and --view both choose the inbox's starting filter: use one.", USAGE
        )
    from dataclasses import replace

    from ..launch import run_console

    connection = resolve_connection(ctx)
    settings = connection.settings()
    start_filter, start_view = _start_filter(connection, filter_text, view_name)
    settings = replace(settings, start_filter=start_filter, start_view=start_view)
    run_console(settings, read_token(ctx, connection).token)


def _start_filter(
    connection: Connection, filter_text: str | None, view_name: str | None
) -> tuple[str | None, str | None]:
    """The inbox's starting filter text and the name of the view it came from (if one did)."""
    from ..config import filter_text_problem

    if filter_text is not None:
        problem = filter_text_problem(filter_text)
        if problem is not None:
            raise CommandError(f"--filter {problem}.", USAGE)
        return filter_text, None
    if view_name is None:
        return None, None
    views = connection.profile.views
    if view_name in views:
        return views[view_name], view_name
    profile = connection.profile_name
    header = f'"{profile}"' if "." in profile else profile  # a dotted name is quoted in TOML
    if views:
        raise CommandError(
            f"No view {view_name!r} in profile {profile!r} (views: {', '.join(views)}).", USAGE
        )
    raise CommandError(
        f"Profile {profile!r} has no views. Add one to {connection.config.path}, e.g.\n\n"
        f"    [profiles.{header}.views]\n"
        f'    mine = "type:review !new"\n\n'
        f"then open it with: command-center --view mine",
        USAGE,
    )
