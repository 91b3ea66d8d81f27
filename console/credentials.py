"""Where an operator's API token lives: stdin, environment, keyring, or an opt-in private file.

Lookup order: a token piped to stdin > ``COMMAND_CENTER_TOKEN`` > keyring > token file. Storing
goes to the keyring unless the operator explicitly asks for ``--insecure-storage``; we never fall
back to a file on our own, because that would put the token somewhere the operator did not choose.

Operators often work on headless Linux boxes over SSH, where ``keyring`` has no backend (it raises
``NoKeyringError``) or a locked Secret Service waits forever for an unlock prompt nobody sees. So
every keyring call runs in a daemon thread and is abandoned after ``keyring_timeout`` seconds: a
hung call can neither freeze the console nor block interpreter exit.

A plaintext "keyring" is not a keyring. keyrings.alt's ``PlaintextKeyring`` (pulled in by the
test extras, or installed by hand) writes the token base64-encoded to a file nobody checks, so it,
the fail and null backends, and any backend that rates itself below 1 ("not recommended") count
as no keyring: storing then refuses exactly as on a headless box. A backend the operator selected
explicitly (``PYTHON_KEYRING_BACKEND`` or ``keyringrc.cfg``) is respected whatever its priority –
unless it is plaintext, which is refused and said so. Tokens left in a plaintext backend by an
earlier version are never used, and ``logout`` or a new ``login`` deletes them.

The token itself never appears in a ``repr``, an exception message or a log line.
"""

from __future__ import annotations

import configparser
import contextlib
import enum
import logging
import os
import queue
import re
import secrets
import stat
import sys
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from .paths import config_dir

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

# keyring is imported where it is used: a token in the environment (the usual case over SSH and
# in scripts) opens the console without loading it.

__all__ = [
    "ENV_VAR",
    "SERVICE_PREFIX",
    "CredentialStore",
    "CredentialsError",
    "FoundToken",
    "InsecureTokenFileError",
    "KeyringUnavailableError",
    "TokenSource",
    "keyring_status",
]

ENV_VAR = "COMMAND_CENTER_TOKEN"
SERVICE_PREFIX = "command-center-tui"
_KEYRING_USERNAME = "token"

# Same rule as profile names in config.py: the name ends up in a file name and a keyring service.
_PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A token file is a few dozen bytes; refuse to slurp something huge that was put there by mistake.
_MAX_TOKEN_FILE_BYTES = 64 * 1024
# Unicode categories that cannot be part of a token typed or pasted on purpose: control, format
# (zero-width spaces from copy/paste) and surrogates (not encodable).
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_POSIX = os.name == "posix"

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class TokenSource(enum.StrEnum):
    """Where a token came from, so the CLI can tell the operator which one is in use."""

    ENV = "environment"
    STDIN = "stdin"
    KEYRING = "keyring"
    FILE = "file"


@dataclass(frozen=True)
class FoundToken:
    """A token and where it was found; ``repr`` and ``str`` show the place, never the token."""

    token: str = field(repr=False)
    source: TokenSource
    where: str

    def __str__(self) -> str:
        return f"token from {self.source.value} ({self.where})"


class CredentialsError(Exception):
    """The token cannot be found, stored or removed; the message says what to do and never
    contains the token."""


class KeyringUnavailableError(CredentialsError):
    """Storing in a keyring failed; the message offers the environment variable, a working
    keyring, or ``--insecure-storage`` – we never pick the file on the operator's behalf."""


class InsecureTokenFileError(CredentialsError):
    """The token file is readable by others or owned by someone else. Refused rather than
    skipped, so a leaked or planted token is noticed and fixed instead of silently ignored."""


class _KeyringTimeout(Exception):
    """A keyring call did not return in time; ``thread`` is still running it."""

    def __init__(self, thread: threading.Thread) -> None:
        super().__init__("keyring call timed out")
        self.thread = thread


class _KeyringUnusable(Exception):
    """The active backend cannot, or must not, hold a token (see ``_judge``)."""


def _run_bounded(fn: Callable[[], _T], timeout: float, name: str) -> _T:
    """Run ``fn`` in a daemon thread and wait at most ``timeout`` seconds.

    A daemon thread (not a ThreadPoolExecutor, whose exit hook joins its workers) so that a call
    stuck on D-Bus is simply abandoned and cannot keep the interpreter from exiting.
    """
    results: queue.SimpleQueue[tuple[bool, object]] = queue.SimpleQueue()

    def target() -> None:
        try:
            results.put((True, fn()))
        except BaseException as exc:
            results.put((False, exc))

    thread = threading.Thread(target=target, name=f"command-center-{name}", daemon=True)
    thread.start()
    try:
        ok, value = results.get(timeout=timeout)
    except queue.Empty:
        raise _KeyringTimeout(thread) from None
    if ok:
        return cast(_T, value)
    raise cast(BaseException, value)


# The thread of a keyring call that timed out and is still running. The backend is process-wide,
# so while it hangs every store fails fast instead of waiting again and stacking up threads (e.g.
# `profiles` describing ten profiles). Once the call returns (say the operator answered the unlock
# prompt), keyring calls are tried again.
_stuck_lock = threading.Lock()
_stuck_thread: threading.Thread | None = None


def _fail_fast_while_stuck() -> None:
    global _stuck_thread
    with _stuck_lock:
        if _stuck_thread is not None:
            if _stuck_thread.is_alive():
                raise _KeyringTimeout(_stuck_thread)
            _stuck_thread = None


def _remember_stuck(thread: threading.Thread) -> None:
    global _stuck_thread
    with _stuck_lock:
        _stuck_thread = thread


def _backend_label(backend: KeyringBackend) -> str:
    """A display name such as ``SecretService Keyring`` (``str(backend)`` would query priority)."""
    from keyring.backends import chainer

    label = str(type(backend).name)
    if isinstance(backend, chainer.ChainerBackend):
        inner = ", ".join(_backend_label(b) for b in backend.backends)
        label = f"{label} ({inner or 'no backends'})"
    return label


def _is_plaintext(backend: KeyringBackend) -> bool:
    """Whether ``backend`` keeps secrets readable on disk. keyrings.alt's ``PlaintextKeyring``
    (file and pyfs flavours) only base64-encodes them: an encoding, not a protection. Matched by
    class name, so keyrings.alt need not be installed or imported to recognise it."""
    from keyring.backend import KeyringBackend

    if any("plaintext" in klass.__name__.lower() for klass in type(backend).__mro__):
        return True
    inner = getattr(backend, "_keyring", None)  # keyrings.alt.multi.MultipartKeyringWrapper
    return isinstance(inner, KeyringBackend) and _is_plaintext(inner)


def _plaintext_file(backend: KeyringBackend) -> str | None:
    """The file a plaintext backend writes to (``~/.local/share/python_keyring/…``), if known."""
    path = getattr(backend, "file_path", None)
    return _display_path(Path(path)) if isinstance(path, str) else None


def _plaintext_place(backend: KeyringBackend) -> str:
    """``plain-text keyring file PlaintextKeyring (~/.local/share/python_keyring/…)``."""
    place = f"plain-text keyring {_backend_label(backend)}"
    path = _plaintext_file(backend)
    return f"{place} ({path})" if path else place


def _configured_backend() -> tuple[str, str] | None:
    """``(where, class name)`` of the backend the operator selected, as keyring reads it:
    ``PYTHON_KEYRING_BACKEND`` first, else ``default-keyring`` in ``keyringrc.cfg``."""
    from keyring.util import platform_ as keyring_platform

    name = os.environ.get("PYTHON_KEYRING_BACKEND", "").strip()
    if name:
        return "PYTHON_KEYRING_BACKEND", name
    path = keyring_platform.config_root() / "keyringrc.cfg"
    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
        name = config.get("backend", "default-keyring", fallback="").strip()
    except (configparser.Error, OSError, UnicodeError):
        return None
    return (_display_path(path), name) if name else None


def _chosen_in(backend: KeyringBackend) -> str | None:
    """Where the operator explicitly selected ``backend``'s class, or None if they did not.

    Only already-imported modules are looked at: keyring imported the selected one to load it,
    and naming a module must not make us import (run) it.
    """
    configured = _configured_backend()
    if configured is None:
        return None
    where, name = configured
    cls = type(backend)
    if name == f"{cls.__module__}.{cls.__qualname__}":
        return where
    module_name, _, attr = name.rpartition(".")
    module = sys.modules.get(module_name)
    return where if module is not None and getattr(module, attr, None) is cls else None


@dataclass(frozen=True)
class _Verdict:
    """What the active keyring backend is good for."""

    backend: KeyringBackend | None  # where tokens go; None when there is no keyring to use
    label: str
    problem: str | None = None  # why ``backend`` is None
    # Plaintext backends in play: never used, but a token found there is reported and removed.
    plaintext: tuple[KeyringBackend, ...] = ()


def _judge(backend: KeyringBackend) -> _Verdict:
    """Whether ``backend`` can hold a token (as far as its type, priority and the operator's
    explicit choice tell). May query D-Bus through ``priority``: call it in a bounded thread."""
    from keyring.backends import chainer, fail, null

    label = _backend_label(backend)
    if isinstance(backend, fail.Keyring):
        return _Verdict(None, label, "no keyring backend is available")
    if isinstance(backend, null.Keyring):
        return _Verdict(
            None,
            label,
            "the configured keyring backend is the null backend, which silently stores nothing",
        )
    if isinstance(backend, chainer.ChainerBackend):
        # The chainer falls through to the next backend: judge each, use the best good one.
        verdicts = [_judge(inner) for inner in backend.backends]
        plaintext = tuple(b for v in verdicts for b in v.plaintext)
        usable = [v for v in verdicts if v.backend is not None]
        if usable:
            return replace(usable[0], plaintext=plaintext)
        problem = "the chained keyring backend has no backend that can store anything"
        if plaintext:
            names = ", ".join(_backend_label(b) for b in plaintext)
            problem = (
                "the chained keyring backend has no backend that keeps a token safe "
                f"({names} would keep it in plain text)"
            )
        return _Verdict(None, label, problem, plaintext)
    chosen_in = _chosen_in(backend)
    if _is_plaintext(backend):
        path = _plaintext_file(backend)
        writes = "would write the token in plain text" + (f" to {path}" if path else "")
        if chosen_in:
            problem = (
                f"the keyring backend {label}, selected in {chosen_in}, {writes}, so it is not "
                "used as a keyring even though you chose it"
            )
        else:
            problem = f"the detected keyring backend, {label}, {writes} – that is not a keyring"
        return _Verdict(None, label, problem, (backend,))
    try:
        priority = float(backend.priority)
    except Exception as exc:
        return _Verdict(
            None, label, f"the keyring backend {label} cannot be used here ({_describe_exc(exc)})"
        )
    if chosen_in:
        return _Verdict(backend, f"{label}, selected in {chosen_in}")
    if priority < 1:
        return _Verdict(
            None,
            label,
            f"the keyring backend {label} rates itself as not recommended (priority "
            f"{priority:g}); select it in PYTHON_KEYRING_BACKEND or keyringrc.cfg if you trust it",
        )
    return _Verdict(backend, label)


def _describe_exc(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:199] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _redact(text: str, token: str) -> str:
    return text.replace(token, "[token]") if token else text


def _check_token(token: str, what: str) -> None:
    """Refuse empty tokens and ones with whitespace or control characters (a paste accident)."""
    if not token:
        raise CredentialsError(f"{what} is empty. Provide a non-empty token.")
    if any(ch.isspace() or unicodedata.category(ch) in _BAD_CATEGORIES for ch in token):
        raise CredentialsError(
            f"{what} contains whitespace or control characters, which a token never has. "
            "Copy the token again without spaces, line breaks or invisible characters."
        )


def _display_path(path: Path) -> str:
    """``path`` with the home directory shortened to ``~`` for messages meant for reading."""
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return str(path)
    try:
        return str(Path("~") / path.relative_to(home))
    except ValueError:
        return str(path)


def keyring_status(timeout: float = 3.0) -> tuple[bool, str]:
    """Whether a keyring can store the token: ``(usable, backend name or reason)``.

    Detection may talk to D-Bus (and hang), so it runs under the same timeout as every other
    keyring call. It does not read or write a secret, so it never triggers an unlock prompt.
    """

    def probe() -> tuple[str | None, str]:
        import keyring

        verdict = _judge(keyring.get_keyring())
        return verdict.problem, verdict.label

    try:
        problem, label = _run_bounded(probe, timeout, "keyring-status")
    except _KeyringTimeout:
        return False, f"detecting the keyring backend did not finish within {timeout:g} s"
    except Exception as exc:
        return False, f"detecting the keyring backend failed ({_describe_exc(exc)})"
    if problem:
        return False, problem
    return True, label


@dataclass
class _KeyringProbe:
    """Outcome of one keyring lookup; ``note`` explains a lookup that could not be made."""

    token: str | None = None
    where: str | None = None
    note: str | None = None
    invalid: CredentialsError | None = None
    plaintext_copy: str | None = None  # where an unused plain-text copy of the token is


class CredentialStore:
    """One profile's token: find it, store it, remove it, or say where it lives."""

    def __init__(
        self,
        profile: str,
        *,
        token_dir: Path | None = None,
        keyring_timeout: float = 3.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not _PROFILE.fullmatch(profile):
            raise CredentialsError(
                f"The profile name {profile!r} cannot be used for credentials. Use up to 64 "
                "letters, digits, '.', '_' or '-', starting with a letter or digit."
            )
        if not keyring_timeout > 0:
            raise ValueError("keyring_timeout must be positive")
        self.profile = profile
        self.service = f"{SERVICE_PREFIX}:{profile}"
        self.token_dir = Path(token_dir) if token_dir is not None else config_dir() / "tokens"
        self.token_path = self.token_dir / f"{profile}.token"
        self.keyring_timeout = keyring_timeout
        self._environ: Mapping[str, str] = os.environ if environ is None else environ

    # -- public API ---------------------------------------------------------------------------

    def find(self, *, stdin_token: str | None = None) -> FoundToken | None:
        """The token to use, or None. A keyring that is unavailable, fails or times out is
        skipped; a token file with unsafe permissions raises InsecureTokenFileError."""
        if stdin_token is not None:
            token = stdin_token.strip()
            if not token:
                # Falling back to another source could silently act as a different identity.
                raise CredentialsError(
                    "No token was read from standard input. Pipe the token in, or drop the "
                    "stdin option to use the stored one."
                )
            _check_token(token, "The token read from standard input")
            return FoundToken(token, TokenSource.STDIN, "standard input")

        token = self._environ.get(ENV_VAR, "").strip()
        if token:
            _check_token(token, f"The {ENV_VAR} environment variable")
            return FoundToken(token, TokenSource.ENV, ENV_VAR)

        probe = self._probe_keyring()
        if probe.invalid is not None:
            raise probe.invalid
        if probe.token is not None and probe.where is not None:
            return FoundToken(probe.token, TokenSource.KEYRING, probe.where)

        token_from_file = self._read_file()
        if token_from_file is not None:
            return FoundToken(token_from_file, TokenSource.FILE, str(self.token_path))
        if probe.plaintext_copy is not None:
            # Saying "no token" would hide that one is lying around in plain text.
            raise CredentialsError(
                f"The token stored for profile {self.profile!r} is in the "
                f"{probe.plaintext_copy}, readable by anyone who can read that file, so it is "
                "not used. Run "
                f"`command-center logout --profile {self.profile}` to delete that copy, then log "
                f"in again with a working keyring, set {ENV_VAR}, or use --insecure-storage."
            )
        return None

    def check_keyring(self) -> None:
        """Raise KeyringUnavailableError if no keyring can hold a token, before one is asked
        for; reads and writes nothing. ``store`` still verifies by reading the token back."""

        def check(verdict: _Verdict) -> None:
            if verdict.backend is None:
                raise _KeyringUnusable(verdict.problem or "no keyring backend is available")

        try:
            self._keyring_run(check, "keyring-check")
        except _KeyringTimeout:
            reason = self._timeout_text()
        except _KeyringUnusable as exc:
            reason = str(exc)
        except Exception as exc:
            reason = f"detecting the keyring backend failed ({_describe_exc(exc)})"
        else:
            return
        raise KeyringUnavailableError(self._unavailable_message(reason))

    def store(self, token: str, *, insecure_storage: bool = False) -> FoundToken:
        """Store ``token`` in the keyring, or in a 0600 file if ``insecure_storage``.

        Surrounding whitespace (a pasted newline) is stripped. Keyring storage is verified by
        reading the token back. Whichever place is chosen, the copy in the other place is removed
        (best effort): a stale keyring entry would shadow the new file, and a stale file is a
        plain-text copy the operator no longer wants.
        """
        token = token.strip()
        _check_token(token, "The token")
        if insecure_storage:
            self._write_file(token)
            self._delete_keyring_copy(consequence="it takes precedence over the token file")
            return FoundToken(token, TokenSource.FILE, str(self.token_path))

        def put(backend: KeyringBackend) -> bool:
            backend.set_password(self.service, _KEYRING_USERNAME, token)
            return backend.get_password(self.service, _KEYRING_USERNAME) == token

        from keyring.errors import NoKeyringError

        reason: str
        try:
            stored, label = self._keyring_call(put, "keyring-set")
        except _KeyringTimeout:
            reason = self._timeout_text()
        except _KeyringUnusable as exc:
            reason = str(exc)
        except NoKeyringError:
            reason = "no keyring backend is available"
        except Exception as exc:
            reason = f"the keyring failed ({_redact(_describe_exc(exc), token)})"
        else:
            if stored:
                self._unlink_file_quietly()
                self._delete_keyring_copy(
                    consequence="a plain-text copy is left behind", plaintext_only=True
                )
                return FoundToken(token, TokenSource.KEYRING, self._keyring_where(label))
            reason = (
                f"the keyring backend {label} accepted the token but did not return it when "
                "read back, so it cannot be relied on"
            )
        raise KeyringUnavailableError(self._unavailable_message(reason))

    def remove(self) -> list[str]:
        """Remove the token from the keyring and any plaintext backend (best effort) and from
        the token file.

        Returns the places it was actually removed from. ``COMMAND_CENTER_TOKEN`` cannot be
        removed from here and is never listed; call ``describe()`` to see what is left.
        """
        removed = self._delete_keyring_copy(consequence="it was not removed")
        try:
            os.unlink(self.token_path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise CredentialsError(
                f"The token file {self.token_path} could not be removed ({exc.strerror}). "
                "Delete it by hand."
            ) from None
        else:
            removed.append(f"file {self.token_path}")
        return removed

    def describe(self) -> str:
        """Where this profile's token lives, for ``status`` output – never the token itself.

        Examples: ``environment (COMMAND_CENTER_TOKEN)``, ``keyring (service …, backend …)``,
        ``file ~/.config/command-center-tui/tokens/prod.token (0600)``, ``none``, and
        ``keyring timed out after 3 s`` (appended after ``; `` when a file is also found).
        """
        env_token = self._environ.get(ENV_VAR, "").strip()
        if env_token:
            try:
                _check_token(env_token, f"The {ENV_VAR} environment variable")
            except CredentialsError as exc:
                return f"environment ({ENV_VAR}), refused: {exc}"
            return f"environment ({ENV_VAR})"

        probe = self._probe_keyring()
        if probe.invalid is not None:
            return f"{probe.where}, refused: {probe.invalid}"
        if probe.where is not None:
            return probe.where
        plaintext = (
            f"a plain-text copy in the {probe.plaintext_copy}, not used (`logout` deletes it)"
            if probe.plaintext_copy
            else None
        )
        parts = [part for part in (self._describe_file(), probe.note, plaintext) if part]
        return "; ".join(parts) or "none"

    # -- keyring ------------------------------------------------------------------------------

    def _keyring_run(self, fn: Callable[[_Verdict], _T], name: str) -> _T:
        """Judge the active backend and run ``fn`` on the verdict, bounded by the timeout.
        Detection and judging happen inside the thread, since they may hang too."""
        _fail_fast_while_stuck()

        def run() -> _T:
            import keyring

            return fn(_judge(keyring.get_keyring()))

        try:
            return _run_bounded(run, self.keyring_timeout, name)
        except _KeyringTimeout as exc:
            _remember_stuck(exc.thread)
            raise

    def _keyring_call(self, op: Callable[[KeyringBackend], _T], name: str) -> tuple[_T, str]:
        """Run ``op`` on the backend that may hold tokens; returns its result and label."""

        def use(verdict: _Verdict) -> tuple[_T, str]:
            if verdict.backend is None:
                raise _KeyringUnusable(verdict.problem or "no keyring backend is available")
            return op(verdict.backend), verdict.label

        return self._keyring_run(use, name)

    def _keyring_where(self, label: str) -> str:
        return f"keyring (service {self.service}, backend {label})"

    def _timeout_text(self) -> str:
        return (
            f"the keyring did not answer within {self.keyring_timeout:g} s "
            "(a locked Secret Service may be waiting for an unlock prompt)"
        )

    def _probe_keyring(self) -> _KeyringProbe:
        """Look the token up in the keyring; problems become a note instead of an error."""

        def get(verdict: _Verdict) -> tuple[str | None, str, str | None]:
            value = None
            if verdict.backend is not None:
                value = verdict.backend.get_password(self.service, _KEYRING_USERNAME)
            if value is None or not value.strip():
                for plain in verdict.plaintext:
                    with contextlib.suppress(Exception):  # only to say a copy is there
                        if plain.get_password(self.service, _KEYRING_USERNAME):
                            return None, verdict.label, _plaintext_place(plain)
                if verdict.backend is None:
                    raise _KeyringUnusable(verdict.problem or "no keyring backend is available")
            return value, verdict.label, None

        from keyring.errors import NoKeyringError

        try:
            value, label, plaintext_copy = self._keyring_run(get, "keyring-get")
        except _KeyringTimeout:
            _log.warning("Keyring lookup for %s gave up: %s.", self.service, self._timeout_text())
            return _KeyringProbe(note=f"keyring timed out after {self.keyring_timeout:g} s")
        except (_KeyringUnusable, NoKeyringError) as exc:
            _log.debug("Keyring skipped for %s: %s.", self.service, exc)
            return _KeyringProbe()
        except Exception as exc:
            _log.warning("Keyring lookup for %s failed (%s).", self.service, _describe_exc(exc))
            return _KeyringProbe(note=f"keyring failed ({_describe_exc(exc)})")
        if plaintext_copy is not None:
            return _KeyringProbe(plaintext_copy=plaintext_copy)
        if value is None or not value.strip():
            return _KeyringProbe()
        where = self._keyring_where(label)
        token = value.strip()
        try:
            _check_token(token, f"The token stored in the {where}")
        except CredentialsError as exc:
            return _KeyringProbe(where=where, invalid=exc)
        return _KeyringProbe(token=token, where=where)

    def _delete_keyring_copy(self, *, consequence: str, plaintext_only: bool = False) -> list[str]:
        """Delete this profile's keyring entries; returns the places it was removed from.

        Covers the backend in use (unless ``plaintext_only``) and any plaintext backend, where
        an earlier version may have left the token readable on disk. Best effort: an
        unavailable keyring has nothing to delete, and a failing or hanging one is logged (with
        ``consequence`` saying why that matters) rather than raised.
        """

        def delete(verdict: _Verdict) -> tuple[list[str], list[str]]:
            from keyring.errors import NoKeyringError, PasswordDeleteError

            targets = [(b, f"the {_plaintext_place(b)}") for b in verdict.plaintext]
            if verdict.backend is not None and not plaintext_only:
                targets.insert(0, (verdict.backend, self._keyring_where(verdict.label)))
            removed: list[str] = []
            failed: list[str] = []
            for backend, where in targets:
                try:
                    # Read first: a backend that silently ignores the delete must not count.
                    if backend.get_password(self.service, _KEYRING_USERNAME) is None:
                        continue
                    backend.delete_password(self.service, _KEYRING_USERNAME)
                except (NoKeyringError, PasswordDeleteError):
                    continue
                except Exception as exc:
                    failed.append(f"{where}: {_describe_exc(exc)}")
                    continue
                removed.append(where)
            return removed, failed

        try:
            removed, failed = self._keyring_run(delete, "keyring-delete")
        except _KeyringTimeout:
            _log.warning(
                "Could not check the keyring for a token of %s (%s); if there is one, %s.",
                self.service,
                self._timeout_text(),
                consequence,
            )
            return []
        except Exception as exc:
            failed, removed = [_describe_exc(exc)], []
        for failure in failed:
            _log.warning(
                "Could not remove the keyring token of %s (%s); %s.",
                self.service,
                failure,
                consequence,
            )
        return removed

    def _unavailable_message(self, reason: str) -> str:
        return (
            f"The token could not be stored in a keyring: {reason}. You can: set {ENV_VAR} in "
            "your environment instead of storing the token; install or unlock a keyring (for "
            "example start gnome-keyring for the Secret Service, and check what is found with "
            "`keyring --list-backends`), then try again; or pass --insecure-storage to keep "
            f"the token in {self.token_path}, a file only you can read."
        )

    # -- token file ---------------------------------------------------------------------------

    def _check_file_stat(self, st: os.stat_result) -> None:
        path = self.token_path
        if not stat.S_ISREG(st.st_mode):
            raise CredentialsError(
                f"The token path {path} is not a regular file. Remove it and store the token again."
            )
        if not _POSIX:
            return
        if st.st_uid != os.getuid():
            raise InsecureTokenFileError(
                f"The token file {path} is owned by another user (uid {st.st_uid}), so anyone "
                f"with that account could have planted or read it. Delete it (`rm {path}`) and "
                "store your token again with --insecure-storage."
            )
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise InsecureTokenFileError(
                f"The token file {path} can be accessed by other users (mode {mode:04o}), so it "
                f"is not used. Run `chmod 600 {path}`, and replace the token if others may have "
                "read it."
            )

    def _read_file(self) -> str | None:
        """The token in the file, or None if there is no file. Ownership and mode are checked
        on the opened file itself (fstat), on every read."""
        path = self.token_path
        # O_NONBLOCK: opening a FIFO planted at the path must not hang; harmless for files.
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CredentialsError(
                f"The token file {path} cannot be opened ({exc.strerror}). Check its "
                "permissions, or delete it and store the token again."
            ) from None
        try:
            self._check_file_stat(os.fstat(fd))
            chunks: list[bytes] = []
            size = 0
            while size <= _MAX_TOKEN_FILE_BYTES:
                chunk = os.read(fd, 8192)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as exc:
            raise CredentialsError(
                f"The token file {path} cannot be read ({exc.strerror})."
            ) from None
        finally:
            os.close(fd)
        if size > _MAX_TOKEN_FILE_BYTES:
            raise CredentialsError(
                f"The token file {path} is far too large to hold a token. Delete it and store "
                "the token again."
            )
        try:
            text = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialsError(
                f"The token file {path} is not UTF-8 text. Delete it and store the token again."
            ) from None
        token = text.strip()
        _check_token(token, f"The token file {path}")
        return token

    def _describe_file(self) -> str | None:
        display = _display_path(self.token_path)
        try:
            st = os.stat(self.token_path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"file {display} (cannot be checked: {exc.strerror})"
        mode = f"{stat.S_IMODE(st.st_mode):04o}"
        try:
            self._read_file()
        except CredentialsError as exc:
            return f"file {display} ({mode}), refused: {exc}"
        return f"file {display} ({mode})"

    def _prepare_dir(self) -> None:
        """Create the token directory 0700; an existing one is used as it is (never chmod'ed)
        if only we can change it, and refused otherwise."""
        from .paths import private_dir

        private_dir(self.token_dir, advice="Keep the token in a directory that only you can change")

    def _write_file(self, token: str) -> None:
        """Write atomically: a fresh 0600 temp file in the same directory, fsync, rename."""
        from .paths import UnsafeDirectoryError

        path = self.token_path
        tmp = self.token_dir / f".{self.profile}.token.{secrets.token_hex(8)}.tmp"
        try:
            self._prepare_dir()
            # O_EXCL: never reuse or follow an existing path. The mode is set explicitly with
            # fchmod too, so the result does not depend on the umask.
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600
            )
            try:
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, 0o600)
                data = memoryview((token + "\n").encode("utf-8"))
                while data:
                    written = os.write(fd, data)
                    data = data[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except UnsafeDirectoryError as exc:
            message = str(exc)
            raise CredentialsError(
                f"The token was not stored: {message[:1].lower()}{message[1:]}"
            ) from None
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CredentialsError(
                f"The token could not be written to {path} ({exc.strerror or exc}). Check that "
                f"you can write to {self.token_dir}."
            ) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        """Make the rename durable; best effort, since not every platform can open directories."""
        if not _POSIX:
            return
        try:
            dir_fd = os.open(self.token_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)

    def _unlink_file_quietly(self) -> None:
        try:
            os.unlink(self.token_path)
        except FileNotFoundError:
            return
        except OSError as exc:
            _log.warning(
                "The token is now in the keyring, but the old token file %s could not be "
                "removed (%s); delete it by hand.",
                self.token_path,
                exc.strerror,
            )
            return
        _log.info("Removed the old token file %s; the keyring copy is used now.", self.token_path)
