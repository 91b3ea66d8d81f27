"""The decision outbox: every approve/reject is on disk before its first request is sent.

A decision is the one thing the console must never lose or apply twice. It is written here
(SQLite, synchronous=FULL) with its idempotency key *before* anything goes on the wire, and leaves
the queue only when the server confirmed it or gave a final answer. After a crash, a dropped SSH
session or a laptop lid, the next start finds it queued and sends it again with the same key, so
the platform applies it at most once.
"""

from __future__ import annotations

import enum
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "command-center-tui"


def state_dir(environ: dict[str, str] | None = None) -> Path:
    """Where the outbox and the audit log live (``COMMAND_CENTER_STATE_DIR`` overrides)."""
    env = os.environ if environ is None else environ
    override = env.get("COMMAND_CENTER_STATE_DIR", "").strip()
    return Path(override).expanduser() if override else platformdirs.user_state_path(APP_NAME)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable only by the user."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


class EntryState(enum.StrEnum):
    QUEUED = "queued"  # written, not yet confirmed: will be (re)sent
    DONE = "done"  # the server gave its final word (see outcome)
    FAILED = "failed"  # a final refusal (4xx) or a conflict: waits for retry or discard
    DISCARDED = "discarded"  # the operator gave it up


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    PROBABLY_OURS = "probably applied by our earlier attempt"
    ELSEWHERE = "completed by someone else"
    REFUSED = "refused by the server"


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    profile: str
    base_url: str
    tenant: str
    project: str | None
    workflow_id: str
    run_id: str
    task_id: str
    title: str
    approved: bool
    result: dict[str, Any] | None
    original: dict[str, Any] | None  # editable values before the operator's edits
    state: EntryState
    attempts: int
    outcome: Outcome | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def task_key(self) -> tuple[str, str, str]:
        return (self.workflow_id, self.run_id, self.task_id)

    @property
    def verb(self) -> str:
        return "approve" if self.approved else "reject"

    def describe(self) -> dict[str, Any]:
        """The decision as JSON: where it goes, what it sends, how far it got."""
        return {
            "profile": self.profile,
            "base_url": self.base_url,
            "tenant": self.tenant,
            "project": self.project,
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "title": self.title,
            "approved": self.approved,
            "result": self.result,
            "attempts": self.attempts,
            "idempotency_key": self.key,
        }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    key TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    base_url TEXT NOT NULL,
    tenant TEXT NOT NULL,
    project TEXT,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    title TEXT NOT NULL,
    approved INTEGER NOT NULL,
    result TEXT,
    original TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_state ON decisions (state, created_at);
"""

_COLUMNS = (
    "key, profile, base_url, tenant, project, workflow_id, run_id, task_id, title, approved, "
    "result, original, state, attempts, outcome, last_error, created_at, updated_at"
)


def storable(text: str) -> str:
    """Text SQLite (UTF-8) can hold: a lone surrogate becomes a visible ``\\ud800``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    (key, profile, base_url, tenant, project, wf, run, task, title, approved, result, original,
     state, attempts, outcome, last_error, created, updated) = row  # fmt: skip
    return OutboxEntry(
        key=key,
        profile=profile,
        base_url=base_url,
        tenant=tenant,
        project=project,
        workflow_id=wf,
        run_id=run,
        task_id=task,
        title=title,
        approved=bool(approved),
        result=json.loads(result) if result is not None else None,
        original=json.loads(original) if original is not None else None,
        state=EntryState(state),
        attempts=attempts,
        outcome=Outcome(outcome) if outcome else None,
        last_error=last_error,
        created_at=datetime.fromisoformat(created),
        updated_at=datetime.fromisoformat(updated),
    )


class Outbox:
    """Durable decisions; safe to share between the UI thread and workers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_dir(path.parent)
        # Create the file user-only before SQLite opens it; SQLite gives its journal the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        path.chmod(0o600)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed decision survives power loss
        self._db.executescript(_SCHEMA)

    @classmethod
    def default(cls) -> Outbox:
        return cls(private_dir(state_dir()) / "outbox.sqlite3")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def submit(
        self,
        *,
        profile: str,
        base_url: str,
        tenant: str,
        project: str | None,
        task_key: tuple[str, str, str],
        title: str,
        approved: bool,
        result: dict[str, Any] | None,
        original: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> OutboxEntry:
        """Record a decision, queued, before it is sent. Returns the stored entry."""
        key = key or str(uuid.uuid4())
        now = _now()
        row = (
            key, profile, base_url, tenant, project, *task_key, storable(title), int(approved),
            json.dumps(result) if result is not None else None,
            json.dumps(original) if original is not None else None,
            EntryState.QUEUED.value, 0, None, None, now, now,
        )  # fmt: skip
        with self._tx() as db:
            db.execute(f"INSERT INTO decisions ({_COLUMNS}) VALUES ({', '.join('?' * 18)})", row)
        entry = self.get(key)
        assert entry is not None
        return entry

    def get(self, key: str) -> OutboxEntry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM decisions WHERE key = ?", (key,)
            ).fetchone()
        return _entry(row) if row else None

    def _update(self, key: str, **values: Any) -> OutboxEntry:
        values["updated_at"] = _now()
        sets = ", ".join(f"{name} = ?" for name in values)
        with self._tx() as db:
            cursor = db.execute(
                f"UPDATE decisions SET {sets} WHERE key = ?", (*values.values(), key)
            )
            if cursor.rowcount != 1:
                raise KeyError(key)
        entry = self.get(key)
        assert entry is not None
        return entry

    def attempt(self, key: str) -> OutboxEntry:
        """Count an attempt before sending it: after a crash, the count says one may have landed."""
        with self._tx() as db:
            db.execute(
                "UPDATE decisions SET attempts = attempts + 1, updated_at = ? WHERE key = ?",
                (_now(), key),
            )
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def confirm(self, key: str, outcome: Outcome) -> OutboxEntry:
        return self._update(
            key, state=EntryState.DONE.value, outcome=outcome.value, last_error=None
        )

    def requeue(self, key: str, error: str) -> OutboxEntry:
        """Still unconfirmed (network, 5xx, 429): stays queued for the next try, same key."""
        return self._update(key, state=EntryState.QUEUED.value, last_error=error)

    def fail(self, key: str, error: str, outcome: Outcome | None = None) -> OutboxEntry:
        """A final answer that is not a success: kept until the operator retries or discards."""
        return self._update(
            key,
            state=EntryState.FAILED.value,
            last_error=error,
            outcome=outcome.value if outcome else None,
        )

    def retry(self, key: str) -> OutboxEntry:
        return self._update(key, state=EntryState.QUEUED.value)

    def discard(self, key: str) -> OutboxEntry:
        return self._update(key, state=EntryState.DISCARDED.value)

    def entries(
        self,
        states: Iterable[EntryState] = (EntryState.QUEUED, EntryState.FAILED),
        *,
        profile: str | None = None,
        base_url: str | None = None,
        tenant: str | None = None,
    ) -> list[OutboxEntry]:
        """Entries in ``states``, oldest first, optionally for one connection."""
        wanted = [s.value for s in states]
        query = f"SELECT {_COLUMNS} FROM decisions WHERE state IN ({', '.join('?' * len(wanted))})"
        params: list[Any] = list(wanted)
        for column, value in (("profile", profile), ("base_url", base_url), ("tenant", tenant)):
            if value is not None:
                query += f" AND {column} = ?"
                params.append(value)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at, key", params).fetchall()
        return [_entry(row) for row in rows]
