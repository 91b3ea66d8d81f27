"""The local audit log: one JSON line per decision the server answered, user-only, fsynced.

Who decided what, where from, with which edits: for the operator's own record and for the
review after an incident. A line cut short by a crash is skipped on reading, never fatal.

Run commands (pause, resume, stop) are lines of their own kind, ``{"kind": "run_command", …}``;
a decision's line has no ``kind`` and is unchanged by them.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .outbox import OutboxEntry, Outcome
from .paths import private_dir, state_dir


def operator_identity(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``user@host``, plus the SSH client's address when the session came over SSH."""
    env = os.environ if environ is None else environ
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    identity = {"operator": f"{user}@{socket.gethostname()}"}
    ssh = env.get("SSH_CONNECTION", "").split()
    if ssh:
        identity["ssh_client"] = ssh[0]
    return identity


def edits_of(original: Mapping[str, Any] | None, sent: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{name: {"from": old, "to": new}}`` for each value the operator changed."""
    if not original or not sent:
        return {}
    return {
        name: {"from": original.get(name), "to": value}
        for name, value in sent.items()
        if name in original and original[name] != value
    }


@dataclass(frozen=True)
class AuditRead:
    records: list[dict[str, Any]]
    skipped: int  # lines that were not JSON objects (a write cut short by a crash)


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> AuditLog:
        return cls(state_dir() / "audit.jsonl")

    def record(
        self, entry: OutboxEntry, outcome: Outcome | str, *, at: datetime | None = None
    ) -> dict[str, Any]:
        line = {
            "at": (at or datetime.now(UTC)).isoformat(),
            **entry.describe(),
            "edits": edits_of(entry.original, entry.result),
            "outcome": str(outcome),
            **operator_identity(),
        }
        self._append(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        return line

    def record_run_command(
        self,
        where: Mapping[str, Any],
        *,
        workflow_id: str,
        run_id: str,
        command: str,
        outcome: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        status: str | None = None,
        error: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """One run command the platform was sent: where, which run, what, and how it ended.

        ``where`` is the connection (profile, base_url, tenant, project); ``status`` the run's
        status the platform answered (or the runs feed showed); ``error`` the platform's words.
        """
        line: dict[str, Any] = {
            "kind": "run_command",
            "at": (at or datetime.now(UTC)).isoformat(),
            **where,
            "workflow_id": workflow_id,
            "run_id": run_id,
            "command": command,
            "params": dict(params or {}),
            "idempotency_key": idempotency_key,
            "outcome": outcome,
            "status": status,
            "error": error,
            **operator_identity(),
        }
        self._append(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        return line

    def _append(self, text: str) -> None:
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
            # backslashreplace turns a lone surrogate into the JSON escape it came from.
            data = text.encode("utf-8", "backslashreplace")
            # One write per line with O_APPEND: concurrent consoles never interleave a line.
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(
        self, *, since: datetime | None = None, kinds: Collection[str] | None = ("decision",)
    ) -> AuditRead:
        """The records, oldest first. ``kinds``: the kinds to keep – a decision's line has none
        and is ``"decision"``; ``("run_command",)`` the run commands; None every line."""
        try:
            raw = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return AuditRead([], 0)
        records: list[dict[str, Any]] = []
        skipped = 0
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            if not isinstance(record, dict):
                skipped += 1
                continue
            if kinds is not None and record.get("kind", "decision") not in kinds:
                continue
            if since is not None:
                try:
                    at = datetime.fromisoformat(str(record.get("at")))
                except ValueError:
                    skipped += 1
                    continue
                if at < since:
                    continue
            records.append(record)
        return AuditRead(records, skipped)
