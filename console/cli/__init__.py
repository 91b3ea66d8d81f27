"""The ``command-center`` command: the console itself and the commands around it.

Commands live in modules named for what they do: ``stub`` (stub-server, demo, serve), ``auth``
(login, logout, profiles), ``tasks`` (scriptable list/show/approve/reject).
"""

from __future__ import annotations

import click

from client import __version__

from ._context import connection_options, read_token, resolve_connection
from ._exit import EXIT_CODES_HELP
from .auth import login, logout, profiles
from .records import audit, outbox
from .stub import demo, serve, stub_server
from .tasks import tasks


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, "-V", "--version", prog_name="command-center")
@connection_options
@click.pass_context
def main(ctx: click.Context) -> None:
    """Command Center: triage the human tasks that pause AI-agent workflow runs.

    Without a subcommand, opens the console on the active profile.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..launch import run_console

    connection = resolve_connection(ctx)
    settings = connection.settings()
    run_console(settings, read_token(ctx, connection).token)


for command in (stub_server, demo, serve, login, logout, profiles, outbox, audit):
    main.add_command(command)
main.add_command(tasks)
