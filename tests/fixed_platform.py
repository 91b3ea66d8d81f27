"""A loopback HTTP server that answers every GET with one fixed body: a platform's odd answer.

For tests that need a real server over loopback but no stub behaviour: the answer is given as
bytes, so it can be JSON no Python object encodes (NaN, malformed entries).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FixedPlatform:
    url: str
    posts: list[str] = field(default_factory=list)  # paths of every POST (answered 500)


@contextmanager
def fixed_platform(body: bytes, content_type: str = "application/json") -> Iterator[FixedPlatform]:
    platform = FixedPlatform("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            platform.posts.append(self.path)
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    platform.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield platform
    finally:
        server.shutdown()
        server.server_close()
