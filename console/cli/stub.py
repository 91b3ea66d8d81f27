"""Commands that run the stub platform: ``stub-server``, ``demo`` and the browser ``serve``."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ._context import connection_options, given, is_loopback, read_token, resolve_connection

F = TypeVar("F", bound=Callable[..., Any])

# The demo stub's token, tenant and project (server_stub.auth), checked when the stub starts.
DEMO_IDENTITY = ("pat_demo_contributor", "demo", "demo-project")


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
@click.option(
    "--runs", type=click.IntRange(min=0), default=0, help="Also generate N runs (all statuses)."
)
@click.option(
    "--etags/--no-etags",
    default=True,
    show_default=True,
    help="Tag the inbox listing (ETag) and answer an unchanged poll with 304.",
)
def stub_server(
    host: str,
    port: int,
    seed: str,
    tasks: int,
    spawn_every: float | None,
    fail_rate: float,
    latency_ms: int,
    runs: int,
    etags: bool,
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
            entity_tags=etags,
            runs=runs,
        )
    except OSError as exc:
        raise click.ClickException(f"{exc.strerror or exc}. Choose another --port.") from None


@click.command()
@_data_options
def demo(tasks: int, spawn_every: float | None) -> None:
    """Open the console on an embedded stub server seeded with demo data.

    The stub serves real HTTP on a free loopback port for as long as the console runs.
    """
    from server_stub._socket import listening_socket

    from ..audit import AuditLog
    from ..launch import run_console
    from ..outbox import Outbox
    from ..settings import ConsoleSettings

    # Bind first: the console knows where to connect at once, and its first request waits in
    # the socket's backlog while the stub imports, generates its tasks and starts – all of it
    # in the background, while the UI paints.
    sock = listening_socket("127.0.0.1", 0)
    stub = _BackgroundStub(sock, tasks, spawn_every)
    settings = ConsoleSettings(
        base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
        tenant=DEMO_IDENTITY[1],
        project=DEMO_IDENTITY[2],
        profile="demo",
        # Generating and first listing 100,000 tasks takes longer than the usual timeout.
        request_timeout=max(30.0, tasks / 2000),
    )
    # Demo decisions go to a throw-away outbox and audit log, not the operator's real ones.
    with tempfile.TemporaryDirectory(prefix="command-center-demo-") as scratch:
        outbox = Outbox(Path(scratch) / "outbox.sqlite3")
        try:
            run_console(
                settings,
                DEMO_IDENTITY[0],
                outbox=outbox,
                audit=AuditLog(Path(scratch) / "audit.jsonl"),
            )
        finally:
            outbox.close()
            stub.stop()


class _BackgroundStub:
    """The demo's stub, imported, seeded and started in a thread on an already bound socket."""

    def __init__(self, sock: socket.socket, tasks: int, spawn_every: float | None) -> None:
        self._server: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(sock, tasks, spawn_every), name="demo-stub", daemon=True
        )
        self._thread.start()

    def _run(self, sock: socket.socket, tasks: int, spawn_every: float | None) -> None:
        try:
            from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, StubServer
            from server_stub.runner import build_state

            # The console's side names these without importing the stub first.
            if (DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT) != DEMO_IDENTITY:
                raise RuntimeError("DEMO_IDENTITY no longer matches server_stub.auth")
            server = StubServer(build_state("demo", tasks), spawn_every=spawn_every, sock=sock)
            self._server = server.start()
        except BaseException as exc:  # shown after the console closes; the UI says "offline"
            self.error = exc
            sock.close()

    def stop(self) -> None:
        self._thread.join()
        if self._server is not None:
            self._server.stop()
        if self.error is not None:
            raise click.ClickException(f"The demo stub failed to start: {self.error!r}")


def _public_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An http(s) origin (and path) the page, its files and its WebSocket are reached at."""
    from ..serve_guard import parse_origin

    if value is not None:
        try:
            parse_origin(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--demo", "demo_mode", is_flag=True, help="Serve the demo console (embedded stub).")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host beyond loopback (guarded by the URL's secret only; no TLS of its own).",
)
@click.option(
    "--public-url",
    metavar="URL",
    callback=_public_url,
    help="The address browsers use, behind a reverse proxy (e.g. https://cc.example.com).",
)
@connection_options
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    demo_mode: bool,
    allow_remote: bool,
    public_url: str | None,
) -> None:
    """Serve the console in a web browser (textual-serve), one console per browser tab.

    Each tab runs `command-center` with the active profile (or `command-center demo`). Only
    the printed URL opens it: it carries a secret made for this launch.
    """
    from ..credentials import ENV_VAR
    from ..serve_guard import GuardedServer

    host = host.strip("[]")
    if not is_loopback(host):
        if not allow_remote:
            raise click.UsageError(
                f"--host {host} serves beyond this machine; add --allow-remote if you mean it "
                "(or keep 127.0.0.1 and use an SSH tunnel)."
            )
        if host in ("0.0.0.0", "::") and public_url is None:
            raise click.UsageError(
                f"--host {host} listens on every interface: give --public-url with the address "
                "browsers will use (only its Host is answered)."
            )
        click.echo(
            f"Serving on {host}: only the secret in the printed URL protects your console, "
            "and serve has no TLS of its own – put it behind a TLS proxy (--public-url https://…).",
            err=True,
        )
    child_env: dict[str, str] = {}
    if given(ctx).get("token_stdin") and not demo_mode:
        # Read once, here: a tab's stdin is the browser terminal. Children get it by environment.
        child_env[ENV_VAR] = read_token(ctx, resolve_connection(ctx)).token
    server = GuardedServer(
        _tab_command(ctx, demo_mode),
        host=host,
        port=port,
        public_url=public_url,
        title="Command Center",
        child_env=child_env,
    )
    try:
        server.serve()
    except OSError as exc:
        raise click.ClickException(
            f"Cannot serve on {host}:{port}: {exc.strerror or exc}."
        ) from None


def _tab_command(ctx: click.Context, demo_mode: bool) -> str:
    """The shell command each tab runs: the connection flags, minus those that read stdin."""
    import shlex
    import sys

    argv = [sys.executable, "-m", "console"]
    if demo_mode:
        return shlex.join([*argv, "demo"])
    for name, value in given(ctx).items():
        if name == "token_stdin":
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv += [flag, str(value)]
    return shlex.join(argv)
