"""Running the stub over real HTTP: in a background thread (tests, demo) or in the foreground (CLI).

Tests need real loopback HTTP for what in-process transports cannot show – dropped connections,
concurrent requests on separate sockets – so ``StubServer`` starts uvicorn in a daemon thread on
a socket it binds itself (port 0: the OS picks a free port, known before the server starts) and
returns only once the server accepts connections.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from ._socket import listening_socket
from .app import create_app
from .auth import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, DEMO_VIEWER_TOKEN, Principal
from .faults import FaultInjector
from .scenarios import generate_runs, generate_tasks, seed_demo
from .state import StubState

__all__ = ["StubServer", "serve"]


def _config(
    app: FastAPI, host: str, port: int, *, embedded: bool, access_log: bool = False
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",
        http="h11",
        lifespan="on",
        access_log=access_log,
        log_level="info" if access_log else "warning",
        # Embedded: leave the process's logging alone (pytest captures it, a TUI owns the screen).
        log_config=None if embedded else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=2,
    )


class StubServer:
    """The stub app served by uvicorn in a daemon thread on 127.0.0.1; a context manager.

    Pass either a ready ``app`` or the options of ``create_app`` (``state``, ``tokens``,
    ``faults``, ``spawn_every``). ``url`` is known once started.
    """

    def __init__(
        self,
        state: StubState | None = None,
        *,
        app: FastAPI | None = None,
        tokens: Mapping[str, Principal] | None = None,
        faults: FaultInjector | None = None,
        spawn_every: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        sock: socket.socket | None = None,
    ) -> None:
        if app is None:
            app = create_app(state, tokens, faults=faults, spawn_every=spawn_every)
        elif state is not None or tokens is not None or faults is not None or spawn_every:
            raise ValueError("pass either app or create_app's options, not both")
        self.app = app
        self.state: StubState = app.state.stub
        self.faults: FaultInjector | None = app.state.faults
        self.host = host
        self.startup_timeout = startup_timeout
        self._config = _config(app, host, port, embedded=True)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._url: str | None = None
        # A socket bound (and listening) by the caller, e.g. before the stub was even imported.
        self._sock = sock

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._url is None:
            raise RuntimeError("the stub server is not running; call start() first")
        return self._url

    def start(self) -> StubServer:
        """Start serving; returns once connections are accepted, or raises ``RuntimeError``."""
        if self._thread is not None:
            raise RuntimeError("the stub server was already started")
        sock = self._sock or listening_socket(self.host, self._config.port)
        port = sock.getsockname()[1]
        server = uvicorn.Server(self._config)

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # SystemExit on a failed startup, for one
                self._error = exc
            finally:
                sock.close()

        self._server = server
        self._thread = threading.Thread(target=run, name=f"stub-server:{port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the stub server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the stub server did not start within {self.startup_timeout} s")
            time.sleep(0.002)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"http://{host}:{port}"
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Shut down (connections closed, lifespan ended) and join the thread. Idempotent."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("the stub server did not stop")
        self._server = self._thread = None
        self._url = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def build_state(seed: str = "demo", tasks: int = 0, runs: int = 0) -> StubState:
    """A state seeded with the demo (or empty) plus ``tasks`` generated tasks and ``runs``
    generated runs (in every status; a tenth of them wait on a task)."""
    if seed not in ("demo", "empty"):
        raise ValueError(f"seed must be 'demo' or 'empty', got {seed!r}")
    state = StubState()
    if seed == "demo":
        seed_demo(state)
    if tasks:
        generate_tasks(state, tasks)
    if runs:
        generate_runs(state, runs)
    return state


def _counts(**amounts: int) -> list[str]:
    return [f"{n} {name}" for name, n in amounts.items() if n]


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: str = "demo",
    tasks: int = 0,
    spawn_every: float | None = None,
    fail_rate: float = 0.0,
    latency_ms: float = 0,
    echo: Callable[[str], object] = print,
    *,
    access_log: bool = False,
    entity_tags: bool = True,
    runs: int = 0,
) -> None:
    """Serve the stub in the foreground until Ctrl-C; print its URL and the demo identity.

    For ``command-center stub-server``. ``port=0`` picks a free port.
    """
    faults = FaultInjector(fail_rate, latency_ms) if fail_rate or latency_ms else None
    if tasks or runs:
        echo(f"Generating {' and '.join(_counts(tasks=tasks, runs=runs))}…")
    started = time.perf_counter()
    state = build_state(seed, tasks, runs)
    if tasks or runs:
        echo(f"Generated in {time.perf_counter() - started:.1f} s.")
    app = create_app(state, faults=faults, spawn_every=spawn_every, entity_tags=entity_tags)
    config = _config(app, host, port, embedded=False, access_log=access_log)
    sock = listening_socket(host, port)
    bound = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    echo(
        f"Stub server on http://{shown_host}:{bound} "
        f"({state.pending_count} pending tasks, {state.run_count} runs)"
    )
    echo(f"  tenant   {DEMO_TENANT}")
    echo(f"  project  {DEMO_PROJECT}")
    echo(f"  tokens   {DEMO_CONTRIBUTOR_TOKEN}  (project_contributor: read, approve, reject)")
    echo(f"           {DEMO_VIEWER_TOKEN}       (project_viewer: read only)")
    if spawn_every:
        echo(f"  a new task every {spawn_every:g} s")
    if faults is not None:
        echo(f"  faults   fail rate {fail_rate:g}, latency {latency_ms:g} ms")
    if not entity_tags:
        echo("  no ETags (every poll of the inbox gets the whole listing)")
    echo("Press Ctrl-C to stop.")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled; it has shut down cleanly by now
    finally:
        sock.close()
    if faults is not None:
        echo(f"Injected faults: {faults.report()}")
