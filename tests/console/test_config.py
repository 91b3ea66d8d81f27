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


def test_notify_is_bell_desktop_or_off_from_file_or_environment(config_file: Path) -> None:
    config = read_config(config_file)
    assert to_console_settings("prod", load_profile("prod", config, environ={})).notify == "bell"
    config_file.write_text(FILE.replace('tenant = "acme"\n', 'tenant = "acme"\nnotify = "off"\n'))
    config = read_config(config_file)
    assert to_console_settings("prod", load_profile("prod", config, environ={})).notify == "off"
    env = {"COMMAND_CENTER_NOTIFY": "Desktop"}
    assert load_profile("prod", config, environ=env).notify == "desktop"
    with pytest.raises(ConfigError, match=r'COMMAND_CENTER_NOTIFY: must be "bell" or "desktop"'):
        load_profile("prod", config, environ={"COMMAND_CENTER_NOTIFY": "loud"})
    config_file.write_text(FILE.replace('tenant = "acme"\n', 'tenant = "acme"\nnotify = true\n'))
    with pytest.raises(ConfigError) as info:
        load_profile("prod", read_config(config_file), environ={})
    assert (
        f'{config_file}: line 6 [profiles.prod] notify: must be "bell" or "desktop" or "off"'
        in (str(info.value))
    )


VIEWS = """
[profiles.prod.views]
stalled-crm = "workflow:crm stalled"
mine = "type:review !new"
"a.b_c" = "priority:high"
"""


def test_views_are_read_in_file_order_into_the_settings(config_file: Path) -> None:
    config_file.write_text(FILE + VIEWS)
    profile = load_profile("prod", read_config(config_file), environ={})
    settings = to_console_settings("prod", profile)
    assert list(settings.views.items()) == [
        ("stalled-crm", "workflow:crm stalled"),
        ("mine", "type:review !new"),
        ("a.b_c", "priority:high"),
    ]
    assert settings.start_filter is None and settings.start_view is None
    plain = to_console_settings("staging", load_profile("staging", read_config(config_file)))
    assert plain.views == {}


def test_views_as_an_inline_table_and_from_the_environment(config_file: Path) -> None:
    inline = FILE.replace(
        'project = "proj_42"\n', 'project = "proj_42"\nviews = { z = "b", a = "c" }\n'
    )
    config_file.write_text(inline)
    config = read_config(config_file)
    assert list(load_profile("prod", config, environ={}).views) == ["z", "a"]
    env = {"COMMAND_CENTER_VIEWS": '{"late": "stalled", "early": "new"}'}
    assert list(load_profile("prod", config, environ=env).views.items()) == [
        ("late", "stalled"),
        ("early", "new"),
    ]
    with pytest.raises(ConfigError, match="COMMAND_CENTER_VIEWS: must be a JSON object"):
        load_profile("prod", config, environ={"COMMAND_CENTER_VIEWS": "mine=new"})
    with pytest.raises(ConfigError, match=r"COMMAND_CENTER_VIEWS: view 'x' must not hold control"):
        load_profile("prod", config, environ={"COMMAND_CENTER_VIEWS": '{"x": "a\\u001b[2J"}'})


def test_each_bad_view_is_named_by_file_line_and_key(config_file: Path) -> None:
    bad = """
[profiles.prod.views]
fine = "new"
"bad name" = "new"
empty = "  "
control = "stalled\\u001b]52;c;aGk=\\u0007"
number = 5
long = "%s"
"-dash" = "new"
""" % ("x" * 501)
    config_file.write_text(FILE + bad)
    with pytest.raises(ConfigError) as info:
        load_profile("prod", read_config(config_file), environ={})
    message = str(info.value)
    first = FILE.count("\n") + 2  # the line of [profiles.prod.views]
    where = f"{config_file}: line {{}} [profiles.prod.views]"
    assert f"{where.format(first + 2)} 'bad name': is not allowed as a view name" in message
    assert f"{where.format(first + 3)} empty: must not be empty" in message
    assert f"{where.format(first + 4)} control: must not hold control characters (U+001B" in (
        message
    )
    assert "\x1b" not in message and "\x07" not in message
    assert f"{where.format(first + 5)} number: must be filter text" in message
    assert f"{where.format(first + 6)} long: must be at most 500 characters, not 501" in message
    assert f"{where.format(first + 7)} '-dash': is not allowed" in message
    assert "fine" not in message


def test_views_must_be_a_table(config_file: Path) -> None:
    config_file.write_text(
        FILE.replace('project = "proj_42"\n', 'project = "proj_42"\nviews = "mine"\n')
    )
    with pytest.raises(ConfigError) as info:
        load_profile("prod", read_config(config_file), environ={})
    assert (
        f"{config_file}: line 7 [profiles.prod] views: must be a table of view names to filter "
        "text" in str(info.value)
    )


def test_a_500_character_view_is_allowed(config_file: Path) -> None:
    config_file.write_text(FILE + f'\n[profiles.prod.views]\nwide = "{"y" * 500}"\n')
    assert load_profile("prod", read_config(config_file), environ={}).views["wide"] == "y" * 500
