"""The outbox keeps every decision through schema upgrades, damaged files and failing disks.

Everything runs on real SQLite files in ``tmp_path``: a damaged file is made by really truncating
or overwriting it, a full disk by SQLite's own page limit.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import pytest

import console._outbox_file as outbox_file
from console.outbox import EntryState, Outbox, OutboxError, Outcome, Recovery

NOW = datetime(2026, 12, 1, 17, 45, tzinfo=UTC)


class Connection(TypedDict):
    profile: str
    base_url: str
    tenant: str


CONNECTION: Connection = {
    "profile": "prod",
    "base_url": "https://api.example.test",
    "tenant": "acme",
}

# The schema every outbox had before v2 (user_version 0), verbatim.
V1_SCHEMA = """
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


def submit(box: Outbox, task: str = "t", **overrides: object) -> str:
    values: dict[str, object] = {
        **CONNECTION,
        "project": "p",
        "task_key": ("wf", "run", task),
        "title": f"Send {task}?",
        "approved": True,
        "result": {"body": task},
        "now": NOW,
    } | overrides
    return box.submit(**values).key  # type: ignore[arg-type]


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection of the test's own, to damage or inspect the file behind the outbox."""
    return sqlite3.connect(path, isolation_level=None)


def assert_readable(error: OutboxError, path: Path) -> None:
    """One sentence for the operator: names the file, no exception or traceback text."""
    message = str(error)
    assert str(path) in message
    for noise in ("Traceback", "sqlite3.", "Errno", "OperationalError", "\n"):
        assert noise not in message, message


# -- schema v2 -----------------------------------------------------------------------------


def test_a_v1_outbox_is_migrated_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    """An existing user's file (old schema, user_version 0) gains the v2 columns by ALTER TABLE;
    its rows stay, and its done decisions count as audited (v1 wrote their lines)."""
    path = tmp_path / "outbox.sqlite3"
    db = raw(path)
    db.executescript(V1_SCHEMA)
    stamp = "2026-11-30T09:00:00+00:00"
    rows = (("q", "queued", None), ("d", "done", "applied"), ("f", "failed", None))
    for key, state, outcome in rows:
        db.execute(
            "INSERT INTO decisions VALUES (?, 'prod', 'u', 'acme', NULL, 'wf', 'run', ?, 'T', 1,"
            " '{\"a\": 1}', NULL, ?, 1, ?, NULL, ?, ?)",
            (key, key, state, outcome, stamp, stamp),
        )
    db.close()

    box = Outbox(path)
    assert box.recovery is None
    by_key = {e.key: e for e in box.entries(list(EntryState))}
    assert {k: e.state for k, e in by_key.items()} == {
        "q": EntryState.QUEUED,
        "d": EntryState.DONE,
        "f": EntryState.FAILED,
    }
    assert by_key["q"].result == {"a": 1} and by_key["q"].attempts == 1
    assert [e.damaged for e in by_key.values()] == [None, None, None]
    assert (by_key["d"].audited, by_key["q"].audited) == (True, False)
    assert box.unaudited() == []
    assert all(e.send_after is None and e.odd_answers == 0 for e in by_key.values())
    assert not any(e.ambiguous for e in by_key.values())
    box.close()

    check = raw(path)
    assert check.execute("PRAGMA user_version").fetchone() == (2,)
    columns = {row[1] for row in check.execute("PRAGMA table_info(decisions)")}
    assert {"send_after", "audited", "odd_answers", "ambiguous"} <= columns
    check.close()
    assert len(Outbox(path).entries(list(EntryState))) == 3  # opening again changes nothing


def test_a_new_outbox_is_created_whole_and_user_only(tmp_path: Path) -> None:
    """Created in a temp file and linked into place: never 0 bytes, no temp file left behind."""
    path = tmp_path / "state" / "outbox.sqlite3"
    Outbox(path).close()
    assert path.stat().st_size > 0 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == ["outbox.sqlite3"]
    with raw(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)


def test_hold_undo_release_and_due_held(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite3")
    held = box.submit(
        **CONNECTION, project=None, task_key=("wf", "run", "a"), title="A", approved=True,
        result=None, hold_seconds=30, now=NOW,
    )  # fmt: skip
    assert held.state is EntryState.HELD and held.send_after == NOW + timedelta(seconds=30)
    assert box.entries() == [held]
    assert box.due_held(NOW + timedelta(seconds=29)) == []
    assert box.due_held(NOW + timedelta(seconds=30)) == [held]

    released = box.release(held.key)
    assert released is not None and released.state is EntryState.QUEUED
    assert box.undo(held.key) is None  # already on its way: too late
    assert box.release(held.key) is None
    assert box.due_held(NOW + timedelta(days=1)) == []

    other = submit(box, "b", hold_seconds=5)
    undone = box.undo(other)
    assert undone is not None and undone.state is EntryState.UNDONE
    assert box.undo(other) is None and box.release(other) is None
    assert [e.key for e in box.entries()] == [held.key]  # undone is settled, not listed
    assert box.get(submit(box, "c")).state is EntryState.QUEUED  # type: ignore[union-attr]


def test_requeue_records_ambiguous_attempts_and_counts_odd_answers(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite3")
    key = submit(box)
    entry = box.requeue(key, "connection reset")
    assert (entry.ambiguous, entry.odd_answers) == (False, 0)
    entry = box.requeue(key, "204 without a body", ambiguous=True, odd_answer=True)
    entry = box.requeue(key, "HTML instead of JSON", odd_answer=True)
    assert (entry.ambiguous, entry.odd_answers, entry.state) == (True, 2, EntryState.QUEUED)
    entry = box.requeue(key, "429 slow down")  # ambiguity is never taken back
    assert (entry.ambiguous, entry.odd_answers, entry.last_error) == (True, 2, "429 slow down")
    with pytest.raises(KeyError):
        box.requeue("no-such-key", "x")


def test_unaudited_lists_settled_decisions_until_their_line_is_written(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite3")
    first = submit(box, "a", now=NOW)
    second = submit(box, "b", now=NOW + timedelta(seconds=1))
    submit(box, "c")  # still queued: nothing to audit yet
    box.confirm(second, Outcome.APPLIED)
    box.confirm(first, Outcome.ELSEWHERE)
    assert [e.key for e in box.unaudited()] == [first, second]  # oldest first
    assert box.mark_audited(first).audited is True
    assert [e.key for e in box.unaudited()] == [second]
    box.mark_audited(second)
    assert box.unaudited() == []


def test_for_task_finds_earlier_decisions_newest_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite3")
    old = submit(box, "t", now=NOW)
    box.fail(old, "403", Outcome.REFUSED)
    new = submit(box, "t", now=NOW + timedelta(minutes=1))
    gone = submit(box, "t", now=NOW + timedelta(minutes=2))
    box.discard(gone)
    submit(box, "other-task")
    submit(box, "t", profile="staging")
    found = box.for_task(("wf", "run", "t"), **CONNECTION)
    assert [e.key for e in found] == [new, old]
    everything = box.for_task(("wf", "run", "t"), **CONNECTION, states=list(EntryState))
    assert [e.key for e in everything] == [gone, new, old]
    assert box.for_task(("wf", "run", "t"), **CONNECTION, states=[EntryState.DONE]) == []


# -- damaged files -------------------------------------------------------------------------


def fill(path: Path, rows: int, queued: int) -> list[str]:
    """An outbox of several pages: the first ``queued`` decisions queued, the rest done."""
    box = Outbox(path)
    keys = []
    for number in range(rows):
        key = submit(box, f"task-{number:04d}", title="T" * 300, result={"pad": "x" * 200})
        if number >= queued:
            box.confirm(key, Outcome.APPLIED)
        keys.append(key)
    box.close()
    return keys


def assert_moved_aside(box: Outbox, original: bytes) -> Recovery:
    recovery = box.recovery
    assert recovery is not None
    assert recovery.moved_to.parent == box.path.parent
    assert re.fullmatch(r"outbox\.sqlite3\.damaged-\d{8}T\d{6}Z", recovery.moved_to.name)
    assert recovery.moved_to.read_bytes() == original  # kept exactly as found, never deleted
    assert str(recovery.moved_to) in recovery.describe()
    assert stat.S_IMODE(box.path.stat().st_mode) == 0o600 and box.path.stat().st_size > 0
    return recovery


def assert_fresh_outbox_works(box: Outbox) -> None:
    key = submit(box, "after-recovery")
    box.close()
    again = Outbox(box.path)
    assert again.recovery is None and again.get(key) is not None


def test_an_empty_file_was_truncated_and_is_moved_aside(tmp_path: Path) -> None:
    """v2 never leaves a 0-byte outbox, so one found is a truncated file: how much it held
    cannot be known."""
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"")
    box = Outbox(path)
    recovery = assert_moved_aside(box, b"")
    assert (recovery.recovered, recovery.unreadable) == (0, None)
    assert "empty" in recovery.reason
    assert recovery.describe() == (
        f"The outbox file was damaged ({recovery.reason}); it was moved to {recovery.moved_to}; "
        "no decisions could be read back – any it held are lost from the queue, check "
        "`command-center audit` and the platform."
    )
    assert box.entries(list(EntryState)) == []
    assert_fresh_outbox_works(box)


def test_a_file_of_garbage_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    garbage = b"not an outbox at all \x00\xff" * 500
    path.write_bytes(garbage)
    box = Outbox(path)
    recovery = assert_moved_aside(box, garbage)
    assert (recovery.recovered, recovery.unreadable) == (0, None)
    assert "not an SQLite database" in recovery.reason
    assert_fresh_outbox_works(box)


def test_a_half_truncated_file_gives_back_what_can_be_read(tmp_path: Path) -> None:
    """A file cut in half (several pages lost): the rows on the surviving pages come back,
    exactly as written, and the sentence counts them truthfully."""
    path = tmp_path / "outbox.sqlite3"
    keys = fill(path, rows=300, queued=3)
    before = {e.key: e for e in Outbox(path).entries(list(EntryState))}
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    truncated = path.read_bytes()

    box = Outbox(path)
    recovery = assert_moved_aside(box, truncated)
    back = box.entries(list(EntryState))
    assert recovery.recovered == len(back) and 0 < len(back) < len(keys)
    if recovery.unreadable is not None:
        assert recovery.recovered + recovery.unreadable == len(keys)
        assert f"{recovery.unreadable} decisions could not be read" in recovery.describe()
    assert f"{recovery.recovered} decisions were read back" in recovery.describe()

    queued = box.entries([EntryState.QUEUED])
    assert sorted(e.key for e in queued) == sorted(keys[:3])  # the first pages survived
    for entry in back:
        if entry.damaged is None:  # a row the cut went through is kept, marked, never resent
            original = before[entry.key]
            assert (entry.state, entry.result, entry.title) == (
                original.state,
                original.result,
                original.title,
            )
        else:
            assert entry.state not in (EntryState.QUEUED, EntryState.HELD)
    assert_fresh_outbox_works(box)


def test_rows_that_cannot_be_read_are_shown_failed_and_never_resent(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    weird, bad_json, future, fine = (submit(box, t) for t in ("w", "j", "f", "ok"))
    box.confirm(future, Outcome.APPLIED)
    with raw(path) as db:  # what a newer console, a bug or a bit flip could leave behind
        db.execute("UPDATE decisions SET state = 'weird' WHERE key = ?", (weird,))
        db.execute("UPDATE decisions SET result = '{not json' WHERE key = ?", (bad_json,))
        db.execute("UPDATE decisions SET outcome = 'a future outcome' WHERE key = ?", (future,))

    listed = {e.key: e for e in box.entries()}
    assert set(listed) == {weird, bad_json, fine}
    assert (listed[weird].state, listed[weird].damaged) == (
        EntryState.FAILED,
        "unknown state 'weird'",
    )
    assert (listed[bad_json].state, listed[bad_json].damaged) == (
        EntryState.FAILED,
        "unreadable result JSON",
    )
    assert listed[bad_json].result is None
    assert (listed[weird].title, listed[weird].approved, listed[weird].task_key) == (
        "Send w?",
        True,
        ("wf", "run", "w"),
    )
    assert [e.key for e in box.entries([EntryState.QUEUED])] == [fine]  # never picked to send

    settled = box.get(future)
    assert settled is not None and settled.state is EntryState.DONE and settled.outcome is None
    assert settled.damaged == "unknown outcome 'a future outcome'"

    for key, why in ((weird, "unknown state 'weird'"), (bad_json, "unreadable result JSON")):
        with pytest.raises(OutboxError) as refused:
            box.retry(key)
        assert why in str(refused.value) and "discard" in str(refused.value)
        assert_readable(refused.value, path)
        assert box.discard(key).state is EntryState.DISCARDED
    assert [e.key for e in box.entries()] == [fine]


# -- write failures ------------------------------------------------------------------------


def test_a_state_directory_that_cannot_exist_is_a_readable_error(tmp_path: Path) -> None:
    """The state directory's place is taken by a regular file. Tests run as root, where a
    chmod'ed directory stays writable; a path under a file fails for root too (ENOTDIR/EEXIST)."""
    blocker = tmp_path / "state"
    blocker.write_text("a file, not a directory")
    for path in (blocker / "outbox.sqlite3", blocker / "deeper" / "outbox.sqlite3"):
        with pytest.raises(OutboxError) as opened:
            Outbox(path)
        assert str(opened.value) == (
            f"The outbox at {path} cannot be opened: a part of its path is a file, not a "
            "directory (set COMMAND_CENTER_STATE_DIR to a writable directory)"
        )
        assert_readable(opened.value, path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0500 directory anyway")
def test_a_read_only_state_directory_is_a_readable_error(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(OutboxError) as opened:
            Outbox(directory / "outbox.sqlite3")
    finally:
        directory.chmod(0o700)
    assert "COMMAND_CENTER_STATE_DIR" in str(opened.value)
    assert_readable(opened.value, directory / "outbox.sqlite3")


def test_an_outbox_that_cannot_be_written_refuses_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file opens only read-only (as on a read-only mount). Root ignores file modes, so the
    test hook opens SQLite with ``mode=ro``: writes then really fail inside SQLite (READONLY).
    Opening writes once, so the console learns this at start, not at the first decision."""
    path = tmp_path / "outbox.sqlite3"
    Outbox(path).close()

    def read_only(target: Path) -> sqlite3.Connection:
        uri = f"file:{target}?mode=ro"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)

    monkeypatch.setattr(outbox_file, "connect", read_only)
    with pytest.raises(OutboxError) as opened:
        Outbox(path)
    assert str(opened.value) == (
        f"The outbox at {path} cannot be opened: the file or the state directory is read-only "
        "(set COMMAND_CENTER_STATE_DIR to a writable directory)"
    )


def test_a_full_disk_is_a_readable_error_and_loses_nothing_written(tmp_path: Path) -> None:
    """SQLite's page limit on the outbox's own connection gives a real SQLITE_FULL."""
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    kept = submit(box, "kept")
    pages = box._db.execute("PRAGMA page_count").fetchone()[0]
    box._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(OutboxError) as full:
        for number in range(50):
            submit(box, f"big-{number}", title="T" * 3000, key=f"big-{number}")
    assert str(full.value) == f"The outbox at {path} cannot be written: the disk is full"
    assert full.value.reason == "the disk is full" and full.value.path == path
    assert_readable(full.value, path)
    assert box.get(kept) is not None
    failed_at = next(n for n in range(50) if box.get(f"big-{n}") is None)
    assert all(box.get(f"big-{n}") is not None for n in range(failed_at))

    box._db.execute("PRAGMA max_page_count = 1073741823")  # space again: the outbox goes on
    assert submit(box, "later") and Outbox(path).get(kept) is not None


def test_the_same_key_twice_is_a_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    key = submit(box)
    with pytest.raises(OutboxError) as twice:
        submit(box, key=key)
    assert "same idempotency key" in str(twice.value)
    assert_readable(twice.value, path)
    assert json.dumps(box.get(key).describe())  # type: ignore[union-attr]


# -- the sentence --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recovered", "unreadable", "says"),
    [
        (0, None, "no decisions could be read back – any it held are lost from the queue"),
        (0, 0, "it held no decisions, so none were lost."),
        (0, 2, "none of its 2 decisions could be read back – they are lost from the queue"),
        (1, 0, "all 1 decision was read back into a fresh outbox."),
        (5, 0, "all 5 decisions were read back into a fresh outbox."),
        (
            3,
            1,
            "3 decisions were read back into a fresh outbox, 1 decision could not be read – "
            "it is lost from the queue",
        ),
        (
            3,
            None,
            "3 decisions were read back into a fresh outbox, an unknown number of others "
            "could not be read – any of those are lost from the queue",
        ),
    ],
)
def test_the_recovery_sentence_is_true_in_every_case(
    recovered: int, unreadable: int | None, says: str
) -> None:
    moved = Path("/state/outbox.sqlite3.damaged-20261201T174500Z")
    sentence = Recovery(moved, "empty", recovered, unreadable).describe()
    assert sentence.startswith(f"The outbox file was damaged (empty); it was moved to {moved}; ")
    assert says in sentence and sentence.endswith(".") and sentence.count(". ") == 0
    assert ("command-center audit" in sentence) == bool(unreadable is None or unreadable)


def test_a_crash_inside_a_write_is_rolled_back_not_taken_for_damage(tmp_path: Path) -> None:
    """A process killed mid-transaction leaves a hot journal: SQLite rolls it back at the next
    open and the outbox is sound – no recovery, the committed decision is there."""
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    kept = submit(box, "kept")
    box.close()
    script = textwrap.dedent(
        f"""
        import os, sqlite3
        db = sqlite3.connect({str(path)!r}, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE decisions SET title = ? ", ("x" * 5000,))
        db.execute("PRAGMA cache_size = 1")  # spill pages to the file before the commit
        for n in range(200):
            db.execute("INSERT INTO decisions SELECT 'k' || ?, profile, base_url, tenant, project,"
                       " workflow_id, run_id, task_id, title, approved, result, original, state,"
                       " attempts, outcome, last_error, created_at, updated_at, send_after,"
                       " audited, odd_answers, ambiguous FROM decisions LIMIT 1", (n,))
        os._exit(9)  # killed before COMMIT
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == 9 and Path(f"{path}-journal").exists()
    reopened = Outbox(path)
    assert reopened.recovery is None
    (entry,) = reopened.entries()
    assert (entry.key, entry.title) == (kept, "Send kept?")
    assert not Path(f"{path}-journal").exists()
