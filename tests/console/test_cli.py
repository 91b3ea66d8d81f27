"""The `command-center` command line: version, the console's required settings, stub-server."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from client import __version__
from console.cli import main


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_console_without_settings_says_what_is_missing(tmp_path: Path) -> None:
    runner = CliRunner(
        env={
            "COMMAND_CENTER_TOKEN": "",
            "COMMAND_CENTER_BASE_URL": "",
            "COMMAND_CENTER_PROFILE": "",
            "COMMAND_CENTER_CONFIG": str(tmp_path / "config.toml"),
        }
    )
    result = runner.invoke(main, ["--tenant", "acme"])
    assert result.exit_code == 2
    assert "no base_url" in result.output and "--base-url" in result.output
    assert "command-center demo" in result.output
    assert "Traceback" not in result.output


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    runner = CliRunner(env={"COMMAND_CENTER_CONFIG": str(tmp_path / "config.toml")})
    args = ["--base-url", "http://api.example.com", "--tenant", "acme"]
    result = runner.invoke(main, args)
    assert result.exit_code == 2 and "unencrypted" in result.output


def test_stub_server_on_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["stub-server", "--port", str(port), "--seed", "empty"])
    assert result.exit_code == 1
    assert "Choose another --port" in result.output
    assert "Traceback" not in result.output
