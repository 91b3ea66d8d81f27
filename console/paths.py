"""Where the console keeps things: the app's name, its config and state directories.

One module, so a path is decided once; ``private_dir`` is how every file the tool writes gets
a directory only its user can change.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "command-center-tui"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the outbox and the audit log live (``COMMAND_CENTER_STATE_DIR`` overrides)."""
    env = os.environ if environ is None else environ
    override = env.get("COMMAND_CENTER_STATE_DIR", "").strip()
    return Path(override).expanduser() if override else platformdirs.user_state_path(APP_NAME)


_STATE_DIR_ADVICE = (
    "Point COMMAND_CENTER_STATE_DIR at a directory of your own (a missing one is created, "
    "readable only by you)"
)


class UnsafeDirectoryError(PermissionError):
    """An existing directory that other users could change. Refused and left exactly as it was:
    it may be shared on purpose, and chmod'ing it would break whoever else uses it."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        return str(self.args[0])


def private_dir(path: Path, *, advice: str = _STATE_DIR_ADVICE) -> Path:
    """``path`` as a directory only this user can change: missing parts are created 0700.

    An existing directory is never chmod'ed – the tool may not own it (``COMMAND_CENTER_STATE_DIR``
    can point anywhere). One that others may write to, or that belongs to another user, raises
    :class:`UnsafeDirectoryError` naming it; ``advice`` says what to do instead.
    """
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe) and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    created: set[Path] = set()
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)  # the umask can only narrow this, never widen it
        except FileExistsError:
            continue  # made meanwhile by someone else: checked below like any existing one
        created.add(directory)
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    if os.name != "posix" or path in created:
        return path
    if st.st_uid != os.geteuid():
        raise UnsafeDirectoryError(
            f"the directory {path} belongs to another user (uid {st.st_uid}), who could delete "
            f"or replace the files kept there, so it is not used. {advice}.",
            path,
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise UnsafeDirectoryError(
            f"the directory {path} can be written by other users (mode {mode:04o}), who could "
            "delete or replace the files kept there, so it is not used and its mode was left "
            f"as it is. {advice}, or run `chmod go-w {path}` if the directory is yours alone.",
            path,
        )
    return path


def config_dir() -> Path:
    """The user's config directory for the tool (the token files' default home too)."""
    return platformdirs.user_config_path(APP_NAME)
