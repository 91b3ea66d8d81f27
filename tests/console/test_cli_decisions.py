"""The real ``command-center`` executable deciding tasks: outbox, keys, exit codes, audit.

Each test runs the installed command in a subprocess (stdin not a terminal, state and config in
``tmp_path``) against the stub over loopback HTTP. Between the two sits a small proxy written
here: it forwards to the stub, records every request, and – where a test needs a fault – alters
the answer to a completion (a 503 after the stub applied it, a 204, a 200 that says "failed", a
platform that ignores ``Idempotency-Key``). Every run is bounded by a subprocess timeout and is
checked for the token and for a traceback.
"""

from __future__ import annotations

import getpass
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from client.models import Task
from console.decisions import MAX_ODD_ANSWERS, Decision, request_body
from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    DEMO_VIEWER_TOKEN,
    StubServer,
)

pytestmark = pytest.mark.e2e

PR = ("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")
PR_FULL = "/".join(PR)
PR_SHORT = "run_7f3a/approve-review"
OTHER_PR_SHORT = "run_29d8/approve-review"
CRM = ("wf_crm_extraction", "run_7a1d3c9e6f02", "review-extraction")
CRM_OTHER = ("wf_crm_extraction", "run_b6f20e4d8c35", "review-extraction")
SSH = "203.0.113.7 52214 10.0.0.5 22"
RUN_TIMEOUT = 30.0  # seconds for one invocation of the command


# -- the misbehaving proxy -------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Seen:
    """One request the proxy received, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    answer: Answer | None = None

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")

    def json(self) -> Any:
        return json.loads(self.body)


Hook = Callable[["Proxy", Seen], Answer]
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "date", "server"}


def _json_answer(status: int, body: Any, **headers: str) -> Answer:
    return Answer(
        status, {"content-type": "application/json", **headers}, json.dumps(body).encode()
    )


def unavailable() -> Answer:
    """A 503 that asks for an immediate retry (``Retry-After: 0``), so tests need not wait."""
    return _json_answer(
        503, {"error": "upstream timed out", "code": "INTERNAL_ERROR"}, **{"retry-after": "0"}
    )


@dataclass
class Proxy:
    """A loopback HTTP proxy to ``upstream`` whose completion answers a test may replace."""

    upstream: str
    seen: list[Seen] = field(default_factory=list)
    on_complete: Hook | None = None  # None: forward as is
    url: str = ""

    def forward(self, seen: Seen, *, strip_key: bool = False) -> Answer:
        """Send the request on to the stub; without its Idempotency-Key if ``strip_key``."""
        target = urlsplit(self.upstream)
        headers = {
            name: value
            for name, value in seen.headers.items()
            if name not in _HOP and not (strip_key and name == "idempotency-key")
        }
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        try:
            conn.request(seen.method, seen.path, body=seen.body or None, headers=headers)
            response = conn.getresponse()
            body = response.read()
            got = {name.lower(): value for name, value in response.getheaders()}
        finally:
            conn.close()
        return Answer(response.status, got, body)

    def answer(self, seen: Seen) -> Answer:
        self.seen.append(seen)
        hook = self.on_complete if self.is_completion(seen) else None
        seen.answer = hook(self, seen) if hook is not None else self.forward(seen)
        return seen.answer

    @staticmethod
    def is_completion(seen: Seen) -> bool:
        return seen.method == "POST" and seen.path.endswith("/complete")

    @property
    def completions(self) -> list[Seen]:
        return [s for s in self.seen if self.is_completion(s)]

    def keys(self) -> list[str | None]:
        return [s.key for s in self.completions]


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = proxy.answer(Seen(self.command, self.path, headers, body))
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                if name not in _HOP:
                    self.send_header(name, value)
            if answer.status != 204:
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.status != 204:
                self.wfile.write(answer.body)

        do_GET = do_POST = _relay

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    return Handler


@pytest.fixture
def proxy(live_stub: StubServer) -> Iterator[Proxy]:
    """A proxy to the live stub on 127.0.0.1:<free port>, in a daemon thread."""
    front = Proxy(live_stub.url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(front))
    server.daemon_threads = True
    front.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield front
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# Completion hooks ---------------------------------------------------------------------------------


def applied_then_503(proxy: Proxy, seen: Seen) -> Answer:
    """The platform applies the completion, and the answer is lost behind a 503."""
    proxy.forward(seen)
    return unavailable()


def applied_then_503_ignoring_keys(proxy: Proxy, seen: Seen) -> Answer:
    proxy.forward(seen, strip_key=True)
    return unavailable()


def ignoring_keys(proxy: Proxy, seen: Seen) -> Answer:
    """A platform that does not honour Idempotency-Key."""
    return proxy.forward(seen, strip_key=True)


def down(proxy: Proxy, seen: Seen) -> Answer:
    """Nothing reaches the platform: 503, not applied."""
    return unavailable()


def said_failed(proxy: Proxy, seen: Seen) -> Answer:
    return _json_answer(200, {"status": "failed", "error": "quota exceeded"})


def no_content(proxy: Proxy, seen: Seen) -> Answer:
    return Answer(204, {})


# -- running the command ---------------------------------------------------------------------------


def _command() -> list[str]:
    installed = Path(sys.executable).with_name("command-center")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "console"]


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def cc(tmp_path: Path, proxy: Proxy, state_dir: Path) -> Run:
    """``cc(*args, env=…)`` runs ``command-center`` against the proxy; checks every output."""

    def run(
        *args: str, env: dict[str, str] | None = None, url: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("COMMAND_CENTER_") and name != "SSH_CONNECTION"
        }
        environment.update(
            COMMAND_CENTER_BASE_URL=url or proxy.url,
            COMMAND_CENTER_TENANT=DEMO_TENANT,
            COMMAND_CENTER_PROJECT=DEMO_PROJECT,
            COMMAND_CENTER_TOKEN=DEMO_CONTRIBUTOR_TOKEN,
            COMMAND_CENTER_STATE_DIR=str(state_dir),
            COMMAND_CENTER_CONFIG=str(tmp_path / "config" / "config.toml"),
            COLUMNS="200",
            NO_COLOR="1",
            TZ="UTC",
        )
        environment.update(env or {})
        done = subprocess.run(
            [*_command(), *args],
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            cwd=tmp_path,
        )
        for secret in (DEMO_CONTRIBUTOR_TOKEN, DEMO_VIEWER_TOKEN):
            assert secret not in done.stdout and secret not in done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        return done

    return run


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def outbox_rows(cc: Run, *flags: str) -> list[dict[str, Any]]:
    done = cc("outbox", "--json", *flags)
    assert done.returncode == 0, done.stderr
    return _lines(done.stdout)


def audit_rows(cc: Run) -> list[dict[str, Any]]:
    done = cc("audit", "--json")
    assert done.returncode == 0, done.stderr
    return _lines(done.stdout)


def stub_task(live_stub: StubServer, key: tuple[str, str, str]) -> Task:
    for raw in live_stub.state.list_pending():
        task = Task.model_validate(raw)
        if task.key == key:
            return task
    raise AssertionError(f"{key} is not pending")


def _not_confirmed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 5, (done.stdout, done.stderr)
    assert "Not confirmed" in done.stderr
    assert "kept in the outbox" in done.stderr
    assert "command-center outbox --retry" in done.stderr
    assert "not applied" not in done.stderr.lower()
    assert "Approved" not in done.stdout


# -- 1. the outbox and the audit line --------------------------------------------------------------


def test_approve_is_recorded_in_the_outbox_and_audited_with_the_operator(
    cc: Run, proxy: Proxy, live_stub: StubServer
) -> None:
    done = cc("tasks", "approve", PR_SHORT, "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Approved {PR_FULL}: ")
    assert not live_stub.state.is_pending(*PR)

    (row,) = outbox_rows(cc, "--all")
    assert (row["state"], row["outcome"]) == ("done", "applied")
    assert (row["workflow_id"], row["run_id"], row["task_id"]) == PR
    assert proxy.keys() == [row["idempotency_key"]]
    assert outbox_rows(cc) == []  # nothing left to send

    operator = f"{getpass.getuser()}@{socket.gethostname()}"
    (line,) = audit_rows(cc)
    assert line["operator"] == operator
    assert "ssh_client" not in line
    assert (line["outcome"], line["approved"], line["idempotency_key"]) == (
        "applied",
        True,
        row["idempotency_key"],
    )

    rejected = cc("tasks", "reject", OTHER_PR_SHORT, "--reason", "no", "--yes")
    assert rejected.returncode == 0, rejected.stderr
    first, second = audit_rows(cc)
    assert first == line  # appended, never rewritten
    assert (second["operator"], second["approved"], second["result"]) == (
        operator,
        False,
        {"reason": "no"},
    )
    assert "ssh_client" not in second  # that decision was not made over SSH

    ssh_run = cc("tasks", "approve", "run_c1a7/approve-email", "--yes", env={"SSH_CONNECTION": SSH})
    assert ssh_run.returncode == 0, ssh_run.stderr
    third = audit_rows(cc)[-1]
    assert (third["operator"], third["ssh_client"]) == (operator, "203.0.113.7")


# -- 2. an answer lost after the platform applied the decision -------------------------------------


def test_lost_answer_exits_5_and_the_same_command_line_reuses_the_key(
    cc: Run, proxy: Proxy, live_stub: StubServer
) -> None:
    proxy.on_complete = applied_then_503
    first = cc("tasks", "approve", PR_FULL, "--yes")
    _not_confirmed(first)
    assert not live_stub.state.is_pending(*PR)  # it was applied nonetheless
    assert len(proxy.completions) >= 2  # the client's own retries …
    assert len(set(proxy.keys())) == 1  # … all with one key
    (row,) = outbox_rows(cc)
    assert row["state"] == "queued"
    assert row["idempotency_key"] == proxy.keys()[0]

    proxy.on_complete = None
    sent_before = len(proxy.completions)
    again = cc("tasks", "approve", PR_FULL, "--yes")
    assert again.returncode == 0, again.stderr
    assert "Approved" in again.stdout
    assert "not applied" not in (again.stdout + again.stderr).lower()
    assert len(proxy.completions) == sent_before + 1
    assert set(proxy.keys()) == {row["idempotency_key"]}  # one key across both invocations
    last = proxy.completions[-1]
    assert last.answer is not None and last.answer.status == 200
    assert last.answer.headers.get("idempotent-replayed") == "true"  # the stub replayed it
    (settled,) = outbox_rows(cc, "--all")
    assert (settled["state"], settled["outcome"]) == ("done", "applied")


def test_rerun_against_a_platform_ignoring_keys_meets_409_and_says_it_was_applied_earlier(
    cc: Run, proxy: Proxy, live_stub: StubServer
) -> None:
    proxy.on_complete = applied_then_503_ignoring_keys
    _not_confirmed(cc("tasks", "approve", PR_FULL, "--yes"))
    assert not live_stub.state.is_pending(*PR)

    proxy.on_complete = ignoring_keys
    again = cc("tasks", "approve", PR_FULL, "--yes")
    said = again.stdout + again.stderr
    assert again.returncode == 0, said
    assert proxy.completions[-1].answer is not None
    assert proxy.completions[-1].answer.status == 409
    assert "applied by your earlier attempt" in said
    assert "not applied" not in said.lower()
    assert len(set(proxy.keys())) == 1  # the CLI still sent its one key
    (row,) = outbox_rows(cc, "--all")
    assert (row["state"], row["outcome"]) == ("done", "applied by our earlier attempt")


def test_rerun_with_a_short_ref_no_longer_pending_finds_the_decision_in_the_outbox(
    cc: Run, proxy: Proxy, live_stub: StubServer
) -> None:
    args = ("tasks", "approve", PR_SHORT, "--set", "comment_body=Ship it", "--yes")
    proxy.on_complete = applied_then_503
    _not_confirmed(cc(*args))
    assert not live_stub.state.is_pending(*PR)
    # The short ref resolved against the inbox then; now the inbox does not have it.
    shown = cc("tasks", "show", PR_SHORT)
    assert shown.returncode == 2

    proxy.on_complete = None
    again = cc(*args)
    assert again.returncode == 0, again.stderr
    assert "Approved" in again.stdout
    assert len(set(proxy.keys())) == 1
    assert proxy.completions[-1].json() == {
        "approved": True,
        "result": {"comment_body": "Ship it"},
    }
    assert proxy.completions[-1].answer is not None
    assert proxy.completions[-1].answer.headers.get("idempotent-replayed") == "true"

    # Other values for a task that is no longer pending cannot be checked: refused, not sent.
    sent = len(proxy.completions)
    other = cc("tasks", "approve", PR_SHORT, "--set", "comment_body=Other", "--yes")
    assert other.returncode == 2
    assert len(proxy.completions) == sent


@pytest.mark.parametrize(
    "args",
    [
        (PR_FULL, "--idempotency-key", "cli-rerun-key-1"),
        (PR_SHORT, "--result-json", '{"ticket": "T-1"}'),
        (PR_FULL, "--result-json", '{"ticket": "T-1"}'),
    ],
    ids=["full-ref-with-key", "short-ref-with-result-json", "full-ref-with-result-json"],
)
def test_rerun_of_the_same_command_line_after_a_lost_answer_is_one_decision(
    cc: Run, proxy: Proxy, live_stub: StubServer, args: tuple[str, ...]
) -> None:
    editable = stub_task(live_stub, PR).editable_values()
    extra = json.loads(args[2]) if args[1] == "--result-json" else {}
    proxy.on_complete = applied_then_503
    _not_confirmed(cc("tasks", "approve", *args, "--yes"))

    proxy.on_complete = None
    again = cc("tasks", "approve", *args, "--yes")
    assert again.returncode == 0, again.stderr
    assert "Approved" in again.stdout
    assert len(set(proxy.keys())) == 1
    if args[1] == "--idempotency-key":
        assert proxy.keys()[0] == args[2]
    bodies = [seen.json() for seen in proxy.completions]
    assert all(body == {"approved": True, "result": editable | extra} for body in bodies)


# -- 3. outbox --retry -----------------------------------------------------------------------------


def test_outbox_retry_sends_the_queued_decision_with_its_key(cc: Run, proxy: Proxy) -> None:
    proxy.on_complete = applied_then_503
    _not_confirmed(cc("tasks", "approve", PR_SHORT, "--yes"))
    (queued,) = outbox_rows(cc)

    proxy.on_complete = None
    retried = cc("outbox", "--retry")
    assert retried.returncode == 0, retried.stderr
    assert "Approved" in retried.stdout
    assert set(proxy.keys()) == {queued["idempotency_key"]}
    assert outbox_rows(cc) == []
    listed = cc("outbox")
    assert listed.returncode == 0
    assert "The outbox is empty" in listed.stdout
    (settled,) = outbox_rows(cc, "--all")
    assert settled["state"] == "done"
    nothing = cc("outbox", "--retry")
    assert nothing.returncode == 0
    assert "Nothing to send" in nothing.stdout


# -- 4. --idempotency-key --------------------------------------------------------------------------


def test_idempotency_key_option_is_sent_and_cannot_name_another_decision(
    cc: Run, proxy: Proxy
) -> None:
    key = "cli-test-key-0001"
    done = cc("tasks", "approve", PR_SHORT, "--idempotency-key", key, "--yes")
    assert done.returncode == 0, done.stderr
    assert proxy.keys() == [key]
    (row,) = outbox_rows(cc, "--all")
    assert row["idempotency_key"] == key

    # The same key for the same decision again: settled already, nothing sent.
    same = cc("tasks", "approve", PR_FULL, "--idempotency-key", key, "--yes")
    assert same.returncode == 0, same.stderr
    assert "Nothing was sent" in same.stdout
    assert proxy.keys() == [key]

    for other in (
        ("tasks", "reject", OTHER_PR_SHORT, "--idempotency-key", key, "--yes"),
        ("tasks", "approve", OTHER_PR_SHORT, "--idempotency-key", key, "--yes"),
    ):
        refused = cc(*other)
        assert refused.returncode == 2, refused.stderr
        assert key in refused.stderr
        assert proxy.keys() == [key]  # nothing sent


# -- 5. a different decision already queued --------------------------------------------------------


def test_a_different_queued_decision_must_be_sent_or_discarded_first(
    cc: Run, proxy: Proxy, live_stub: StubServer
) -> None:
    proxy.on_complete = down
    _not_confirmed(cc("tasks", "approve", PR_SHORT, "--yes"))
    (queued,) = outbox_rows(cc)
    key = queued["idempotency_key"]
    assert live_stub.state.is_pending(*PR)

    proxy.on_complete = None
    sent = len(proxy.completions)
    refused = cc("tasks", "reject", PR_SHORT, "--reason", "changed my mind", "--yes")
    assert refused.returncode == 2, refused.stderr
    assert "command-center outbox --retry" in refused.stderr
    assert "command-center outbox --discard" in refused.stderr
    assert key in refused.stderr
    assert len(proxy.completions) == sent

    discarded = cc("outbox", "--discard", key, "--yes")
    assert discarded.returncode == 0, discarded.stderr
    assert "Discarded" in discarded.stdout
    listed = cc("outbox")
    assert listed.returncode == 0
    assert "The outbox is empty" in listed.stdout
    assert outbox_rows(cc) == []
    (line,) = audit_rows(cc)
    assert line["idempotency_key"] == key
    assert "discarded" in line["outcome"]
    assert len(proxy.completions) == sent  # discarding sends nothing

    # Its key cannot bring the discarded decision back.
    revived = cc("tasks", "approve", PR_SHORT, "--idempotency-key", key, "--yes")
    assert revived.returncode == 2, revived.stderr
    assert key in revived.stderr and "discarded" in revived.stderr
    assert len(proxy.completions) == sent
    assert live_stub.state.is_pending(*PR)

    # Now the other decision can be taken.
    rejected = cc("tasks", "reject", PR_SHORT, "--reason", "changed my mind", "--yes")
    assert rejected.returncode == 0, rejected.stderr
    assert proxy.completions[-1].key != key


# -- 6. answers that do not confirm ----------------------------------------------------------------


def test_a_200_that_says_failed_is_exit_1_with_the_platforms_words(
    cc: Run, proxy: Proxy, live_stub: StubServer
) -> None:
    proxy.on_complete = said_failed
    done = cc("tasks", "approve", PR_SHORT, "--yes")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "quota exceeded" in done.stderr
    assert "Approved" not in done.stdout
    assert live_stub.state.is_pending(*PR)
    (row,) = outbox_rows(cc)
    assert row["state"] == "failed"
    assert "quota exceeded" in row["last_error"]


def test_a_204_is_not_confirmed_and_gives_up_after_max_odd_answers(cc: Run, proxy: Proxy) -> None:
    assert MAX_ODD_ANSWERS == 3
    proxy.on_complete = no_content
    for attempt in range(1, MAX_ODD_ANSWERS + 1):
        done = cc("tasks", "approve", PR_SHORT, "--yes")
        assert done.returncode == 5, (attempt, done.stdout, done.stderr)
        assert "Not confirmed" in done.stderr
        assert "Approved" not in done.stdout
        (row,) = outbox_rows(cc)
        if attempt < MAX_ODD_ANSWERS:
            assert row["state"] == "queued"
            assert "kept in the outbox" in done.stderr
    assert f"Not confirmed after {MAX_ODD_ANSWERS} undocumented answers" in done.stderr
    assert "kept in the outbox" not in done.stderr
    assert (row["state"], row["outcome"]) == (
        "failed",
        "not confirmed after repeated undocumented answers",
    )
    assert row["attempts"] == MAX_ODD_ANSWERS
    assert len(proxy.completions) == MAX_ODD_ANSWERS
    assert len(set(proxy.keys())) == 1
    assert "outbox --retry` sends it once more" in done.stderr
    assert "sends it sends it" not in done.stderr

    # A shell loop re-running the command does not resend what the service gave up on …
    for _ in range(2):
        again = cc("tasks", "approve", PR_SHORT, "--yes")
        assert again.returncode == 5, again.stderr
        assert "Nothing was sent" in again.stderr
        assert "command-center outbox --retry" in again.stderr
        assert row["idempotency_key"] in again.stderr  # the key to discard it with
    assert len(proxy.completions) == MAX_ODD_ANSWERS
    # … only the operator's explicit retry sends it, once, and it waits as failed again.
    retried = cc("outbox", "--retry")
    assert retried.returncode == 5, retried.stderr
    assert len(proxy.completions) == MAX_ODD_ANSWERS + 1
    assert len(set(proxy.keys())) == 1
    (row,) = outbox_rows(cc)
    assert row["state"] == "failed"


# -- 7. one body rule for console and CLI ----------------------------------------------------------


def test_cli_sends_the_body_the_console_would(cc: Run, proxy: Proxy, live_stub: StubServer) -> None:
    task = stub_task(live_stub, CRM)
    assert task.editable_values()
    done = cc("tasks", "approve", "run_7a1d/review-extraction", "--yes")
    assert done.returncode == 0, done.stderr
    sent = proxy.completions[-1].json()
    assert sent == {"approved": True, "result": task.editable_values()}
    assert sent == request_body(True, Decision.approve(task).result)

    other = stub_task(live_stub, CRM_OTHER)
    edits = {"employee_count": 250, "existing_customer": False}
    done = cc(
        "tasks",
        "approve",
        "run_b6f2/review-extraction",
        "--set",
        "employee_count=250",
        "--set",
        "existing_customer=false",
        "--yes",
    )
    assert done.returncode == 0, done.stderr
    sent = proxy.completions[-1].json()
    assert sent == {"approved": True, "result": other.editable_values() | edits}
    assert sent == request_body(True, Decision.approve(other, edits).result)
    line = audit_rows(cc)[-1]
    assert line["edits"] == {
        "employee_count": {"from": 57, "to": 250},
        "existing_customer": {
            "from": True,
            "to": False,
        },
    }


# -- 8. a damaged outbox, an unusable state dir ----------------------------------------------------


def test_a_damaged_outbox_is_moved_aside_with_a_warning_and_decisions_still_work(
    cc: Run, proxy: Proxy, state_dir: Path
) -> None:
    state_dir.mkdir(mode=0o700)
    damaged = state_dir / "outbox.sqlite3"
    garbage = b"\x00\xffnot a database\x13\x37" * 64
    damaged.write_bytes(garbage)

    listed = cc("outbox")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.startswith("warning: The outbox file was damaged")
    aside = [p for p in state_dir.iterdir() if p.name not in ("outbox.sqlite3",)]
    aside = [p for p in aside if p.name.startswith("outbox") and not p.name.endswith("-journal")]
    assert len(aside) == 1, sorted(p.name for p in state_dir.iterdir())
    assert str(aside[0]) in listed.stderr
    assert aside[0].read_bytes() == garbage  # kept, never deleted

    done = cc("tasks", "approve", PR_SHORT, "--yes")
    assert done.returncode == 0, done.stderr
    assert len(proxy.completions) == 1
    (row,) = outbox_rows(cc, "--all")
    assert row["state"] == "done"


def test_a_state_dir_that_is_a_file_refuses_before_sending(
    cc: Run, proxy: Proxy, tmp_path: Path, live_stub: StubServer
) -> None:
    not_a_dir = tmp_path / "state-file"
    not_a_dir.write_text("I am a file\n")
    done = cc(
        "tasks", "approve", PR_SHORT, "--yes", env={"COMMAND_CENTER_STATE_DIR": str(not_a_dir)}
    )
    assert done.returncode != 0
    assert "Nothing was sent" in done.stderr
    assert proxy.completions == []
    assert live_stub.state.is_pending(*PR)
    assert not_a_dir.read_text() == "I am a file\n"
