"""Profiles: layering of file, environment and flags; messages that name file, line and key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from console.cli import main
from console.config import (
    ConfigError,
    active_profile_name,
    config_path,
    load_profile,
    read_config,
    save_profile,
    to_console_settings,
)

FILE = """\
default_profile = "prod"

[profiles.prod]
base_url = "https://api.agentruntime.io"
tenant = "acme"
project = "proj_42"
stalled_after_minutes = 30

[profiles.prod.keymap]
"task.approve" = "A"

[profiles.staging]
base_url = "https://api-dev.agentruntime.io"
tenant = "acme-staging"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(FILE)
    return path


def test_layers_file_then_environment_then_flags(config_file: Path) -> None:
    config = read_config(config_file)
    plain = load_profile("prod", config, environ={})
    assert (plain.tenant, plain.project, plain.keymap) == ("acme", "proj_42", {"task.approve": "A"})
    env = {"COMMAND_CENTER_TENANT": "from-env", "COMMAND_CENTER_REFRESH_IDLE": "45"}
    layered = load_profile("prod", config, environ=env, flags={"tenant": "from-flag"})
    assert layered.tenant == "from-flag"
    assert layered.refresh_idle == 45.0
    assert layered.base_url == "https://api.agentruntime.io"
    settings = to_console_settings("prod", layered)
    assert settings.stalled_after == timedelta(minutes=30) and settings.profile == "prod"
    assert settings.keymap == {"task.approve": "A"}


def test_empty_environment_values_do_not_override(config_file: Path) -> None:
    profile = load_profile("prod", read_config(config_file), environ={"COMMAND_CENTER_TENANT": ""})
    assert profile.tenant == "acme"


def test_active_profile_choice(config_file: Path, tmp_path: Path) -> None:
    config = read_config(config_file)
    assert active_profile_name(None, config, environ={}) == "prod"
    assert active_profile_name(None, config, environ={"COMMAND_CENTER_PROFILE": "staging"}) == (
        "staging"
    )
    assert active_profile_name("x", config, environ={"COMMAND_CENTER_PROFILE": "staging"}) == "x"
    assert active_profile_name(None, read_config(tmp_path / "none.toml"), environ={}) == "default"


def test_config_path_override(tmp_path: Path) -> None:
    assert config_path({"COMMAND_CENTER_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"


def test_broken_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.prod]\nbase_url = "https://x"\ntenant = acme\n')
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_bad_value_and_unknown_key_name_file_line_and_key(config_file: Path) -> None:
    config_file.write_text(
        FILE.replace("stalled_after_minutes = 30", "stalled_after_minutes = -2\nrefesh_idle = 4")
    )
    with pytest.raises(ConfigError) as info:
        load_profile("prod", read_config(config_file), environ={})
    message = str(info.value)
    assert f"{config_file}: line 7 [profiles.prod] stalled_after_minutes" in message
    assert "greater than 0" in message
    assert "line 8 [profiles.prod] refesh_idle: unknown setting" in message


def test_after_decision_is_next_or_inbox(config_file: Path) -> None:
    config = read_config(config_file)
    profile = load_profile("prod", config, environ={"COMMAND_CENTER_AFTER_DECISION": "Inbox"})
    assert to_console_settings("prod", profile).after_decision == "inbox"
    assert to_console_settings("prod", load_profile("prod", config, environ={})).after_decision == (
        "next"
    )
    with pytest.raises(ConfigError, match=r'AFTER_DECISION.*must be "next" or "inbox"'):
        load_profile("prod", config, environ={"COMMAND_CENTER_AFTER_DECISION": "later"})


def test_web_url_must_be_a_link_template_of_the_ids(config_file: Path) -> None:
    config = read_config(config_file)
    good = "https://console.example.com/runs/{run_id}"
    profile = load_profile("prod", config, environ={"COMMAND_CENTER_WEB_URL": good})
    assert to_console_settings("prod", profile).web_url == good
    with pytest.raises(ConfigError, match=r"COMMAND_CENTER_WEB_URL.*only"):
        load_profile("prod", config, environ={"COMMAND_CENTER_WEB_URL": "https://x/{token}"})


def test_bad_environment_value_names_the_variable(config_file: Path) -> None:
    with pytest.raises(ConfigError, match="COMMAND_CENTER_REFRESH_ACTIVE"):
        load_profile(
            "prod", read_config(config_file), environ={"COMMAND_CENTER_REFRESH_ACTIVE": "x"}
        )


def test_missing_profile_and_missing_connection_say_what_to_do(config_file: Path) -> None:
    config = read_config(config_file)
    with pytest.raises(ConfigError, match="command-center login --profile nope"):
        load_profile("nope", config, environ={}, must_exist=True)
    with pytest.raises(ConfigError, match="COMMAND_CENTER_BASE_URL"):
        to_console_settings("empty", load_profile("empty", config, environ={}))


def test_save_profile_keeps_the_rest_of_the_file(config_file: Path) -> None:
    save_profile(config_file, "prod", base_url="https://new", tenant="acme2", project=None)
    save_profile(config_file, "ci", base_url="https://ci", tenant="t", project="p")
    config = read_config(config_file)
    assert config.default_profile == "prod"
    assert config.profiles["prod"] == {
        "base_url": "https://new",
        "tenant": "acme2",
        "stalled_after_minutes": 30,
        "keymap": {"task.approve": "A"},
    }
    assert config.profiles["ci"]["project"] == "p"
    assert config.profiles["staging"]["tenant"] == "acme-staging"
    with pytest.raises(ConfigError, match="not allowed"):
        save_profile(config_file, "../evil", base_url="https://x", tenant="t", project=None)


def test_cli_reports_a_broken_config_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[profiles.prod]\nrefresh_idle = 'often'\n")
    runner = CliRunner(env={"COMMAND_CENTER_CONFIG": str(path), "COMMAND_CENTER_PROFILE": "prod"})
    result = runner.invoke(main, ["profiles"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{path}: line 2 [profiles.prod] refresh_idle" in result.output
