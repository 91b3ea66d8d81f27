"""login → tasks → profiles → logout, with a working keyring backend, with none, a plaintext one
and a hanging one."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.core
import pytest
from click.testing import CliRunner, Result
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from console.cli import main
from console.config import read_config
from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, StubServer

from .test_credentials import HangingKeyring, MemoryKeyring


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An isolated home: config, token files and keyring all under tmp_path."""
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "COMMAND_CENTER_CONFIG": str(tmp_path / "config.toml"),
        "COMMAND_CENTER_TOKEN": "",
        "COMMAND_CENTER_PROFILE": "",
        "COMMAND_CENTER_BASE_URL": "",
        "COMMAND_CENTER_TENANT": "",
        "COMMAND_CENTER_PROJECT": "",
    }
    (tmp_path / "home").mkdir()
    return env


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def plaintext_keyring(tmp_path: Path) -> PlaintextKeyring:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    return backend


def run(env: dict[str, str], args: list[str], stdin: str | None = None) -> Result:
    return CliRunner(env=env).invoke(main, args, input=stdin)


def login_args(server: StubServer, profile: str = "prod") -> list[str]:
    return [
        "login",
        "--profile",
        profile,
        "--base-url",
        server.url,
        "--tenant",
        DEMO_TENANT,
        "--project",
        DEMO_PROJECT,
        "--token-stdin",
    ]


def assert_no_token(*results: Result) -> None:
    for result in results:
        assert DEMO_CONTRIBUTOR_TOKEN not in result.output


def test_login_with_a_keyring_then_commands_need_no_flags(
    live_stub: StubServer, home: dict[str, str], memory_keyring: MemoryKeyring
) -> None:
    login = run(home, login_args(live_stub), stdin=DEMO_CONTRIBUTOR_TOKEN + "\n")
    assert login.exit_code == 0, login.output
    assert "Token stored in keyring" in login.output
    assert f"{live_stub.state.pending_count} pending task(s) visible" in login.output
    config = read_config(Path(home["COMMAND_CENTER_CONFIG"]))
    assert config.default_profile == "prod"
    assert config.profiles["prod"]["base_url"] == live_stub.url
    assert DEMO_CONTRIBUTOR_TOKEN not in Path(home["COMMAND_CENTER_CONFIG"]).read_text()

    listed = run(home, ["tasks", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert len(listed.output.strip().splitlines()) == live_stub.state.pending_count

    profiles = run(home, ["profiles"])
    assert profiles.exit_code == 0 and "* prod" in profiles.output
    assert "keyring" in profiles.output

    logout = run(home, ["logout"])
    assert logout.exit_code == 0 and "Removed the token from keyring" in logout.output
    after = run(home, ["tasks", "list"])
    assert after.exit_code == 3 and "No token for profile 'prod'" in after.output
    assert_no_token(login, listed, profiles, logout, after)


def test_without_a_keyring_login_refuses_then_insecure_storage_works(
    live_stub: StubServer, home: dict[str, str], tmp_path: Path
) -> None:
    refused = run(home, login_args(live_stub), stdin=DEMO_CONTRIBUTOR_TOKEN)
    assert refused.exit_code == 3
    for choice in ("COMMAND_CENTER_TOKEN", "--insecure-storage", "keyring"):
        assert choice in refused.output
    assert not Path(home["COMMAND_CENTER_CONFIG"]).exists()  # nothing saved on failure

    stored = run(home, [*login_args(live_stub), "--insecure-storage"], stdin=DEMO_CONTRIBUTOR_TOKEN)
    assert stored.exit_code == 0, stored.output
    assert "plain file readable only by you" in stored.output
    token_file = next((tmp_path / "xdg-config").rglob("prod.token"))
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert run(home, ["tasks", "list"]).exit_code == 0

    token_file.chmod(0o644)
    widened = run(home, ["tasks", "list"])
    assert widened.exit_code == 3 and "chmod 600" in widened.output
    assert_no_token(refused, stored, widened)


def test_a_refused_token_is_reported_and_nothing_is_stored(
    live_stub: StubServer, home: dict[str, str], memory_keyring: MemoryKeyring
) -> None:
    result = run(home, login_args(live_stub), stdin="pat_wrong_token\n")
    assert result.exit_code == 3
    assert "401" in result.output and "Nothing was stored" in result.output
    assert memory_keyring.passwords == {}
    assert not Path(home["COMMAND_CENTER_CONFIG"]).exists()


@pytest.fixture
def hanging() -> Iterator[HangingKeyring]:
    release = threading.Event()
    backend = HangingKeyring(release)
    keyring.set_keyring(backend)
    yield backend
    release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("command-center-keyring"):
            thread.join(timeout=5)


def test_a_hanging_keyring_cannot_hang_login(
    live_stub: StubServer, home: dict[str, str], hanging: HangingKeyring
) -> None:
    started = time.monotonic()
    result = run(home, login_args(live_stub), stdin=DEMO_CONTRIBUTOR_TOKEN)
    assert time.monotonic() - started < 15  # bounded by the keyring timeout, not forever
    assert result.exit_code == 3
    assert "--insecure-storage" in result.output
    assert_no_token(result)


def test_plain_http_to_a_remote_host_needs_the_explicit_flag(home: dict[str, str]) -> None:
    args = ["login", "--base-url", "http://api.example.com", "--tenant", "t", "--token-stdin"]
    refused = run(home, args, stdin="pat_x")
    assert refused.exit_code == 2 and "--allow-insecure-http" in refused.output


def test_a_plaintext_keyring_is_refused_like_no_keyring(
    live_stub: StubServer, home: dict[str, str], plaintext_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    refused = run(home, login_args(live_stub), stdin=DEMO_CONTRIBUTOR_TOKEN)

    assert refused.exit_code == 3
    assert "plain text" in refused.output
    for choice in ("COMMAND_CENTER_TOKEN", "--insecure-storage", "keyring --list-backends"):
        assert choice in refused.output
    assert "Token stored" not in refused.output
    assert not (tmp_path / "keyring").exists()
    assert not Path(home["COMMAND_CENTER_CONFIG"]).exists()
    assert_no_token(refused)


def test_login_takes_the_token_from_the_environment_without_a_prompt(
    live_stub: StubServer, home: dict[str, str], memory_keyring: MemoryKeyring
) -> None:
    env = {**home, "COMMAND_CENTER_TOKEN": DEMO_CONTRIBUTOR_TOKEN}
    args = [arg for arg in login_args(live_stub) if arg != "--token-stdin"]

    result = run(env, args)

    assert result.exit_code == 0, result.output
    assert "Personal access token" not in result.output
    assert "Using the token in COMMAND_CENTER_TOKEN" in result.output
    assert memory_keyring.passwords == {
        ("command-center-tui:prod", "token"): DEMO_CONTRIBUTOR_TOKEN
    }
    assert_no_token(result)


def test_without_a_terminal_or_a_token_login_says_how_instead_of_prompting(
    live_stub: StubServer, home: dict[str, str], memory_keyring: MemoryKeyring
) -> None:
    args = [arg for arg in login_args(live_stub) if arg != "--token-stdin"]

    result = run(home, args)

    assert result.exit_code == 2
    assert "Personal access token" not in result.output
    assert "--token-stdin" in result.output and "COMMAND_CENTER_TOKEN" in result.output
    assert memory_keyring.passwords == {}


def test_with_a_terminal_login_still_asks(
    live_stub: StubServer,
    home: dict[str, str],
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("console.cli.auth.stdin_is_terminal", lambda: True)
    args = [arg for arg in login_args(live_stub) if arg != "--token-stdin"]

    result = run(home, args, stdin=DEMO_CONTRIBUTOR_TOKEN + "\n")

    assert result.exit_code == 0, result.output
    assert "Personal access token" in result.output
    assert memory_keyring.passwords == {
        ("command-center-tui:prod", "token"): DEMO_CONTRIBUTOR_TOKEN
    }


def test_with_token_is_a_deprecated_alias_of_token_stdin(
    live_stub: StubServer, home: dict[str, str], memory_keyring: MemoryKeyring
) -> None:
    args = [*login_args(live_stub)[:-1], "--with-token"]

    result = run(home, args, stdin=DEMO_CONTRIBUTOR_TOKEN + "\n")

    assert result.exit_code == 0, result.output
    assert "--with-token is deprecated; use --token-stdin" in result.output
    assert memory_keyring.passwords == {
        ("command-center-tui:prod", "token"): DEMO_CONTRIBUTOR_TOKEN
    }
    help_text = run(home, ["login", "--help"]).output
    assert "--token-stdin" in help_text and "--with-token" not in help_text


def test_logout_removes_a_token_an_earlier_version_left_in_plain_text(
    home: dict[str, str], plaintext_keyring: PlaintextKeyring
) -> None:
    plaintext_keyring.set_password("command-center-tui:default", "token", DEMO_CONTRIBUTOR_TOKEN)

    env = {**home, "COMMAND_CENTER_BASE_URL": "http://127.0.0.1:9", "COMMAND_CENTER_TENANT": "t"}
    listed = run(env, ["tasks", "list"])
    assert listed.exit_code == 3 and "plain-text keyring" in listed.output

    logout = run(home, ["logout"])
    assert logout.exit_code == 0, logout.output
    assert "Removed the token from the plain-text keyring" in logout.output
    assert plaintext_keyring.get_password("command-center-tui:default", "token") is None
    assert_no_token(listed, logout)
