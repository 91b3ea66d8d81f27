"""Copy over SSH: a task's reference or its run's web link, to the clipboard of the operator's own
terminal, wherever the console runs.

There is no clipboard on a server, so the text goes out as OSC 52 (Textual's
``App.copy_to_clipboard``), which the terminal at the far end of the SSH link applies. Inside
tmux an application's OSC 52 is ignored unless ``set-clipboard on``, so the text is also handed
to ``tmux load-buffer -w -``: tmux keeps it as a paste buffer and sends it to the outer terminal
itself. The text is base64 in the sequence and stdin to tmux: nothing in it reaches the
terminal as characters.
"""

from __future__ import annotations

import os
import string
import subprocess
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

# What a web link template may name; each id is percent-encoded into it.
WEB_URL_FIELDS = ("workflow_id", "run_id", "task_id")


def in_tmux(environ: Mapping[str, str] | None = None) -> bool:
    return bool((os.environ if environ is None else environ).get("TMUX"))


def to_tmux_buffer(text: str) -> str | None:
    """Hand ``text`` to tmux (its paste buffer and, with ``-w``, the outer clipboard); None when
    done, else why not in a few words."""
    try:
        done = subprocess.run(
            ["tmux", "load-buffer", "-w", "-"],
            input=text.encode(),
            capture_output=True,
            timeout=3,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"tmux could not be asked ({type(exc).__name__})"
    if done.returncode:
        return "tmux refused it"
    return None


def web_url_problem(template: str) -> str | None:
    """Why ``template`` cannot be a run's web link; None if it can."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        return f"is not a template ({exc})"
    unknown = sorted(names - set(WEB_URL_FIELDS))
    if unknown:
        allowed = ", ".join(f"{{{f}}}" for f in WEB_URL_FIELDS)
        return f"names {', '.join(unknown)}: only {allowed} can be filled in"
    if urlsplit(template).scheme not in ("http", "https"):
        return "must start with https:// (or http://)"
    return None


def web_url(template: str, workflow_id: str, run_id: str, task_id: str) -> str:
    """The template with each id percent-encoded in, so no id can change the link's shape."""
    ids = {"workflow_id": workflow_id, "run_id": run_id, "task_id": task_id}
    return template.format(**{k: quote(v, safe="") for k, v in ids.items()})
