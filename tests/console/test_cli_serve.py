"""`command-center serve`: the console for a browser, on loopback by default."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_http_on_loopback() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "serve", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        page = None
        while time.monotonic() < deadline and page is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.1)
        assert page is not None and page.status_code == 200
        assert "Command Center" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_warns_beyond_loopback_and_passes_the_profile_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner
    from textual_serve.server import Server

    from console.cli import main

    started: list[tuple[str, str, int]] = []
    # textual-serve is the edge here: record what it would run instead of serving forever.
    monkeypatch.setattr(
        Server,
        "serve",
        lambda self, debug=False: started.append((self.command, self.host, self.port)),
    )
    result = CliRunner().invoke(
        main, ["--profile", "prod", "serve", "--host", "0.0.0.0", "--port", "8123"]
    )
    assert result.exit_code == 0, result.output
    assert "no authentication of its own" in result.output
    ((command, host, port),) = started
    assert (host, port) == ("0.0.0.0", 8123)
    assert command.endswith("-m console --profile prod")
