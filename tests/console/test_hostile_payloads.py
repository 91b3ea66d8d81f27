r"""Hostile task payloads through the real console, headless, with the terminal output recorded.

Every string a task carries – names, ids, title, Markdown description, field labels and values,
editable values of each type, enum options, a server's error text – is drawn from a list of
hostile pieces: Rich and Textual markup and actions, ANSI CSI/OSC/DCS sequences (OSC 52 clipboard
writes, OSC 0 title changes), 8-bit C1 controls, C0 controls and DEL, bidi overrides and isolates,
zero-width and other invisible characters, wide CJK and emoji. The app shows the inbox row, the
detail, the raw JSON (J), the edit form (e), the review (ctrl+s), the run view and the error
toasts, and must keep running. Alongside: 1 MB strings and deep nesting (keys still answered),
JSON text that ``json.loads`` reads its own way (duplicate keys, 1e400, huge integers, lone
surrogates), drafts of hostile values, and names in the command palette.

What reaches the terminal: Textual's ``App._display`` renders frames only for a driver that is
not headless, so the test driver is the headless one with ``is_headless`` false and a ``write``
that keeps every string – exactly what a real driver would send to the terminal. Every escape
in it must be a CSI sequence of Textual's own kind (SGR, cursor moves, modes); nothing else may
be a control, format (bidi, zero-width), surrogate or separator character. The only other writes
Textual makes are the bell and its pointer-shape OSC 22, each as a write of its own.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rich.console import Console
from textual.app import App
from textual.drivers.headless_driver import HeadlessDriver
from textual.pilot import Pilot
from textual.widgets import Input, Markdown, Select, Static, Switch, TextArea

from client import AsyncCommandCenterClient, FieldType, PayloadField, Task
from console.app import CommandCenterApp
from console.audit import AuditLog
from console.decisions import Where
from console.draft_store import DraftStore
from console.field_values import text_of
from console.launch import build_app
from console.outbox import Outbox
from console.safe_text import clean, safe_markdown_source
from console.screens.detail import DetailScreen
from console.screens.edit import EditScreen, ReviewScreen
from console.screens.inbox import InboxScreen
from console.screens.run import RunScreen
from console.settings import ConsoleSettings
from console.widgets.field_inputs import FieldEditor
from console.widgets.task_table import TaskTable
from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, StubState, create_app
from server_stub.state import NewTask, Workflow
from tests.conftest import FIXED_NOW

from .conftest import STUB_URL, answer, wait_for

SIZE = (100, 40)
WORKFLOW_ID = "wf_hostile"
TASK_ID = "hostile-task"

HOSTILE_PIECES: list[str] = [
    # Rich / Textual markup, actions and variables
    "[bold red]x[/]",
    "[/]",
    "[/bold]",
    "[link=https://evil.example]click[/link]",
    "[@click=app.quit]q[/]",
    "[@click=app.exit()]x[/]",
    "$accent",
    "$text-error",
    "\\[escaped]",
    # ANSI escape sequences: CSI, OSC (52 clipboard, 0 title, 8 hyperlink), DCS, APC
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[H",
    "\x1b[?1049l",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b]0;pwned\x07",
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\x1bP+q544e\x1b\\",
    "\x1b_apc\x1b\\",
    "\x1bc",
    # 8-bit C1: CSI, OSC, DCS, ST, NEL
    "\x9b31m",
    "\x9d0;t\x9c",
    "\x90q\x9c",
    "\x85",
    # C0 controls and DEL
    "\x00\x01\x07\x08\x0b\x0c\x0e\x1f",
    "\x7f",
    "\r",
    "\r\n",
    "\n",
    "\t",
    # bidi overrides and isolates, zero-width and other invisible characters
    "\u202e",
    "\u202a\u202b\u202c\u202d",
    "\u2066\u2067\u2068\u2069",
    "\u200b\u200c\u200d\u200e\u200f",
    "\u2060\ufeff\u00ad",
    "\u2028\u2029",
    "\U000e0041\U000e0042",
    "\u115f\u3164",
    # wide characters, emoji, combining marks
    "漢字テスト",
    "👩\u200d👩\u200d👧\u200d👦",
    "🇺🇳",
    "e\u0301",
    "﷽",
    # Markdown that could hide text or reach Textual's markup tooltips
    "\n| a | b |\n|---|---|\n| [/] | [@click=app.quit]q[/] |\n",
    "<!-- hidden -->",
    "`code`",
    "[x](https://evil.example)",
    "\\x1b",
]


def hostile(max_pieces: int = 4) -> st.SearchStrategy[str]:
    piece = st.sampled_from(HOSTILE_PIECES) | st.text(max_size=4)
    return st.lists(piece, max_size=max_pieces).map("".join)


def tagged(tag: str, max_pieces: int = 4) -> st.SearchStrategy[str]:
    """A hostile string behind a visible ASCII tag, so a test can find it on screen."""
    return hostile(max_pieces).map(lambda text: tag + text)


# -- the terminal ----------------------------------------------------------------------------------


class RecordingDriver(HeadlessDriver):
    """No terminal for input, but frames are rendered as for one and every write is kept."""

    written: list[str]

    @property
    def is_headless(self) -> bool:
        return False  # App._display renders frames only for a driver that is not headless

    def write(self, data: str) -> None:
        self.written.append(data)


def record_terminal(app: App[Any]) -> list[str]:
    """From now on, everything ``app`` writes to its terminal is appended to the returned list."""
    written: list[str] = []
    build = app._build_driver

    def build_recording(*args: Any, **kwargs: Any) -> Any:
        driver = build(*args, **kwargs)
        assert type(driver) is HeadlessDriver, "run the app with run_test()"
        driver.__class__ = RecordingDriver
        driver.written = written
        return driver

    app._build_driver = build_recording  # type: ignore[method-assign]
    return written


# Writes Textual makes apart from frames: the bell, and the Kitty pointer shape (OSC 22).
_TEXTUAL_OWN_WRITE = re.compile(r"\x07|\x1b\]22;[a-z-]+\x07")
# Inside a frame: CSI with numeric parameters only. Textual uses SGR (m), cursor position (H)
# and moves (A-D), and DEC modes (h/l: synchronized output, cursor).
_CSI = re.compile(r"\x1b\[([0-9;:?]*)([\x20-\x2f]*)([\x40-\x7e])")
_CSI_FINALS = set("mHABCDhlJK")


@cache
def _unsafe_characters() -> re.Pattern[str]:
    """Every control (but newline), format, surrogate and line/paragraph separator character."""
    unsafe = [
        cp
        for cp in range(sys.maxunicode + 1)
        if cp != 0x0A and unicodedata.category(chr(cp)) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
    ]
    ranges: list[list[int]] = []
    for cp in unsafe:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges) + "]")


def terminal_problems(chunks: list[str]) -> list[str]:
    """What in these terminal writes Textual would not have written itself, shown with context."""
    problems: list[str] = []
    for chunk in chunks:
        if _TEXTUAL_OWN_WRITE.fullmatch(chunk):
            continue
        for match in _CSI.finditer(chunk):
            if match.group(2) or match.group(3) not in _CSI_FINALS:
                problems.append(f"unexpected CSI {match.group()!r}")
        text = _CSI.sub("", chunk)
        for match in _unsafe_characters().finditer(text):
            at = match.start()
            problems.append(f"raw {match.group()!r} in {text[max(0, at - 30) : at + 10]!r}")
            if len(problems) > 20:
                return problems
    return problems


def _full_update(app: App[Any], *, simplify: bool = False) -> Any:
    """The current screen as one full update, without eating the app's own pending repaints."""
    compositor = app.screen._compositor
    dirty = set(compositor._dirty_regions)
    try:
        return compositor.render_update(
            full=True, screen_stack=app._background_screens, simplify=simplify
        )
    finally:
        compositor._dirty_regions.update(dirty)


def full_frame(app: App[Any]) -> str:
    """The whole current screen exactly as the terminal would receive it now."""
    return str(_full_update(app).render_segments(app.console))


def screen_text(app: App[Any]) -> str:
    """The current screen as plain text, one line per row."""
    update = _full_update(app, simplify=True)
    return "\n".join("".join(strip.text for strip in line) for line in update.strips)


def plain(renderable: Any, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def assert_alive(app: CommandCenterApp) -> None:
    assert app.is_running and app.return_code is None and app._exception is None


# -- a console on a stub that holds the hostile tasks ----------------------------------------------


@dataclass
class Session:
    app: CommandCenterApp
    pilot: Pilot[Any]
    written: list[str]
    checked: int = 0  # writes already found clean

    def notes(self) -> list[str]:
        return [n.message for n in self.app._notifications]

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def answer(self, *keys: str) -> None:
        """Keys for an open confirmation, pressed once it is armed (read, not typed ahead)."""
        await answer(self.pilot, *keys)
        await self.pilot.pause()

    async def until(self, condition: Callable[[], bool], within: float = 10.0) -> None:
        await wait_for(condition, self.pilot.pause, within)
        await self.pilot.pause()

    def check(self) -> None:
        """Still running, and nothing but Textual's own sequences reached the terminal.

        Checks the writes since the last check, and the whole screen as it is now.
        """
        assert_alive(self.app)
        written = self.written[self.checked :]
        self.checked += len(written)
        problems = terminal_problems([*written, full_frame(self.app)])
        assert not problems, "\n".join(problems)


def hostile_state(workflow_name: str, run_id: str, task: NewTask) -> StubState:
    """A stub state holding one run of one workflow, waiting on ``task``."""
    state = StubState(now=lambda: FIXED_NOW)
    state.add_workflow(Workflow(WORKFLOW_ID, workflow_name))
    # validate=False: served exactly as given; what a hostile server sends is not the stub's
    # to decide.
    state.add_run(WORKFLOW_ID, run_id, tasks=[task], validate=False)
    return state


@asynccontextmanager
async def console_session(
    tmp: Path,
    *,
    state: StubState | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    size: tuple[int, int] = SIZE,
    loaded: bool = True,
) -> AsyncIterator[Session]:
    """The real app, headless, on the stub in-process (or ``transport``), output recorded."""
    if transport is None:
        assert state is not None
        transport = httpx.ASGITransport(app=create_app(state))
    # Decisions go out at once: the undo window is not what these tests are about.
    settings_ = ConsoleSettings(
        base_url=STUB_URL,
        tenant=DEMO_TENANT,
        project=DEMO_PROJECT,
        cursor_blink=False,
        undo_seconds=0.0,
    )
    async with httpx.AsyncClient(transport=transport, base_url=STUB_URL) as http:
        app = build_app(
            settings_,
            DEMO_CONTRIBUTOR_TOKEN,
            http_client=http,
            clock=lambda: FIXED_NOW,
            outbox=Outbox(tmp / "outbox.sqlite3"),
            audit=AuditLog(tmp / "audit.jsonl"),
            draft_store=DraftStore(tmp / "drafts.sqlite3", Where.of(settings_)),
        )
        written = record_terminal(app)
        # Toasts and tooltips are off in run_test by default; both show server text.
        async with app.run_test(size=size, notifications=True, tooltips=True) as pilot:
            session = Session(app, pilot, written)
            if loaded:
                await session.until(lambda: app.services.last_refresh is not None)
            yield session
            session.check()


def run(coroutine: Any) -> Any:
    """Hypothesis drives sync tests; each example gets its own event loop and app."""
    return asyncio.run(coroutine)


# -- the payloads ----------------------------------------------------------------------------------

_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_JSON_SCALARS = st.none() | st.booleans() | st.integers() | _FLOATS | hostile(3)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile(2), inner, max_size=3),
    max_leaves=8,
)


@dataclass(frozen=True)
class HostileTask:
    workflow_name: str
    run_id: str
    step_id: str
    task_type: str
    payload: dict[str, Any]

    def new_task(self) -> NewTask:
        return NewTask(TASK_ID, self.payload, task_type=self.task_type, step_id=self.step_id)

    def state(self) -> StubState:
        return hostile_state(self.workflow_name, self.run_id, self.new_task())


@st.composite
def hostile_tasks(draw: st.DrawFn, fields_as: str) -> HostileTask:
    """A task with hostile text everywhere; ``fields_as`` "object" or "list" (API.md part 2)."""
    label, value = draw(tagged("Zlabel")), draw(tagged("Zvalue"))
    editable: dict[str, Any] = {
        "e_string": draw(tagged("Zstring").filter(lambda s: "\n" not in s)),
        "e_text": draw(tagged("Ztext")) + "\n" + draw(hostile()),
        "e_integer": draw(st.integers(min_value=-(10**30), max_value=10**30)),
        "e_number": draw(_FLOATS.filter(lambda f: not f.is_integer())),
        "e_boolean": draw(st.booleans()),
        "e_json": draw(st.dictionaries(tagged("Zkey", 2), _JSON, max_size=3)),
    }
    payload: dict[str, Any] = {
        "title": draw(tagged("Ztitle")),
        "description": draw(tagged("Zdesc")),
    }
    if fields_as == "object":
        payload["fields"] = {label: value}
        payload["editable"] = editable
    else:
        options = draw(st.lists(tagged("Zoption", 2), min_size=1, max_size=3, unique=True))
        fields: list[dict[str, Any]] = [{"name": "info", "label": label, "value": value}]
        for name, default in editable.items():
            fields.append({"name": name, "label": draw(tagged("Zeditlabel", 2)), "value": default})
        fields.append(
            {
                "name": "e_enum",
                "label": draw(tagged("Zenum", 2)),
                "type": "enum",
                "options": options,
                "value": draw(st.sampled_from(options)),
            }
        )
        payload["fields"] = fields
        payload["editable"] = [f["name"] for f in fields[1:]]
    return HostileTask(
        workflow_name=draw(tagged("Zwf")),
        run_id=draw(tagged("Zrun")),
        step_id=draw(tagged("Zstep")),
        task_type=draw(tagged("Ztype")),
        payload=payload,
    )


# Each example runs the whole app (one to three seconds): few examples, no deadline, and no
# shrinking, which would take minutes; a failure prints the example as drawn.
HYPOTHESIS = settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- what each screen must show ----------------------------------------------------------------


def only_task(app: CommandCenterApp) -> Task:
    tasks = [row.task.full() for row in app.screen.query_one("#tasks", TaskTable).rows]
    assert len(tasks) == 1
    return tasks[0]


def assert_editor_shows(field: PayloadField, text: str) -> None:
    """A form control holds server text as the gate shows it.

    Nothing is left to escape but tabs, which the controls draw themselves.
    """
    multiline = field.type in (FieldType.TEXT, FieldType.JSON)
    kept = text.replace("\t", " ")
    assert clean(kept, multiline=multiline) == kept, f"unsafe text in {field.name}: {text!r}"
    if field.type is FieldType.JSON:
        assert json.loads(text) == field.value  # still the same JSON value, escapes and all
    else:
        server_text = text_of(field, field.value)
        assert clean(text, multiline=multiline) == clean(server_text, multiline=multiline)


async def check_inbox(session: Session, case: HostileTask) -> Task:
    app = session.app
    assert isinstance(app.screen, InboxScreen)
    task = only_task(app)
    assert task.title == case.payload["title"]
    screen = screen_text(app)
    for tag in ("Ztitle", "Zwf", "Zrun", "Ztype"):
        assert tag in screen, tag
    session.check()
    return task


async def check_detail(session: Session, task: Task) -> None:
    app = session.app
    await session.press("enter")
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    assert screen.query_one("#title", Static).content.plain == clean(task.title)
    on_screen = screen_text(app)
    assert "Ztitle" in on_screen and "Zwf" in on_screen and "Ztype" in on_screen
    description = screen.query_one("#description", Markdown)
    assert description.source == safe_markdown_source(task.description or "")
    # Textual gives Markdown table cells their text as a *markup* tooltip: none may hold a "[".
    tooltips = [w.tooltip for w in screen.query("*") if isinstance(w.tooltip, str)]
    assert not [t for t in tooltips if "[" in t]
    fields = plain(screen.query_one("#fields", Static).content)
    assert "Zlabel" in fields and "Zvalue" in fields
    session.check()

    await session.press("J")
    raw = screen.query_one("#raw-json")
    assert raw.display
    raw_text = plain(screen.query_one("#raw", Static).content)
    for tag in ("Ztitle", "Zdesc", "Zwf", "Zrun", "Zstep", "Ztype", "Zvalue"):
        assert tag in raw_text, tag
    session.check()
    await session.press("J")
    assert not raw.display


async def check_edit_and_review(session: Session, task: Task) -> None:
    app = session.app
    await session.press("e")
    assert isinstance(app.screen, EditScreen)
    session.check()
    editors = list(app.screen.query(FieldEditor))
    assert [e.field.name for e in editors] == [f.name for f in task.payload.editable_fields]
    for editor in editors:
        field, control = editor.field, editor.control
        label = editor.query_one(".field-label", Static).content
        assert str(label).startswith(clean(field.label, multiline=False))
        if isinstance(control, Input):
            assert_editor_shows(field, control.value)
        elif isinstance(control, TextArea):
            assert_editor_shows(field, control.text)
        elif isinstance(control, Select):
            assert control.value == field.value
        else:
            assert isinstance(control, Switch) and control.value is field.value
    session.check()

    # Nothing touched: the review finds no change and would send the exact original values.
    await session.press("ctrl+s")
    assert isinstance(app.screen, ReviewScreen)
    assert app.screen.values == task.editable_values()
    assert "No value changed" in plain(app.screen.query_one("#diff", Static).content)
    session.check()

    # An edit: the diff shows the hostile original lines around it, escaped.
    await session.press("escape")
    assert isinstance(app.screen, EditScreen)
    area = next(e.control for e in app.screen.query(FieldEditor) if e.field.name == "e_text")
    assert isinstance(area, TextArea)
    area.text = area.text + "\nZedited"
    await session.press("ctrl+s")
    assert isinstance(app.screen, ReviewScreen)
    assert "+Zedited" in plain(app.screen.query_one("#diff", Static).content)
    session.check()
    await session.press("escape", "escape", "escape")
    assert isinstance(app.screen, InboxScreen)


@pytest.mark.parametrize("fields_as", ["object", "list"])
@given(data=st.data())
@HYPOTHESIS
def test_hostile_task_in_inbox_detail_raw_json_edit_and_review(
    tmp_path_factory: pytest.TempPathFactory, fields_as: str, data: st.DataObject
) -> None:
    case = data.draw(hostile_tasks(fields_as), label="case")

    async def scenario() -> None:
        async with console_session(tmp_path_factory.mktemp("c"), state=case.state()) as session:
            task = await check_inbox(session, case)
            await check_detail(session, task)
            await check_edit_and_review(session, task)

    run(scenario())


@given(case=hostile_tasks("object"))
@settings(HYPOTHESIS, max_examples=6)
def test_hostile_names_in_the_run_view(
    tmp_path_factory: pytest.TempPathFactory, case: HostileTask
) -> None:
    async def scenario() -> None:
        async with console_session(tmp_path_factory.mktemp("c"), state=case.state()) as session:
            app = session.app
            await session.press("o")
            screen = app.screen
            assert isinstance(screen, RunScreen)
            events = screen.query_one("#events", Static)
            # The story, or an error if the stub cannot route the run id (a "/" in it, say).
            await session.until(lambda: screen.story is not None or "✗" in str(events.content))
            assert "Zrun" in screen_text(app)
            if screen.story is not None:
                assert "Zstep" in plain(events.content) and "Zwf" in plain(events.content)
            session.check()
            await session.press("escape")
            assert isinstance(app.screen, InboxScreen)

    run(scenario())


# -- server error text in notifications ------------------------------------------------------------


class RefusingTransport(httpx.AsyncBaseTransport):
    """The stub, except that completions – and, once ``reads`` is set, reads – are refused."""

    def __init__(self, inner: httpx.AsyncBaseTransport, status: int, error: str) -> None:
        self.inner = inner
        self.status = status
        self.error = error
        self.reads = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" or self.reads:
            body = {"error": self.error, "code": "HOSTILE"}
            return httpx.Response(self.status, json=body, request=request)
        return await self.inner.handle_async_request(request)


@given(
    title=tagged("Ztitle"),
    status=st.sampled_from([403, 404, 409, 422]),
    error=tagged("Zerr", 6),
)
@settings(HYPOTHESIS, max_examples=8)
def test_hostile_error_text_in_a_notification_and_the_status(
    tmp_path_factory: pytest.TempPathFactory, title: str, status: int, error: str
) -> None:
    state = hostile_state("Zwf", "run_refused", NewTask(TASK_ID, {"title": title}))

    async def scenario() -> None:
        stub = httpx.ASGITransport(app=create_app(state))
        transport = RefusingTransport(stub, status, error)
        async with console_session(tmp_path_factory.mktemp("c"), transport=transport) as session:
            app = session.app
            await session.press("a")
            await session.answer("y")
            await session.until(lambda: bool(app._notifications))
            (message,) = session.notes()
            assert f"({status})" in message
            assert clean(message) == message
            if status != 409:  # a conflict is told in our words only
                assert "Zerr" in message
                await session.until(lambda: "Zerr" in screen_text(app))  # the toast itself
            session.check()

            transport.reads = True  # the inbox poll is refused with the same words
            app.refresh_inbox()
            await session.until(lambda: app.services.connection.failures > 0)
            last_error = app.services.connection.last_error or ""
            assert f"({status})" in last_error and clean(last_error) == last_error
            assert "retrying in" in str(app.screen.query_one("#status", Static).content)
            session.check()

    run(scenario())


# -- sizes and depths --------------------------------------------------------------------------

MEGABYTE = ("".join(HOSTILE_PIECES) * 3000)[:1_000_000]


@pytest.mark.parametrize("where", ["title", "description", "field", "editable", "names"])
def test_one_megabyte_string_renders_and_keys_are_still_answered(
    tmp_path: Path, where: str
) -> None:
    big = "Zbig" + MEGABYTE
    payload: dict[str, Any] = {
        "title": "Ztitle",
        "description": "Zdesc",
        "fields": {"info": "Zvalue"},
        "editable": {"body": "Ztext"},
    }
    names = {"workflow": "Zwf", "run": "Zrun", "step": "Zstep", "type": "Ztype"}
    if where == "names":
        names = {key: value + big for key, value in names.items()}
    elif where == "field":
        payload["fields"] = {"info": big}
    elif where == "editable":
        payload["editable"] = {"body": "Ztext\n" + big}
    else:
        payload[where] = "Z" + where + big
    task = NewTask(TASK_ID, payload, task_type=names["type"], step_id=names["step"])
    state = hostile_state(names["workflow"], names["run"], task)

    async def scenario() -> None:
        async with console_session(tmp_path, state=state) as session:
            app = session.app
            assert "Zwf" in screen_text(app) and "Ztitle" in screen_text(app)
            await session.press("enter")
            assert isinstance(app.screen, DetailScreen)
            assert "Ztitle" in screen_text(app)
            session.check()
            if where == "title":  # the raw JSON view takes some seconds per megabyte
                await session.press("J")
                assert app.screen.query_one("#raw-json").display  # the key was answered
                session.check()
                await session.press("J")
            await session.press("e")
            assert isinstance(app.screen, EditScreen)
            session.check()
            await session.press("ctrl+s")
            assert isinstance(app.screen, ReviewScreen)
            assert app.screen.values == {"body": payload["editable"]["body"]}
            session.check()

    run(scenario())


def _nested(depth: int) -> Any:
    value: Any = "Zbottom \x1b]0;pwned\x07"
    for level in range(depth):
        value = [value] if level % 2 else {"k\x1b[2J": value}
    return value


def test_deep_nesting_is_summarised_and_the_app_stays_responsive(tmp_path: Path) -> None:
    deep = _nested(500)
    payload = {"title": "Ztitle deep", "fields": {"deep": deep}, "editable": {"tree": deep}}
    state = hostile_state("Zwf", "run_deep", NewTask(TASK_ID, payload))

    async def scenario() -> None:
        async with console_session(tmp_path, state=state) as session:
            app = session.app
            await session.press("enter")
            assert isinstance(app.screen, DetailScreen)
            fields = plain(app.screen.query_one("#fields", Static).content)
            assert "nestingtoodeeptoshow" in re.sub(r"\s", "", fields)  # folded in its column
            session.check()
            await session.press("J")
            assert app.screen.query_one("#raw-json").display
            raw = plain(app.screen.query_one("#raw", Static).content)
            assert "nesting too deep to show" in raw
            session.check()
            await session.press("J", "e")
            assert isinstance(app.screen, EditScreen)
            session.check()
            await session.press("ctrl+s")
            assert isinstance(app.screen, ReviewScreen)
            assert app.screen.values == {"tree": deep}
            session.check()

    run(scenario())


# -- raw JSON text: what json.loads makes of it ------------------------------------------------


def raw_inbox(title: str, editable: str) -> str:
    """One task as JSON text: duplicate keys, numbers beyond float range, escapes as given."""
    return (
        '{"tasks":[{"id":"first-id","id":"raw-task","workflow_id":"wf_raw","run_id":"run_raw",'
        '"workflow_name":"first name","workflow_name":"Zwf [bold]second[/] \\u001b]0;pwned\\u0007",'
        '"task_type":"approval","created_at":"2026-11-25T11:00:00Z",'
        f'"task_payload":{{"title":"first title","title":{title},'
        '"fields":{"big":1e400,"small":-1e400,"huge":1' + "0" * 400 + ',"tiny":1e-400,'
        f'"dup":"Zfirst","dup":"Zlast"}},"editable":{editable}}}}}]}}'
    )


RAW_INBOX = raw_inbox(
    '"Ztitle second \\u009b31m \\ud800 lone"',
    '{"count":1' + "0" * 400 + ',"note":"first","note":"Znote \\u202e last"}',
)


def raw_server(inbox: str, sent: list[Any]) -> httpx.MockTransport:
    """A platform that answers the inbox with exactly ``inbox`` and completes anything."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            sent.append(json.loads(request.content))
            task_id = path.split("/")[-2]
            return httpx.Response(200, json={"status": "completed", "task_id": task_id})
        if path.endswith("/events"):
            return httpx.Response(200, json={"events": []})
        return httpx.Response(200, text=inbox, headers={"content-type": "application/json"})

    return httpx.MockTransport(handle)


def test_raw_json_duplicate_keys_huge_numbers_and_lone_surrogates(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = raw_server(RAW_INBOX, [])
        async with console_session(tmp_path, transport=transport) as session:
            app = session.app
            task = only_task(app)
            assert task.id == "raw-task"  # the last duplicate wins, as in json.loads
            assert task.title == "Ztitle second \x9b31m \ud800 lone"
            screen = screen_text(app)
            assert "Ztitle second" in screen and "first title" not in screen
            assert "Zwf [bold]second[/]" in screen
            session.check()

            await session.press("enter")
            assert isinstance(app.screen, DetailScreen)
            fields = plain(app.screen.query_one("#fields", Static).content)
            assert "Zlast" in fields and "Zfirst" not in fields  # one value shown
            assert "inf" in fields and "-inf" in fields
            assert "1" + "0" * 400 in re.sub(r"\s", "", fields)  # an exact integer
            session.check()
            await session.press("J")
            raw = plain(app.screen.query_one("#raw", Static).content, width=1000)
            assert "Infinity" in raw and "-Infinity" in raw and "1" + "0" * 400 in raw
            assert "\\ud800" in raw and "\\x9b31m" in raw
            session.check()

            await session.press("J", "e")
            assert isinstance(app.screen, EditScreen)
            session.check()
            await session.press("ctrl+s")
            assert isinstance(app.screen, ReviewScreen)
            assert app.screen.values == {"count": 10**400, "note": "Znote \u202e last"}
            session.check()

    run(scenario())


def test_values_from_raw_json_are_sent_back_exactly(tmp_path: Path) -> None:
    """A huge integer, a bidi override and a NUL survive the trip unchanged."""
    sent: list[Any] = []
    inbox = raw_inbox(
        '"Ztitle"',
        '{"count":1' + "0" * 400 + r',"note":"Znote \u202e last","data":{"k":"\u0000"}}',
    )

    async def scenario() -> None:
        async with console_session(tmp_path, transport=raw_server(inbox, sent)) as session:
            app = session.app
            await session.press("e", "ctrl+s")
            assert isinstance(app.screen, ReviewScreen)
            await session.answer("y")
            await session.until(lambda: bool(sent))
            values = {"count": 10**400, "note": "Znote \u202e last", "data": {"k": "\x00"}}
            assert sent == [{"approved": True, "result": values}]
            await session.until(lambda: any("Approved" in n for n in session.notes()))

    run(scenario())


async def test_the_client_sends_a_lone_surrogate_as_a_json_escape() -> None:
    r"""``"\ud800"`` is JSON a server may send; UTF-8 cannot encode it, ASCII JSON can."""
    bodies: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={"status": "completed", "task_id": "t"})

    result = {"note": "lone \ud800 \u202e é"}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        client = AsyncCommandCenterClient(
            STUB_URL, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, http_client=http
        )
        await client.complete_task("w", "r", "t", approved=True, result=result)
    assert json.loads(bodies[0]) == {"approved": True, "result": result}


@pytest.mark.parametrize(
    ("inbox", "keys"),
    [
        (RAW_INBOX, ("a",)),
        (raw_inbox('"Ztitle"', r'{"note":"lone \ud800"}'), ("e", "ctrl+s")),
    ],
    ids=["in-the-title", "in-an-edited-value"],
)
def test_approving_a_task_that_holds_a_lone_surrogate(
    tmp_path: Path, inbox: str, keys: tuple[str, ...]
) -> None:
    sent: list[Any] = []

    async def scenario() -> None:
        async with console_session(tmp_path, transport=raw_server(inbox, sent)) as session:
            app = session.app
            await session.press(*keys)
            await session.answer("y")
            approved = lambda: any("Approved" in n for n in session.notes())  # noqa: E731
            await session.until(lambda: approved() or app._exception is not None)
            assert len(sent) == 1

    try:
        run(scenario())
    except Exception as exc:  # the app died: WorkerFailed out of run_test
        raise AssertionError(f"the app crashed: {exc!r}") from exc


def test_a_value_json_cannot_carry_is_refused_before_sending(tmp_path: Path) -> None:
    """1e400 reads as infinity; sent back as ``result`` it is no JSON at all."""
    sent: list[Any] = []
    inbox = raw_inbox('"Ztitle"', '{"limit":1e400,"note":"n"}')

    async def scenario() -> None:
        async with console_session(tmp_path, transport=raw_server(inbox, sent)) as session:
            app = session.app
            await session.press("e")
            assert isinstance(app.screen, EditScreen)
            await session.press("ctrl+s")
            assert isinstance(app.screen, EditScreen)  # not to the review: fix the value first
            errors = [str(label.content) for label in app.screen.query(".field-error")]
            assert any("Infinity" in error for error in errors)
            # Approving sends every editable value, and this one JSON cannot carry: refused
            # before anything is recorded or sent, in words.
            await session.press("escape", "a")  # the form was not changed: no draft is kept
            await session.answer("y")
            await session.until(lambda: any("cannot be sent" in n for n in session.notes()))
            assert sent == []
            assert not app.services.decisions.unsettled()

    run(scenario())


def test_nesting_beyond_what_json_can_parse_is_an_error_not_a_crash(tmp_path: Path) -> None:
    inbox = '{"tasks":[{"id":"t","workflow_id":"w","run_id":"r","task_payload":{"x":'
    inbox += "[" * 100_000 + "]" * 100_000 + "}}]}"

    async def scenario() -> None:
        async with console_session(
            tmp_path, transport=raw_server(inbox, []), loaded=False
        ) as session:
            app = session.app
            await session.until(lambda: app.services.connection.failures > 0)
            error = app.services.connection.last_error or ""
            assert "GET /v1/tasks/pending" in error and "nested" in error
            await session.press("question_mark")  # still answering keys
            assert not isinstance(app.screen, InboxScreen)

    run(scenario())


# -- drafts ------------------------------------------------------------------------------------


def test_leaving_the_form_keeps_hostile_values_and_json_drafts_intact(tmp_path: Path) -> None:
    hostile_text = "Zkeep " + "".join(HOSTILE_PIECES[:30])
    payload = {
        "title": "Drafts",
        "editable": {"note": hostile_text.replace("\n", " "), "data": {"k": hostile_text}},
    }
    state = hostile_state("Zwf", "run_draft", NewTask(TASK_ID, payload))

    async def scenario() -> None:
        async with console_session(tmp_path, state=state) as session:
            app = session.app
            task = only_task(app)
            await session.press("e", "escape", "e")  # leave untouched, come back
            await session.press("ctrl+s")
            assert isinstance(app.screen, ReviewScreen)
            assert app.screen.values == task.editable_values()
            await session.press("escape")
            area = app.screen.query_one(TextArea)
            area.text = '{"k": "edited"}'
            await session.press("escape", "e")  # leave with an edited JSON draft
            assert app.screen.query_one(TextArea).text == '{"k": "edited"}'
            await session.press("ctrl+s")
            assert isinstance(app.screen, ReviewScreen)
            assert app.screen.values == {**task.editable_values(), "data": {"k": "edited"}}

    run(scenario())


# -- names in the command palette --------------------------------------------------------------


def test_hostile_workflow_name_in_the_command_palette(tmp_path: Path) -> None:
    name = "Zwf [/] [@click=app.quit]q[/] [bold]b[/bold]"
    state = hostile_state(name, "run_palette", NewTask(TASK_ID, {"title": "t"}))

    async def scenario() -> None:
        async with console_session(tmp_path, state=state) as session:
            app = session.app
            await session.press("ctrl+p")
            await session.pilot.press(*"Zwf")
            await session.pilot.pause(0.5)
            assert_alive(app)
            assert "[/] [@click=app.quit]q[/]" in screen_text(app)

    run(scenario())
