"""`command-center demo` in a real pseudo-terminal: the UI paints first, the stub follows."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path


def _read_until(fd: int, needle: bytes, within: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + within
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not shown; last output: {seen[-600:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
    return seen


def test_demo_paints_connects_to_its_background_stub_and_quits(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COMMAND_CENTER_STATE_DIR": str(tmp_path / "state"),
        "COMMAND_CENTER_CONFIG": str(tmp_path / "config.toml"),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "console", "demo"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        _read_until(master, b"12/12 tasks", within=60)
        os.write(master, b"q")
        assert child.wait(timeout=20) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
