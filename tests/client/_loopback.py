"""A scriptable HTTP/1.1 server on 127.0.0.1, in a thread, for servers that misbehave in time.

Each accepted connection is handed to a script (a function of the socket and the server);
:class:`Loopback` records every request head it read and stops every script when it exits.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

Script = Callable[[socket.socket, "Loopback"], None]


class Loopback:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.stopped = threading.Event()
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Loopback:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopped.set()
        self._acceptor.join(2)
        for thread in self._threads:
            thread.join(2)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):  # the client hung up: what a deadline does
                self.script(conn, self)

    def read_request(self, conn: socket.socket) -> bytes:
        """One request (head and a Content-Length body), recorded."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        self.requests.append(head + b"\r\n\r\n" + body)
        return head

    def pause(self, seconds: float) -> bool:
        """Wait, unless the server is stopping; False when it is."""
        return not self.stopped.wait(seconds)


def answer(status: int, body: bytes, **headers: str) -> Script:
    """Answer every request with this status and body, keeping the connection open."""

    def script(conn: socket.socket, server: Loopback) -> None:
        while server.read_request(conn):
            lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
            lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return script


def trickle_body(interval: float) -> Script:
    """Headers at once, then one byte of a never-ending body every ``interval`` seconds."""

    def script(conn: socket.socket, server: Loopback) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Content-Length: 1000000\r\n\r\n")
        while server.pause(interval):
            conn.sendall(b" ")

    return script


def trickle_headers(interval: float) -> Script:
    """The status line and headers one byte every ``interval`` seconds, without end."""

    def script(conn: socket.socket, server: Loopback) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while server.pause(interval):
            conn.sendall(b"X")

    return script


def silent(conn: socket.socket, server: Loopback) -> None:
    """Read the request, then say nothing until the server stops."""
    server.read_request(conn)
    server.stopped.wait(10)


def hang_up(conn: socket.socket, server: Loopback) -> None:
    """Read the request and close without a word."""
    server.read_request(conn)


def wait_for(predicate: Callable[[], bool], seconds: float = 2.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
