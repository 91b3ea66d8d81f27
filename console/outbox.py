"""The decision outbox: every approve/reject is on disk before its first request is sent.

A decision is the one thing the console must never lose or apply twice. It is written here
(SQLite, synchronous=FULL) with its idempotency key *before* anything goes on the wire, and leaves
the queue only when the server confirmed it or gave a final answer. After a crash, a dropped SSH
session or a laptop lid, the next start finds it queued and sends it again with the same key, so
the platform applies it at most once.

A file that cannot be trusted never loses decisions silently: a damaged outbox is moved aside
(never deleted), what can be read from it is copied into a fresh one and :attr:`Outbox.recovery`
says so in one sentence; a row that cannot be read back is shown as failed and is never resent.
Every write failure is one :class:`OutboxError` whose message names the file and the reason.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import _outbox_file as _file
from ._outbox_file import SCHEMA_VERSION, Recovery
from .paths import APP_NAME, UnsafeDirectoryError, private_dir, state_dir

__all__ = [
    "APP_NAME",
    "SCHEMA_VERSION",
    "EntryState",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
    "Outcome",
    "Recovery",
    "UnsafeDirectoryError",
    "private_dir",
    "state_dir",
    "storable",
]

try:  # a directory lock serialises the integrity check and recovery between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, one console per user is the norm
    fcntl = None  # type: ignore[assignment]


class EntryState(enum.StrEnum):
    HELD = "held"  # confirmed by the operator, inside the undo window: nothing sent yet
    QUEUED = "queued"  # written, not yet confirmed: will be (re)sent
    DONE = "done"  # the server gave its final word (see outcome)
    FAILED = "failed"  # a final refusal (4xx) or a conflict: waits for retry or discard
    DISCARDED = "discarded"  # the operator gave it up
    UNDONE = "undone"  # taken back inside the undo window: never sent


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    PROBABLY_OURS = "probably applied by our earlier attempt"  # written by earlier versions
    ELSEWHERE = "completed by someone else"
    REFUSED = "refused by the server"
    # What console/decisions.py settles a decision as (read from the run's events for a 409).
    APPLIED_EARLIER = "applied by our earlier attempt"
    UNKNOWN_COMPLETER = "already completed; could not tell by whom"
    EARLIER_DECISION = "already completed by an earlier decision from this outbox"
    NOT_COMPLETED = "not completed: the platform said so"
    UNCONFIRMED = "not confirmed after repeated undocumented answers"
    UNDONE = "undone inside the undo window"
    DISCARDED = "discarded by the operator"


_LIVE = frozenset({EntryState.HELD, EntryState.QUEUED, EntryState.FAILED})
_UNSETTLED = (EntryState.HELD, EntryState.QUEUED, EntryState.FAILED)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class OutboxError(Exception):
    """The outbox cannot do what was asked; ``str()`` is one sentence for the operator."""

    def __init__(self, message: str, *, path: Path, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason

    @classmethod
    def cannot(cls, path: Path, action: str, reason: str) -> OutboxError:
        return cls(f"The outbox at {path} cannot {action}: {reason}", path=path, reason=reason)


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
    outcome: Outcome | None  # None also when the stored outcome is unknown (see damaged)
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    send_after: datetime | None = None  # end of the undo window of a held decision
    audited: bool = False  # the audit line of the settled decision was written
    odd_answers: int = 0  # attempts answered with an undocumented 2xx
    ambiguous: bool = False  # some attempt may have been applied (timeout, 5xx, cut connection)
    damaged: str | None = None  # why the stored row could not be read as it was written

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


def storable(text: str) -> str:
    """Text SQLite (UTF-8) can hold: a lone surrogate becomes a visible ``\\ud800``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _iso(moment: datetime) -> str:
    """A fixed-width UTC timestamp, so stored times also sort as text; naive means UTC."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def _now() -> str:
    return _iso(datetime.now(UTC))


# -- reading rows: damage is reported, never raised ------------------------------------------


class _Reader:
    """Turns one stored row into an entry, collecting what could not be read."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def text(self, value: Any, name: str) -> str:
        if isinstance(value, str):
            return value
        self.problems.append(f"unreadable {name}")
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return "" if value is None else str(value)

    def optional_text(self, value: Any, name: str) -> str | None:
        return None if value is None else self.text(value, name)

    def integer(self, value: Any, name: str) -> int:
        if isinstance(value, int):
            return value
        self.problems.append(f"unreadable {name}")
        return 0

    def flag(self, value: Any, name: str) -> bool:
        if value in (0, 1):
            return bool(value)
        self.problems.append(f"unreadable {name}")
        return False

    def json_object(self, value: Any, name: str) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            self.problems.append(f"unreadable {name} JSON")
            return None
        if not isinstance(parsed, dict):
            self.problems.append(f"{name} is not a JSON object")
            return None
        return parsed

    def moment(self, value: Any, name: str) -> datetime | None:
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            self.problems.append(f"unreadable {name}")
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed

    def state(self, value: Any) -> EntryState | None:
        try:
            return EntryState(value)
        except ValueError:
            self.problems.append(f"unknown state {value!r}")
            return None

    def outcome(self, value: Any) -> Outcome | None:
        if not value:
            return None
        try:
            return Outcome(value)
        except ValueError:  # e.g. written by a newer console: kept in the file as it was
            self.problems.append(f"unknown outcome {value!r}")
            return None


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    """The entry of a stored row; a row that cannot be read fully is marked ``damaged``.

    A damaged row that was (or may have been) waiting to be sent reads as FAILED, so nothing
    resends what cannot be read back exactly; a settled one (done, discarded, undone) keeps its
    state, since there is nothing left to do with it.
    """
    values = dict(zip(_file.NAMES, row, strict=True))
    read = _Reader()
    entry_state = read.state(values["state"])
    created = read.moment(values["created_at"], "created_at")
    updated = read.moment(values["updated_at"], "updated_at")
    fields: dict[str, Any] = {
        "key": read.text(values["key"], "key"),
        "profile": read.text(values["profile"], "profile"),
        "base_url": read.text(values["base_url"], "base_url"),
        "tenant": read.text(values["tenant"], "tenant"),
        "project": read.optional_text(values["project"], "project"),
        "workflow_id": read.text(values["workflow_id"], "workflow_id"),
        "run_id": read.text(values["run_id"], "run_id"),
        "task_id": read.text(values["task_id"], "task_id"),
        "title": read.text(values["title"], "title"),
        "approved": read.flag(values["approved"], "approved"),
        "result": read.json_object(values["result"], "result"),
        "original": read.json_object(values["original"], "original"),
        "attempts": read.integer(values["attempts"], "attempts"),
        "outcome": read.outcome(values["outcome"]),
        "last_error": read.optional_text(values["last_error"], "last_error"),
        "created_at": created or _EPOCH,
        "updated_at": updated or created or _EPOCH,
        "send_after": read.moment(values["send_after"], "send_after"),
        "audited": read.flag(values["audited"], "audited"),
        "odd_answers": read.integer(values["odd_answers"], "odd_answers"),
        "ambiguous": read.flag(values["ambiguous"], "ambiguous"),
    }
    if values["created_at"] is None:
        read.problems.append("unreadable created_at")
    if entry_state is EntryState.HELD and fields["send_after"] is None:
        read.problems.append("held without the end of its undo window")
    damaged = "; ".join(dict.fromkeys(read.problems)) or None
    if damaged and (entry_state is None or entry_state in _LIVE):
        entry_state = EntryState.FAILED
    assert entry_state is not None
    return OutboxEntry(**fields, state=entry_state, damaged=damaged)


class Outbox:
    """Durable decisions; safe to share between the UI thread and workers.

    Opening creates the file atomically, checks it (a damaged file is moved aside and what can be
    read is recovered, see :attr:`recovery`) and migrates an older schema. Every failure to
    open or write is an :class:`OutboxError`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recovery: Recovery | None = None
        self._lock = threading.Lock()
        try:
            private_dir(path.parent)
            with _file.directory_lock(path.parent):
                self._db = self._open()
        except OutboxError:
            raise
        except UnsafeDirectoryError as exc:
            raise OutboxError.cannot(path, "be opened", str(exc)) from None
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError.cannot(path, "be opened", _file.reason(exc)) from None

    def _open(self) -> sqlite3.Connection:
        """Create, check, recover and migrate; the directory lock is held."""
        if not self.path.exists():
            tmp, _ = _file.fresh_file(self.path)
            _file.link_new(tmp, self.path)
        if not self.path.is_file():
            raise OutboxError.cannot(
                self.path, "be opened", f"it is not a regular file ({_file.STATE_DIR_HINT})"
            )
        self.path.chmod(0o600)
        db = _file.connect(self.path)
        try:
            damage = _file.damage(db, self.path)
            if damage is not None:
                self.recovery = _file.recover(db, self.path, damage)
                db.close()
                db = _file.connect(self.path)
            _file.configure(db)
            _file.migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def default(cls) -> Outbox:
        try:
            directory = private_dir(state_dir())
        except UnsafeDirectoryError as exc:
            raise OutboxError.cannot(
                state_dir() / "outbox.sqlite3", "be opened", str(exc)
            ) from None
        except OSError as exc:
            raise OutboxError.cannot(
                state_dir() / "outbox.sqlite3", "be opened", _file.reason(exc)
            ) from None
        return cls(directory / "outbox.sqlite3")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; any SQLite or OS failure becomes an OutboxError."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OSError) as exc:
                raise OutboxError.cannot(self.path, "be written", _file.reason(exc)) from None

    def _rows(self, query: str, params: Iterable[Any] = ()) -> list[OutboxEntry]:
        with self._lock:
            try:
                rows = self._db.execute(query, tuple(params)).fetchall()
            except (sqlite3.Error, OSError) as exc:
                raise OutboxError.cannot(self.path, "be read", _file.reason(exc)) from None
        return [_entry(row[: len(_file.NAMES)]) for row in rows]

    def _select(
        self,
        where: str,
        params: list[Any],
        states: Iterable[EntryState],
        order: str,
        *,
        by_state: bool = True,
    ) -> list[OutboxEntry]:
        """Entries whose *read* state is in ``states`` (damaged live rows read as FAILED).

        Asking for FAILED also reads every stored state that is not settled – held, queued and
        unknown ones – as index ranges, so a big history of done rows is never scanned.
        ``by_state=False`` keeps SQLite off the state index when ``where`` is more selective.
        """
        wanted = set(states)
        column = "state" if by_state else "+state"
        conditions: list[tuple[str, list[Any]]] = []
        if EntryState.FAILED in wanted:
            settled = sorted(s.value for s in EntryState if s not in _LIVE)
            conditions.append((f"{column} < ?", [settled[0]]))
            conditions += [
                (f"{column} > ? AND {column} < ?", [a, b]) for a, b in itertools.pairwise(settled)
            ]
            conditions.append((f"{column} > ?", [settled[-1]]))
            exact = sorted(s.value for s in wanted if s not in _LIVE)
        else:
            exact = sorted(s.value for s in wanted)
        if exact:
            conditions.append((f"{column} IN ({', '.join('?' * len(exact))})", exact))
        if not conditions:
            return []
        extra = f" AND {where}" if where else ""
        query = " UNION ALL ".join(
            f"SELECT {_file.COLUMNS}, rowid AS row_id FROM decisions WHERE {condition}{extra}"
            for condition, _ in conditions
        )
        values = [
            value for _, condition_params in conditions for value in (*condition_params, *params)
        ]
        found = self._rows(f"{query} ORDER BY {order}", values)
        return [entry for entry in found if entry.state in wanted]

    # -- writing ---------------------------------------------------------------------------

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
        hold_seconds: float = 0.0,
        now: datetime | None = None,
    ) -> OutboxEntry:
        """Record a decision before it is sent: HELD for ``hold_seconds`` (undo), else QUEUED."""
        key = key or str(uuid.uuid4())
        moment = now or datetime.now(UTC)
        held = hold_seconds > 0
        stamp = _iso(moment)
        row = (
            key, profile, base_url, tenant, project, *task_key, storable(title), int(approved),
            json.dumps(result) if result is not None else None,
            json.dumps(original) if original is not None else None,
            (EntryState.HELD if held else EntryState.QUEUED).value, 0, None, None, stamp, stamp,
            _iso(moment + timedelta(seconds=hold_seconds)) if held else None, 0, 0, 0,
        )  # fmt: skip
        with self._tx() as db:
            db.execute(_file.INSERT, row)
        return self._get_or_raise(key)

    def get(self, key: str) -> OutboxEntry | None:
        found = self._rows(f"SELECT {_file.COLUMNS} FROM decisions WHERE key = ?", (key,))
        return found[0] if found else None

    def _get_or_raise(self, key: str) -> OutboxEntry:
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def _update(self, key: str, **values: Any) -> OutboxEntry:
        values["updated_at"] = _now()
        sets = ", ".join(f"{name} = ?" for name in values)
        with self._tx() as db:
            cursor = db.execute(
                f"UPDATE decisions SET {sets} WHERE key = ?", (*values.values(), key)
            )
            if cursor.rowcount != 1:
                raise KeyError(key)
        return self._get_or_raise(key)

    def _move(self, key: str, source: EntryState, target: EntryState) -> OutboxEntry | None:
        """One atomic state change, only from ``source``; None when the entry was not in it."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE decisions SET state = ?, updated_at = ? WHERE key = ? AND state = ?",
                (target.value, _now(), key, source.value),
            )
            moved = cursor.rowcount == 1
        return self.get(key) if moved else None

    def attempt(self, key: str) -> OutboxEntry:
        """Count an attempt before sending it: after a crash, the count says one may have landed."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE decisions SET attempts = attempts + 1, updated_at = ? WHERE key = ?",
                (_now(), key),
            )
            if cursor.rowcount != 1:
                raise KeyError(key)
        return self._get_or_raise(key)

    def confirm(self, key: str, outcome: Outcome) -> OutboxEntry:
        """The server's final word: out of the queue, its audit line still to be written."""
        return self._update(
            key, state=EntryState.DONE.value, outcome=outcome.value, last_error=None, audited=0
        )

    def requeue(
        self, key: str, error: str, *, ambiguous: bool = False, odd_answer: bool = False
    ) -> OutboxEntry:
        """Still unconfirmed (network, 5xx, 429): stays queued for the next try, same key.

        ``ambiguous`` records that this attempt may have been applied; ``odd_answer`` counts an
        undocumented 2xx, so the caller can stop retrying after a few.
        """
        now = _now()
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE decisions SET state = ?, last_error = ?, updated_at = ?,"
                " ambiguous = max(ambiguous, ?), odd_answers = odd_answers + ? WHERE key = ?",
                (
                    EntryState.QUEUED.value,
                    storable(error),
                    now,
                    int(ambiguous),
                    int(odd_answer),
                    key,
                ),
            )
            if cursor.rowcount != 1:
                raise KeyError(key)
        return self._get_or_raise(key)

    def fail(self, key: str, error: str, outcome: Outcome | None = None) -> OutboxEntry:
        """A final answer that is not a success: kept until the operator retries or discards."""
        return self._update(
            key,
            state=EntryState.FAILED.value,
            last_error=storable(error),
            outcome=outcome.value if outcome else None,
        )

    def retry(self, key: str) -> OutboxEntry:
        """Queue a failed decision again; a damaged row is refused, as it cannot be sent exactly."""
        entry = self._get_or_raise(key)
        if entry.damaged:
            raise OutboxError(
                f"The decision {key} in the outbox at {self.path} cannot be sent again: its "
                f"stored row is damaged ({entry.damaged}); discard it and decide the task anew.",
                path=self.path,
                reason=entry.damaged,
            )
        return self._update(key, state=EntryState.QUEUED.value)

    def discard(self, key: str) -> OutboxEntry:
        return self._update(key, state=EntryState.DISCARDED.value)

    def undo(self, key: str) -> OutboxEntry | None:
        """Take back a held decision (HELD → UNDONE); None when it is no longer held: too late."""
        return self._move(key, EntryState.HELD, EntryState.UNDONE)

    def release(self, key: str) -> OutboxEntry | None:
        """End the undo window now (HELD → QUEUED); None when it was not held."""
        return self._move(key, EntryState.HELD, EntryState.QUEUED)

    def mark_audited(self, key: str) -> OutboxEntry:
        """The settled decision's audit line is written: :meth:`unaudited` stops listing it."""
        return self._update(key, audited=1)

    # -- reading ---------------------------------------------------------------------------

    def due_held(self, now: datetime | None = None) -> list[OutboxEntry]:
        """Held decisions whose undo window has ended by ``now``, oldest first."""
        moment = now or datetime.now(UTC)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        held = self._select("", [], [EntryState.HELD], "created_at, row_id")
        return [e for e in held if e.send_after is not None and e.send_after <= moment]

    def unaudited(self) -> list[OutboxEntry]:
        """Settled (done) decisions whose audit line was not written yet, oldest first."""
        return self._rows(
            f"SELECT {_file.COLUMNS} FROM decisions INDEXED BY decisions_unaudited"
            " WHERE state = 'done' AND audited = 0"
            " ORDER BY created_at, rowid"
        )

    def for_task(
        self,
        task_key: tuple[str, str, str],
        *,
        profile: str,
        base_url: str,
        tenant: str,
        states: Iterable[EntryState] = (*_UNSETTLED, EntryState.DONE),
    ) -> list[OutboxEntry]:
        """The stored decisions for one task on one connection, newest first."""
        where = (
            "workflow_id = ? AND run_id = ? AND task_id = ?"
            " AND profile = ? AND base_url = ? AND tenant = ?"
        )
        params = [*task_key, profile, base_url, tenant]
        return self._select(where, params, states, "created_at DESC, row_id DESC", by_state=False)

    def entries(
        self,
        states: Iterable[EntryState] = _UNSETTLED,
        *,
        profile: str | None = None,
        base_url: str | None = None,
        tenant: str | None = None,
    ) -> list[OutboxEntry]:
        """Entries in ``states``, oldest first, optionally for one connection."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("profile", profile), ("base_url", base_url), ("tenant", tenant)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return self._select(" AND ".join(clauses), params, states, "created_at, key")
