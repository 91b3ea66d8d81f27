"""``login``, ``logout`` and ``profiles``: who the operator is, per environment."""

from __future__ import annotations

import os

import click

from client import APIError, CommandCenterClient

from ..config import config_path, save_profile
from ..credentials import ENV_VAR, CredentialsError, CredentialStore
from ..error_text import describe_error
from ..safe_text import clean
from ._context import (
    connection_options,
    request_token_stdin,
    resolve_connection,
    say_wait,
    stdin_is_terminal,
    stdin_token,
)
from ._exit import AUTH, USAGE, CommandError, exit_code_for


def _with_token(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        click.echo("warning: --with-token is deprecated; use --token-stdin.", err=True)
        request_token_stdin(ctx)


def _token_to_check(ctx: click.Context) -> str:
    """The token login checks: --token-stdin, else COMMAND_CENTER_TOKEN, else a hidden prompt.

    Scripts and CI never sit at a prompt nobody sees: without a terminal and without either
    source, login says what to do instead.
    """
    piped = stdin_token(ctx)
    if piped is not None:
        return piped
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        click.echo(
            f"Using the token in {ENV_VAR} (while it is set, it is used before the stored one).",
            err=True,
        )
        return from_env
    if not stdin_is_terminal():
        raise CommandError(
            f"No token to check: standard input is not a terminal, so there is no one to ask. "
            f"Pipe the token in with --token-stdin, or set {ENV_VAR}. Nothing was stored.",
            USAGE,
        )
    return str(click.prompt("Personal access token", hide_input=True)).strip()


@click.command()
@connection_options
@click.option(
    "--with-token",
    is_flag=True,
    hidden=True,
    expose_value=False,
    callback=_with_token,
    help="Deprecated alias of --token-stdin.",
)
@click.option(
    "--insecure-storage",
    is_flag=True,
    help="Without a usable keyring: keep the token in a file only you can read (mode 0600).",
)
@click.pass_context
def login(ctx: click.Context, insecure_storage: bool) -> None:
    """Check a personal access token against the API, store it, and save the profile.

    The token is read from --token-stdin, else COMMAND_CENTER_TOKEN, else asked for (hidden,
    only on a terminal). It goes to the OS keyring (service command-center-tui:<profile>); a
    plaintext backend such as keyrings.alt's PlaintextKeyring is not a keyring and is refused,
    even when selected with PYTHON_KEYRING_BACKEND. The profile's base URL, tenant and project
    go to the config file, so later commands need no flags.

    \b
    Examples:
      command-center login --profile prod --base-url https://api.agentruntime.io \\
          --tenant acme --project proj_42
      echo "$PAT" | command-center login --profile ci --token-stdin --insecure-storage
    """
    connection = resolve_connection(ctx, creating=True)
    settings = connection.settings()
    try:
        store = CredentialStore(connection.profile_name)
        if not insecure_storage:
            store.check_keyring()  # refuse before asking for a token that could not be kept
    except CredentialsError as exc:
        raise CommandError(str(exc), AUTH) from None
    token = _token_to_check(ctx)
    if not token:
        raise CommandError("No token given: nothing was stored.", USAGE)
    try:
        with CommandCenterClient(
            settings.base_url,
            token,
            settings.tenant,
            settings.project,
            max_retries=1,
            on_wait=say_wait,
            **settings.client_options(),
        ) as client:
            visible = len(client.list_pending_tasks())
    except APIError as exc:
        message = describe_error(exc, doing="checking the token")
        raise CommandError(f"{message} Nothing was stored.", exit_code_for(exc)) from None
    try:
        found = store.store(token, insecure_storage=insecure_storage)
    except CredentialsError as exc:
        raise CommandError(str(exc), AUTH) from None
    save_profile(
        config_path(),
        connection.profile_name,
        base_url=settings.base_url,
        tenant=settings.tenant,
        project=settings.project,
    )
    scope = settings.tenant + (f"/{settings.project}" if settings.project else "")
    click.echo(
        f"Logged in to {clean(settings.base_url)} as {clean(scope)} "
        f"(profile {connection.profile_name}); {visible} pending task(s) visible."
    )
    click.echo(f"Token stored in {found.where}.")
    if insecure_storage:
        click.echo(
            "Note: --insecure-storage keeps the token in a plain file readable only by you; "
            "anyone with your account (or root) can read it.",
            err=True,
        )


@click.command()
@connection_options
@click.pass_context
def logout(ctx: click.Context) -> None:
    """Remove the profile's token from the keyring and the token file."""
    connection = resolve_connection(ctx, creating=True)
    try:
        removed = CredentialStore(connection.profile_name).remove()
    except CredentialsError as exc:
        raise CommandError(str(exc), AUTH) from None
    if removed:
        for place in removed:
            click.echo(f"Removed the token from {place}.")
    else:
        click.echo(f"No stored token for profile {connection.profile_name!r}.")
    if os.environ.get(ENV_VAR, "").strip():
        click.echo(f"{ENV_VAR} is still set in your environment: unset it too.", err=True)


@click.command()
@connection_options
@click.pass_context
def profiles(ctx: click.Context) -> None:
    """List the profiles, mark the active one, and say where each token lives."""
    connection = resolve_connection(ctx, creating=True)
    config = connection.config
    names = sorted(set(config.profiles) | {connection.profile_name})
    if not config.exists:
        click.echo(f"No config file yet ({config.path}); `command-center login` creates it.")
    for name in names:
        section = config.profiles.get(name, {})
        active = name == connection.profile_name
        base_url = section.get("base_url") or (connection.profile.base_url if active else None)
        tenant = section.get("tenant") or (connection.profile.tenant if active else None)
        project = section.get("project") or (connection.profile.project if active else None)
        try:
            where = CredentialStore(name).describe()
        except CredentialsError as exc:
            where = f"unusable: {exc}"
        scope = f"{tenant or '?'}" + (f"/{project}" if project else "")
        mark = "*" if active else " "
        click.echo(
            f"{mark} {name:<16} {clean(str(base_url or '(no base URL)')):<40} "
            f"{clean(scope):<28} token: {where}"
        )
