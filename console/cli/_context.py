"""Connection options accepted by ``command-center`` and by every subcommand, and their resolution.

``command-center --base-url X tasks list`` and ``command-center tasks list --base-url X`` mean the
same; a value given on the subcommand wins. Values land in ``ctx.meta``, which click shares
between a command and its subcommands.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import httpx

from client import CommandCenterClient, Secret, is_loopback_url

from ..config import (
    ENV_PREFIX,
    ConfigError,
    ConfigFile,
    Profile,
    active_profile_name,
    config_path,
    load_profile,
    read_config,
    to_console_settings,
)
from ..credentials import CredentialsError, CredentialStore, FoundToken
from ..settings import ConsoleSettings
from ._exit import AUTH, USAGE, CommandError

F = TypeVar("F", bound=Callable[..., Any])
_META_KEY = "command_center.connection"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and param.name:
        ctx.meta.setdefault(_META_KEY, {})[param.name] = value
    return value


def connection_options(f: F) -> F:
    """``--profile --base-url --tenant --project --allow-insecure-http`` on a command."""
    options = [
        click.option("--profile", expose_value=False, callback=_remember, help="Profile to use."),
        click.option("--base-url", expose_value=False, callback=_remember, help="API base URL."),
        click.option(
            "--tenant", expose_value=False, callback=_remember, help="Tenant (workspace slug)."
        ),
        click.option("--project", expose_value=False, callback=_remember, help="Project id."),
        click.option(
            "--allow-insecure-http",
            is_flag=True,
            flag_value=True,
            default=None,
            expose_value=False,
            callback=_remember,
            help="Allow plain http:// to a host other than this machine.",
        ),
        click.option(
            "--token-stdin",
            is_flag=True,
            flag_value=True,
            default=None,
            expose_value=False,
            callback=_remember,
            help="Read the token from standard input (first line).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def given(ctx: click.Context) -> dict[str, Any]:
    return dict(ctx.meta.get(_META_KEY, {}))


@dataclass(frozen=True)
class Connection:
    profile_name: str
    profile: Profile
    config: ConfigFile

    def settings(self) -> ConsoleSettings:
        try:
            settings = to_console_settings(self.profile_name, self.profile)
        except ConfigError as exc:
            raise CommandError(str(exc), USAGE) from None
        check_transport(settings.base_url, allow_insecure_http=self.profile.allow_insecure_http)
        return settings


def resolve_connection(ctx: click.Context, *, creating: bool = False) -> Connection:
    """The active profile with environment and flags on top.

    A profile named explicitly (flag or ``COMMAND_CENTER_PROFILE``) must exist, unless the
    command is the one ``creating`` it (login).
    """
    flags = given(ctx)
    flags.pop("token_stdin", None)
    chosen = flags.pop("profile", None)
    try:
        config = read_config(config_path())
        name = active_profile_name(chosen, config)
        explicitly = bool(chosen or os.environ.get(f"{ENV_PREFIX}PROFILE", "").strip())
        profile = load_profile(name, config, flags=flags, must_exist=explicitly and not creating)
    except ConfigError as exc:
        raise CommandError(str(exc), USAGE) from None
    return Connection(name, profile, config)


def is_loopback(host: str) -> bool:
    """This machine only: a loopback address, or a name that resolves to nothing else."""
    bare = host.strip("[]")
    return is_loopback_url(f"http://[{bare}]/" if ":" in bare else f"http://{bare}/")


def check_transport(base_url: str, *, allow_insecure_http: bool) -> None:
    """Refuse sending a token in clear text across a network."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:
        raise CommandError(f"Not a valid URL: {base_url!r}", USAGE) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise CommandError(f"The base URL must be http(s)://host…, got {base_url!r}", USAGE)
    if url.scheme == "http" and not is_loopback(url.host) and not allow_insecure_http:
        raise CommandError(
            f"Refusing plain http:// to {url.host}: the token would cross the network "
            "unencrypted. Use https://, or pass --allow-insecure-http if you really mean it.",
            USAGE,
        )


def request_token_stdin(ctx: click.Context) -> None:
    """Act as if --token-stdin was given (for ``login --with-token``, its deprecated alias)."""
    ctx.meta.setdefault(_META_KEY, {})["token_stdin"] = True


def stdin_token(ctx: click.Context) -> str | None:
    """The first line of standard input if --token-stdin was given, else None.

    The one place a token is read from stdin, so every command (login included) takes it the
    same way. Empty input is an error rather than a fall-back to another, stored identity.
    """
    if not given(ctx).get("token_stdin"):
        return None
    stream = sys.stdin
    if stream is None:
        raise CommandError("--token-stdin was given but there is no standard input.", AUTH)
    with contextlib.suppress(AttributeError, ValueError):
        if stream.isatty():  # a terminal: say why nothing seems to happen
            click.echo("Reading the token from standard input (one line)…", err=True)
    token = stream.readline().strip()
    if not token:
        raise CommandError("--token-stdin was given but standard input was empty.", AUTH)
    return token


def read_token(ctx: click.Context, connection: Connection) -> FoundToken:
    """The token by the documented order: --token-stdin / environment, keyring, insecure file."""
    piped = stdin_token(ctx)
    try:
        found = CredentialStore(connection.profile_name).find(stdin_token=piped)
    except CredentialsError as exc:
        raise CommandError(str(exc), AUTH) from None
    if found is None:
        name = connection.profile_name
        raise CommandError(
            f"No token for profile {name!r}. Run `command-center login --profile {name}`, "
            "set COMMAND_CENTER_TOKEN, or pipe one in with --token-stdin.",
            AUTH,
        )
    return found


def open_connection(ctx: click.Context) -> tuple[ConsoleSettings, Secret]:
    """The settings and token a scriptable command connects with (masked in every repr)."""
    connection = resolve_connection(ctx)
    settings = connection.settings()
    return settings, Secret(read_token(ctx, connection).token)


def stdin_is_terminal() -> bool:
    """Whether someone can answer a question: standard input is a terminal."""
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def say_wait(seconds: float, reason: str) -> None:
    """A script's operator learns why the command sits still (waits over 3 s only)."""
    click.echo(f"waiting {seconds:.0f} s before trying again: {reason}", err=True)


def sync_client(settings: ConsoleSettings, token: str | Secret) -> CommandCenterClient:
    return CommandCenterClient(
        settings.base_url,
        token,
        settings.tenant,
        settings.project,
        on_wait=say_wait,
        **settings.client_options(),
    )


def open_client(ctx: click.Context) -> tuple[ConsoleSettings, CommandCenterClient]:
    """A ready sync client for scriptable commands (the caller closes it)."""
    settings, token = open_connection(ctx)
    return settings, sync_client(settings, token)
