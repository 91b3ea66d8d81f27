r"""New-task alerts that reach the operator's own terminal, even over SSH.

A console left in a tab or a tmux window is not being watched, so when tasks arrive it rings or
asks the terminal at the far end of the link for a desktop notification. Nothing but the terminal
stream reaches that far: no D-Bus, no `notify-send` on a server. So an alert is bytes written
among the frames:

- ``"bell"``: a BEL, which the terminal (or tmux, which passes it on per its ``bell-action``)
  turns into its own sound, visual bell or urgency hint;
- ``"desktop"``: OSC 9 (iTerm2's; also Ghostty, WezTerm, foot) and OSC 777 ``notify``
  (rxvt-unicode's; also Ghostty, WezTerm, foot), then the BEL for terminals that know neither;
- ``"off"``: nothing.

The words are ours: a count and workflow names, each through `safe_text.clean` and stripped of
what would end or split an OSC field. Task payloads never reach the terminal, and a workflow
name cannot end our sequence and start one of its own (an OSC 52 clipboard write, a title).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from console.clipboard import in_tmux
from console.safe_text import clean

if TYPE_CHECKING:  # Textual is loaded by the app already; this module needs only the type
    from textual.app import App

__all__ = [
    "APP_NAME",
    "BODY_MAX",
    "NAME_MAX",
    "TITLE_MAX",
    "AlertGate",
    "AlertKind",
    "alert_sequence",
    "alert_text",
    "send_alert",
    "write_to_terminal",
]

AlertKind = Literal["bell", "desktop", "off"]

TITLE_MAX = 60
"""Cells of a notification title: desktop notifications cut long titles anyway."""
BODY_MAX = 200
"""Cells of a notification body: enough for three names and a summary of the rest."""
NAME_MAX = 40
"""Cells of one workflow name in the body, so that three of them leave room for the rest."""
SHOWN_NAMES = 3
APP_NAME = "Command Center"
"""Leads an OSC 9 message that would otherwise start with a digit, and stands in for an empty
title (rxvt-unicode's OSC 777 needs one); see `alert_sequence`."""

ESC, BEL = "\x1b", "\a"

# `clean` leaves printable text alone, but in an OSC payload `;` separates fields (OSC 777
# reads `notify;<title>;<body>`, ConEmu reads `9;<digit>;` as a command, not a message), and
# notification daemons that take the body as markup (dunst, mako, via notify-send) would read
# `<a href=…>` or `<img src=…>` as a tag. Those three become look-alikes that mean nothing.
_FIELD_SAFE = str.maketrans({";": ",", "<": "‹", ">": "›"})


def _field(text: str, max_len: int) -> str:
    """Text fit for one OSC field: no control, bidi or invisible character (shown as escapes
    by `clean`), no field separator, one line, at most `max_len` cells."""
    return clean(str(text).strip(), max_len=max_len, multiline=False).translate(_FIELD_SAFE)


def _tmux_wrap(sequence: str) -> str:
    """tmux drops escape sequences it does not know; this DCS form asks it to pass one on."""
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ESC}\\"


def alert_sequence(kind: AlertKind, title: str, body: str, *, tmux: bool) -> str:
    r"""Exactly the characters to write for an alert of `kind`.

    ``"off"`` is nothing and ``"bell"`` a BEL. ``"desktop"`` is OSC 9 (``ESC ] 9 ; title: body
    BEL``) and OSC 777 (``ESC ] 777 ; notify ; title ; body BEL``), each in tmux's passthrough
    form when `tmux` (``ESC P tmux ; …with every ESC doubled… ESC \``), then a plain BEL: tmux
    itself must see that one, to flag the window and ring the outer terminal. Since tmux 3.3 a
    pane passes the wrapped sequences on only with ``set -g allow-passthrough on`` (``all`` also
    for panes not on screen); without it tmux drops them and the bell still rings.

    OSC 9 is also ConEmu's command prefix, and Ghostty reads a message that starts with a digit
    as one: ``9;5…`` as "wait for input", ``9;12…`` as a prompt mark, with no notification. So a
    message that would start with a digit gets `APP_NAME` in front, and no `;` (a ConEmu field
    separator) is ever in it.

    BEL ends each OSC, as in iTerm2's and rxvt-unicode's own examples and in Textual's OSC 52;
    it also keeps ``ESC \`` for the one place it must be, the end of the tmux wrapper. `title`
    and `body` are cleaned here as well, whoever built them.
    """
    if kind == "off":
        return ""
    if kind == "bell":
        return BEL
    title, body = _field(title, TITLE_MAX) or APP_NAME, _field(body, BODY_MAX)
    message = f"{title}: {body}" if body else title
    if message[:1].isascii() and message[:1].isdigit():
        message = f"{APP_NAME}: {message}"  # see OSC 9 above: "5 new tasks" would show nothing
    sequences = [f"{ESC}]9;{message}{BEL}", f"{ESC}]777;notify;{title};{body}{BEL}"]
    return "".join(_tmux_wrap(s) if tmux else s for s in sequences) + BEL


def alert_text(count: int, workflows: Sequence[str]) -> tuple[str, str]:
    """Our own words for `count` new tasks: a title and a body.

    `workflows` holds one label per new task; the body names the three with most tasks (ties in
    the order first seen) with their counts and sums up the rest, e.g. "crm-sync (2), billing (1)
    and 2 more workflows (3)". Every name is cleaned and cut to `NAME_MAX` cells first, and
    grouped as shown: names the operator could not tell apart count as one.
    """
    title = f"{count} new task" + ("" if count == 1 else "s")
    groups = Counter(_field(w, NAME_MAX) or "(unnamed workflow)" for w in workflows).most_common()
    shown = ", ".join(f"{name} ({n})" for name, n in groups[:SHOWN_NAMES])
    rest = groups[SHOWN_NAMES:]
    if rest:
        workflows_word = "workflow" if len(rest) == 1 else "workflows"
        shown += f" and {len(rest)} more {workflows_word} ({sum(n for _, n in rest)})"
    return _field(title, TITLE_MAX), _field(shown, BODY_MAX)


class AlertGate:
    """Once per burst, at most once per `min_interval` seconds.

    The first arrival alerts at once; arrivals in the quiet window after an alert are *held*,
    not dropped: the next `arrived` after the window alerts for them too, and so does `due`,
    which a refresh that found nothing new calls, so a burst's tail is announced even when
    nothing follows it. `covered` says how many tasks the latest alert stands for.
    """

    def __init__(
        self, min_interval: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._last: float | None = None  # clock time of the latest alert
        self.held = 0
        """Tasks that arrived since the latest alert and are not announced yet."""
        self.covered = 0
        """Tasks the latest alert stands for: its own arrival and any held before it."""

    def arrived(self, count: int) -> bool:
        """`count` tasks arrived: alert now? Never for ``count <= 0``."""
        if count <= 0:
            return False
        self.held += count
        return self.due()

    def due(self) -> bool:
        """Alert now for the held tasks? True once the quiet window is over."""
        if self.held <= 0:
            return False
        now = self._clock()
        if self._last is not None and now - self._last < self.min_interval:
            return False
        self._last, self.covered, self.held = now, self.held, 0
        return True


def write_to_terminal(app: App[Any], data: str) -> bool:
    """Write `data` to the terminal the app draws on, raw; False if there is none.

    Textual has no public call for this. `App.bell` and `App.copy_to_clipboard` both write
    through the app's driver (``self._driver.write(...)``, textual 8.2.8, pinned: app.py lines
    1786 and 3914), which queues it for the same writer thread as the frames, so it lands
    between two frames, never inside one. Call it from the app's thread. Nothing is written
    before the app runs or once it is shutting down (the writer thread is stopped then), under
    the headless driver of tests, or in a browser (``textual serve``), where these sequences
    mean nothing.
    """
    driver = app._driver  # textual 8.2.8, pinned: None until the app runs
    if not data or driver is None or not app.is_running or app.is_headless or app.is_web:
        return False
    driver.write(data)
    return True


def send_alert(
    app: App[Any],
    kind: AlertKind,
    count: int,
    workflows: Sequence[str],
    *,
    tmux: bool | None = None,
) -> bool:
    """Alert for `count` new tasks of `workflows` (one label per task); True if written.

    `tmux` defaults to whether ``$TMUX`` is set. The caller decides *when* (see `AlertGate`).
    """
    if kind == "off" or count <= 0:
        return False
    title, body = alert_text(count, workflows)
    wrapped = in_tmux() if tmux is None else tmux
    return write_to_terminal(app, alert_sequence(kind, title, body, tmux=wrapped))
