"""Programs in a real pseudo-terminal, and a terminal emulator (pyte) that reads their screen.

A background thread drains the pty master all the time (so the child never blocks on a full
buffer) and stamps every chunk with ``time.perf_counter()`` the moment ``os.read`` returns. The
main thread feeds the chunks to pyte in order and asks questions about the screen; a timestamp
therefore says when the bytes reached us, not when we got round to emulating them.

Every child runs in its own session (its pid is its process group); ``PtyProcess.close`` and the
``atexit`` hook kill that group, so nothing outlives the benchmark, even after Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pyte

# Processes started by this module (and by bench.console_bench), killed on interpreter exit.
_LIVE: set[subprocess.Popen[bytes]] = set()


def track(process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    _LIVE.add(process)
    return process


def kill(process: subprocess.Popen[bytes], *, grace: float = 0.0) -> None:
    """Kill a process started with ``start_new_session=True`` (and its group), then reap it."""
    try:
        if process.poll() is None and grace > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
    finally:
        _LIVE.discard(process)


@atexit.register
def _kill_all() -> None:
    for process in list(_LIVE):
        kill(process)


class ScreenTimeout(Exception):
    """The screen did not reach the expected state in time; the message shows the screen."""


@dataclass(frozen=True)
class Chunk:
    at: float  # time.perf_counter() when os.read returned
    data: bytes


def _set_window(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _become_terminal_session() -> None:  # pragma: no cover - runs in the child
    # start_new_session already called setsid(); make the pty (fd 0) the controlling terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyProcess:
    """``argv`` on a fresh pty of ``cols`` x ``rows``, its output emulated by pyte."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cols: int = 80,
        rows: int = 24,
        cwd: str | None = None,
    ) -> None:
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.total_bytes = 0  # everything read from the master so far
        self.fed_bytes = 0  # of which fed to pyte
        self._chunks: deque[Chunk] = deque()
        self._cond = threading.Condition()
        self._eof = False
        master, slave = os.openpty()
        _set_window(slave, cols, rows)
        self.master = master
        try:
            self.started_at = time.perf_counter()
            self.process = track(
                subprocess.Popen(
                    list(argv),
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    env=dict(env),
                    cwd=cwd,
                    start_new_session=True,
                    preexec_fn=_become_terminal_session,
                    close_fds=True,
                )
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._read_forever, name="pty-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    # -- reading --------------------------------------------------------------------------------

    def _read_forever(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed its side
                data = b""
            at = time.perf_counter()
            with self._cond:
                if not data:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self.total_bytes += len(data)
                self._chunks.append(Chunk(at, data))
                self._cond.notify_all()

    def _next_chunk(self, deadline: float) -> Chunk | None:
        """The next unread chunk, waiting until ``deadline``; None on timeout or end of output."""
        with self._cond:
            while not self._chunks:
                remaining = deadline - time.perf_counter()
                if remaining <= 0 or self._eof:
                    return None
                self._cond.wait(remaining)
            return self._chunks.popleft()

    def _feed(self, chunk: Chunk) -> None:
        self.fed_bytes += len(chunk.data)
        self.stream.feed(chunk.data)

    def drain(self) -> int:
        """Feed whatever has arrived; returns the number of bytes fed."""
        fed = 0
        while True:
            with self._cond:
                if not self._chunks:
                    return fed
                chunk = self._chunks.popleft()
            self._feed(chunk)
            fed += len(chunk.data)

    def wait_for(
        self,
        condition: Callable[[PtyProcess], bool],
        timeout: float,
        what: str,
    ) -> float:
        """Feed output until ``condition(self)`` holds; the perf_counter time of the read that
        made it hold (or now, if it already held). Raises ``ScreenTimeout`` with the screen."""
        self.drain()
        if condition(self):
            return time.perf_counter()
        deadline = time.perf_counter() + timeout
        while True:
            chunk = self._next_chunk(deadline)
            if chunk is None:
                self.drain()
                if condition(self):
                    return time.perf_counter()
                ended = self.process.poll()
                why = f"exited with {ended}" if ended is not None else f"not within {timeout:g} s"
                raise ScreenTimeout(f"{what}: {why}. Last screen:\n{self.text()}")
            self._feed(chunk)
            if condition(self):
                return chunk.at

    def wait_quiet(self, quiet: float, timeout: float) -> tuple[float | None, int]:
        """Feed output until none arrives for ``quiet`` seconds (or ``timeout`` passes).

        Returns the time of the last chunk read (None if none came) and the bytes fed."""
        last: float | None = None
        fed = 0
        deadline = time.perf_counter() + timeout
        while True:
            wait_until = min(deadline, time.perf_counter() + quiet)
            chunk = self._next_chunk(wait_until)
            if chunk is None:
                return last, fed
            self._feed(chunk)
            fed += len(chunk.data)
            last = chunk.at
            if chunk.at > deadline:
                return last, fed

    def pump(self, deadline: float, on_chunk: Callable[[Chunk], bool]) -> bool:
        """Feed output until ``deadline``, calling ``on_chunk`` after each chunk is on screen;
        True as soon as it returns True, False at the deadline or the end of output."""
        while True:
            chunk = self._next_chunk(deadline)
            if chunk is None:
                return False
            self._feed(chunk)
            if on_chunk(chunk):
                return True

    def read_for(self, seconds: float) -> list[Chunk]:
        """Feed everything that arrives in the next ``seconds``; the chunks read in that time."""
        start = time.perf_counter()
        deadline = start + seconds
        chunks = []
        while True:
            chunk = self._next_chunk(deadline)
            if chunk is None:
                return chunks
            self._feed(chunk)
            if chunk.at >= start:
                chunks.append(chunk)
            if chunk.at > deadline:
                return chunks

    # -- writing --------------------------------------------------------------------------------

    def send(self, data: bytes | str) -> float:
        """Write keys to the terminal; the perf_counter time just before the write."""
        raw = data.encode() if isinstance(data, str) else data
        at = time.perf_counter()
        os.write(self.master, raw)
        return at

    # -- the screen -----------------------------------------------------------------------------

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(f"| {line}" for line in self.lines())

    # -- ending ---------------------------------------------------------------------------------

    def rss_kib(self) -> int | None:
        return rss_kib(self.pid)

    def close(self, quit_keys: bytes | None = b"\x11", grace: float = 5.0) -> int | None:
        """Ask the program to quit (``quit_keys``), wait ``grace`` s, kill it if needed, reap."""
        try:
            if quit_keys and self.process.poll() is None:
                with contextlib.suppress(OSError):
                    os.write(self.master, quit_keys)
            deadline = time.perf_counter() + grace
            while self.process.poll() is None and time.perf_counter() < deadline:
                self.drain()  # keep the pty drained so the child can finish writing
                time.sleep(0.02)
        finally:
            kill(self.process)
            self._reader.join(2)
            with contextlib.suppress(OSError):
                os.close(self.master)
        return self.process.returncode

    def __enter__(self) -> PtyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB, from /proc (None if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
