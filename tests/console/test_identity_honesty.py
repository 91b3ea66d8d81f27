"""The real ``command-center`` process: where the token goes, which directories it touches, and
how Ctrl-C ends it.

Subprocesses, not CliRunner: keyring picks its backend from the environment at start, stdin is
really not a terminal, and SIGINT is a real signal. Every test selects its keyring backend by
name (``PYTHON_KEYRING_BACKEND``), as an operator would.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, StubServer

RUN_TIMEOUT = 30.0  # seconds for one invocation; a hang fails the test instead of blocking it
PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
NO_KEYRING = "keyring.backends.fail.Keyring"
# The CLI's own entry point, with Python's default SIGINT handler even if the test runner's
# process ignores SIGINT (a child would inherit that).
ENTRY = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from console.cli import main; main(prog_name='command-center')"
)
ROOT = Path(__file__).resolve().parents[2]

Run = Callable[..., subprocess.CompletedProcess[str]]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A home of its own: config, token files, keyring files and state all under tmp_path."""
    (tmp_path / "home").mkdir()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("COMMAND_CENTER_", "XDG_")) and name != "PYTHON_KEYRING_BACKEND"
    }
    environment.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_STATE_HOME=str(tmp_path / "xdg-state"),
        COMMAND_CENTER_CONFIG=str(tmp_path / "config.toml"),
        COMMAND_CENTER_STATE_DIR=str(tmp_path / "state"),
        PYTHON_KEYRING_BACKEND=NO_KEYRING,
        NO_COLOR="1",
        COLUMNS="200",
    )
    return environment


@pytest.fixture
def cc(env: dict[str, str], tmp_path: Path) -> Run:
    """``cc(*args, stdin=…, **env)``: run the command; stdin is /dev/null unless given."""

    def run(*args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            env={**env, **extra},
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            cwd=ROOT,
        )
        for text in (done.stdout, done.stderr):
            assert DEMO_CONTRIBUTOR_TOKEN not in text
            assert "Traceback" not in text
        return done

    return run


def login_args(server: StubServer) -> list[str]:
    return [
        "login",
        "--profile",
        "prod",
        "--base-url",
        server.url,
        "--tenant",
        DEMO_TENANT,
        "--project",
        DEMO_PROJECT,
    ]


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []


# -- a plaintext "keyring" is no keyring -----------------------------------------------------------


def test_login_refuses_a_plaintext_keyring_even_when_selected(
    cc: Run, live_stub: StubServer, tmp_path: Path
) -> None:
    done = cc(
        *login_args(live_stub),
        "--token-stdin",
        stdin=DEMO_CONTRIBUTOR_TOKEN + "\n",
        PYTHON_KEYRING_BACKEND=PLAINTEXT,
    )

    assert done.returncode == 3, done.stderr
    assert "plain text" in done.stderr
    assert "selected in PYTHON_KEYRING_BACKEND" in done.stderr
    for choice in ("COMMAND_CENTER_TOKEN", "install or unlock a keyring", "--insecure-storage"):
        assert choice in done.stderr
    assert "Token stored" not in done.stdout
    assert files_under(tmp_path / "xdg-data") == []  # no keyring_pass.cfg
    assert files_under(tmp_path / "xdg-config") == []  # no token file
    assert not (tmp_path / "config.toml").exists()  # no profile saved


def test_a_detected_plaintext_keyring_is_refused_too(
    cc: Run, live_stub: StubServer, tmp_path: Path, env: dict[str, str]
) -> None:
    """No backend named anywhere: on a box with keyrings.alt and no Secret Service, keyring's
    own detection picks PlaintextKeyring – the `make demo` path. Skipped where it picks another."""
    detect = {name: value for name, value in env.items() if name != "PYTHON_KEYRING_BACKEND"}
    probe = subprocess.run(
        [sys.executable, "-c", "import keyring; print(type(keyring.get_keyring()).__name__)"],
        env=detect,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=ROOT,
    )
    if probe.stdout.strip() != "PlaintextKeyring":
        pytest.skip(f"keyring detects {probe.stdout.strip() or probe.stderr} on this machine")

    done = subprocess.run(
        [sys.executable, "-c", ENTRY, *login_args(live_stub), "--token-stdin"],
        env=detect,
        input=DEMO_CONTRIBUTOR_TOKEN + "\n",
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=ROOT,
    )

    assert done.returncode == 3, done.stderr
    assert "plain text" in done.stderr and "not a keyring" in done.stderr
    assert files_under(tmp_path / "xdg-data") == []


def test_insecure_storage_writes_a_0600_file_that_is_checked_on_every_read(
    cc: Run, live_stub: StubServer, tmp_path: Path
) -> None:
    stored = cc(
        *login_args(live_stub),
        "--token-stdin",
        "--insecure-storage",
        stdin=DEMO_CONTRIBUTOR_TOKEN + "\n",
        PYTHON_KEYRING_BACKEND=PLAINTEXT,
    )

    assert stored.returncode == 0, stored.stderr
    (token_file,) = (tmp_path / "xdg-config").rglob("prod.token")
    assert mode_of(token_file) == 0o600
    assert mode_of(token_file.parent) == 0o700
    assert files_under(tmp_path / "xdg-data") == []  # the plaintext keyring was not written
    listed = cc("tasks", "list", "--profile", "prod")
    assert listed.returncode == 0, listed.stderr

    token_file.chmod(0o644)
    widened = cc("tasks", "list", "--profile", "prod")
    assert widened.returncode == 3
    assert f"chmod 600 {token_file}" in widened.stderr


# -- where login takes the token from --------------------------------------------------------------


def test_login_takes_the_environment_token_without_a_prompt(
    cc: Run, live_stub: StubServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    done = cc(
        *login_args(live_stub), "--insecure-storage", COMMAND_CENTER_TOKEN=DEMO_CONTRIBUTOR_TOKEN
    )

    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < RUN_TIMEOUT
    assert "Personal access token" not in done.stdout + done.stderr
    assert "Aborted" not in done.stderr
    assert "Using the token in COMMAND_CENTER_TOKEN" in done.stderr
    assert f"{live_stub.state.pending_count} pending task(s) visible" in done.stdout
    assert (tmp_path / "config.toml").exists()


def test_login_checks_the_environment_token_against_the_api(
    cc: Run, live_stub: StubServer, tmp_path: Path
) -> None:
    done = cc(*login_args(live_stub), "--insecure-storage", COMMAND_CENTER_TOKEN="pat_wrong")

    assert done.returncode == 3
    assert "401" in done.stderr and "Nothing was stored" in done.stderr
    assert files_under(tmp_path / "xdg-config") == []


def test_login_reads_token_stdin_without_a_prompt(
    cc: Run, live_stub: StubServer, tmp_path: Path
) -> None:
    done = cc(
        *login_args(live_stub),
        "--token-stdin",
        "--insecure-storage",
        stdin=DEMO_CONTRIBUTOR_TOKEN + "\n",
        COMMAND_CENTER_TOKEN="pat_wrong",  # stdin wins, as for every other command
    )

    assert done.returncode == 0, done.stderr
    assert "Personal access token" not in done.stdout + done.stderr
    (token_file,) = (tmp_path / "xdg-config").rglob("prod.token")
    assert token_file.read_text().strip() == DEMO_CONTRIBUTOR_TOKEN


def test_login_without_a_token_or_a_terminal_says_how_instead_of_waiting(
    cc: Run, live_stub: StubServer
) -> None:
    done = cc(*login_args(live_stub), "--insecure-storage")

    assert done.returncode == 2
    assert "--token-stdin" in done.stderr and "COMMAND_CENTER_TOKEN" in done.stderr
    assert "Personal access token" not in done.stdout + done.stderr


def test_empty_token_stdin_is_refused(cc: Run, live_stub: StubServer) -> None:
    done = cc(*login_args(live_stub), "--token-stdin", "--insecure-storage", stdin="\n")

    assert done.returncode == 3
    assert "standard input was empty" in done.stderr


# -- directories: created 0700, or used as they are, never chmod'ed -----------------------------


@pytest.mark.parametrize("command", [["outbox"], ["outbox", "--all", "--json"]])
def test_a_shared_state_dir_is_refused_and_its_mode_left_alone(
    cc: Run, tmp_path: Path, command: list[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)

    done = cc(*command, COMMAND_CENTER_STATE_DIR=str(shared))

    assert done.returncode != 0
    assert f"the directory {shared} can be written by other users (mode 0777)" in done.stderr
    assert "COMMAND_CENTER_STATE_DIR" in done.stderr and f"chmod go-w {shared}" in done.stderr
    assert mode_of(shared) == 0o777
    assert list(shared.iterdir()) == []


def test_approving_into_a_shared_state_dir_sends_nothing(
    cc: Run, tmp_path: Path, live_stub: StubServer
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    pr = ("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")  # a pending demo task
    assert live_stub.state.is_pending(*pr)

    done = cc(
        "tasks",
        "approve",
        "/".join(pr),
        "--yes",
        COMMAND_CENTER_STATE_DIR=str(shared),
        COMMAND_CENTER_BASE_URL=live_stub.url,
        COMMAND_CENTER_TENANT=DEMO_TENANT,
        COMMAND_CENTER_PROJECT=DEMO_PROJECT,
        COMMAND_CENTER_TOKEN=DEMO_CONTRIBUTOR_TOKEN,
    )

    assert done.returncode != 0
    assert "Nothing was sent" in done.stderr and f"the directory {shared}" in done.stderr
    assert live_stub.state.is_pending(*pr)
    assert mode_of(shared) == 0o775
    assert list(shared.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root to chown")
def test_a_state_dir_of_another_user_is_refused(cc: Run, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 54321, -1)

    done = cc("outbox", COMMAND_CENTER_STATE_DIR=str(theirs))

    assert done.returncode != 0
    assert f"the directory {theirs} belongs to another user (uid 54321)" in done.stderr
    assert list(theirs.iterdir()) == []


def test_an_existing_private_enough_state_dir_is_used_without_chmod(
    cc: Run, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o755)

    done = cc("outbox", COMMAND_CENTER_STATE_DIR=str(mine))

    assert done.returncode == 0, done.stderr
    assert mode_of(mine) == 0o755
    assert mode_of(mine / "outbox.sqlite3") == 0o600


def test_read_only_commands_create_only_what_they_need(cc: Run, tmp_path: Path) -> None:
    state = tmp_path / "deep" / "state"

    audit = cc("audit", COMMAND_CENTER_STATE_DIR=str(state))
    assert audit.returncode == 0, audit.stderr
    assert not (tmp_path / "deep").exists()  # reading the audit log creates nothing

    listed = cc("outbox", COMMAND_CENTER_STATE_DIR=str(state))
    assert listed.returncode == 0, listed.stderr
    assert mode_of(tmp_path / "deep") == 0o700  # created by us, so ours to make private
    assert mode_of(state) == 0o700
    assert (state / "outbox.sqlite3").is_file()


# -- Ctrl-C ----------------------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[tuple[str, threading.Event]]:
    """A loopback server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)
            accepted.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


def test_ctrl_c_exits_130_with_one_line_and_no_traceback(
    env: dict[str, str], silent_server: tuple[str, threading.Event]
) -> None:
    url, accepted = silent_server
    process = subprocess.Popen(
        [sys.executable, "-c", ENTRY, "tasks", "list"],
        env={
            **env,
            "COMMAND_CENTER_BASE_URL": url,
            "COMMAND_CENTER_TENANT": DEMO_TENANT,
            "COMMAND_CENTER_TOKEN": DEMO_CONTRIBUTOR_TOKEN,
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert accepted.wait(RUN_TIMEOUT), "the command never connected"
        time.sleep(0.3)  # let it send the request and block reading the answer
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stderr
    assert stderr == "Interrupted.\n"
    assert "Traceback" not in stdout + stderr
    assert "Aborted" not in stderr


def test_the_exit_codes_in_help_include_130(cc: Run) -> None:
    done = cc("--help")

    assert done.returncode == 0
    assert "130 interrupted (Ctrl-C)" in " ".join(done.stdout.split())
