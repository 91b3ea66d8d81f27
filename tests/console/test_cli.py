"""The `command-center` command line: version, the console's required settings, stub-server."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from client import __version__
from console.cli import main


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_console_without_settings_says_what_is_missing(monkeypatch: object) -> None:
    runner = CliRunner(env={"COMMAND_CENTER_TOKEN": "", "COMMAND_CENTER_BASE_URL": ""})
    result = runner.invoke(main, ["--tenant", "acme"])
    assert result.exit_code == 2
    assert "Missing: --base-url, token" in result.output
    assert "command-center demo" in result.output


def test_stub_server_on_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["stub-server", "--port", str(port), "--seed", "empty"])
    assert result.exit_code == 1
    assert "Choose another --port" in result.output
    assert "Traceback" not in result.output
