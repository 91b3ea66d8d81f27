"""No token reaches a log, an error, the screen, the CLI's output or a file on disk.

One realistic session with a distinctive token that does not look like ``pat_…`` (so the
generic pattern cannot hide a leak; only care can): the client directly, with a 401 from
another bad token and a refused connection; the console app refreshing, approving, rejecting,
being told of a conflict and of a bad token; ``command-center tasks list/show/approve`` with the
token in COMMAND_CENTER_TOKEN. Everything it produced is then searched: every log record (all
loggers at DEBUG), every CLI output, every exception's text, repr and traceback, the app's
notifications and status, SVG screenshots, and every stored snapshot SVG.

``assert_token_absent`` is the one check; call it on text, a file or a directory (e.g. the
outbox and audit files of a session).
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import traceback
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner, Result

from client import (
    APIConnectionError,
    AsyncCommandCenterClient,
    AuthenticationError,
    CommandCenterClient,
    ConflictError,
)
from console.app import CommandCenterApp
from console.audit import AuditLog
from console.cli import main
from console.launch import build_app
from console.outbox import Outbox
from console.screens.inbox import InboxScreen
from console.settings import ConsoleSettings
from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, StubServer, StubState
from server_stub.auth import ROLE_CONTRIBUTOR, SCOPE_READ, SCOPE_RUN, Principal
from tests.console._textual_internals import exit_text
from tests.console.conftest import answer, wait_for

TOKEN = "cc-canary-7Qz4Wm9Xv2Lk8Rt5Yb3NfH6"
BAD_TOKEN = "cc-canary-bad-0Hn6Jd1Fs4Gp2Ks8Lq"
SNAPSHOTS = Path(__file__).parent / "console" / "__snapshots__"


def _forms(token: str) -> set[bytes]:
    """The token as it could appear: raw, URL-quoted, base64 (alone or in a Basic header)."""
    raw = token.encode()
    forms = {raw, quote(token, safe="").encode(), base64.b64encode(raw)}
    forms.add(base64.b64encode(b"Bearer " + raw))
    return {form for form in forms if form}


def assert_token_absent(text_or_path: str | bytes | os.PathLike[str], token: str) -> None:
    """Fail if ``token`` occurs in the text, or in the file or any file under the directory.

    ``str``/``bytes`` are text to search; a path (``Path``) names a file or a directory, whose
    files are searched as bytes (SQLite databases and JSON lines included).
    """
    if isinstance(text_or_path, os.PathLike):
        path = Path(text_or_path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            data = file.read_bytes()
            for form in _forms(token):
                assert form not in data, f"the token is in {file}"
        return
    data = text_or_path if isinstance(text_or_path, bytes) else text_or_path.encode("utf-8")
    for form in _forms(token):
        if form in data:
            at = data.index(form)
            context = data[max(0, at - 80) : at + len(form) + 40]
            raise AssertionError(f"the token is in produced text: …{context!r}…")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _exception_texts(exc: BaseException) -> Iterator[str]:
    yield str(exc)
    yield repr(exc)
    yield "".join(traceback.format_exception(exc))
    for name in ("message", "error", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, str):
            yield value


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def live(stub_state: StubState) -> Iterator[StubServer]:
    principal = Principal(
        tenant=DEMO_TENANT,
        projects=frozenset({DEMO_PROJECT}),
        role=ROLE_CONTRIBUTOR,
        scopes=frozenset({SCOPE_READ, SCOPE_RUN}),
    )
    with StubServer(stub_state, tokens={TOKEN: principal}) as server:
        yield server


def _console(url: str, token: str, tmp: Path, now: datetime) -> CommandCenterApp:
    settings = ConsoleSettings(
        base_url=url, tenant=DEMO_TENANT, project=DEMO_PROJECT, cursor_blink=False
    )
    return build_app(
        settings,
        token,
        http_client=httpx.AsyncClient(),
        clock=lambda: now,
        outbox=Outbox(tmp / "outbox.sqlite3"),
        audit=AuditLog(tmp / "audit.jsonl"),
    )


def _record_notifications(app: CommandCenterApp, into: list[str]) -> None:
    """Keep every notification's words, however soon it expires."""
    notify = app.notify

    def recording(message: str, *, title: str = "", **kwargs: Any) -> None:
        into.extend([message, title])
        notify(message, title=title, **kwargs)

    app.notify = recording  # type: ignore[method-assign]


async def test_a_whole_session_leaves_the_token_nowhere(
    live: StubServer,
    stub_state: StubState,
    fixed_now: datetime,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records
    produced: list[str] = []  # every text the session showed or raised
    url = live.url

    # -- the client: good calls, a 401 with another token, a refused connection, a 409 --------
    client = CommandCenterClient(url, TOKEN, DEMO_TENANT, DEMO_PROJECT)
    with client:
        tasks = client.list_pending_tasks()
        first = tasks[0]
        produced.append(repr(client))
        client.list_run_pending_tasks(first.workflow_id, first.run_id)
        client.list_run_events(first.workflow_id, first.run_id)
        client.approve(first, idempotency_key="leak-test-1")
        with pytest.raises(ConflictError) as conflict:
            client.reject(first, "too late")
        produced.extend(_exception_texts(conflict.value))
    with CommandCenterClient(url, BAD_TOKEN, DEMO_TENANT, DEMO_PROJECT) as bad:
        with pytest.raises(AuthenticationError) as refused:
            bad.list_pending_tasks()
        produced.extend(_exception_texts(refused.value))
    async with AsyncCommandCenterClient(
        f"http://127.0.0.1:{_closed_port()}", TOKEN, DEMO_TENANT, DEMO_PROJECT
    ) as unreachable:
        unreachable._sleep = _no_sleep  # type: ignore[method-assign]
        with pytest.raises(APIConnectionError) as lost:
            await unreachable.list_pending_tasks()
        produced.extend(_exception_texts(lost.value))
        produced.append(repr(unreachable))

    # -- the CLI, with the token in the environment ---------------------------------------------
    monkeypatch.setattr(CommandCenterClient, "_sleep", staticmethod(lambda _seconds: None))

    def cli(*args: str, token: str = TOKEN, base_url: str = url) -> Result:
        env = {
            "COMMAND_CENTER_TOKEN": token,
            "COMMAND_CENTER_BASE_URL": base_url,
            "COMMAND_CENTER_TENANT": DEMO_TENANT,
            "COMMAND_CENTER_PROJECT": DEMO_PROJECT,
            "COMMAND_CENTER_CONFIG": str(tmp_path / "no-such-config.toml"),
            "COMMAND_CENTER_STATE_DIR": str(tmp_path / "cli-state"),
            "COMMAND_CENTER_PROFILE": None,
            "COLUMNS": "200",
        }
        result = CliRunner(env=env).invoke(main, list(args), prog_name="command-center")
        produced.extend([result.stdout, result.stderr])
        if result.exception is not None:
            produced.extend(_exception_texts(result.exception))
        return result

    listed = cli("tasks", "list")
    assert listed.exit_code == 0, listed.stderr
    ref = listed.stdout.splitlines()[1].split()[0]
    assert cli("tasks", "show", ref).exit_code == 0
    assert cli("tasks", "show", ref, "--json").exit_code == 0
    assert cli("tasks", "approve", ref, "--yes").exit_code == 0
    assert cli("tasks", "list", token=BAD_TOKEN).exit_code != 0
    assert cli("tasks", "list", base_url=f"http://127.0.0.1:{_closed_port()}").exit_code != 0

    # -- the console: refresh, detail and raw JSON, approve, reject, a conflict, a bad token ----
    app = _console(url, TOKEN, tmp_path / "console", fixed_now)
    _record_notifications(app, produced)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(lambda: app.services.last_refresh is not None, pilot.pause)
        await pilot.pause()
        await pilot.press("enter", "J")
        produced.append(app.export_screenshot())
        await pilot.press("J", "escape")
        approved = stub_state.completed_count
        await pilot.press("a")
        await answer(pilot, "y")
        # The default undo window (5 s) runs before each decision is sent.
        window = app.services.settings.undo_seconds + 10
        await wait_for(lambda: stub_state.completed_count > approved, pilot.pause, window)
        await pilot.press("x", *"not this one", "enter")
        await wait_for(lambda: stub_state.completed_count > approved + 1, pilot.pause, window)
        app.refresh_inbox()
        await pilot.pause()

        app.services.paused = True  # the conflict must reach the app, not a refresh
        rows = app.services.inbox.rows()
        with CommandCenterClient(url, TOKEN, DEMO_TENANT, DEMO_PROJECT) as other:
            other.approve(rows[0].task)
        await pilot.press("a")
        await answer(pilot, "y")
        await wait_for(
            lambda: any("Someone else" in text for text in produced), pilot.pause, window
        )
        await pilot.pause()
        produced.append(app.export_screenshot())
        produced.append(repr(app.services.client))
    assert app.return_code is None or app.return_code == 0

    rejected = _console(url, BAD_TOKEN, tmp_path / "rejected", fixed_now)
    async with rejected.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(lambda: rejected.services.connection.failures > 0, pilot.pause)
        await pilot.pause()
        produced.append(rejected.services.connection.last_error or "")
        produced.append(rejected.export_screenshot())
    assert "401" in produced[-2]

    # -- a crash: Textual's own report would print every frame's locals ---------------------
    crash_dir = tmp_path / "crash-state"
    monkeypatch.setenv("COMMAND_CENTER_STATE_DIR", str(crash_dir))

    def crash(self: object) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}  # a local, as in a request's frame
        raise RuntimeError(f"crashed while holding {headers}")

    monkeypatch.setattr(InboxScreen, "action_sort", crash)
    crashing = _console(url, TOKEN, tmp_path / "crashing", fixed_now)
    with pytest.raises(RuntimeError):
        async with crashing.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: crashing.services.last_refresh is not None, pilot.pause)
            await pilot.press("s")
            await wait_for(lambda: not crashing.is_running, pilot.pause)
    produced.append(exit_text(crashing))
    assert any(crash_dir.glob("crash-*.txt"))  # the report was written …
    for secret in (TOKEN, BAD_TOKEN):
        assert_token_absent(crash_dir, secret)  # … without the token

    # -- now search everything ----------------------------------------------------------------
    records = caplog.records
    assert any(r.name.startswith("command_center.client") for r in records)  # logging was on
    assert any("409" in text for text in produced)  # the error notification was seen
    formatter = logging.Formatter()
    logged = [caplog.text]
    for record in records:
        logged.append(record.getMessage())
        logged.append(repr(record.args))
        logged.append(repr({k: v for k, v in vars(record).items() if k not in {"msg", "args"}}))
        if record.exc_info:
            logged.append(formatter.formatException(record.exc_info))
    for secret in (TOKEN, BAD_TOKEN):
        for text in [*produced, *logged]:
            assert_token_absent(text, secret)

    # Stored snapshots: made with the demo token, and with no token of this session.
    assert any(SNAPSHOTS.rglob("*.svg"))
    for secret in (TOKEN, BAD_TOKEN, DEMO_CONTRIBUTOR_TOKEN):
        assert_token_absent(SNAPSHOTS, secret)
    # The console's outbox and audit files hold the session's decisions, never its token.
    for path in (tmp_path / "console" / "outbox.sqlite3", tmp_path / "console" / "audit.jsonl"):
        assert os.stat(path).st_size > 0  # the session did record decisions there
        for secret in (TOKEN, BAD_TOKEN):
            assert_token_absent(path, secret)
