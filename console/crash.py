"""An unhandled error ends the console with two lines and a report that holds no secret.

Textual's own crash report is a Rich traceback with every frame's local variables – a request's
headers among them, ``Authorization: Bearer pat_…`` included – printed into the scrollback of
a terminal that may be shared or recorded. Ours names the error and where the report is; the
report (user-only, in the state directory) has the stack without locals, redacted.
"""

from __future__ import annotations

import os
import platform
import re
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from client import __version__

from .paths import private_dir, state_dir

REDACTED = "[REDACTED]"
# Whatever else slipped into a message: bearer credentials and anything shaped like a PAT.
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"),
    re.compile(r"\bpat_[A-Za-z0-9_\-]{4,}"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(lambda m: m.group(1) + REDACTED, text)
    return _PATTERNS[1].sub(REDACTED, text)


def disable_core_dumps() -> None:
    """A core file would hold the token in clear: the console never leaves one."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, OSError, ValueError):  # pragma: no cover - not on this platform
        pass


def report_text(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """The report: versions, the error and its stack – never local variables."""
    secrets = tuple(secrets)
    stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    head = [
        f"command-center {__version__} crash report, {datetime.now(UTC).isoformat()}",
        f"Python {platform.python_version()} on {platform.platform()}",
        "",
    ]
    return redact("\n".join(head) + stack, secrets)


def write_report(
    error: BaseException, secrets: Iterable[str] = (), directory: Path | None = None
) -> Path | None:
    """Write the report (0600) and return its path; None when even that failed."""
    try:
        where = private_dir(directory or state_dir())
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = where / f"crash-{stamp}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(report_text(error, secrets))
    except OSError:
        return None
    return path


def crash_message(error: BaseException, report: Path | None, secrets: Iterable[str] = ()) -> str:
    """What the terminal shows: the error in one line, and where the details are."""
    what = redact(f"{type(error).__name__}: {error}", secrets)[:300]
    where = (
        f"A report without secrets is in {report}."
        if report is not None
        else "The crash report could not be written."
    )
    return (
        f"The console stopped on an unexpected error ({what}). {where} Decisions already in "
        "the outbox are kept and sent by the next start."
    )
