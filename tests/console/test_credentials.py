"""Token storage against keyring's real backends: a file keyring, none, null, and ones that hang.

Every test runs with ``keyring.backends.fail.Keyring`` installed unless it installs another
backend, so the developer's real keyring is never read or written; the process's previous backend
is restored afterwards.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.core
import platformdirs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError
from keyrings.alt.file import PlaintextKeyring

from console.credentials import (
    ENV_VAR,
    SERVICE_PREFIX,
    CredentialsError,
    CredentialStore,
    FoundToken,
    InsecureTokenFileError,
    KeyringUnavailableError,
    TokenSource,
    keyring_status,
)

# Distinctive, so a leak anywhere is found by a plain substring search.
TOKEN = "pat_Zq9LEAKCANARY7f3b"
OTHER = "pat_second-token-0042"
SERVICE = f"{SERVICE_PREFIX}:prod"
TIMEOUT = 0.3  # keyring timeout in tests
BOUND = 2.0  # an upper bound for "gave up in time", not a benchmark

UseKeyring = Callable[[KeyringBackend], None]


# -- backends we define: the edge of keyring we do not own ----------------------------------------


class _TestOnlyBackend(KeyringBackend):
    """Defining a backend registers it with keyring; ``viable = False`` keeps it out of
    keyring's own detection, so only set_keyring() uses it. Priority 1 is the lowest keyring
    recommends, so the code under test treats it as a real keyring."""

    viable = False
    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        return None


class MemoryKeyring(_TestOnlyBackend):
    """A working keyring that keeps passwords in memory: the stand-in for a Secret Service."""

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


class NotRecommendedKeyring(MemoryKeyring):
    """A working backend that rates itself below 1, as keyrings.alt's EncryptedKeyring does."""

    priority = 0.6


class HangingKeyring(_TestOnlyBackend):
    """Like a locked Secret Service waiting for an unlock prompt nobody answers."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait()

    def delete_password(self, service: str, username: str) -> None:
        self.release.wait()


class DroppingKeyring(_TestOnlyBackend):
    """Accepts every password and keeps none – not the null backend, so only the read-back
    can tell."""


class LockedKeyring(_TestOnlyBackend):
    """Every call fails the way a dismissed unlock prompt does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


class EchoingKeyring(_TestOnlyBackend):
    """A careless backend whose error message contains the password."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError(f"could not store {password!r} for {service}")


class NullOnlyChainer(chainer.ChainerBackend):
    """keyring's chainer when the only thing left to chain is the null backend."""

    viable = False  # keep it out of keyring's own detection

    @property
    def backends(self) -> list[KeyringBackend]:
        return [null.Keyring()]


class SlowDetectingChainer(chainer.ChainerBackend):
    """Finding out which backends to chain hangs (as D-Bus activation can)."""

    viable = False

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    @property
    def backends(self) -> list[KeyringBackend]:
        self.release.wait()
        return []


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def use_keyring(monkeypatch: pytest.MonkeyPatch) -> UseKeyring:
    """Install keyring backends with ``keyring.set_keyring``; the previous one comes back after.

    The previous backend is read from ``keyring.core`` directly: ``keyring.get_keyring()`` would
    run detection (D-Bus, the developer's real keyring) just to remember it. ``None`` (not yet
    detected) is restored as such by monkeypatch's undo.
    """
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(fail.Keyring())
    return keyring.set_keyring


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private home directory: paths shown with ``~`` are predictable, the real one untouched."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def memory_keyring(use_keyring: UseKeyring) -> MemoryKeyring:
    """A working keyring."""
    backend = MemoryKeyring()
    use_keyring(backend)
    return backend


@pytest.fixture
def plaintext_keyring(tmp_path: Path, use_keyring: UseKeyring) -> PlaintextKeyring:
    """keyrings.alt's plaintext file backend, kept in tmp_path: must never count as a keyring."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")  # a NonDataProperty
    use_keyring(backend)
    return backend


@pytest.fixture
def hanging_keyring(use_keyring: UseKeyring) -> Iterator[HangingKeyring]:
    release = threading.Event()
    backend = HangingKeyring(release)
    use_keyring(backend)
    yield backend
    release.set()
    # The abandoned calls now return; wait for them, or the next test would find the keyring
    # still "stuck" (that state is process-wide, like keyring's backend).
    for thread in threading.enumerate():
        if thread.name.startswith("command-center-keyring"):
            thread.join(timeout=5)


@pytest.fixture
def token_dir(tmp_path: Path) -> Path:
    return tmp_path / "config" / "tokens"


@pytest.fixture
def make_store(token_dir: Path) -> Callable[..., CredentialStore]:
    def make(profile: str = "prod", environ: dict[str, str] | None = None) -> CredentialStore:
        return CredentialStore(
            profile,
            token_dir=token_dir,
            keyring_timeout=TIMEOUT,
            environ={} if environ is None else environ,
        )

    return make


def write_token_file(path: Path, content: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    os.chmod(path, mode)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- FoundToken -----------------------------------------------------------------------------------


def test_found_token_shows_where_but_never_the_token() -> None:
    found = FoundToken(TOKEN, TokenSource.KEYRING, "keyring (service x, backend y)")

    assert TOKEN not in repr(found)
    assert TOKEN not in str(found)
    assert TOKEN not in f"{found}"
    assert "keyring (service x, backend y)" in str(found)
    assert found.token == TOKEN


def test_token_source_values_are_plain_words() -> None:
    assert [s.value for s in TokenSource] == ["environment", "stdin", "keyring", "file"]
    assert str(TokenSource.ENV) == "environment"


# -- resolution order -----------------------------------------------------------------------------


def test_stdin_beats_environment_beats_keyring_beats_file(
    make_store: Callable[..., CredentialStore], memory_keyring: MemoryKeyring
) -> None:
    make_store().store("pat_file", insecure_storage=True)
    keyring.set_password(SERVICE, "token", "pat_keyring")  # the documented service/username
    environ = {ENV_VAR: " pat_env\n"}
    store = make_store(environ=environ)

    from_stdin = store.find(stdin_token="pat_stdin\n")
    assert from_stdin is not None
    assert (from_stdin.token, from_stdin.source, from_stdin.where) == (
        "pat_stdin",
        TokenSource.STDIN,
        "standard input",
    )

    from_env = store.find()
    assert from_env is not None
    assert (from_env.token, from_env.source, from_env.where) == (
        "pat_env",
        TokenSource.ENV,
        ENV_VAR,
    )

    environ[ENV_VAR] = "   "  # blank counts as unset
    from_keyring = store.find()
    assert from_keyring is not None
    assert (from_keyring.token, from_keyring.source) == ("pat_keyring", TokenSource.KEYRING)
    assert from_keyring.where == f"keyring (service {SERVICE}, backend {MemoryKeyring.name})"

    keyring.delete_password(SERVICE, "token")
    from_file = store.find()
    assert from_file is not None
    assert (from_file.token, from_file.source) == ("pat_file", TokenSource.FILE)
    assert from_file.where == str(store.token_path)


def test_nothing_stored_finds_nothing(make_store: Callable[..., CredentialStore]) -> None:
    assert make_store().find() is None


def test_profiles_are_separate(
    make_store: Callable[..., CredentialStore], memory_keyring: MemoryKeyring
) -> None:
    make_store("prod").store(TOKEN)
    make_store("staging").store(OTHER, insecure_storage=True)

    prod, staging = make_store("prod").find(), make_store("staging").find()
    assert prod is not None and prod.token == TOKEN
    assert staging is not None and staging.token == OTHER
    assert keyring.get_password(f"{SERVICE_PREFIX}:staging", "token") is None


def test_empty_stdin_is_an_error_not_a_fallback(
    make_store: Callable[..., CredentialStore],
) -> None:
    store = make_store(environ={ENV_VAR: TOKEN})
    with pytest.raises(CredentialsError, match="standard input"):
        store.find(stdin_token=" \n")


def test_default_token_dir_is_the_user_config_dir() -> None:
    store = CredentialStore("prod", environ={})
    expected = platformdirs.user_config_path("command-center-tui") / "tokens" / "prod.token"
    assert store.token_path == expected


@pytest.mark.parametrize("profile", ["", "../prod", "a/b", ".hidden", "x" * 65, "pro d"])
def test_profile_names_that_cannot_be_file_names_are_refused(profile: str) -> None:
    with pytest.raises(CredentialsError, match="profile name"):
        CredentialStore(profile, environ={})


# -- keyring round trip ---------------------------------------------------------------------------


def test_keyring_store_find_remove_round_trip(
    make_store: Callable[..., CredentialStore],
    memory_keyring: MemoryKeyring,
    token_dir: Path,
) -> None:
    store = make_store()

    stored = store.store(f"  {TOKEN}\n")  # a pasted newline is not part of the token
    where = f"keyring (service {SERVICE}, backend {MemoryKeyring.name})"
    assert (stored.token, stored.source, stored.where) == (TOKEN, TokenSource.KEYRING, where)
    assert keyring.get_password(SERVICE, "token") == TOKEN
    assert not token_dir.exists()  # nothing written to a file

    found = make_store().find()
    assert found == stored
    assert store.describe() == where

    assert store.remove() == [where]
    assert keyring.get_password(SERVICE, "token") is None
    assert store.find() is None
    assert store.describe() == "none"
    assert store.remove() == []


def test_storing_in_the_keyring_removes_an_old_token_file(
    make_store: Callable[..., CredentialStore], memory_keyring: MemoryKeyring
) -> None:
    store = make_store()
    store.store(OTHER, insecure_storage=True)

    store.store(TOKEN)

    assert not store.token_path.exists()
    found = store.find()
    assert found is not None and (found.token, found.source) == (TOKEN, TokenSource.KEYRING)


# -- file round trip ------------------------------------------------------------------------------


def test_file_store_find_remove_round_trip(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    store = make_store()

    stored = store.store(TOKEN, insecure_storage=True)

    path = token_dir / "prod.token"
    assert (stored.token, stored.source, stored.where) == (TOKEN, TokenSource.FILE, str(path))
    assert path.read_text(encoding="utf-8") == TOKEN + "\n"
    assert mode_of(path) == 0o600
    assert mode_of(token_dir) == 0o700
    assert os.stat(path).st_uid == os.getuid()

    assert make_store().find() == stored
    assert store.describe() == f"file {path} (0600)"

    assert store.remove() == [f"file {path}"]
    assert not path.exists()
    assert store.find() is None
    assert store.remove() == []


def test_file_modes_do_not_depend_on_the_umask(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    old_umask = os.umask(0)
    try:
        make_store().store(TOKEN, insecure_storage=True)
    finally:
        os.umask(old_umask)

    assert mode_of(token_dir / "prod.token") == 0o600
    assert mode_of(token_dir) == 0o700  # created by us
    assert mode_of(token_dir.parent) == 0o700  # so was its missing parent


def test_an_existing_token_directory_is_used_as_it_is(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    token_dir.mkdir(parents=True)
    os.chmod(token_dir, 0o755)  # readable by others, but only we can change it

    make_store().store(TOKEN, insecure_storage=True)

    assert mode_of(token_dir) == 0o755  # not ours to chmod
    assert mode_of(token_dir / "prod.token") == 0o600


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777])
def test_a_token_directory_others_can_write_is_refused_and_left_alone(
    make_store: Callable[..., CredentialStore], token_dir: Path, mode: int
) -> None:
    token_dir.mkdir(parents=True)
    os.chmod(token_dir, mode)

    with pytest.raises(CredentialsError) as caught:
        make_store().store(TOKEN, insecure_storage=True)

    message = str(caught.value)
    assert str(token_dir) in message and f"mode {mode:04o}" in message
    assert f"chmod go-w {token_dir}" in message
    assert TOKEN not in message
    assert mode_of(token_dir) == mode
    assert list(token_dir.iterdir()) == []


def test_replacing_the_file_leaves_no_temporary_files(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    store = make_store()
    store.store(OTHER, insecure_storage=True)
    store.store(TOKEN, insecure_storage=True)

    assert sorted(p.name for p in token_dir.iterdir()) == ["prod.token"]
    found = store.find()
    assert found is not None and found.token == TOKEN


def test_a_failed_write_leaves_no_temporary_files(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    (token_dir / "prod.token").mkdir(parents=True)  # os.replace onto a directory fails

    with pytest.raises(CredentialsError, match="could not be written") as caught:
        make_store().store(TOKEN, insecure_storage=True)

    assert TOKEN not in str(caught.value)
    assert sorted(p.name for p in token_dir.iterdir()) == ["prod.token"]


def test_a_trailing_newline_in_a_hand_written_file_is_ignored(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    write_token_file(token_dir / "prod.token", TOKEN + "\r\n")

    found = make_store().find()

    assert found is not None and found.token == TOKEN


def test_storing_in_a_file_removes_the_keyring_copy_so_the_file_is_used(
    make_store: Callable[..., CredentialStore], memory_keyring: MemoryKeyring
) -> None:
    store = make_store()
    store.store(OTHER)

    store.store(TOKEN, insecure_storage=True)

    assert keyring.get_password(SERVICE, "token") is None
    found = store.find()
    assert found is not None and (found.token, found.source) == (TOKEN, TokenSource.FILE)


def test_an_empty_token_file_is_reported(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    write_token_file(token_dir / "prod.token", "\n")

    with pytest.raises(CredentialsError, match="is empty"):
        make_store().find()


def test_a_directory_at_the_token_path_is_reported(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    (token_dir / "prod.token").mkdir(parents=True)

    with pytest.raises(CredentialsError, match="not a regular file"):
        make_store().find()


# -- unsafe token files ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_a_token_file_others_can_access_is_refused(
    make_store: Callable[..., CredentialStore], token_dir: Path, mode: int
) -> None:
    path = token_dir / "prod.token"
    write_token_file(path, TOKEN + "\n", mode)
    store = make_store()

    with pytest.raises(InsecureTokenFileError) as caught:
        store.find()

    message = str(caught.value)
    assert str(path) in message
    assert f"chmod 600 {path}" in message
    assert TOKEN not in message
    assert store.describe().startswith(f"file {path} ({mode:04o}), refused: ")


def test_a_read_only_private_file_is_fine(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    write_token_file(token_dir / "prod.token", TOKEN, 0o400)

    found = make_store().find()

    assert found is not None and found.token == TOKEN


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root to chown")
def test_a_token_file_owned_by_someone_else_is_refused(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    path = token_dir / "prod.token"
    write_token_file(path, TOKEN)
    os.chown(path, 54321, -1)

    with pytest.raises(InsecureTokenFileError, match="owned by another user") as caught:
        make_store().find()

    assert str(path) in str(caught.value)
    assert TOKEN not in str(caught.value)


# -- no keyring, null keyring, dropping keyring ---------------------------------------------------


def test_without_a_keyring_store_refuses_and_names_the_three_choices(
    make_store: Callable[..., CredentialStore], token_dir: Path
) -> None:
    store = make_store()  # the autouse fixture installed keyring's fail backend

    with pytest.raises(KeyringUnavailableError) as caught:
        store.store(TOKEN)

    message = str(caught.value)
    assert "no keyring backend is available" in message
    assert ENV_VAR in message
    assert "gnome-keyring" in message
    assert "keyring --list-backends" in message
    assert "--insecure-storage" in message
    assert TOKEN not in message
    assert not token_dir.exists()  # no silent fallback to a file


def test_without_a_keyring_find_and_describe_fall_through(
    make_store: Callable[..., CredentialStore],
) -> None:
    store = make_store()
    assert store.find() is None
    assert store.describe() == "none"

    store.store(TOKEN, insecure_storage=True)
    found = store.find()
    assert found is not None and found.source is TokenSource.FILE
    assert store.remove() == [f"file {store.token_path}"]


def test_the_null_backend_counts_as_unavailable(
    make_store: Callable[..., CredentialStore], use_keyring: UseKeyring
) -> None:
    use_keyring(null.Keyring())

    assert keyring_status(TIMEOUT) == (
        False,
        "the configured keyring backend is the null backend, which silently stores nothing",
    )
    with pytest.raises(KeyringUnavailableError, match="null backend"):
        make_store().store(TOKEN)


def test_a_chainer_of_only_the_null_backend_counts_as_unavailable(
    make_store: Callable[..., CredentialStore], use_keyring: UseKeyring
) -> None:
    use_keyring(NullOnlyChainer())

    usable, reason = keyring_status(TIMEOUT)
    assert not usable
    assert "chained" in reason
    with pytest.raises(KeyringUnavailableError, match="chained"):
        make_store().store(TOKEN)


# -- plaintext and not-recommended backends -------------------------------------------------------


class PlaintextInChainer(chainer.ChainerBackend):
    """keyring's chainer on a box with keyrings.alt installed and no Secret Service."""

    viable = False

    def __init__(self, *inner: KeyringBackend) -> None:
        super().__init__()
        self.inner = list(inner)

    @property
    def backends(self) -> list[KeyringBackend]:
        return self.inner


def test_a_plaintext_backend_is_not_a_keyring(
    make_store: Callable[..., CredentialStore], plaintext_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    store = make_store()

    assert keyring_status(TIMEOUT)[0] is False
    with pytest.raises(KeyringUnavailableError) as caught:
        store.store(TOKEN)

    message = str(caught.value)
    assert "plain text" in message and "PlaintextKeyring" in message
    for choice in (ENV_VAR, "keyring --list-backends", "--insecure-storage"):
        assert choice in message
    assert not (tmp_path / "keyring").exists()  # nothing written, not even an empty file
    assert not store.token_path.exists()
    with pytest.raises(KeyringUnavailableError, match="plain text"):
        store.check_keyring()


def test_an_explicitly_selected_plaintext_backend_is_refused_and_says_so(
    make_store: Callable[..., CredentialStore],
    plaintext_keyring: PlaintextKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")

    with pytest.raises(KeyringUnavailableError) as caught:
        make_store().store(TOKEN)

    message = str(caught.value)
    assert "selected in PYTHON_KEYRING_BACKEND" in message
    assert "even though you chose it" in message
    assert TOKEN not in message


def test_a_backend_selected_in_keyringrc_counts_as_chosen(
    make_store: Callable[..., CredentialStore],
    use_keyring: UseKeyring,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    rc = tmp_path / "xdg" / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir(parents=True)
    rc.write_text(f"[backend]\ndefault-keyring = {__name__}.NotRecommendedKeyring\n")
    use_keyring(NotRecommendedKeyring())

    stored = make_store().store(TOKEN)

    assert stored.source is TokenSource.KEYRING
    assert "selected in" in stored.where and "keyringrc.cfg" in stored.where


def test_a_not_recommended_backend_counts_only_when_chosen(
    make_store: Callable[..., CredentialStore],
    use_keyring: UseKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = NotRecommendedKeyring()
    use_keyring(backend)  # detected, as far as the code can tell: not chosen by the operator

    with pytest.raises(KeyringUnavailableError, match=r"not recommended \(priority 0.6\)"):
        make_store().store(TOKEN)
    assert backend.passwords == {}

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", f"{__name__}.NotRecommendedKeyring")
    stored = make_store().store(TOKEN)
    assert stored.where == (
        f"keyring (service {SERVICE}, backend {NotRecommendedKeyring.name}, selected in "
        "PYTHON_KEYRING_BACKEND)"
    )
    assert backend.passwords == {(SERVICE, "token"): TOKEN}


def test_a_chainer_uses_its_real_keyring_and_never_the_plaintext_one(
    make_store: Callable[..., CredentialStore], use_keyring: UseKeyring, tmp_path: Path
) -> None:
    plaintext = PlaintextKeyring()
    plaintext.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    real = MemoryKeyring()
    use_keyring(PlaintextInChainer(real, plaintext))

    stored = make_store().store(TOKEN)

    assert stored.where == f"keyring (service {SERVICE}, backend {MemoryKeyring.name})"
    assert real.passwords == {(SERVICE, "token"): TOKEN}
    assert plaintext.get_password(SERVICE, "token") is None

    use_keyring(PlaintextInChainer(plaintext))
    with pytest.raises(KeyringUnavailableError, match="plain text"):
        make_store().store(TOKEN)


def test_a_token_left_in_a_plaintext_backend_is_not_used_and_is_cleaned_up(
    make_store: Callable[..., CredentialStore], plaintext_keyring: PlaintextKeyring
) -> None:
    plaintext_keyring.set_password(SERVICE, "token", TOKEN)  # as an earlier version stored it
    store = make_store()

    with pytest.raises(CredentialsError) as caught:
        store.find()
    message = str(caught.value)
    assert "plain-text keyring" in message and "command-center logout --profile prod" in message
    assert TOKEN not in message
    assert "plain-text copy" in store.describe() and "not used" in store.describe()

    assert store.remove() == [
        f"the plain-text keyring {PlaintextKeyring.name} ({_shown(plaintext_keyring)})"
    ]
    assert plaintext_keyring.get_password(SERVICE, "token") is None
    assert store.find() is None


def test_storing_elsewhere_deletes_a_plaintext_copy(
    make_store: Callable[..., CredentialStore], use_keyring: UseKeyring, tmp_path: Path
) -> None:
    plaintext = PlaintextKeyring()
    plaintext.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    plaintext.set_password(SERVICE, "token", OTHER)
    use_keyring(PlaintextInChainer(MemoryKeyring(), plaintext))

    make_store().store(TOKEN)

    assert plaintext.get_password(SERVICE, "token") is None

    plaintext.set_password(SERVICE, "token", OTHER)
    use_keyring(plaintext)
    found = make_store().store(TOKEN, insecure_storage=True)
    assert found.source is TokenSource.FILE
    assert plaintext.get_password(SERVICE, "token") is None


def _shown(backend: PlaintextKeyring) -> str:
    path = Path(backend.file_path)
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def test_a_backend_that_drops_the_token_fails_the_read_back(
    make_store: Callable[..., CredentialStore], use_keyring: UseKeyring
) -> None:
    use_keyring(DroppingKeyring())

    with pytest.raises(KeyringUnavailableError, match="read back") as caught:
        make_store().store(TOKEN)

    assert TOKEN not in str(caught.value)


def test_a_backend_error_that_echoes_the_token_is_redacted(
    make_store: Callable[..., CredentialStore], use_keyring: UseKeyring
) -> None:
    use_keyring(EchoingKeyring())

    with pytest.raises(KeyringUnavailableError, match="PasswordSetError") as caught:
        make_store().store(TOKEN)

    assert TOKEN not in str(caught.value)
    assert "[token]" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_failing_keyring_is_skipped_on_find_and_noted_by_describe(
    make_store: Callable[..., CredentialStore], use_keyring: UseKeyring
) -> None:
    store = make_store()
    store.store(TOKEN, insecure_storage=True)
    use_keyring(LockedKeyring())

    found = store.find()

    assert found is not None and found.source is TokenSource.FILE
    assert store.describe() == (
        f"file {store.token_path} (0600); "
        "keyring failed (KeyringLocked: Failed to unlock the collection!)"
    )
    with pytest.raises(KeyringUnavailableError, match="KeyringLocked"):
        store.store(TOKEN)


def test_keyring_status_reports_the_backend(
    memory_keyring: MemoryKeyring, use_keyring: UseKeyring
) -> None:
    assert keyring_status(TIMEOUT) == (True, MemoryKeyring.name)

    use_keyring(fail.Keyring())
    assert keyring_status(TIMEOUT) == (False, "no keyring backend is available")


# -- hanging keyring ------------------------------------------------------------------------------


def test_a_hanging_keyring_is_skipped_on_find_within_the_timeout(
    make_store: Callable[..., CredentialStore], hanging_keyring: HangingKeyring
) -> None:
    store = make_store()
    write_token_file(store.token_path, TOKEN)

    started = time.monotonic()
    found = store.find()
    elapsed = time.monotonic() - started

    assert found is not None and found.source is TokenSource.FILE
    assert elapsed < BOUND
    assert store.describe() == f"file {store.token_path} (0600); keyring timed out after 0.3 s"


def test_describe_says_when_the_keyring_timed_out(
    make_store: Callable[..., CredentialStore], hanging_keyring: HangingKeyring
) -> None:
    started = time.monotonic()
    assert make_store().describe() == "keyring timed out after 0.3 s"
    assert time.monotonic() - started < BOUND


def test_while_a_call_hangs_other_stores_do_not_wait_again(
    make_store: Callable[..., CredentialStore], hanging_keyring: HangingKeyring
) -> None:
    assert make_store("prod").find() is None  # waits for the timeout once

    started = time.monotonic()
    assert make_store("staging").describe() == "keyring timed out after 0.3 s"
    with pytest.raises(KeyringUnavailableError, match="did not answer"):
        make_store("staging").store(TOKEN)
    assert time.monotonic() - started < TIMEOUT  # no second wait, no new stuck threads


def test_keyring_is_tried_again_once_the_hung_call_returns(
    make_store: Callable[..., CredentialStore], hanging_keyring: HangingKeyring
) -> None:
    store = make_store()
    assert store.describe() == "keyring timed out after 0.3 s"
    hanging_keyring.release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("command-center-keyring"):
            thread.join(timeout=5)

    assert store.describe() == "none"  # the (now answering) backend was asked again


def test_a_hanging_keyring_makes_store_refuse_within_the_timeout(
    make_store: Callable[..., CredentialStore], hanging_keyring: HangingKeyring, token_dir: Path
) -> None:
    store = make_store()

    started = time.monotonic()
    with pytest.raises(KeyringUnavailableError) as caught:
        store.store(TOKEN)
    elapsed = time.monotonic() - started

    assert elapsed < BOUND
    assert "did not answer within 0.3 s" in str(caught.value)
    assert "--insecure-storage" in str(caught.value)
    assert not token_dir.exists()


def test_a_hanging_keyring_does_not_block_file_storage_or_removal(
    make_store: Callable[..., CredentialStore], hanging_keyring: HangingKeyring
) -> None:
    store = make_store()

    started = time.monotonic()
    stored = store.store(TOKEN, insecure_storage=True)
    found = store.find()
    removed = store.remove()
    elapsed = time.monotonic() - started

    assert stored.source is TokenSource.FILE
    assert found == stored
    assert removed == [f"file {store.token_path}"]
    assert elapsed < BOUND


def test_backend_detection_is_bounded_too(use_keyring: UseKeyring) -> None:
    release = threading.Event()
    use_keyring(SlowDetectingChainer(release))
    try:
        started = time.monotonic()
        usable, reason = keyring_status(TIMEOUT)
        assert time.monotonic() - started < BOUND
    finally:
        release.set()

    assert not usable
    assert reason == "detecting the keyring backend did not finish within 0.3 s"


def test_a_hung_keyring_call_does_not_block_interpreter_exit(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import threading
        from pathlib import Path
        import keyring
        from keyring.backend import KeyringBackend
        from console.credentials import CredentialStore

        class Hanging(KeyringBackend):
            priority = 1
            def get_password(self, service, username):
                threading.Event().wait()
            def set_password(self, service, username, password):
                threading.Event().wait()

        keyring.set_keyring(Hanging())
        store = CredentialStore("prod", token_dir=Path(TOKEN_DIR), keyring_timeout=0.2, environ={})
        print(store.find())
        """
    ).replace("TOKEN_DIR", repr(str(tmp_path)))
    root = Path(__file__).resolve().parents[2]

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


# -- describe -------------------------------------------------------------------------------------


def test_describe_names_the_environment_variable(
    make_store: Callable[..., CredentialStore], memory_keyring: MemoryKeyring
) -> None:
    store = make_store(environ={ENV_VAR: TOKEN})
    store.store(OTHER)

    assert store.describe() == "environment (COMMAND_CENTER_TOKEN)"


def test_remove_does_not_claim_to_remove_the_environment_variable(
    make_store: Callable[..., CredentialStore], memory_keyring: MemoryKeyring
) -> None:
    store = make_store(environ={ENV_VAR: TOKEN})

    assert store.remove() == []
    assert store.describe() == "environment (COMMAND_CENTER_TOKEN)"


def test_describe_shortens_the_home_directory(home: Path, memory_keyring: MemoryKeyring) -> None:
    token_dir = home / ".config" / "command-center-tui" / "tokens"
    store = CredentialStore("prod", token_dir=token_dir, keyring_timeout=TIMEOUT, environ={})
    store.store(TOKEN, insecure_storage=True)

    assert store.describe() == "file ~/.config/command-center-tui/tokens/prod.token (0600)"
    found = store.find()
    assert found is not None and found.where == str(token_dir / "prod.token")  # full path


# -- token validation and leaks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["", "   ", "\n", "pat_a b", "pat_a\tb", "pat_a\nb", "pat_\x00x", "pat_\x1bx", "pat_\u200bx"],
    ids=repr,
)
def test_blank_or_whitespace_or_control_tokens_are_rejected(
    make_store: Callable[..., CredentialStore], memory_keyring: MemoryKeyring, token: str
) -> None:
    store = make_store()
    for insecure in (False, True):
        with pytest.raises(CredentialsError) as caught:
            store.store(token, insecure_storage=insecure)
        if token.strip():
            assert token.strip() not in str(caught.value)
    assert not store.token_path.exists()
    assert keyring.get_password(SERVICE, "token") is None


def test_an_environment_token_with_inner_whitespace_is_reported(
    make_store: Callable[..., CredentialStore],
) -> None:
    store = make_store(environ={ENV_VAR: "pat_LEAK me"})

    with pytest.raises(CredentialsError, match=ENV_VAR) as caught:
        store.find()

    assert "LEAK" not in str(caught.value)


def test_the_token_never_reaches_logs_reprs_or_messages(
    make_store: Callable[..., CredentialStore],
    use_keyring: UseKeyring,
    memory_keyring: MemoryKeyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    store = make_store()

    def record(value: object) -> None:
        texts.extend([repr(value), str(value)])

    record(store.store(TOKEN))
    record(store.find())
    record(store.describe())
    record(store.store(TOKEN, insecure_storage=True))
    record(store.find())
    record(store.describe())
    os.chmod(store.token_path, 0o644)
    with pytest.raises(InsecureTokenFileError) as insecure:
        store.find()
    record(insecure.value)
    record(store.describe())
    record(store.remove())
    record(make_store(environ={ENV_VAR: TOKEN}).find())
    record(make_store().find(stdin_token=TOKEN))
    for backend in (fail.Keyring(), null.Keyring(), DroppingKeyring(), EchoingKeyring()):
        use_keyring(backend)
        with pytest.raises(KeyringUnavailableError) as unavailable:
            store.store(TOKEN)
        record(unavailable.value)
    use_keyring(LockedKeyring())
    record(store.store(TOKEN, insecure_storage=True))
    record(store.describe())

    assert texts
    for text in texts:
        assert TOKEN not in text
    assert TOKEN not in caplog.text


_TOKEN_CHARS = st.characters(
    exclude_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp"),
).filter(lambda ch: not ch.isspace())


@settings(max_examples=40, deadline=None)
@given(token=st.text(_TOKEN_CHARS, min_size=1, max_size=80))
def test_any_valid_token_round_trips_through_keyring_and_file(token: str) -> None:
    # Hypothesis runs many examples per test, so no function-scoped tmp_path fixture here.
    previous = keyring.core._keyring_backend
    with tempfile.TemporaryDirectory() as tmp:
        keyring.set_keyring(MemoryKeyring())
        try:
            store = CredentialStore(
                "prod", token_dir=Path(tmp, "tokens"), keyring_timeout=5.0, environ={}
            )
            assert store.store(token).token == token
            found = store.find()
            assert found is not None and found.token == token

            assert store.store(token, insecure_storage=True).token == token
            found = store.find()
            assert found is not None and (found.token, found.source) == (token, TokenSource.FILE)
        finally:
            keyring.core._keyring_backend = previous
