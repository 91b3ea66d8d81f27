"""The console says why a refresh failed, and never calls stale data live.

A real loopback HTTP server plays the misbehaving platform – a revoked token, a captive
portal's HTML, JSON cut short, a 200 that carries an error, a rate limit – and the console,
wired as in production (real HTTP, the blocking poll client in a thread), must put the reason
on its status line in words and the whole answer on the details screen (L).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rich.console import Console

import console.services as services_module
from console.screens.connection import ConnectionScreen, connection_table

from .conftest import ConsoleFactory, wait_for
from .test_console_flows import status_text

LISTING = json.dumps({"tasks": []}).encode()


@dataclass
class Script:
    """What the fake platform answers to the inbox poll, changeable while it runs."""

    status: int = 200
    body: bytes = LISTING
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    hang: threading.Event | None = None  # set: the poll waits for it before answering
    polls: int = 0


@pytest.fixture
def platform() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.polls += 1
            if script.hang is not None:
                script.hang.wait(10)
            self.send_response(script.status)
            self.send_header("Content-Type", script.content_type)
            self.send_header("Content-Length", str(len(script.body)))
            for name, value in script.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(script.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", script
    finally:
        if script.hang is not None:
            script.hang.set()
        server.shutdown()
        server.server_close()


CASES = {
    "revoked token": (
        401,
        b'{"error": "token revoked", "code": "UNAUTHORIZED"}',
        "application/json",
        {},
        "401 token rejected – run command-center login",
    ),
    "captive portal": (
        200,
        b"<html><body>Please sign in to the hotel Wi-Fi</body></html>",
        "text/html",
        {},
        "not JSON (HTML – a captive portal?)",
    ),
    "cut short": (200, b'{"tasks": [{"id": "a", "workflow', "application/json", {}, "truncated"),
    "200 with an error": (
        200,
        b'{"error": "maintenance until 04:00"}',
        "application/json",
        {},
        "answered with an error: maintenance until 04:00",
    ),
    "rate limited": (
        429,
        b'{"error": "slow down"}',
        "application/json",
        {"Retry-After": "42"},
        "◌ rate limited, retrying in 42s",
    ),
}


def _plain(renderable: Any) -> str:
    console = Console(width=120, record=True, color_system=None)
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


@pytest.mark.parametrize("case", list(CASES))
async def test_the_status_line_and_the_details_say_why_a_refresh_failed(
    make_console: ConsoleFactory, platform: tuple[str, Script], case: str
) -> None:
    url, script = platform
    status, body, kind, headers, expected = CASES[case]
    script.status, script.body, script.content_type, script.headers = status, body, kind, headers
    app = make_console(base_url=url, network=True)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(lambda: app.services.connection.failures > 0, pilot.pause)
        await pilot.pause(1.1)  # the status line follows on the next tick
        line = status_text(app)
        assert expected in line, line
        assert "● live" not in line
        await pilot.press("L")
        assert isinstance(app.screen, ConnectionScreen)
        details = _plain(connection_table(app.services))
        assert str(status) in details and kind in details
        assert "Why" in details and "Last good refresh" in details
        await pilot.press("escape")
        assert not isinstance(app.screen, ConnectionScreen)


async def test_live_data_older_than_the_rhythm_allows_is_called_stale(
    make_console: ConsoleFactory, platform: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first poll answers; the next one hangs. Past twice the interval plus the grace the
    status line stops saying live."""
    url, script = platform
    monkeypatch.setattr(services_module, "STALE_GRACE", 0.5)
    app = make_console(base_url=url, network=True, refresh_active=0.3, refresh_idle=0.3)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(lambda: app.services.last_refresh is not None, pilot.pause)
        await pilot.pause(1.1)
        assert "● live" in status_text(app)
        script.hang = threading.Event()
        polls = script.polls
        await wait_for(lambda: script.polls > polls, pilot.pause)
        await wait_for(lambda: "stale since" in status_text(app), pilot.pause, within=6)
        line = status_text(app)
        assert "the platform is answering too slowly" in line and "● live" not in line
        script.hang.set()
        script.hang = None
        await wait_for(lambda: "● live" in status_text(app), pilot.pause, within=6)
