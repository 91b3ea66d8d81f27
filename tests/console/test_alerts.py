r"""New-task alerts: the BEL / OSC 9 / OSC 777 bytes are exactly ours, whatever a workflow is
called, they come once per burst, and they reach a real terminal (a pty) as written, next to
Textual's own OSC 52 for a copy."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.app import App

from console.alerts import (
    APP_NAME,
    BODY_MAX,
    NAME_MAX,
    TITLE_MAX,
    AlertGate,
    alert_sequence,
    alert_text,
    send_alert,
    write_to_terminal,
)

ESC, BEL = "\x1b", "\a"

# -- the exact sequences ---------------------------------------------------------------------------


def test_off_writes_nothing_and_bell_is_one_bel_in_or_out_of_tmux() -> None:
    for tmux in (False, True):
        assert alert_sequence("off", "3 new tasks", "crm-sync (3)", tmux=tmux) == ""
        assert alert_sequence("bell", "3 new tasks", "crm-sync (3)", tmux=tmux) == "\a"


def test_desktop_is_osc_9_then_osc_777_then_a_bell() -> None:
    assert alert_sequence("desktop", "Build", "done", tmux=False) == (
        "\x1b]9;Build: done\x07\x1b]777;notify;Build;done\x07\x07"
    )


def test_inside_tmux_each_osc_is_wrapped_with_its_esc_doubled_but_the_bell_is_not() -> None:
    assert alert_sequence("desktop", "Build", "done", tmux=True) == (
        "\x1bPtmux;\x1b\x1b]9;Build: done\x07\x1b\\"
        "\x1bPtmux;\x1b\x1b]777;notify;Build;done\x07\x1b\\"
        "\x07"
    )


def test_an_osc_9_message_never_starts_with_a_digit() -> None:
    """Ghostty reads OSC 9;5… as ConEmu's "wait for input" and 9;12… as a prompt mark."""
    assert alert_sequence("desktop", "5 new tasks", "crm-sync (5)", tmux=False) == (
        f"\x1b]9;{APP_NAME}: 5 new tasks: crm-sync (5)\x07"
        "\x1b]777;notify;5 new tasks;crm-sync (5)\x07"
        "\x07"
    )


def test_an_empty_body_or_title() -> None:
    assert alert_sequence("desktop", "Build", "", tmux=False) == (
        "\x1b]9;Build\x07\x1b]777;notify;Build;\x07\x07"
    )
    assert alert_sequence("desktop", "\x1b", "", tmux=False).startswith("\x1b]9;\\x1b\x07")
    assert alert_sequence("desktop", "  ", "x", tmux=False) == (
        f"\x1b]9;{APP_NAME}: x\x07\x1b]777;notify;{APP_NAME};x\x07\x07"
    )


# -- nothing can forge a sequence ------------------------------------------------------------------

FIELD = r"[^\x00-\x1f\x7f-\x9f;<>]*"
PLAIN = re.compile(rf"\x1b\]9;({FIELD})\x07\x1b\]777;notify;({FIELD});({FIELD})\x07\x07")
WRAPPED = re.compile(
    rf"\x1bPtmux;\x1b\x1b\]9;({FIELD})\x07\x1b\\"
    rf"\x1bPtmux;\x1b\x1b\]777;notify;({FIELD});({FIELD})\x07\x1b\\\x07"
)
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}

HOSTILE = [
    "\x1b",
    "\x07",
    "\x9c",  # C1 ST: ends an OSC in 8-bit mode
    "\x9d",  # C1 OSC
    "\x9b31m",  # C1 CSI
    "\x1b]52;c;cHduZWQ=\x07",  # a clipboard write of our own
    "\x1b]52;c;cHduZWQ=\x1b\\",
    "\x1b\\",  # ST: would end our tmux wrapper
    "\x1bPtmux;\x1b\x1b]0;owned\x07\x1b\\",
    "\x1b[2J\x1b]0;title\x07",
    "line\nbreak\r\n",
    "semi;colon;",  # OSC 777's field separator
    "4;1;50",  # ConEmu's progress report, once after "9;"
    "\u202eevil\u202c",  # right-to-left override
    "\u2066isolate\u2069",
    "zero\u200bwidth\ufeff",
    "\U000e0041\U000e0042",  # tag characters
    "\x00\x7f\x85",
    "\u2028\u2029",
    '<a href="https://evil.example">click</a><img src="file:///etc/passwd">',
]


def assert_only_our_framing(out: str, *, tmux: bool) -> tuple[str, ...]:
    """`out` is exactly our framing around fields free of every control, format, separator and
    markup character; the fields it carries."""
    match = (WRAPPED if tmux else PLAIN).fullmatch(out)
    assert match, ascii(out)
    assert out.count(ESC) == (8 if tmux else 2)  # a wrapper: ESC P, ESC ESC ], ESC \\
    assert out.count(BEL) == 3
    assert out.count(";") == (6 if tmux else 4)
    for text in match.groups():
        bad = {c for c in text if unicodedata.category(c) in FORBIDDEN_CATEGORIES}
        assert not bad, ascii(text)
    return match.groups()


@pytest.mark.parametrize("tmux", [False, True])
@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_title_body_or_workflow_name_can_forge_a_sequence(hostile: str, tmux: bool) -> None:
    out = alert_sequence("desktop", f"t{hostile}t", f"b{hostile}b", tmux=tmux)
    message, title, body = assert_only_our_framing(out, tmux=tmux)
    assert message == f"{title}: {body}"
    title, body = alert_text(2, [hostile, f"x{hostile}"])
    out = alert_sequence("desktop", title, body, tmux=tmux)
    assert_only_our_framing(out, tmux=tmux)
    assert "52;c;cHduZWQ=" not in out  # shown, if at all, with its ";" defused
    assert alert_sequence("bell", title, body, tmux=tmux) == BEL


def test_control_characters_show_as_visible_escapes() -> None:
    title, body = alert_text(1, ["crm\x1b]52;c;cHduZWQ=\x07\u202e"])
    assert (title, body) == ("1 new task", r"crm\x1b]52,c,cHduZWQ=\x07\u202e (1)")


TEXTS = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE)), max_size=12)


@given(TEXTS.map("".join), TEXTS.map("".join), st.booleans())
def test_property_any_text_stays_inside_our_fields(title: str, body: str, tmux: bool) -> None:
    out = alert_sequence("desktop", title, body, tmux=tmux)
    _, shown_title, shown_body = assert_only_our_framing(out, tmux=tmux)
    assert cell_len(shown_title) <= TITLE_MAX
    assert cell_len(shown_body) <= BODY_MAX


@given(st.integers(0, 10_000), TEXTS)
def test_property_alert_text_is_bounded_and_inert(count: int, workflows: list[str]) -> None:
    title, body = alert_text(count, workflows)
    assert cell_len(title) <= TITLE_MAX and cell_len(body) <= BODY_MAX
    assert_only_our_framing(alert_sequence("desktop", title, body, tmux=False), tmux=False)


# -- our words -------------------------------------------------------------------------------------


def test_alert_text_counts_per_workflow_most_first() -> None:
    assert alert_text(1, ["crm-sync"]) == ("1 new task", "crm-sync (1)")
    assert alert_text(3, ["email-drafts", "crm-sync", "crm-sync"]) == (
        "3 new tasks",
        "crm-sync (2), email-drafts (1)",
    )
    assert alert_text(2, ["b", "a"])[1] == "b (1), a (1)"  # ties: first seen first
    assert alert_text(0, []) == ("0 new tasks", "")


def test_alert_text_names_three_and_sums_up_the_rest() -> None:
    labels = ["a"] * 3 + ["b"] * 2 + ["c", "d", "e"]
    assert alert_text(8, labels)[1] == "a (3), b (2), c (1) and 2 more workflows (2)"
    assert alert_text(4, ["a", "b", "c", "d"])[1] == "a (1), b (1), c (1) and 1 more workflow (1)"


def test_alert_text_cuts_long_names_and_names_the_unnamed() -> None:
    long = "w" * 500
    _, body = alert_text(4, ["1" + long, "2" + long, "3" + long, "x"])
    names = re.findall(r"(\S+) \(1\)", body)
    assert len(names) == 4 and names[3] == "workflow"
    assert all(cell_len(name) == NAME_MAX and name.endswith("…") for name in names[:3])
    assert body.endswith(" and 1 more workflow (1)") and cell_len(body) <= BODY_MAX
    assert alert_text(2, ["", "  "])[1] == "(unnamed workflow) (2)"


# -- once per burst --------------------------------------------------------------------------------


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_arrival_alerts_and_the_quiet_window_holds_the_rest() -> None:
    clock = Clock()
    gate = AlertGate(min_interval=30.0, clock=clock)
    assert gate.arrived(2) and gate.covered == 2 and gate.held == 0
    clock.now += 10
    assert not gate.arrived(1)
    clock.now += 19.9
    assert not gate.arrived(3)
    assert gate.held == 4
    clock.now += 0.1  # 30 s after the alert: the held tasks and this one, in one alert
    assert gate.arrived(1)
    assert (gate.covered, gate.held) == (5, 0)


def test_held_tasks_are_announced_when_the_window_ends_even_if_nothing_follows() -> None:
    clock = Clock()
    gate = AlertGate(clock=clock)
    assert gate.arrived(1)
    clock.now += 5
    assert not gate.arrived(2)
    assert not gate.due()  # still quiet
    clock.now += 25
    assert gate.due() and gate.covered == 2
    assert not gate.due()  # said once
    clock.now += 100
    assert not gate.due()  # nothing held: nothing to say


def test_no_alert_for_no_tasks() -> None:
    clock = Clock()
    gate = AlertGate(clock=clock)
    assert not gate.arrived(0) and not gate.arrived(-3)
    assert gate.held == 0
    assert gate.arrived(1)
    clock.now += 1
    assert not gate.arrived(4)
    clock.now += 60
    assert not gate.arrived(0)  # an empty refresh alerts for nothing itself…
    assert gate.held == 4 and gate.due()  # …but the tick's `due` announces what was held


def test_a_zero_interval_alerts_on_every_arrival() -> None:
    gate = AlertGate(min_interval=0.0, clock=Clock())
    assert all(gate.arrived(1) for _ in range(5))


# -- writing to the terminal -----------------------------------------------------------------------


@dataclass
class FakeDriver:
    written: list[str] = field(default_factory=list)

    def write(self, data: str) -> None:
        self.written.append(data)


def fake_app(*, running: bool = True, headless: bool = False, web: bool = False) -> Any:
    driver = FakeDriver()
    app = SimpleNamespace(_driver=driver, is_running=running, is_headless=headless, is_web=web)
    return app, driver


def test_the_raw_write_goes_to_a_terminal_driver_only() -> None:
    app, driver = fake_app()
    assert write_to_terminal(cast(App[Any], app), "\a")
    assert driver.written == ["\a"]
    for kwargs in ({"web": True}, {"headless": True}, {"running": False}):
        app, driver = fake_app(**kwargs)
        assert not write_to_terminal(cast(App[Any], app), "\a")
        assert driver.written == []
    app, driver = fake_app()
    assert not write_to_terminal(cast(App[Any], app), "")
    assert not send_alert(cast(App[Any], app), "off", 3, ["a"])
    assert not send_alert(cast(App[Any], app), "bell", 0, [])
    assert driver.written == []


def test_send_alert_wraps_for_tmux_when_tmux_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,4242,0")
    app, driver = fake_app()
    assert send_alert(cast(App[Any], app), "desktop", 1, ["crm-sync"])
    assert driver.written == [alert_sequence("desktop", "1 new task", "crm-sync (1)", tmux=True)]
    monkeypatch.delenv("TMUX")
    assert send_alert(cast(App[Any], app), "bell", 1, ["crm-sync"])
    assert driver.written[-1] == BEL


async def test_under_the_headless_driver_nothing_is_written_and_nothing_breaks() -> None:
    app: App[None] = App()
    assert not write_to_terminal(app, BEL)  # not running yet: no driver
    async with app.run_test():
        assert app.is_headless
        assert not write_to_terminal(app, BEL)
        assert not send_alert(app, "desktop", 2, ["crm-sync", "\x1b]52;c;eA==\x07"])


# -- the bytes a real terminal receives ------------------------------------------------------------

# A tiny Textual app that alerts for hostile workflow names, copies a hostile reference with
# Textual's own OSC 52, and quits; the test reads its pty to the end.
PROBE = """
import json, os
from textual.app import App
from textual.widgets import Static
from console.alerts import send_alert

spec = json.loads(os.environ["ALERT_PROBE"])

class Probe(App[int]):
    def compose(self):
        yield Static("probe")

    def on_mount(self):
        self.call_after_refresh(self.fire)

    def fire(self):
        wrote = send_alert(self, "desktop", spec["count"], spec["workflows"])
        self.copy_to_clipboard(spec["clip"])
        self.exit(0 if wrote else 3)

raise SystemExit(Probe().run())
"""
WORKFLOWS = ["crm-sync", "crm-sync", "e\x1b]52;c;eA==\x07\u202e;\x9d\x9c"]
CLIP = "run_1/task_2\x1b]52;c;cHduZWQ=\x07"
SHOWN_BODY = r"crm-sync (2), e\x1b]52,c,eA==\x07\u202e,\x9d\x9c (1)"
OSC_9 = f"\x1b]9;{APP_NAME}: 3 new tasks: {SHOWN_BODY}\x07"
OSC_777 = f"\x1b]777;notify;3 new tasks;{SHOWN_BODY}\x07"
OSC_52 = "\x1b]52;c;" + base64.b64encode(CLIP.encode()).decode() + "\x07"

# The control sequences in Textual's output: CSI, OSC (BEL or ST), DCS (its ESCs doubled),
# two-byte escapes and lone BELs.
CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1bP(?:[^\x1b]|\x1b\x1b)*\x1b\\|\x1b[^\[\]P]|\x07"
)


def run_in_pty(environ: dict[str, str], within: float = 20.0) -> str:
    """PROBE's whole output on an 80x24 pty, read until it closes (or `within` seconds)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "TMUX" and not k.startswith("TEXTUAL")}
    env |= {"TERM": "xterm-256color", **environ}
    env["ALERT_PROBE"] = json.dumps({"count": 3, "workflows": WORKFLOWS, "clip": CLIP})
    child = subprocess.Popen(
        [sys.executable, "-c", PROBE],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        else:
            raise AssertionError(f"the probe did not finish; last output: {seen[-600:]!r}")
        assert child.wait(timeout=10) == 0, seen[-600:]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    return seen.decode("utf-8")  # strict: a stray byte would be a finding too


def strings_and_bells(out: str) -> Iterator[str]:
    """Every OSC, DCS and lone BEL in `out`, in order, but Textual's own OSC 22 (pointer shape,
    textual 8.2.8) and CSI sequences."""
    for control in CONTROL.findall(out):
        sequence = control.startswith(("\x1b]", "\x1bP")) and not control.startswith("\x1b]22;")
        if sequence or control == BEL:
            yield control


def assert_nothing_raw(out: str) -> None:
    """No ESC or BEL outside a well-formed sequence, and no C1 or bidi character at all."""
    rest = CONTROL.sub("", out)
    assert ESC not in rest and BEL not in rest, ascii(rest[:300])
    assert not {c for c in out if "\x80" <= c <= "\x9f" or c in "\u202e\u2066"}
    assert "\x1b]52;c;cHduZWQ=" not in out and "\x1b]52;c;eA==" not in out


@pytest.fixture(scope="module")
def plain_output() -> str:
    return run_in_pty({})


def test_the_terminal_receives_exactly_our_alert(plain_output: str) -> None:
    assert list(strings_and_bells(plain_output)) == [OSC_9, OSC_777, BEL, OSC_52]
    assert plain_output.count(OSC_9 + OSC_777 + BEL) == 1
    assert_nothing_raw(plain_output)


def test_the_terminal_receives_exactly_textuals_osc_52_for_our_text(plain_output: str) -> None:
    copies = [c for c in CONTROL.findall(plain_output) if c.startswith("\x1b]52;")]
    assert copies == [OSC_52]
    assert base64.b64decode(copies[0][len("\x1b]52;c;") : -1]).decode() == CLIP
    assert CLIP not in plain_output  # the text itself only ever as base64


def test_inside_tmux_the_terminal_receives_the_wrapped_alert_and_a_plain_bell() -> None:
    out = run_in_pty({"TMUX": "/tmp/tmux-1000/default,4242,0"})
    wrapped = [f"\x1bPtmux;{s.replace(ESC, ESC + ESC)}\x1b\\" for s in (OSC_9, OSC_777)]
    assert list(strings_and_bells(out)) == [*wrapped, BEL, OSC_52]
    assert_nothing_raw(out)
