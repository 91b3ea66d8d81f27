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
import errno
import itertools
import json
import os
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs

try:  # a directory lock serialises the integrity check and recovery between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, one console per user is the norm
    fcntl = None  # type: ignore[assignment]

APP_NAME = "command-center-tui"
SCHEMA_VERSION = 2
_STATE_DIR_HINT = "set COMMAND_CENTER_STATE_DIR to a writable directory"


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
class Recovery:
    """What happened to a damaged outbox file at open, for the operator."""

    moved_to: Path
    reason: str
    recovered: int
    unreadable: int | None  # None: how many the file held cannot be known (e.g. 0 bytes)

    def describe(self) -> str:
        """One true sentence: where the file went and what was (not) read back."""
        head = f"The outbox file was damaged ({self.reason}); it was moved to {self.moved_to}; "
        check = "check `command-center audit` and the platform"
        got = _decisions(self.recovered)
        if self.unreadable == 0:
            if self.recovered == 0:
                return head + "it held no decisions, so none were lost."
            return head + f"all {got} {_were(self.recovered)} read back into a fresh outbox."
        if self.recovered == 0:
            if self.unreadable is None:
                return (
                    head + "no decisions could be read back – any it held are lost from the "
                    f"queue, {check}."
                )
            return (
                head + f"none of its {_decisions(self.unreadable)} could be read back – "
                f"they are lost from the queue, {check}."
            )
        lost = (
            "an unknown number of others could not be read – any of those are"
            if self.unreadable is None
            else f"{_decisions(self.unreadable)} could not be read – "
            f"{'it is' if self.unreadable == 1 else 'they are'}"
        )
        return (
            head + f"{got} {_were(self.recovered)} read back into a fresh outbox, {lost} lost "
            f"from the queue, {check}."
        )


def _decisions(count: int) -> str:
    return f"{count} decision" if count == 1 else f"{count} decisions"


def _were(count: int) -> str:
    return "was" if count == 1 else "were"


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


_TABLE_V2 = """
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
    updated_at TEXT NOT NULL,
    send_after TEXT,
    audited INTEGER NOT NULL DEFAULT 0,
    odd_answers INTEGER NOT NULL DEFAULT 0,
    ambiguous INTEGER NOT NULL DEFAULT 0
);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS decisions_state ON decisions (state, created_at);
CREATE INDEX IF NOT EXISTS decisions_task ON decisions (workflow_id, run_id, task_id);
CREATE INDEX IF NOT EXISTS decisions_unaudited ON decisions (created_at)
    WHERE state = 'done' AND audited = 0;
"""
# Columns v2 added to a v1 file, as ALTER TABLE can add them (existing rows get the default).
_ADDED_IN_V2 = (
    ("send_after", "TEXT"),
    ("audited", "INTEGER NOT NULL DEFAULT 0"),
    ("odd_answers", "INTEGER NOT NULL DEFAULT 0"),
    ("ambiguous", "INTEGER NOT NULL DEFAULT 0"),
)
_NAMES = (
    "key", "profile", "base_url", "tenant", "project", "workflow_id", "run_id", "task_id",
    "title", "approved", "result", "original", "state", "attempts", "outcome", "last_error",
    "created_at", "updated_at", "send_after", "audited", "odd_answers", "ambiguous",
)  # fmt: skip
_COLUMNS = ", ".join(_NAMES)
_INSERT = f"INSERT INTO decisions ({_COLUMNS}) VALUES ({', '.join('?' * len(_NAMES))})"


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
    values = dict(zip(_NAMES, row, strict=True))
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


# -- errors in words -------------------------------------------------------------------------

_SQLITE_REASONS = {
    3: f"permission denied ({_STATE_DIR_HINT})",  # SQLITE_PERM
    5: "another process has kept it locked too long; try again",  # SQLITE_BUSY
    6: "another process has kept it locked too long; try again",  # SQLITE_LOCKED
    7: "the computer is out of memory",  # SQLITE_NOMEM
    8: f"the file or the state directory is read-only ({_STATE_DIR_HINT})",  # SQLITE_READONLY
    10: "the disk reported an input/output error",  # SQLITE_IOERR
    11: "the file is damaged (restart the console to recover what can be read)",  # CORRUPT
    13: "the disk is full",  # SQLITE_FULL
    14: (  # SQLITE_CANTOPEN
        "SQLite cannot open or create its files there – the state directory may be read-only "
        f"or missing ({_STATE_DIR_HINT})"
    ),
    26: "the file is not an outbox database",  # SQLITE_NOTADB
}
_OS_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: f"the state directory is read-only ({_STATE_DIR_HINT})",
    errno.EACCES: f"this user may not write to the state directory or the file ({_STATE_DIR_HINT})",
    errno.EPERM: f"this user may not write to the state directory or the file ({_STATE_DIR_HINT})",
    errno.ENOTDIR: f"a part of its path is a file, not a directory ({_STATE_DIR_HINT})",
    errno.EEXIST: f"a part of its path is a file, not a directory ({_STATE_DIR_HINT})",
    errno.EIO: "the disk reported an input/output error",
}


def _reason(exc: BaseException) -> str:
    """The cause of a failed open, read or write in plain words (never a traceback)."""
    if isinstance(exc, sqlite3.IntegrityError):
        if "UNIQUE" in str(exc):
            return "a decision with the same idempotency key is already in it"
        return f"SQLite refused the row: {exc}"
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _SQLITE_REASONS:
            return _SQLITE_REASONS[code & 0xFF]
        text = str(exc)
        if "full" in text:
            return "the disk is full"
        if "readonly" in text or "read-only" in text:
            return _SQLITE_REASONS[8]
        return f"SQLite said: {text}" if text else "SQLite reported an error"
    if isinstance(exc, OSError):
        if exc.errno in _OS_REASONS:
            return _OS_REASONS[exc.errno]
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    return str(exc)


def _is_damage(exc: sqlite3.Error) -> bool:
    """Whether an error at open means the file itself is broken (not locked, not unreadable)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    text = str(exc)
    return "malformed" in text or "not a database" in text


# -- files -----------------------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    """The outbox's connection, autocommit (explicit transactions).

    Nothing here reads the file (even a pragma would), so damage is found by the check after.
    """
    return sqlite3.connect(path, check_same_thread=False, isolation_level=None)


def _configure(db: sqlite3.Connection) -> None:
    """Durable commits and a plain rollback journal, once the file is known to be sound."""
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=FULL")  # a committed decision survives power loss


def _fsync(path: Path | str, *, directory: bool = False) -> None:
    """Flush a file (or a directory entry) to the disk; best effort for directories."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


@contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on the directory while checking or replacing the outbox file."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _fresh_file(path: Path, rows: Iterable[tuple[Any, ...]] = ()) -> tuple[str, int]:
    """Write a complete v2 outbox (with ``rows``) into a temp file next to ``path``.

    Returns the temp file and how many rows went in; the caller links it into place, so an
    outbox at ``path`` is never a half-written (or 0-byte) file.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    os.close(fd)  # mkstemp made it 0600, and SQLite's journal takes the same mode
    written = 0
    try:
        db = _connect(Path(tmp))
        try:
            _configure(db)
            db.executescript(
                f"BEGIN IMMEDIATE; {_TABLE_V2} {_INDEXES} PRAGMA user_version = {SCHEMA_VERSION};"
            )
            for row in rows:
                try:
                    db.execute("SAVEPOINT row")
                    db.execute(_INSERT, row)
                    db.execute("RELEASE row")
                    written += 1
                except sqlite3.IntegrityError:  # a broken row (NULL key, duplicate): not copied
                    db.execute("ROLLBACK TO row")
                    db.execute("RELEASE row")
            db.execute("COMMIT")
        finally:
            db.close()
        _fsync(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp, written


def _link_new(tmp: str, path: Path) -> None:
    """Put a finished outbox at ``path`` unless another process created one meanwhile."""
    try:
        os.link(tmp, path)  # fails if path exists: a racing console's outbox is never replaced
    except FileExistsError:
        pass
    except OSError:  # no hard links on this file system
        if not path.exists():
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _fsync(path.parent, directory=True)


def _aside_name(path: Path, stamp: str) -> Path:
    """A free name for the damaged file next to it: ``outbox.sqlite3.damaged-<UTC time>``."""
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while candidate.exists() or Path(f"{candidate}-journal").exists():
        candidate = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
        number += 1
    return candidate


def _page_geometry(path: Path) -> tuple[int, int]:
    """(page size, page count) of an SQLite file, from its header when it is readable."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(100)
    page_size = 4096
    pages = 0
    if len(header) == 100 and header.startswith(b"SQLite format 3\x00"):
        raw = int.from_bytes(header[16:18], "big")
        page_size = 65536 if raw == 1 else raw if raw >= 512 else 4096
        pages = int.from_bytes(header[28:32], "big")
    return page_size, max(pages, -(-size // page_size))


def _salvage(db: sqlite3.Connection, path: Path) -> tuple[list[dict[str, Any]], int | None]:
    """The rows that can still be read, and how many the table held (None if unknown).

    First one scan of the whole table; when that breaks on a damaged page, every other rowid a
    file of this size can hold is looked up on its own (a lookup reaches rows a scan cannot
    pass). Rows are never deleted from an outbox, so rowids are dense and a readable
    ``max(rowid)`` or ``count(*)`` (often answered from an intact index) tells how many there were.
    """
    with contextlib.suppress(sqlite3.Error):
        db.execute("PRAGMA writable_schema = ON")  # lets SQLite read a file shorter than its header
    rows: dict[int, dict[str, Any]] = {}
    select = "SELECT rowid AS _rowid_, * FROM decisions"

    def keep(cursor: sqlite3.Cursor) -> None:
        names = [column[0] for column in cursor.description]
        for values in cursor:
            record = dict(zip(names, values, strict=True))
            rowid = record.pop("_rowid_")
            if isinstance(rowid, int) and rowid > 0:  # rowid 0: a zeroed cell, not a row
                rows[rowid] = record

    totals: list[int] = []
    for query in ("SELECT max(rowid) FROM decisions", "SELECT count(*) FROM decisions"):
        try:
            found = db.execute(query).fetchone()[0]
        except sqlite3.Error:
            continue
        totals.append(int(found or 0))
    try:
        keep(db.execute(f"{select} ORDER BY rowid"))
        complete = True
    except sqlite3.Error as exc:
        complete = False
        if getattr(exc, "sqlite_errorcode", 11) & 0xFF == 11:  # SQLITE_CORRUPT: parts readable
            try:
                page_size, pages = _page_geometry(path)
            except OSError:
                page_size, pages = 4096, 0
            # A stored row is at least 64 bytes (its two timestamps alone are 50), so no page
            # holds more rows than this: larger rowids cannot exist in a file of this size.
            bound = max([*totals, pages * (page_size // 64), *rows])
            for rowid in range(1, bound + 1):
                if rowid not in rows:
                    with contextlib.suppress(sqlite3.Error):
                        keep(db.execute(f"{select} WHERE rowid = ?", (rowid,)))
    ordered = [rows[rowid] for rowid in sorted(rows)]
    if complete:
        return ordered, len(ordered)
    return ordered, max([*totals, len(ordered)]) if totals else None


_NOT_NULL = frozenset(
    {"key", "profile", "base_url", "tenant", "workflow_id", "run_id", "task_id", "title"}
    | {"approved", "state", "created_at", "updated_at"}
)


def _salvaged_row(record: dict[str, Any]) -> tuple[Any, ...] | None:
    """A read-back row in v2 column order, or None when a required column is unreadable.

    A v1 row's done decision counts as audited (v1 wrote the line when it settled it).
    """
    if any(record.get(name) is None for name in _NOT_NULL):
        return None  # counted as unreadable; the row stays in the file moved aside
    defaults: dict[str, Any] = {
        "audited": 1 if record.get("state") == EntryState.DONE.value else 0,
        "odd_answers": 0,
        "ambiguous": 0,
        "attempts": 0,
    }
    return tuple(
        record[name] if record.get(name) is not None else defaults.get(name) for name in _NAMES
    )


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
            with _directory_lock(path.parent):
                self._db = self._open()
        except OutboxError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError.cannot(path, "be opened", _reason(exc)) from None

    def _open(self) -> sqlite3.Connection:
        """Create, check, recover and migrate; the directory lock is held."""
        if not self.path.exists():
            tmp, _ = _fresh_file(self.path)
            _link_new(tmp, self.path)
        if not self.path.is_file():
            raise OutboxError.cannot(
                self.path, "be opened", f"it is not a regular file ({_STATE_DIR_HINT})"
            )
        self.path.chmod(0o600)
        db = _connect(self.path)
        try:
            damage = self._damage(db)
            if damage is not None:
                self.recovery = self._recover(db, damage)
                db.close()
                db = _connect(self.path)
            _configure(db)
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _damage(self, db: sqlite3.Connection) -> str | None:
        """Why the file cannot be trusted, or None. Reading first rolls back a hot journal."""
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise
            return (
                "not an SQLite database: its content is overwritten"
                if "not a database" in str(exc)
                else "SQLite reports it malformed: part of it is missing or overwritten"
            )
        if self.path.stat().st_size == 0:
            return "empty: 0 bytes, it was truncated or never fully written"
        if problems != ["ok"]:
            first = " ".join(str(problems[0]).split())[:160] if problems else "no answer"
            return f"it failed SQLite's integrity check: {first}"
        return None

    def _recover(self, db: sqlite3.Connection, reason: str) -> Recovery:
        """Copy what can be read into a fresh outbox; the damaged file is kept aside."""
        records, total = _salvage(db, self.path)
        db.close()
        salvaged = [row for row in map(_salvaged_row, records) if row is not None]
        tmp, recovered = _fresh_file(self.path, salvaged)
        try:
            moved_to = _aside_name(self.path, datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
            # A journal left next to the damaged file must never be replayed into the fresh one.
            for suffix in ("-journal", "-wal", "-shm"):
                leftover = Path(f"{self.path}{suffix}")
                if leftover.exists():
                    os.replace(leftover, Path(f"{moved_to}{suffix}"))
            try:
                os.link(self.path, moved_to)  # keep the damaged file under its new name …
                os.replace(tmp, self.path)  # … and swap the fresh one in: the path never vanishes
            except OSError as exc:
                if isinstance(exc, FileExistsError) or moved_to.exists():
                    raise
                os.replace(self.path, moved_to)  # no hard links here
                os.replace(tmp, self.path)
            _fsync(self.path.parent, directory=True)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        unreadable = None if total is None else max(total - recovered, 0)
        return Recovery(moved_to, reason, recovered, unreadable)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Bring the schema to v2, keeping every row; the write also proves the file writable."""
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                db.execute(_TABLE_V2)  # a file with no table yet (never the case for v1 files)
                have = {row[1] for row in db.execute("PRAGMA table_info(decisions)")}
                for name, declaration in _ADDED_IN_V2:
                    if name not in have:
                        db.execute(f"ALTER TABLE decisions ADD COLUMN {name} {declaration}")
                if "audited" not in have:  # v1 wrote the audit line with every settled decision
                    db.execute("UPDATE decisions SET audited = 1 WHERE state = 'done'")
            for statement in _INDEXES.split(";"):  # no-ops once they exist
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    @classmethod
    def default(cls) -> Outbox:
        try:
            directory = private_dir(state_dir())
        except OSError as exc:
            raise OutboxError.cannot(
                state_dir() / "outbox.sqlite3", "be opened", _reason(exc)
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
                raise OutboxError.cannot(self.path, "be written", _reason(exc)) from None

    def _rows(self, query: str, params: Iterable[Any] = ()) -> list[OutboxEntry]:
        with self._lock:
            try:
                rows = self._db.execute(query, tuple(params)).fetchall()
            except (sqlite3.Error, OSError) as exc:
                raise OutboxError.cannot(self.path, "be read", _reason(exc)) from None
        return [_entry(row[: len(_NAMES)]) for row in rows]

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
            f"SELECT {_COLUMNS}, rowid AS row_id FROM decisions WHERE {condition}{extra}"
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
            db.execute(_INSERT, row)
        return self._get_or_raise(key)

    def get(self, key: str) -> OutboxEntry | None:
        found = self._rows(f"SELECT {_COLUMNS} FROM decisions WHERE key = ?", (key,))
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
            f"SELECT {_COLUMNS} FROM decisions INDEXED BY decisions_unaudited"
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
