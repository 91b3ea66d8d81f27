"""Small per-profile UI choices that survive a restart, such as whether the preview pane shows.

Kept in ``ui.json`` in the state directory (a user-only directory, a 0600 file)::

    {"version": 1, "profiles": {"prod": {"preview": false}}}

Nothing here may stop the console: a missing file is the defaults, a damaged or unreadable one
is the defaults plus :attr:`UiState.problem` (one sentence for the app to show once), and a
failed write returns its reason instead of raising. A write replaces the file atomically (a
temporary file in the same directory, then ``os.replace``), so a crash never leaves half of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .paths import private_dir, state_dir

FILE_NAME = "ui.json"
VERSION = 1
DEFAULT_PROFILE = "default"  # the key of choices made without a named profile
_MAX_BYTES = 1024 * 1024  # a UI-choices file is a few hundred bytes; more is not one


class _Unusable(ValueError):
    """The file's content is not a UI-choices file; the message says why."""


class UiState:
    """The UI choices of every profile, as read from (and written to) one file.

    Underneath, profile name → choice name → a JSON value; :meth:`preview` and
    :meth:`set_preview` are the typed accessors of the one choice there is so far.
    """

    def __init__(
        self,
        path: Path | None,
        choices: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        problem: str | None = None,
    ) -> None:
        self.path = path  # None: nowhere to keep choices; they last as long as the console
        self._choices: dict[str, dict[str, Any]] = {
            profile: dict(values) for profile, values in (choices or {}).items()
        }
        # Why the file's choices were not read (or None): for the app to say once.
        self.problem = problem

    @classmethod
    def load(cls, path: Path) -> UiState:
        """The choices in ``path``; never raises (see :attr:`problem`)."""
        try:
            return cls(path, _read(path))
        except FileNotFoundError:
            return cls(path)
        except (OSError, _Unusable) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return cls(
                path,
                problem=f"The console's remembered layout in {path} could not be read "
                f"({reason}); it starts from the defaults and the file is rewritten on the "
                "next change.",
            )

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> UiState:
        """The choices in the state directory's ``ui.json``; never raises."""
        try:
            directory = private_dir(state_dir(environ))
        except OSError as exc:  # UnsafeDirectoryError too
            return cls(None, problem=f"Layout choices are not kept across restarts: {exc}")
        return cls.load(directory / FILE_NAME)

    # The preview pane of the inbox.

    def preview(self, profile: str | None) -> bool | None:
        """Whether the inbox's preview pane was last shown (None: never chosen)."""
        value = self.choice(profile, "preview")
        return value if isinstance(value, bool) else None

    def set_preview(self, profile: str | None, shown: bool) -> str | None:
        """Remember the preview pane's state; None, or why it could not be written."""
        return self.choose(profile, "preview", bool(shown))

    # Any choice, for the accessors above (and the next ones).

    def choice(self, profile: str | None, name: str) -> Any:
        return self._choices.get(profile or DEFAULT_PROFILE, {}).get(name)

    def choose(self, profile: str | None, name: str, value: Any) -> str | None:
        """Set one choice (a JSON value) and write the file; None, or the reason it failed.

        The choice holds for this console whether or not the write succeeds. The file is read
        again first and only this choice changed in it, so another console's choices (another
        profile's, say) are not undone.
        """
        choices = self._choices
        if self.path is not None:
            with contextlib.suppress(OSError, _Unusable):  # missing or damaged: what we know
                choices = _read(self.path)
        choices.setdefault(profile or DEFAULT_PROFILE, {})[name] = value
        self._choices = choices
        if self.path is None:
            return None
        try:
            _write(self.path, {"version": VERSION, "profiles": choices})
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return f"The console's layout could not be saved to {self.path} ({reason})."
        return None


def _read(path: Path) -> dict[str, dict[str, Any]]:
    with path.open("rb") as handle:
        raw = handle.read(_MAX_BYTES + 1)
    if len(raw) > _MAX_BYTES:
        raise _Unusable(f"larger than {_MAX_BYTES // 1024} KB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _Unusable("not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles", {}), dict):
        raise _Unusable('not a {"profiles": {…}} object')
    profiles = data.get("profiles", {})
    # A profile's entry that is not an object is dropped; the others still count.
    return {p: dict(v) for p, v in profiles.items() if isinstance(v, dict)}


def _write(path: Path, data: dict[str, Any]) -> None:
    private_dir(path.parent)  # a missing directory is made 0700; a shared one is refused
    fd, tmp = tempfile.mkstemp(prefix=".ui-", suffix=".json", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
