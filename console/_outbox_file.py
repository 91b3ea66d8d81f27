"""The file under the outbox: its schema, opening it safely, and repairing a damaged one.

Kept apart from :mod:`console.outbox` (the store of decisions) because none of it is about
decisions: it is about an SQLite file that must never be half-written, never replayed from a
stale journal, and, when damaged, moved aside – never deleted – with what can still be read
copied into a fresh one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:  # a directory lock serialises the integrity check and recovery between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, one console per user is the norm
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 2
STATE_DIR_HINT = "set COMMAND_CENTER_STATE_DIR to a writable directory"


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


TABLE = """
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
INDEXES = """
CREATE INDEX IF NOT EXISTS decisions_state ON decisions (state, created_at);
CREATE INDEX IF NOT EXISTS decisions_task ON decisions (workflow_id, run_id, task_id);
CREATE INDEX IF NOT EXISTS decisions_unaudited ON decisions (created_at)
    WHERE state = 'done' AND audited = 0;
"""
# Columns v2 added to a v1 file, as ALTER TABLE can add them (existing rows get the default).
ADDED_IN_V2 = (
    ("send_after", "TEXT"),
    ("audited", "INTEGER NOT NULL DEFAULT 0"),
    ("odd_answers", "INTEGER NOT NULL DEFAULT 0"),
    ("ambiguous", "INTEGER NOT NULL DEFAULT 0"),
)
NAMES = (
    "key", "profile", "base_url", "tenant", "project", "workflow_id", "run_id", "task_id",
    "title", "approved", "result", "original", "state", "attempts", "outcome", "last_error",
    "created_at", "updated_at", "send_after", "audited", "odd_answers", "ambiguous",
)  # fmt: skip
COLUMNS = ", ".join(NAMES)
INSERT = f"INSERT INTO decisions ({COLUMNS}) VALUES ({', '.join('?' * len(NAMES))})"


# -- errors in words -------------------------------------------------------------------------

_SQLITE_REASONS = {
    3: f"permission denied ({STATE_DIR_HINT})",  # SQLITE_PERM
    5: "another process has kept it locked too long; try again",  # SQLITE_BUSY
    6: "another process has kept it locked too long; try again",  # SQLITE_LOCKED
    7: "the computer is out of memory",  # SQLITE_NOMEM
    8: f"the file or the state directory is read-only ({STATE_DIR_HINT})",  # SQLITE_READONLY
    10: "the disk reported an input/output error",  # SQLITE_IOERR
    11: "the file is damaged (restart the console to recover what can be read)",  # CORRUPT
    13: "the disk is full",  # SQLITE_FULL
    14: (  # SQLITE_CANTOPEN
        "SQLite cannot open or create its files there – the state directory may be read-only "
        f"or missing ({STATE_DIR_HINT})"
    ),
    26: "the file is not an outbox database",  # SQLITE_NOTADB
}
_OS_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: f"the state directory is read-only ({STATE_DIR_HINT})",
    errno.EACCES: f"this user may not write to the state directory or the file ({STATE_DIR_HINT})",
    errno.EPERM: f"this user may not write to the state directory or the file ({STATE_DIR_HINT})",
    errno.ENOTDIR: f"a part of its path is a file, not a directory ({STATE_DIR_HINT})",
    errno.EEXIST: f"a part of its path is a file, not a directory ({STATE_DIR_HINT})",
    errno.EIO: "the disk reported an input/output error",
}


def reason(exc: BaseException) -> str:
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


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether an error at open means the file itself is broken (not locked, not unreadable)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    text = str(exc)
    return "malformed" in text or "not a database" in text


# -- files -----------------------------------------------------------------------------------


def connect(path: Path) -> sqlite3.Connection:
    """The outbox's connection, autocommit (explicit transactions).

    Nothing here reads the file (even a pragma would), so damage is found by the check after.
    """
    return sqlite3.connect(path, check_same_thread=False, isolation_level=None)


def configure(db: sqlite3.Connection) -> None:
    """Durable commits and a plain rollback journal, once the file is known to be sound."""
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=FULL")  # a committed decision survives power loss


def fsync(path: Path | str, *, directory: bool = False) -> None:
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
def directory_lock(directory: Path) -> Iterator[None]:
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


def fresh_file(path: Path, rows: Iterable[tuple[Any, ...]] = ()) -> tuple[str, int]:
    """Write a complete v2 outbox (with ``rows``) into a temp file next to ``path``.

    Returns the temp file and how many rows went in; the caller links it into place, so an
    outbox at ``path`` is never a half-written (or 0-byte) file.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    os.close(fd)  # mkstemp made it 0600, and SQLite's journal takes the same mode
    written = 0
    try:
        db = connect(Path(tmp))
        try:
            configure(db)
            db.executescript(
                f"BEGIN IMMEDIATE; {TABLE} {INDEXES} PRAGMA user_version = {SCHEMA_VERSION};"
            )
            for row in rows:
                try:
                    db.execute("SAVEPOINT row")
                    db.execute(INSERT, row)
                    db.execute("RELEASE row")
                    written += 1
                except sqlite3.IntegrityError:  # a broken row (NULL key, duplicate): not copied
                    db.execute("ROLLBACK TO row")
                    db.execute("RELEASE row")
            db.execute("COMMIT")
        finally:
            db.close()
        fsync(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp, written


def link_new(tmp: str, path: Path) -> None:
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
    fsync(path.parent, directory=True)


def aside_name(path: Path, stamp: str) -> Path:
    """A free name for the damaged file next to it: ``outbox.sqlite3.damaged-<UTC time>``."""
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while candidate.exists() or Path(f"{candidate}-journal").exists():
        candidate = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
        number += 1
    return candidate


def page_geometry(path: Path) -> tuple[int, int]:
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


def salvage(db: sqlite3.Connection, path: Path) -> tuple[list[dict[str, Any]], int | None]:
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
                page_size, pages = page_geometry(path)
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


def salvaged_row(record: dict[str, Any]) -> tuple[Any, ...] | None:
    """A read-back row in v2 column order, or None when a required column is unreadable.

    A v1 row's done decision counts as audited (v1 wrote the line when it settled it).
    """
    if any(record.get(name) is None for name in _NOT_NULL):
        return None  # counted as unreadable; the row stays in the file moved aside
    defaults: dict[str, Any] = {
        "audited": 1 if record.get("state") == "done" else 0,
        "odd_answers": 0,
        "ambiguous": 0,
        "attempts": 0,
    }
    return tuple(
        record[name] if record.get(name) is not None else defaults.get(name) for name in NAMES
    )


def damage(db: sqlite3.Connection, path: Path) -> str | None:
    """Why the file cannot be trusted, or None. Reading first rolls back a hot journal."""
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        return (
            "not an SQLite database: its content is overwritten"
            if "not a database" in str(exc)
            else "SQLite reports it malformed: part of it is missing or overwritten"
        )
    if path.stat().st_size == 0:
        return "empty: 0 bytes, it was truncated or never fully written"
    if problems != ["ok"]:
        first = " ".join(str(problems[0]).split())[:160] if problems else "no answer"
        return f"it failed SQLite's integrity check: {first}"
    return None


def recover(db: sqlite3.Connection, path: Path, reason: str) -> Recovery:
    """Copy what can be read into a fresh outbox; the damaged file is kept aside."""
    records, total = salvage(db, path)
    db.close()
    salvaged = [row for row in map(salvaged_row, records) if row is not None]
    tmp, recovered = fresh_file(path, salvaged)
    try:
        moved_to = aside_name(path, datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
        # A journal left next to the damaged file must never be replayed into the fresh one.
        for suffix in ("-journal", "-wal", "-shm"):
            leftover = Path(f"{path}{suffix}")
            if leftover.exists():
                os.replace(leftover, Path(f"{moved_to}{suffix}"))
        try:
            os.link(path, moved_to)  # keep the damaged file under its new name …
            os.replace(tmp, path)  # … and swap the fresh one in: the path never vanishes
        except OSError as exc:
            if isinstance(exc, FileExistsError) or moved_to.exists():
                raise
            os.replace(path, moved_to)  # no hard links here
            os.replace(tmp, path)
        fsync(path.parent, directory=True)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    unreadable = None if total is None else max(total - recovered, 0)
    return Recovery(moved_to, reason, recovered, unreadable)


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema to v2, keeping every row; the write also proves the file writable."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            db.execute(TABLE)  # a file with no table yet (never the case for v1 files)
            have = {row[1] for row in db.execute("PRAGMA table_info(decisions)")}
            for name, declaration in ADDED_IN_V2:
                if name not in have:
                    db.execute(f"ALTER TABLE decisions ADD COLUMN {name} {declaration}")
            if "audited" not in have:  # v1 wrote the audit line with every settled decision
                db.execute("UPDATE decisions SET audited = 1 WHERE state = 'done'")
        for statement in INDEXES.split(";"):  # no-ops once they exist
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
