"""The decision service on its own: a real SQLite outbox, a blocking client, a scripted platform.

What an operator is told when the outbox fails *after* the request went out: never "not sent".
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from client import CommandCenterClient
from console.audit import AuditLog
from console.decisions import DecisionService, OutcomeNotRecorded, Settled, Where
from console.outbox import EntryState, Outbox

KEY = ("wf", "run_1", "approve-1")


def _service(tmp_path: Path, handler: httpx.MockTransport) -> tuple[DecisionService, Outbox]:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    client = CommandCenterClient(
        "https://platform.example",
        "pat_decision_service_test",
        "acme",
        "proj",
        http_client=httpx.Client(transport=handler),
        max_retries=0,
    )
    where = Where("default", "https://platform.example", "acme", "proj")
    return DecisionService(client, outbox, AuditLog(tmp_path / "audit.jsonl"), where), outbox


def test_an_outbox_that_fails_after_the_answer_says_so_and_the_resend_settles(
    tmp_path: Path,
) -> None:
    keys: list[str] = []
    state = {"outbox": None}

    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:  # the platform applies it; then the outbox stops taking writes
            state["outbox"]._db.execute("PRAGMA query_only = ON")  # type: ignore[attr-defined]
        return httpx.Response(200, json={"status": "completed", "approved": True})

    service, outbox = _service(tmp_path, httpx.MockTransport(answer))
    state["outbox"] = outbox  # type: ignore[assignment]
    entry = service.record(KEY, "a task", approved=True, result=None, hold=False)
    with pytest.raises(OutcomeNotRecorded) as raised:
        service.send_blocking(entry)
    message = str(raised.value)
    assert "platform answered" in message and "cannot be applied twice" in message
    assert "not sent" not in message.lower()

    outbox._db.execute("PRAGMA query_only = OFF")
    stored = outbox.get(entry.key)
    assert stored is not None and stored.state is EntryState.QUEUED and stored.attempts == 1
    settlement = service.send_blocking(stored)
    assert settlement.how is Settled.APPLIED
    assert keys == [entry.key, entry.key]  # one key: the platform cannot apply it twice
    (line,) = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert line["outcome"] == "applied"
