"""Commands that run the stub platform: ``stub-server``, ``demo`` and the browser ``serve``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ._context import connection_options, given, is_loopback

F = TypeVar("F", bound=Callable[..., Any])


def _data_options(f: F) -> F:
    """``--tasks`` and ``--spawn-every``: what the stub holds beyond its seed."""
    f = click.option(
        "--spawn-every",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="SECONDS",
        help="Keep creating a new task every SECONDS.",
    )(f)
    return click.option(
        "--tasks", type=click.IntRange(min=0), default=0, help="Also generate N tasks."
    )(f)


@click.command("stub-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--seed",
    type=click.Choice(["demo", "empty"]),
    default="demo",
    show_default=True,
    help="Start with the demo tasks or with an empty inbox.",
)
@_data_options
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


@click.command()
@_data_options
def demo(tasks: int, spawn_every: float | None) -> None:
    """Open the console on an embedded stub server seeded with demo data.

    The stub serves real HTTP on a free loopback port for as long as the console runs.
    """
    from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, StubServer
    from server_stub.runner import build_state

    from ..audit import AuditLog
    from ..launch import run_console
    from ..outbox import Outbox
    from ..settings import ConsoleSettings

    # Demo decisions go to a throw-away outbox and audit log, not the operator's real ones.
    with (
        tempfile.TemporaryDirectory(prefix="command-center-demo-") as scratch,
        StubServer(build_state("demo", tasks), spawn_every=spawn_every) as server,
    ):
        settings = ConsoleSettings(
            base_url=server.url, tenant=DEMO_TENANT, project=DEMO_PROJECT, profile="demo"
        )
        outbox = Outbox(Path(scratch) / "outbox.sqlite3")
        try:
            run_console(
                settings,
                DEMO_CONTRIBUTOR_TOKEN,
                outbox=outbox,
                audit=AuditLog(Path(scratch) / "audit.jsonl"),
            )
        finally:
            outbox.close()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--demo", "demo_mode", is_flag=True, help="Serve the demo console (embedded stub).")
@connection_options
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, demo_mode: bool) -> None:
    """Serve the console in a web browser (textual-serve), one console per browser tab.

    Each tab runs `command-center` with the active profile (or `command-center demo`).
    """
    import shlex
    import sys

    from textual_serve.server import Server

    if not is_loopback(host):
        click.echo(
            f"Warning: serving on {host}: textual-serve has no authentication of its own, so "
            "anyone who can reach this port gets a console with your token. Prefer 127.0.0.1 "
            "and an SSH tunnel.",
            err=True,
        )
    argv = [sys.executable, "-m", "console"]
    if demo_mode:
        argv.append("demo")
    else:
        for name, value in given(ctx).items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                argv.append(flag)
            elif value not in (None, False):
                argv += [flag, str(value)]
    Server(shlex.join(argv), host=host, port=port, title="Command Center").serve()
