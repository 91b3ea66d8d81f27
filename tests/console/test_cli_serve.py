"""`command-center serve`: the console for a browser, only for whoever holds the printed URL.

The end-to-end tests start the real command and drive it as a browser (or an attacking page)
would, with aiohttp's client; each is bounded in time and ends every process it caused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from console.serve_guard import Guard, parse_host
from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, StubServer

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+)/\?token=([\w-]+)")
TEST_BUDGET = 30.0  # seconds, per test


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a live process, None once it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in "ZX" else (fields[0], int(fields[1]), int(fields[2]))


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _family(root: int) -> set[int]:
    """Descendants of ``root`` and every member of their process groups."""
    stats = {pid: s for pid in _all_pids() if (s := _stat(pid)) is not None}
    found: set[int] = set()
    frontier = {root}
    while frontier:
        children = {pid for pid, (_, ppid, _) in stats.items() if ppid in frontier}
        frontier = children - found
        found |= children
    groups = {stats[pid][2] for pid in found} - {stats[root][2] if root in stats else -1}
    return found | {pid for pid, (_, _, pgid) in stats.items() if pgid in groups}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _environ(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")


@dataclass
class Served:
    """A running ``serve``: its process, the printed base URL, the secret and its output."""

    proc: subprocess.Popen[bytes]
    base: str
    secret: str
    output: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?width=80&height=24"


def _start(args: list[str], *, env: dict[str, str] | None = None, stdin: bytes = b"") -> Served:
    """Start ``serve`` and wait (bounded) for its URL and its port to answer."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "serve", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    output: list[str] = []  # filled as serve prints, for as long as it runs
    stdout = proc.stdout
    threading.Thread(
        target=lambda: output.extend(line.decode(errors="replace") for line in stdout),
        daemon=True,
    ).start()
    deadline = time.monotonic() + 15
    try:
        while (match := URL_LINE.search("".join(output))) is None:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        served = Served(proc, match[1], match[2], output)
        while True:
            try:
                socket.create_connection(("127.0.0.1", served.port), timeout=1).close()
                return served
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
    except BaseException:
        _kill_all(proc, set())
        raise AssertionError("serve did not start:\n" + "".join(output)) from None


def _kill_all(proc: subprocess.Popen[bytes], pids: set[int]) -> None:
    """Clean-up whatever happened: serve and anything it started."""
    if Path("/proc").exists() and proc.poll() is None:
        pids = pids | _family(proc.pid)
    proc.kill()
    proc.wait(timeout=10)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def served() -> Iterator[Served]:
    running = _start(["--demo", "--port", str(_free_port())])
    try:
        yield running
    finally:
        _kill_all(running.proc, set())


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps cookies for IP hosts, as a browser does."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=timeout
    ) as session:
        yield session


async def _status(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> int:
    async with session.get(url, headers=headers) as response:
        return response.status


async def _ws_refused(
    session: aiohttp.ClientSession,
    url: str,
    origin: str | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    """The status of a refused upgrade (fails the test if the upgrade is accepted)."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        ws = await session.ws_connect(url, origin=origin, headers=headers)
        await ws.close()
    return refused.value.status


@contextlib.asynccontextmanager
async def _open_tab(session: aiohttp.ClientSession, served: Served) -> AsyncIterator[set[int]]:
    """A browser tab: the page, then its WebSocket, read all along as a browser does (it
    answers the server's close); yields the processes serve started for the tab."""
    async with session.get(f"{served.base}/?token={served.secret}") as page:
        assert page.status == 200
    async with session.ws_connect(served.ws, origin=served.base) as ws:
        drew = asyncio.Event()

        async def read() -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    drew.set()

        reader = asyncio.create_task(read())
        try:
            await asyncio.wait_for(drew.wait(), 20)
            children = _family(served.proc.pid)
            assert children, "no console child process was started"
            yield children
        finally:
            reader.cancel()


async def test_serve_answers_http_on_loopback(
    served: Served, browser: aiohttp.ClientSession
) -> None:
    async with browser.get(f"{served.base}/?token={served.secret}") as page:
        assert page.status == 200
        assert "Command Center" in await page.text()
    deadline = time.monotonic() + 5
    while "<secret>" not in "".join(served.output):  # the access log line, redacted
        assert time.monotonic() < deadline, "".join(served.output)
        await asyncio.sleep(0.05)
    assert "".join(served.output).count(served.secret) == 1  # printed once, in the URL


async def test_the_page_needs_the_secret_and_the_served_host(
    served: Served, browser: aiohttp.ClientSession
) -> None:
    async with asyncio.timeout(TEST_BUDGET):
        assert await _status(browser, f"{served.base}/") == 403
        assert await _status(browser, f"{served.base}/?token=wrong") == 403
        assert await _status(browser, f"{served.base}/static/js/textual.js") == 403
        rebound = {"Host": f"attacker.example:{served.port}"}
        assert (
            await _status(browser, f"{served.base}/?token={served.secret}", headers=rebound) == 403
        )
        async with browser.get(f"{served.base}/") as refused:
            assert refused.content_type == "text/plain"
            assert "secret" in await refused.text()

        async with browser.get(f"{served.base}/?token={served.secret}") as page:
            assert page.status == 200
            cookie = page.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert page.headers["Referrer-Policy"] == "no-referrer"
        # The page's own follow-up requests carry no ?token=, only the cookie.
        assert await _status(browser, f"{served.base}/static/js/textual.js") == 200


async def test_the_websocket_refuses_foreign_pages_and_hosts(
    served: Served, browser: aiohttp.ClientSession
) -> None:
    with_secret = f"{served.ws}&token={served.secret}"
    async with asyncio.timeout(TEST_BUDGET):
        assert await _ws_refused(browser, served.ws, origin=served.base) == 403
        assert await _ws_refused(browser, with_secret, origin="https://evil.example") == 403
        assert await _ws_refused(browser, with_secret, origin="null") == 403
        assert await _ws_refused(browser, with_secret) == 403  # browsers always send Origin
        rebound = {"Host": f"attacker.example:{served.port}"}
        origin = f"http://attacker.example:{served.port}"
        assert await _ws_refused(browser, with_secret, origin=origin, headers=rebound) == 403
        assert not _family(served.proc.pid), "a refused WebSocket started a console"

        ws = await browser.ws_connect(with_secret, origin=served.base)
        await ws.close()


@linux_only
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_ending_serve_ends_its_consoles(
    served: Served, browser: aiohttp.ClientSession, signum: signal.Signals
) -> None:
    children: set[int] = set()
    try:
        async with asyncio.timeout(TEST_BUDGET):
            async with _open_tab(browser, served) as children:
                for pid in children:
                    assert served.secret not in _cmdline(pid), _cmdline(pid)
                await asyncio.sleep(0.5)
                assert all(_stat(pid) for pid in children), "the console ended on its own"
                started = time.monotonic()
                served.proc.send_signal(signum)
                while served.proc.poll() is None or any(_stat(pid) for pid in children):
                    assert time.monotonic() - started < 10, [_cmdline(p) for p in children]
                    await asyncio.sleep(0.05)
    finally:
        _kill_all(served.proc, children)


@linux_only
async def test_token_stdin_reaches_the_consoles_by_environment_only(
    live_stub: StubServer, tmp_path: Path, browser: aiohttp.ClientSession
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMAND_CENTER_")}
    env |= {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "COMMAND_CENTER_CONFIG": str(tmp_path / "config.toml"),
    }
    args = ["--port", str(_free_port()), "--token-stdin", "--base-url", live_stub.url]
    args += ["--tenant", DEMO_TENANT, "--project", DEMO_PROJECT]
    served = _start(args, env=env, stdin=DEMO_CONTRIBUTOR_TOKEN.encode() + b"\n")
    children: set[int] = set()
    try:
        async with asyncio.timeout(TEST_BUDGET):
            async with _open_tab(browser, served) as children:
                consoles = [pid for pid in children if "-m console" in _cmdline(pid)]
                assert consoles, [_cmdline(pid) for pid in children]
                for pid in children:
                    assert DEMO_CONTRIBUTOR_TOKEN not in _cmdline(pid)
                    assert "--token-stdin" not in _cmdline(pid)
                for pid in consoles:
                    assert "--base-url" in _cmdline(pid)
                    assert f"COMMAND_CENTER_TOKEN={DEMO_CONTRIBUTOR_TOKEN}" in _environ(pid)
    finally:
        _kill_all(served.proc, children)


def test_beyond_loopback_needs_allow_remote_and_says_what_protects_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner
    from textual_serve.server import Server

    from console.cli import main

    started: list[tuple[str, str, int, str]] = []
    # textual-serve is the edge here: record what it would run instead of serving forever.
    monkeypatch.setattr(
        Server,
        "serve",
        lambda self, debug=False: started.append(
            (self.command, self.host, self.port, self.public_url)
        ),
    )
    wide = ["--profile", "prod", "serve", "--host", "0.0.0.0", "--port", "8123"]
    refused = CliRunner().invoke(main, wide)
    assert refused.exit_code == 2 and "--allow-remote" in refused.output
    no_public_url = CliRunner().invoke(main, [*wide, "--allow-remote"])
    assert no_public_url.exit_code == 2 and "--public-url" in no_public_url.output
    assert not started

    public = "https://cc.example.test"
    result = CliRunner().invoke(main, [*wide, "--allow-remote", "--public-url", public])
    assert result.exit_code == 0, result.output
    assert "only the secret" in result.output and "no TLS" in result.output
    ((command, host, port, public_url),) = started
    assert (host, port, public_url) == ("0.0.0.0", 8123, public)
    assert command.endswith("-m console --profile prod")


def test_the_guard_reads_host_and_origin_strictly() -> None:
    guard = Guard.for_urls("s3cret", 8000, "http://127.0.0.1:8000", "https://cc.example.test")
    assert guard.host_allowed("127.0.0.1:8000") and guard.host_allowed("CC.example.test")
    assert guard.host_allowed("cc.example.test:443")
    for host in ("127.0.0.1", "127.0.0.1:8001", "attacker.example:8000", "x@127.0.0.1:8000"):
        assert not guard.host_allowed(host), host
    assert not guard.host_allowed(None) and parse_host("[::1]:8000") == ("::1", 8000)
    assert guard.origin_allowed("http://127.0.0.1:8000")
    assert guard.origin_allowed("https://cc.example.test")
    for origin in ("null", "http://cc.example.test", "https://127.0.0.1:8000", "http://127.0.0.1"):
        assert not guard.origin_allowed(origin), origin
    assert guard.secure_cookie and guard.cookie_name.endswith("8000")
    ok = {"Host": "127.0.0.1:8000"}
    assert guard.refusal(ok, ["s3cret"], websocket=False) is None
    assert guard.refusal(ok, [None, "s3cret "], websocket=False) is not None
    assert guard.refusal(ok, ["s3cret"], websocket=True) is not None  # no Origin
