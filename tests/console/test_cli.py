"""The `command-center` command line: version, the console's required settings, stub-server."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import console.launch
from client import __version__
from console.cli import main
from console.settings import ConsoleSettings
from server_stub import DEMO_CONTRIBUTOR_TOKEN


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


VIEWS_CONFIG = """\
default_profile = "prod"

[profiles.prod]
base_url = "https://api.example.com"
tenant = "acme"

[profiles.prod.views]
stalled-crm = "workflow:crm stalled"
mine = "type:review !new"

[profiles.bare]
base_url = "https://api.example.com"
tenant = "acme"
"""


@pytest.fixture
def open_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[ConsoleSettings], Any]:
    """Run ``command-center ARGS`` with the console replaced by a recorder of its settings."""
    path = tmp_path / "config.toml"
    path.write_text(VIEWS_CONFIG)
    opened: list[ConsoleSettings] = []

    def run_console(settings: ConsoleSettings, token: str, **_: Any) -> None:
        assert token == DEMO_CONTRIBUTOR_TOKEN
        opened.append(settings)

    monkeypatch.setattr(console.launch, "run_console", run_console)
    env = {
        "COMMAND_CENTER_CONFIG": str(path),
        "COMMAND_CENTER_TOKEN": DEMO_CONTRIBUTOR_TOKEN,
        "COMMAND_CENTER_PROFILE": "",
        "COMMAND_CENTER_VIEWS": "",
        "COMMAND_CENTER_NOTIFY": "",
        "COMMAND_CENTER_BASE_URL": "",
    }

    def invoke(*args: str) -> Result:
        return CliRunner(env=env).invoke(main, list(args))

    return opened, invoke


def test_the_console_opens_unfiltered_by_default(open_console: Any) -> None:
    opened, invoke = open_console
    result = invoke()
    assert result.exit_code == 0, result.output
    assert [(s.start_filter, s.start_view) for s in opened] == [(None, None)]
    assert opened[0].views == {"stalled-crm": "workflow:crm stalled", "mine": "type:review !new"}
    assert opened[0].notify == "bell"


def test_filter_opens_the_inbox_on_that_text(open_console: Any) -> None:
    opened, invoke = open_console
    result = invoke("--filter", "workflow:billing stalled")
    assert result.exit_code == 0, result.output
    assert [(s.start_filter, s.start_view) for s in opened] == [("workflow:billing stalled", None)]


def test_view_opens_the_inbox_on_the_views_text(open_console: Any) -> None:
    opened, invoke = open_console
    result = invoke("--view", "mine")
    assert result.exit_code == 0, result.output
    assert [(s.start_filter, s.start_view) for s in opened] == [("type:review !new", "mine")]


def test_an_unknown_view_lists_the_known_ones(open_console: Any) -> None:
    opened, invoke = open_console
    result = invoke("--view", "theirs")
    assert result.exit_code == 2, result.output
    assert "No view 'theirs' in profile 'prod' (views: stalled-crm, mine)" in result.output
    assert opened == [] and "Traceback" not in result.output


def test_a_view_on_a_profile_without_views_says_how_to_add_one(open_console: Any) -> None:
    opened, invoke = open_console
    result = invoke("--profile", "bare", "--view", "mine")
    assert result.exit_code == 2, result.output
    assert "Profile 'bare' has no views" in result.output
    assert "[profiles.bare.views]" in result.output and "config.toml" in result.output
    assert opened == []


def test_filter_and_view_together_is_a_usage_error(open_console: Any) -> None:
    opened, invoke = open_console
    result = invoke("--filter", "new", "--view", "mine")
    assert result.exit_code == 2, result.output
    assert "use one" in result.output and opened == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("new\x1b[2J", "must not hold control characters (U+001B at character 4)"),
        ("a\nb", "must not hold control characters (U+000A"),
        ("", "must not be empty"),
        ("x" * 501, "must be at most 500 characters"),
    ],
)
def test_a_bad_filter_is_refused(open_console: Any, text: str, problem: str) -> None:
    opened, invoke = open_console
    result = invoke("--filter", text)
    assert result.exit_code == 2, result.output
    assert f"--filter {problem}" in result.output
    assert "\x1b" not in result.output and opened == []


def test_filter_and_view_do_not_apply_to_a_subcommand(open_console: Any) -> None:
    opened, invoke = open_console
    result = invoke("--view", "mine", "profiles")
    assert result.exit_code == 2, result.output
    assert "--view chooses what the console opens on" in result.output
    assert "command-center profiles" in result.output and opened == []
