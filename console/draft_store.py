"""Edit-form drafts on disk, so a dropped SSH session (SIGHUP, a killed terminal) loses no typing.

What each form control held is written, per connection and task, to ``drafts.sqlite3`` in the
state directory (a user-only directory and file) as the operator types, and read back when the
console starts. A draft is dropped when its task is decided or leaves the inbox.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .paths import UnsafeDirectoryError, private_dir, state_dir

if TYPE_CHECKING:
    from .decisions import Where
    from .inbox_model import TaskKey

_SCHEMA = """
CREATE TABLE IF NOT EXISTS drafts (
    profile TEXT NOT NULL, base_url TEXT NOT NULL, tenant TEXT NOT NULL, project TEXT NOT NULL,
    workflow_id TEXT NOT NULL, run_id TEXT NOT NULL, task_id TEXT NOT NULL,
    title TEXT NOT NULL, fields TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (profile, base_url, tenant, project, workflow_id, run_id, task_id)
)
"""


class DraftStoreError(Exception):
    """The drafts file cannot be used; drafts then last as long as the console."""


class DraftStore:
    """The drafts of one connection (``where``) in one SQLite file."""

    def __init__(self, path: Path, where: Where) -> None:
        self.path = path
        self._where = (where.profile, where.base_url, where.tenant, where.project or "")
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():  # created user-only: drafts may hold what a payload held
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise DraftStoreError(f"{path} cannot be used for drafts: {exc}") from None

    @classmethod
    def default(cls, where: Where) -> DraftStore:
        try:
            directory = private_dir(state_dir())
        except (UnsafeDirectoryError, OSError) as exc:
            raise DraftStoreError(f"drafts are not kept across restarts: {exc}") from None
        return cls(directory / "drafts.sqlite3", where)

    def load(self) -> dict[TaskKey, tuple[str, dict[str, Any]]]:
        """Every draft of this connection: task key → (its task's title, its fields)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT workflow_id, run_id, task_id, title, fields FROM drafts WHERE profile = ?"
                " AND base_url = ? AND tenant = ? AND project = ?",
                self._where,
            ).fetchall()
        drafts: dict[TaskKey, tuple[str, dict[str, Any]]] = {}
        for workflow_id, run_id, task_id, title, fields in rows:
            try:
                values = json.loads(fields)
            except ValueError:
                continue  # a damaged row is a draft lost, never a console that cannot start
            if isinstance(values, dict):
                drafts[(workflow_id, run_id, task_id)] = (title, values)
        return drafts

    def put(self, key: TaskKey, title: str, fields: dict[str, Any], at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO drafts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*self._where, *key, title, json.dumps(fields), at),
            )

    def drop(self, key: TaskKey) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM drafts WHERE profile = ? AND base_url = ? AND tenant = ?"
                " AND project = ? AND workflow_id = ? AND run_id = ? AND task_id = ?",
                (*self._where, *key),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
