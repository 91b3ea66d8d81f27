"""The ``command-center`` command: the console itself and the commands around it."""

from __future__ import annotations

import os

import click

from client import __version__


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="command-center")
@click.option("--base-url", envvar="COMMAND_CENTER_BASE_URL", help="API base URL.")
@click.option("--tenant", envvar="COMMAND_CENTER_TENANT", help="Tenant (workspace slug).")
@click.option("--project", envvar="COMMAND_CENTER_PROJECT", help="Project id.")
@click.pass_context
def main(ctx: click.Context, base_url: str | None, tenant: str | None, project: str | None) -> None:
    """Command Center: triage the human tasks that pause AI-agent workflow runs.

    Without a subcommand, opens the console. The token is read from COMMAND_CENTER_TOKEN.
    """
    if ctx.invoked_subcommand is not None:
        return
    token = os.environ.get("COMMAND_CENTER_TOKEN", "").strip()
    missing = [
        name
        for name, value in (("--base-url", base_url), ("--tenant", tenant), ("token", token))
        if not value
    ]
    if missing:
        raise click.UsageError(
            "To open the console, give --base-url and --tenant (or COMMAND_CENTER_BASE_URL and "
            "COMMAND_CENTER_TENANT) and set COMMAND_CENTER_TOKEN. Missing: "
            + ", ".join(missing)
            + ". To try it without a platform: command-center demo"
        )
    from .launch import run_console
    from .settings import ConsoleSettings

    assert base_url and tenant
    run_console(ConsoleSettings(base_url=base_url, tenant=tenant, project=project), token)


@main.command("stub-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--seed",
    type=click.Choice(["demo", "empty"]),
    default="demo",
    show_default=True,
    help="Start with the demo tasks or with an empty inbox.",
)
@click.option("--tasks", type=click.IntRange(min=0), default=0, help="Also generate N tasks.")
@click.option(
    "--spawn-every",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Keep creating a new task every SECONDS.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of requests answered with a 5xx or a dropped connection.",
)
@click.option(
    "--latency-ms", type=click.IntRange(min=0), default=0, show_default=True, help="Added delay."
)
def stub_server(
    host: str,
    port: int,
    seed: str,
    tasks: int,
    spawn_every: float | None,
    fail_rate: float,
    latency_ms: int,
) -> None:
    """Serve the stub of the platform's /v1 task API (for demos and tests)."""
    from server_stub.runner import serve

    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"Warning: binding {host} exposes the stub (and its demo tokens) beyond this machine.",
            err=True,
        )
    try:
        serve(
            host=host,
            port=port,
            seed=seed,
            tasks=tasks,
            spawn_every=spawn_every,
            fail_rate=fail_rate,
            latency_ms=latency_ms,
            echo=click.echo,
        )
    except OSError as exc:
        raise click.ClickException(f"{exc.strerror or exc}. Choose another --port.") from None


@main.command()
@click.option("--tasks", type=click.IntRange(min=0), default=0, help="Also generate N tasks.")
@click.option(
    "--spawn-every",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Keep creating a new task every SECONDS.",
)
def demo(tasks: int, spawn_every: float | None) -> None:
    """Open the console on an embedded stub server seeded with demo data.

    The stub serves real HTTP on a free loopback port for as long as the console runs.
    """
    from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, StubServer
    from server_stub.runner import build_state

    from .launch import run_console
    from .settings import ConsoleSettings

    with StubServer(build_state("demo", tasks), spawn_every=spawn_every) as server:
        settings = ConsoleSettings(
            base_url=server.url, tenant=DEMO_TENANT, project=DEMO_PROJECT, profile="demo"
        )
        run_console(settings, DEMO_CONTRIBUTOR_TOKEN)
