"""UI choices kept across restarts: a user-only file that never stops the console."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from console.ui_state import UiState


def test_a_missing_file_is_the_defaults_without_a_problem(tmp_path: Path) -> None:
    state = UiState.load(tmp_path / "ui.json")
    assert state.preview("prod") is None and state.preview(None) is None
    assert state.problem is None
    assert not (tmp_path / "ui.json").exists()  # reading writes nothing


def test_choices_survive_a_restart_per_profile(tmp_path: Path) -> None:
    path = tmp_path / "ui.json"
    state = UiState.load(path)
    assert state.set_preview("prod", False) is None
    assert state.set_preview(None, True) is None
    assert state.preview("prod") is False  # at once, before any restart
    again = UiState.load(path)
    assert again.preview("prod") is False
    assert again.preview("default") is True  # no profile is "default"
    assert again.preview("staging") is None
    assert again.problem is None
    assert again.set_preview("prod", True) is None
    assert UiState.load(path).preview("prod") is True


def test_the_file_is_user_only_in_a_user_only_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nested" / "ui.json"
    assert UiState.load(path).set_preview("prod", True) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["profiles"] == {"prod": {"preview": True}}
    assert [p.name for p in path.parent.iterdir()] == ["ui.json"]  # no temporary file left


def test_a_write_replaces_the_file_and_narrows_a_wide_mode(tmp_path: Path) -> None:
    path = tmp_path / "ui.json"
    path.write_text('{"profiles": {}}')
    os.chmod(path, 0o644)
    inode = path.stat().st_ino
    assert UiState.load(path).set_preview("prod", False) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != inode  # a new file put in place, not rewritten in place


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"profiles": 3}', b" " * (1024 * 1024 + 1)],
)
def test_a_damaged_file_gives_the_defaults_and_one_problem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ui.json"
    path.write_bytes(content)
    state = UiState.load(path)
    assert state.preview("prod") is None
    assert state.problem is not None and str(path) in state.problem
    assert "defaults" in state.problem
    # The next choice replaces the damaged file with a good one.
    assert state.set_preview("prod", True) is None
    fresh = UiState.load(path)
    assert fresh.problem is None and fresh.preview("prod") is True


def test_wrong_types_inside_the_file_count_as_never_chosen(tmp_path: Path) -> None:
    path = tmp_path / "ui.json"
    path.write_text(json.dumps({"profiles": {"prod": {"preview": "yes"}, "ci": 7}}))
    state = UiState.load(path)
    assert state.problem is None
    assert state.preview("prod") is None and state.preview("ci") is None


def test_an_unreadable_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "ui.json"
    path.mkdir()  # a directory where the file should be: reading fails even as root
    state = UiState.load(path)
    assert state.preview("prod") is None
    assert state.problem is not None and str(path) in state.problem


def test_an_unwritable_place_returns_the_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    path = blocker / "ui.json"
    state = UiState.load(path)
    assert state.problem is not None  # reading under a file fails as well, and is said
    problem = state.set_preview("prod", True)
    assert problem is not None and str(path) in problem and "could not be saved" in problem
    assert state.preview("prod") is True  # the choice still holds for this console
    assert blocker.read_text() == "a file"


def test_a_choice_keeps_another_consoles_choices(tmp_path: Path) -> None:
    path = tmp_path / "ui.json"
    prod, staging = UiState.load(path), UiState.load(path)
    assert prod.set_preview("prod", False) is None
    assert staging.set_preview("staging", True) is None  # read before prod's write
    again = UiState.load(path)
    assert (again.preview("prod"), again.preview("staging")) == (False, True)


def test_default_uses_the_state_directory(tmp_path: Path) -> None:
    environ = {"COMMAND_CENTER_STATE_DIR": str(tmp_path / "state")}
    state = UiState.default(environ)
    assert state.problem is None and state.set_preview("prod", True) is None
    assert UiState.load(tmp_path / "state" / "ui.json").preview("prod") is True
    blocker = tmp_path / "file"
    blocker.write_text("")
    broken = UiState.default({"COMMAND_CENTER_STATE_DIR": str(blocker)})
    assert broken.problem is not None and broken.set_preview("prod", True) is None
    assert broken.preview("prod") is True
