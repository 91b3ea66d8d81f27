"""The console as an operator meets it: a real process on a real pseudo-terminal (80x24).

The stub runs as its own process (``command-center stub-server --seed empty --tasks N``) so it
never competes with the console for a GIL. The console runs as ``command-center --base-url …``
with ``COMMAND_CENTER_TOKEN`` and with its config file and state directory in a scratch folder, on
a pty whose output a terminal emulator (pyte, see ``_pty.py``) turns into a screen. Times are
``time.perf_counter()``: a key's time is taken just before ``os.write`` to the pty master, a
screen's time is when the read that completed it returned.

What each row means:

* **first-row** – spawn of ``command-center`` → the read after which the screen shows a task row:
  the status line says ``N/N tasks`` (N the stub's count) and the line under the table header
  (``! Age Workflow Run Type Title``) is not blank. Reference, measured in the same run and
  interleaved with the console runs: a fresh ``python bench/_reference_app.py`` that imports
  httpx and json, GETs the same ``/v1/tasks/pending``, ``json.loads`` it, then runs a bare
  Textual ``App`` whose first paint shows ``READY N tasks``; spawn → that text on screen.
  Median of ``--repeat`` runs each.
* **filter** – ``/`` opens the filter box; then ``--keystrokes`` keys alternate a character and
  Backspace. Each character is one whose filter leaves a different number of tasks than the
  whole inbox, so every key changes the status line's ``shown/total``. The expected count is
  computed here, independently of the console: a task is shown when every space-separated term
  occurs (case-folded) in one of its workflow name, workflow id, run id, task type, title, step
  id or task id, or in one of its payload's texts (``payload_texts``: the payload's title and
  description, its field values and its editable values). Latency = key write → the read after
  which the status line shows the expected count (the table is repainted in the same handler,
  hence the same frame). Before each key the output must have been quiet for 50 ms. Median and
  p95 (nearest rank). Reference for the median, measured at each size before the consoles start:
  a fresh ``python bench/_reference_input.py`` (a bare Textual ``App`` holding one focused
  ``Input``) on the same kind of pty, typed the same keys the same way; key write → the read
  after which the input's line shows the text typed so far.
* **memory** – VmRSS of the console process (/proc/PID/status) once the first row is shown and
  the output was then quiet for 300 ms.
* **cursor-bytes** – ``j`` pressed 20 times from the top (the last few scroll the table); each
  press counts the bytes from the key until the cursor row visibly moved and the output was then
  quiet for 50 ms (after 100 ms of quiet before the key). Median.
* **marks** – ``*`` on the whole inbox → the read after which the status line says ``✓ N
  marked``; then ``a`` → the read after which the batch's confirmation (``Approve N marked
  tasks?``) is on screen; Esc twice after (the dialog, the marks). After 100 ms of quiet each.
* **preview** – ``j`` 20 times from the top with the preview pane off, then on (``v``: the lower
  half at 80x24): key → the read after which the cursor row moved, p95, pane on as a ratio to
  pane off; the note adds key → settled (output quiet 50 ms, the pane repainted).
* **idle-bytes** – every byte written during ``--idle-seconds`` with nothing pressed, right after
  load (auto-refresh on: the console polls every 3 s while tasks pend and repaints ages every
  second), scaled to a minute. Measured at one size only (10,000 if given, else the first).
* **responsiveness** – against a stub started with ``--spawn-every 1``, so every poll brings
  changed data the console must parse: a key on a fixed schedule, one every 100 ms for
  ``--responsive-seconds`` – or longer, up to 45 s, until at least one refresh has brought new
  tasks to the screen meanwhile – whether or not the previous one has shown yet (so keys that queue
  behind a busy event loop are all measured, not just the first). The keys go in cycles of ``j``
  pressed d times then ``g`` (d + 1 = the task rows on screen, 21 at 80x24): the cursor walks down
  the first screenful and jumps back to the first row, so the table never scrolls and each key of
  a cycle leaves the cursor on a line of its own: after key i the cursor row (told by its
  background) is line (i + 1) mod (d + 1) under the header, whatever the rows say. Key i's
  latency = its write → the first read after which the cursor row is on the line of key i or of
  a later key already written (keys are handled in order, so a later key's line means key i was
  handled too; the candidate keys are those at or after the last key known handled). Only with
  more than a cycle of keys outstanding (over 2 s behind) can a line fit several keys; then the
  latest fit gives each key a lower bound and the earliest an upper one, the row shows the upper
  bound's p95 and says AMBIGUOUS with the lower one. p95 (nearest rank).

The benchmark process itself (emulating the screen with pyte) shares the machine's cores with the
console and the stub, as a real terminal emulator would.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from client import CommandCenterClient
from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT

from ._pty import Chunk, PtyProcess, ScreenTimeout, kill, track
from ._table import Row, Targets, by_tier

COLS, ROWS = 80, 24
FIRST_ROW_TIMEOUT = 120.0
KEY_TIMEOUT = 30.0
QUIT_GRACE = 15.0
REFERENCE_SCRIPT = Path(__file__).with_name("_reference_app.py")
REFERENCE_INPUT_SCRIPT = Path(__file__).with_name("_reference_input.py")

_COUNTS = re.compile(r"(\d+)/(\d+) tasks")
_HEADER = re.compile(r"^\s*(✓\s+)?!\s+Age\s+Workflow\s+Run\s+Type\s+Title\b")
_STUB_URL = re.compile(r"Stub server on (http://\S+)")

SESSION_BENCHMARKS = (
    "first-row",
    "memory",
    "idle-bytes",
    "cursor-bytes",
    "marks",
    "preview",
    "filter",
)
# Benchmark name → (row name, unit, targets up to 1,000 / 10,000 / 100,000 tasks). A row with a
# reference compares value/reference with its target (a ratio), one without compares the value.
ROWS_OF: dict[str, tuple[str, str, Targets]] = {
    "first-row": ("time to first inbox row", "s", (1.0, 1.0, 1.0)),  # ratio to the reference app
    "memory": ("console RSS after load", "MB", (None, 90, 250)),
    "idle-bytes": ("terminal bytes per idle minute", "B/min", (2048, 2048, 2048)),
    "cursor-bytes": ("terminal bytes per cursor move (j)", "B", (1024, 1024, 1024)),
    "filter": ("filter keystroke → screen, p95", "ms", (None, None, 33)),
    # "within a frame or two" (issue 13): two 60 Hz frames.
    "marks": ("mark all (*) → status line", "ms", (None, 33, None)),
    # The pane must not slow the cursor: p95 with the pane on, as a ratio to the pane off.
    "preview": ("cursor key → cursor moved, preview pane on, p95", "ms", (1.25, 1.25, 1.25)),
}
# The batch's confirmation, also "within a frame or two" at 10,000 marked tasks: what it takes
# beyond a one-task confirmation (the dialog's own cost, the same whatever is marked).
BATCH_CONFIRM: tuple[str, Targets] = (
    "a with all marked → confirmation, beyond a one-task one",
    (None, 33, None),
)
# The filter's median, as a ratio to a bare Textual Input's echo on the same kind of pty.
FILTER_MEDIAN: tuple[str, Targets] = ("filter keystroke → screen, median", (None, 2.0, None))


def target_of(benchmark: str, n: int) -> float | None:
    _, _, targets = ROWS_OF[benchmark]
    return by_tier(n, targets)


def failed(benchmark: str, n: int, error: BaseException) -> Row:
    name, unit, _ = ROWS_OF[benchmark]
    return failed_row(name, n, unit, target_of(benchmark, n), error)


# -- targets ------------------------------------------------------------------------------------


def by_size(n: int, small: float | None, large: float | None) -> float | None:
    """A target for up to 10,000 tasks, another for up to 100,000, none beyond."""
    if n <= 10_000:
        return small
    if n <= 100_000:
        return large
    return None


def p95(samples: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def failed_row(name: str, n: int, unit: str, target: float | None, error: BaseException) -> Row:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return Row(name, f"{n:,}", math.nan, unit, target=target, note=f"FAILED: {first[:90]}")


def report_failure(what: str, error: BaseException) -> None:
    print(f"\n!! {what} failed: {type(error).__name__}: {error}\n", flush=True)


# -- the processes ------------------------------------------------------------------------------


def command_center() -> list[str]:
    """The venv's ``command-center`` script (the interpreter running this, and its scripts)."""
    script = Path(sys.executable).with_name("command-center")
    return [str(script)] if script.exists() else [sys.executable, "-m", "console"]


class StubProcess:
    """``command-center stub-server`` in a process of its own; ``url`` once it listens."""

    def __init__(
        self,
        tasks: int,
        *,
        spawn_every: float | None = None,
        etags: bool = True,
        timeout: float = 180.0,
    ) -> None:
        argv = [*command_center(), "stub-server", "--seed", "empty", "--tasks", str(tasks)]
        argv += ["--port", "0"]  # the stub binds a free port and prints it
        if not etags:
            argv.append("--no-etags")
        if spawn_every:
            argv += ["--spawn-every", f"{spawn_every:g}"]
        self.tasks = tasks
        self.log: deque[str] = deque(maxlen=40)
        self.url: str | None = None
        self._ready = threading.Event()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = track(
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        )
        threading.Thread(target=self._read, name="stub-log", daemon=True).start()
        if not self._ready.wait(timeout) or self.url is None:
            self.close()
            log = "\n".join(self.log)
            why = "exited" if self.process.returncode is not None else f"not ready in {timeout} s"
            raise RuntimeError(f"the stub server {why}:\n{log}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.log.append(line)
            match = _STUB_URL.search(line)
            if match and self.url is None:
                self.url = match.group(1)
                self._ready.set()
        self._ready.set()  # end of output: it exited

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGINT)  # uvicorn shuts down on Ctrl-C
        kill(self.process, grace=5.0)

    def __enter__(self) -> StubProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def terminal_env(scratch: Path) -> dict[str, str]:
    """The environment of a program on the benchmark's pty; nothing points at the user's files."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMMAND_CENTER_", "TEXTUAL", "XDG_"))
        # Run as an installed program runs: with bytecode caches (see bench.__main__).
        and k not in ("NO_COLOR", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        TERM="xterm-256color",
        COLUMNS=str(COLS),
        LINES=str(ROWS),
        COMMAND_CENTER_TOKEN=DEMO_CONTRIBUTOR_TOKEN,
        # A config file that does not exist: defaults plus the flags below.
        COMMAND_CENTER_CONFIG=str(scratch / "config.toml"),
        COMMAND_CENTER_STATE_DIR=str(scratch / "state"),
        XDG_CONFIG_HOME=str(scratch / "xdg-config"),
        XDG_STATE_HOME=str(scratch / "xdg-state"),
        XDG_DATA_HOME=str(scratch / "xdg-data"),
        XDG_CACHE_HOME=str(scratch / "xdg-cache"),
    )
    return env


# -- reading the console's screen ---------------------------------------------------------------


def status_counts(pty: PtyProcess) -> tuple[int, int] | None:
    """(shown, total) from the status line (the first line that has ``N/M tasks``)."""
    for line in pty.lines()[:3]:
        match = _COUNTS.search(line)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def header_line(pty: PtyProcess) -> int | None:
    for y, line in enumerate(pty.lines()):
        if _HEADER.match(line):
            return y
    return None


def first_row_shown(n: int, *, at_least: bool = False) -> Callable[[PtyProcess], bool]:
    """The status line counts all ``n`` tasks (``at_least`` n with a spawning stub), none hidden,
    and the line under the table header holds a row."""

    def shown(pty: PtyProcess) -> bool:
        counts = status_counts(pty)
        if counts is None:
            return False
        visible, total = counts
        if total == 0 or visible != total or (total < n if at_least else total != n):
            return False
        header = header_line(pty)
        return header is not None and header + 1 < pty.rows and bool(pty.lines()[header + 1])

    return shown


@dataclass
class Console:
    """A console on a pty that has shown its first row; the cursor is on the first task."""

    pty: PtyProcess
    first_row_s: float
    header: int = 0
    cursor_bg: str = ""
    quit_s: float | None = None
    killed: bool = False
    # (line expected, line seen, seconds into the measurement): the cursor's line under the
    # header was where no outstanding key leaves it (it moved by itself)
    jumps: list[tuple[int, int, float]] = field(default_factory=list)

    def learn_cursor(self) -> None:
        header = header_line(self.pty)
        if header is None:
            raise ScreenTimeout(f"no table header on screen:\n{self.pty.text()}")
        self.header = header
        self.cursor_bg = self.pty.screen.buffer[header + 1][1].bg

    def cursor_line(self) -> int | None:
        """The line whose background is the cursor's (learnt on the first row after load)."""
        buffer = self.pty.screen.buffer
        lines = self.pty.lines()
        for y in range(self.header + 1, self.pty.rows):
            if buffer[y][1].bg == self.cursor_bg and lines[y]:
                return y
        return None

    def close(self) -> None:
        started = time.perf_counter()
        code = self.pty.close(quit_keys=b"\x11", grace=QUIT_GRACE)  # ctrl+q
        self.killed = code is not None and code < 0
        self.quit_s = time.perf_counter() - started

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def launch_console(url: str, n: int, scratch: Path, *, at_least: bool = False) -> Console:
    argv = [*command_center(), "--base-url", url, "--tenant", DEMO_TENANT]
    argv += ["--project", DEMO_PROJECT]
    pty = PtyProcess(argv, terminal_env(scratch), cols=COLS, rows=ROWS)
    try:
        at = pty.wait_for(
            first_row_shown(n, at_least=at_least),
            FIRST_ROW_TIMEOUT,
            f"the console showed no inbox row of {n:,} tasks",
        )
    except BaseException:
        pty.close(grace=2.0)
        raise
    return Console(pty, at - pty.started_at)


def reference_run(url: str, n: int, scratch: Path) -> float:
    """Seconds from spawn to ``READY n tasks`` on screen, for the reference app."""
    argv = [sys.executable, str(REFERENCE_SCRIPT), url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT]
    argv.append(DEMO_PROJECT)
    with PtyProcess(argv, terminal_env(scratch), cols=COLS, rows=ROWS) as pty:
        text = f"READY {n} tasks"
        at = pty.wait_for(
            lambda p: any(text in line for line in p.lines()),
            FIRST_ROW_TIMEOUT,
            f"the reference app did not show {text!r}",
        )
        return at - pty.started_at


def input_text(pty: PtyProcess) -> str | None:
    """The text in the bare ``Input``'s box: the line under its top border (``▔``), without the
    side borders; None while no box is on screen."""
    lines = pty.lines()
    for y, line in enumerate(lines[:-1]):
        if "▔" in line:
            return lines[y + 1].strip().strip("▊▎").strip()
    return None


def reference_input_run(keys: list[str], scratch: Path) -> list[float]:
    """Seconds from each key's write to the bare ``Input`` showing the text typed so far.

    ``python bench/_reference_input.py`` on a pty like the console's; the keys are typed as in
    :func:`measure_filter` (after 50 ms of quiet output each), Backspace (``\\x7f``) deleting
    the last character."""
    argv = [sys.executable, str(REFERENCE_INPUT_SCRIPT)]
    with PtyProcess(argv, terminal_env(scratch), cols=COLS, rows=ROWS) as pty:
        pty.wait_for(
            lambda p: input_text(p) == "",
            FIRST_ROW_TIMEOUT,
            "the bare Input app showed no empty input box",
        )
        pty.wait_quiet(0.3, 15)
        latencies = []
        text = ""
        for key in keys:
            text = text[:-1] if key == "\x7f" else text + key
            pty.wait_quiet(0.05, 15)
            sent = pty.send(key)
            shown = pty.wait_for(
                lambda p, text=text: input_text(p) == text,
                KEY_TIMEOUT,
                f"after {key!r} the bare Input never showed {text!r}",
            )
            latencies.append(shown - sent)
        return latencies


# -- the measurements on one console -------------------------------------------------------------


def _filter_value(value: object) -> str | None:
    """A payload value as the filter reads it: non-empty text as is, a number or a boolean as
    its JSON; nothing for null, an object or a list."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def payload_texts(payload: object) -> list[str]:
    """The texts of a raw ``task_payload`` the inbox filter matches, in order.

    Mirrors the console's documented filter rule (written again here, not imported, so the
    benchmark checks the console rather than repeats it): the payload's ``title`` and its
    ``description`` when each is a non-empty string; then every value under ``fields`` (the
    values of a dict, or the ``value`` of each object of a list); then every value of
    ``editable`` when it is a dict. A value counts when it is a non-empty string (as is) or a
    number or boolean (as ``json.dumps`` writes it); null, objects and lists are skipped.
    """
    if not isinstance(payload, dict):
        return []
    texts = [t for t in (payload.get("title"), payload.get("description")) if isinstance(t, str)]
    texts = [t for t in texts if t]
    values: list[object] = []
    fields = payload.get("fields")
    if isinstance(fields, dict):
        values += fields.values()
    elif isinstance(fields, list):
        values += [f.get("value") for f in fields if isinstance(f, dict)]
    editable = payload.get("editable")
    if isinstance(editable, dict):
        values += editable.values()
    texts += [t for t in map(_filter_value, values) if t is not None]
    return texts


def filter_plan(url: str, keystrokes: int) -> tuple[list[tuple[str, int]], int]:
    """Keys to type into the filter box and the ``shown`` count each must lead to; the total."""
    with CommandCenterClient(
        url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, timeout=300
    ) as client:
        tasks = client.list_pending_tasks()
    # Joined by newlines: a term (no whitespace) then matches iff one of the texts holds it.
    texts = [
        "\n".join(
            (
                t.workflow_name or "",
                t.workflow_id,
                t.run_id,
                t.task_type or "",
                t.title,
                t.step_id or "",
                t.id,
                *payload_texts(t.task_payload),  # the payload object as received
            )
        ).casefold()
        for t in tasks
    ]
    total = len(texts)
    del tasks
    candidates = []
    for char in "abcdefghijklmnopqrstuvwxyz0123456789#-_.?":
        shown = sum(1 for text in texts if char in text)
        if shown != total:
            candidates.append((char, shown))
    if not candidates:
        raise RuntimeError("no single character changes the number of tasks shown")
    plan: list[tuple[str, int]] = []
    i = 0
    while len(plan) < keystrokes:
        plan.append(candidates[i % len(candidates)])
        plan.append(("\x7f", total))  # Backspace: the whole inbox again
        i += 1
    return plan[:keystrokes], total


def measure_memory(console: Console) -> float:
    kib = console.pty.rss_kib()
    if kib is None:
        raise RuntimeError("the console process is gone")
    return kib * 1024 / 1e6


def measure_idle(console: Console, seconds: float) -> tuple[int, int]:
    """Bytes written during ``seconds`` with no key pressed, and in how many bursts."""
    pty = console.pty
    pty.wait_quiet(0.3, 15)
    chunks = pty.read_for(seconds)
    bursts = 0
    last = -math.inf
    for chunk in chunks:
        if chunk.at - last > 0.05:
            bursts += 1
        last = chunk.at
    return sum(len(c.data) for c in chunks), bursts


def measure_cursor_bytes(console: Console, moves: int) -> list[int]:
    pty = console.pty
    sizes = []
    for i in range(moves):
        pty.wait_quiet(0.1, 15)
        before = (console.cursor_line(), pty.lines()[console.cursor_line() or 0])
        fed = pty.fed_bytes
        pty.send("j")
        pty.wait_for(
            lambda p, before=before: (
                (console.cursor_line(), p.lines()[console.cursor_line() or 0]) != before
            ),
            KEY_TIMEOUT,
            f"cursor move {i + 1}: the cursor row did not move",
        )
        pty.wait_quiet(0.05, 5)
        sizes.append(pty.fed_bytes - fed)
    return sizes


def measure_filter(console: Console, plan: list[tuple[str, int]], total: int) -> list[float]:
    pty = console.pty
    pty.wait_quiet(0.1, 15)
    pty.send("/")
    pty.wait_for(
        lambda p: any("Filter:" in line for line in p.lines()),
        KEY_TIMEOUT,
        "the filter box did not open after '/'",
    )
    latencies = []
    for key, expected in plan:
        pty.wait_quiet(0.05, 15)
        sent = pty.send(key)
        shown = pty.wait_for(
            lambda p, expected=expected: status_counts(p) == (expected, total),
            KEY_TIMEOUT,
            f"after {key!r} the status line never said {expected}/{total} tasks",
        )
        latencies.append(shown - sent)
    return latencies


def _confirmation_time(console: Console, question: str) -> float:
    """``a`` → ``question`` on screen, then Esc once it could be read; seconds."""
    pty = console.pty
    pty.wait_quiet(0.1, 15)
    asked = pty.send("a")
    shown = pty.wait_for(
        lambda p: any(question in line for line in p.lines()),
        KEY_TIMEOUT,
        f"'a' did not ask {question!r}",
    )
    pty.wait_quiet(0.6, 15)  # past the dialog's reading time
    pty.send("\x1b")
    pty.wait_for(
        lambda p: not any(question in line for line in p.lines()),
        KEY_TIMEOUT,
        f"Esc did not close {question!r}",
    )
    return shown - asked


def measure_marks(console: Console, total: int) -> tuple[float, float, float]:
    """``*`` → the status line counts every task marked; ``a`` → the batch's confirmation on
    screen; and, for comparison, ``a`` → a one-task confirmation (median of three) before
    the marks. Seconds each; Esc clears the marks after."""
    pty = console.pty
    single = statistics.median(_confirmation_time(console, "Approve this task?") for _ in range(3))
    pty.wait_quiet(0.1, 15)
    counted = f"✓ {total:,} marked"
    sent = pty.send("*")
    marked = pty.wait_for(
        lambda p: counted in p.lines()[0], KEY_TIMEOUT, f"'*' did not say {counted!r}"
    )
    batch = _confirmation_time(console, f"Approve {total:,} marked tasks?")
    pty.wait_quiet(0.1, 15)
    pty.send("\x1b")
    pty.wait_for(lambda p: "marked" not in p.lines()[0], KEY_TIMEOUT, "Esc kept the marks")
    return marked - sent, batch, single


def measure_cursor_latency(console: Console, moves: int) -> tuple[list[float], list[float]]:
    """``j`` from the top, ``moves`` times: key → the cursor row moved, and key → the output
    settled (quiet 50 ms: the preview pane, if on, repainted too). Seconds each."""
    pty = console.pty
    pty.wait_quiet(0.1, 15)
    pty.send("g")
    pty.wait_quiet(0.2, 15)
    moved: list[float] = []
    settled: list[float] = []
    for i in range(moves):
        pty.wait_quiet(0.1, 15)
        before = (console.cursor_line(), pty.lines()[console.cursor_line() or 0])
        sent = pty.send("j")
        at = pty.wait_for(  # the cursor's line moved, or the rows scrolled under it
            lambda p, before=before: (
                (console.cursor_line(), p.lines()[console.cursor_line() or 0]) != before
            ),
            KEY_TIMEOUT,
            f"cursor move {i + 1}: the cursor row did not move",
        )
        last, _ = pty.wait_quiet(0.05, 5)
        moved.append(at - sent)
        settled.append((last if last is not None else at) - sent)
    return moved, settled


def cursor_positions(console: Console) -> list[int]:
    """Every table line (0 = the first row under the header) whose background is the cursor's.

    Exactly one while a frame is complete; none or two while a frame that moves the cursor is
    half read (Textual paints top to bottom: the old row cleared before a lower new one, a
    higher new one painted before the old row is cleared)."""
    buffer = console.pty.screen.buffer
    lines = console.pty.lines()
    return [
        y - console.header - 1
        for y in range(console.header + 1, console.pty.rows)
        if buffer[y][1].bg == console.cursor_bg and lines[y]
    ]


def rows_on_screen(console: Console) -> int:
    """Task rows the table shows without scrolling (non-blank lines above the footer line)."""
    lines = console.pty.lines()
    count = 0
    for y in range(console.header + 1, console.pty.rows - 1):
        if not lines[y]:
            break
        count += 1
    return count


@dataclass
class Responsiveness:
    """Per key, the seconds from its write to the read whose screen answered it: ``early`` and
    ``late`` bound it from below and above, and agree unless the cursor's line fitted several
    keys (``ambiguous`` reads: more than a cycle of keys outstanding)."""

    early: list[float]
    late: list[float]
    refreshes: int  # refreshes that showed new tasks (the status line's total grew)
    pressed: float  # seconds keys were pressed
    cycle: int  # keys per cycle (j x cycle-1, then g)
    ambiguous: int


def measure_responsiveness(
    console: Console, seconds: float, longest: float, every: float = 0.1
) -> Responsiveness:
    """Keys on a fixed schedule, one every ``every`` s whether or not the last one showed yet
    (keys queued behind a busy event loop are measured too), in cycles of ``j`` x depth then
    ``g``: the cursor walks down the first screenful and jumps back to the first row, never
    scrolling the table. After key i the cursor is on line (i + 1) mod (depth + 1) under the
    header, so the line of the cursor alone says which key the screen answers: the console
    handles keys in order, so the last key it handled is one that leaves the cursor there, at or
    after the last one known handled, and sent before the read. Key i counts as shown at the
    first read after which the last key handled is i or later.

    Only with more than a cycle of keys outstanding (depth + 1 keys, 2.1 s at 80x24) do several
    keys fit; then the latest gives each key a lower bound and the earliest an upper one (keys
    the earliest never reaches by the end count as shown once the cursor has then stayed on the
    last key's line for a cycle's time).

    Runs ``seconds``, longer (up to ``longest``) until a refresh has brought new tasks to the
    screen meanwhile, so that the window holds at least one parse and its repaint."""
    pty = console.pty
    if cursor_positions(console) != [0]:
        raise ScreenTimeout(f"the cursor is not on the first task:\n{pty.text()}")
    lines = pty.lines()
    column = lines[console.header].index("Run")
    first_row = lines[console.header + 1][column:]  # from Run on: the age may tick
    depth = min(rows_on_screen(console), (status_counts(pty) or (0, 0))[1]) - 1
    if depth < 1:
        raise ScreenTimeout(f"fewer than two task rows on screen:\n{pty.text()}")
    cycle = depth + 1

    def key(i: int) -> str:
        return "g" if i % cycle == depth else "j"

    most = max(1, round(longest / every))
    begin = time.perf_counter()
    sent: list[float] = []
    early: list[float] = []  # per key: shown at the latest by then (the latest fit reached it)
    late: list[float] = []  # per key: shown at the earliest by then (the earliest fit did)
    totals: set[int] = set()  # each refresh with new data shows a larger total
    handled = -1  # the earliest fit: keys up to here were certainly handled (-1: none)
    ambiguous = 0

    def credit(latencies: list[float], upto: int, at: float) -> None:
        while len(latencies) <= upto:
            latencies.append(at - sent[len(latencies)])

    def absorb(chunk: Chunk) -> bool:
        nonlocal handled, ambiguous
        counts = status_counts(pty)
        if counts is not None:
            totals.add(counts[1])
        if pty.lines()[console.header + 1][column:] != first_row:
            raise ScreenTimeout(f"the table scrolled or changed its first row:\n{pty.text()}")
        seen = cursor_positions(console)
        if len(seen) != 1:
            return False  # half a frame
        line = seen[0]
        before = bisect.bisect_left(sent, chunk.at)  # keys written before this read
        first = handled + (line - 1 - handled) % cycle  # the first key ≥ handled leaving it there
        if first >= before:  # no key sent so far leaves the cursor there
            console.jumps.append(((handled + 1) % cycle, line, chunk.at - begin))
            return False
        last = first + (before - 1 - first) // cycle * cycle
        ambiguous += last != first
        handled = first
        credit(early, last, chunk.at)
        credit(late, first, chunk.at)
        return False

    for i in range(most):
        if i * every >= seconds and len(totals) > 1:
            break
        pty.pump(begin + i * every, absorb)
        sent.append(pty.send(key(i)))
    pressed = time.perf_counter() - begin
    if len(early) < len(sent):
        pty.pump(
            time.perf_counter() + KEY_TIMEOUT,
            lambda chunk: absorb(chunk) or len(early) == len(sent),
        )
    if len(early) < len(sent):
        raise ScreenTimeout(
            f"{len(sent) - len(early)} of {len(sent)} keys never showed within {KEY_TIMEOUT:g} s "
            f"(the cursor should be on line {len(sent) % cycle} under the header). "
            f"Last screen:\n{pty.text()}"
        )
    if len(late) < len(sent):  # the earliest fit lags a whole number of cycles behind
        moved = len(console.jumps)
        pty.pump(time.perf_counter() + cycle * every + 0.5, absorb)
        if len(late) < len(sent):
            if len(console.jumps) != moved or handled % cycle != (len(sent) - 1) % cycle:
                raise ScreenTimeout(f"the cursor left the last key's line:\n{pty.text()}")
            credit(late, len(sent) - 1, time.perf_counter())
    return Responsiveness(early, late, len(totals) - 1, pressed, cycle, ambiguous)


# -- rows -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    repeat: int = 3  # console and reference launches for first-row
    keystrokes: int = 50
    cursor_moves: int = 20
    idle_seconds: float = 60.0
    responsive_seconds: float = 15.0
    responsive_longest: float = 45.0  # ... or until a refresh brought new tasks meanwhile


def _quit_note(consoles: list[Console]) -> str:
    killed = sum(c.killed for c in consoles)
    worst = max((c.quit_s or 0.0) for c in consoles) if consoles else 0.0
    if killed:
        return f"{killed} of {len(consoles)} ignored ctrl+q for {QUIT_GRACE:g} s (killed)"
    return f"quit ≤ {worst:.1f} s"


def session(
    stub: StubProcess,
    n: int,
    options: Options,
    wanted: set[str],
    *,
    idle: bool,
) -> Iterator[Row]:
    """first-row, memory, idle-bytes, cursor-bytes and filter, on consoles against ``stub``."""
    assert stub.url is not None
    url = stub.url
    size = f"{n:,}"
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        plan: tuple[list[tuple[str, int]], int] | None = None
        if "filter" in wanted:
            try:
                plan = filter_plan(url, options.keystrokes)
            except Exception as exc:
                report_failure(f"planning filter keys at {size}", exc)
                yield failed("filter", n, exc)
                wanted = wanted - {"filter"}
        input_ms: list[float] | None = None  # the floor for the filter: a bare Input's echo
        input_error = ""
        if plan is not None:
            try:
                keys = [key for key, _ in plan[0]]
                input_ms = [s * 1000 for s in reference_input_run(keys, scratch / "input-ref")]
            except Exception as exc:
                report_failure(f"the bare Input reference at {size}", exc)
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                input_error = f"; reference FAILED: {(first or type(exc).__name__)[:60]}"
        more = wanted & {"memory", "idle-bytes", "cursor-bytes", "marks", "preview", "filter"}
        if "idle-bytes" in more and not idle:
            more.discard("idle-bytes")
        runs = max(1, options.repeat) if "first-row" in wanted else 1
        consoles: list[Console] = []
        references: list[float] = []
        kept: Console | None = None
        try:
            for i in range(runs):
                if "first-row" in wanted:
                    references.append(reference_run(url, n, scratch / f"ref{i}"))
                console = launch_console(url, n, scratch / f"console{i}")
                consoles.append(console)
                if i == runs - 1 and more:
                    kept = console
                else:
                    console.close()
        except Exception as exc:
            if kept is not None:  # (the others were closed as they finished)
                kept.close()
            report_failure(f"launching the console at {size}", exc)
            for benchmark in SESSION_BENCHMARKS:
                if (benchmark == "first-row" and benchmark in wanted) or benchmark in more:
                    yield failed(benchmark, n, exc)
            return
        closed = [c for c in consoles if c is not kept]
        first_row_note = _quit_note(closed) if closed else ""
        if "first-row" in wanted:
            value = statistics.median(c.first_row_s for c in consoles)
            reference = statistics.median(references)
            spread = f"console {min(c.first_row_s for c in consoles):.2f}–"
            spread += f"{max(c.first_row_s for c in consoles):.2f} s"
            note = f"median of {runs}, spawn → row on 80x24 pty; {spread}"
            first_row = Row(
                "time to first inbox row",
                size,
                value,
                "s",
                reference=reference,
                target=target_of("first-row", n),
                note=note + (f"; {first_row_note}" if first_row_note else ""),
            )
            yield first_row
        if kept is None:
            return
        with kept as console:
            try:
                console.pty.wait_quiet(0.3, 15)
                console.learn_cursor()
            except Exception as exc:
                report_failure(f"settling the console at {size}", exc)
                for benchmark in SESSION_BENCHMARKS:
                    if benchmark in more:
                        yield failed(benchmark, n, exc)
                return
            if "memory" in more:
                try:
                    yield Row(
                        "console RSS after load",
                        size,
                        measure_memory(console),
                        "MB",
                        target=target_of("memory", n),
                        note="VmRSS (1 MB = 10^6 B) once the first row showed and output was "
                        "quiet 300 ms",
                    )
                except Exception as exc:
                    report_failure(f"memory at {size}", exc)
                    yield failed("memory", n, exc)
            if "idle-bytes" in more:
                try:
                    total, bursts = measure_idle(console, options.idle_seconds)
                    scale = 60.0 / options.idle_seconds
                    yield Row(
                        "terminal bytes per idle minute",
                        size,
                        total * scale,
                        "B/min",
                        target=target_of("idle-bytes", n),
                        note=f"{bursts * scale:.0f} writes/min, over {options.idle_seconds:g} s; "
                        "one size only",
                    )
                except Exception as exc:
                    report_failure(f"idle bytes at {size}", exc)
                    yield failed("idle-bytes", n, exc)
            if "cursor-bytes" in more:
                try:
                    moves = measure_cursor_bytes(console, options.cursor_moves)
                    yield Row(
                        "terminal bytes per cursor move (j)",
                        size,
                        statistics.median(moves),
                        "B",
                        target=target_of("cursor-bytes", n),
                        note=f"median of {len(moves)}; min {min(moves)}, max {max(moves)}",
                    )
                except Exception as exc:
                    report_failure(f"cursor bytes at {size}", exc)
                    yield failed("cursor-bytes", n, exc)
            if "marks" in more:
                try:
                    mark_s, confirm_s, single_s = measure_marks(console, n)
                    yield Row(
                        "mark all (*) → status line",
                        size,
                        mark_s * 1000,
                        "ms",
                        target=target_of("marks", n),
                        note=f"every one of {size} tasks marked; a 60 Hz frame is 16.7 ms",
                    )
                    yield Row(
                        BATCH_CONFIRM[0],
                        size,
                        (confirm_s - single_s) * 1000,
                        "ms",
                        target=by_tier(n, BATCH_CONFIRM[1]),
                        note=f"key → dialog: {confirm_s * 1000:.1f} ms with every task marked, "
                        f"{single_s * 1000:.1f} ms for one task (median of 3)",
                    )
                except Exception as exc:
                    report_failure(f"marks at {size}", exc)
                    yield failed("marks", n, exc)
            if "preview" in more:
                try:
                    off, _ = measure_cursor_latency(console, options.cursor_moves)
                    console.pty.send("v")  # the pane on: the lower half at 80x24
                    console.pty.wait_quiet(0.3, 15)
                    on, settled = measure_cursor_latency(console, options.cursor_moves)
                    console.pty.send("v")
                    console.pty.wait_quiet(0.3, 15)
                    yield Row(
                        "cursor key → cursor moved, preview pane on, p95",
                        size,
                        p95(on) * 1000,
                        "ms",
                        reference=p95(off) * 1000,
                        target=target_of("preview", n),
                        note=f"reference: pane off; {len(on)} moves each; key → settled "
                        f"(pane repainted) median {statistics.median(settled) * 1000:.1f} ms, "
                        f"p95 {p95(settled) * 1000:.1f} ms",
                    )
                except Exception as exc:
                    report_failure(f"preview at {size}", exc)
                    yield failed("preview", n, exc)
            if "filter" in more and plan is not None:
                target = target_of("filter", n)
                median_name, median_targets = FILTER_MEDIAN
                reference = statistics.median(input_ms) if input_ms else None
                if input_ms:
                    floor = f"; bare Input: {len(input_ms)} keys, p95 {p95(input_ms):.1f} ms"
                else:
                    floor = input_error
                try:
                    latencies = [s * 1000 for s in measure_filter(console, *plan)]
                    yield Row(
                        median_name,
                        size,
                        statistics.median(latencies),
                        "ms",
                        reference=reference,
                        target=by_tier(n, median_targets) if reference is not None else None,
                        note=f"{len(latencies)} keys; status line shows the expected count" + floor,
                    )
                    yield Row(
                        "filter keystroke → screen, p95",
                        size,
                        p95(latencies),
                        "ms",
                        target=target,
                        note=f"max {max(latencies):.1f} ms; a 60 Hz frame is 16.7 ms",
                    )
                except Exception as exc:
                    report_failure(f"filter at {size}", exc)
                    yield failed("filter", n, exc)
        print(f"   (the measured console at {size}: {_quit_note([kept])})", flush=True)


def responsiveness(n: int, options: Options) -> Row:
    """Cursor keys while every poll parses changed data (stub with ``--spawn-every 1``)."""
    target = by_size(n, 50, 50)
    name = "cursor key → screen during refreshes, p95"
    try:
        with (
            tempfile.TemporaryDirectory(prefix="cc-bench-") as scratch,
            StubProcess(n, spawn_every=1.0) as stub,
        ):
            assert stub.url is not None
            with launch_console(stub.url, n, Path(scratch), at_least=True) as console:
                console.pty.wait_quiet(0.3, 15)
                console.learn_cursor()
                measured = measure_responsiveness(
                    console, options.responsive_seconds, options.responsive_longest
                )
        ms = [s * 1000 for s in measured.late]
        notes = [
            f"{len(ms)} keys (j x {measured.cycle - 1}, g) in {measured.pressed:.0f} s",
            f"median {statistics.median(ms):.1f}, max {max(ms):.0f} ms",
            f"refreshes that showed new tasks: {measured.refreshes}",
        ]
        if measured.ambiguous:
            notes.append(
                f"AMBIGUOUS: {measured.ambiguous} reads fitted keys a cycle apart; p95 at least "
                f"{p95([s * 1000 for s in measured.early]):.0f} ms (upper bound shown)"
            )
        if console.jumps:
            where = ", ".join(f"line {a}→{b} at {t:.1f} s" for a, b, t in console.jumps[:3])
            notes.append(f"CURSOR MOVED by itself: {where}")
        return Row(name, f"{n:,}", p95(ms), "ms", target=target, note="; ".join(notes))
    except Exception as exc:
        report_failure(f"responsiveness at {n:,}", exc)
        return failed_row(name, n, "ms", target, exc)
