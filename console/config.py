"""Profiles in a TOML file, layered under environment variables and flags (pydantic-settings).

Precedence, lowest first: defaults < the profile's table in the config file < ``COMMAND_CENTER_*``
environment variables < command-line flags. The active profile is ``--profile``, else
``COMMAND_CENTER_PROFILE``, else the file's ``default_profile``, else ``default``. Tokens are never
kept here (see ``credentials.py``). A broken file is reported by file, line and key.

    default_profile = "prod"

    [profiles.prod]
    base_url = "https://api.agentruntime.io"
    tenant = "acme"
    project = "proj_42"
    stalled_after_minutes = 60

    [profiles.prod.keymap]
    "task.approve" = "A"
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, get_origin

import tomli_w
from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .paths import config_dir
from .settings import ConsoleSettings

DEFAULT_PROFILE = "default"
ENV_PREFIX = "COMMAND_CENTER_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, line and key."""


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    override = env.get(f"{ENV_PREFIX}CONFIG", "").strip()
    if override:
        return Path(override).expanduser()
    return config_dir() / "config.toml"


class Profile(BaseSettings):
    """One profile's settings; every field can also come from ``COMMAND_CENTER_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", validate_default=True
    )

    base_url: str | None = None
    tenant: str | None = None
    project: str | None = None
    refresh_active: float = Field(3.0, gt=0, description="Poll interval (s) while tasks pend.")
    refresh_idle: float = Field(
        30.0, gt=0, description="Poll interval (s) when the inbox is empty."
    )
    stalled_after_minutes: float = Field(60.0, gt=0, description="Age that marks a task stalled.")
    request_timeout: float = Field(
        30.0, gt=0, description="Deadline (s) for a whole request: connect, headers and body."
    )
    max_answer_mb: float = Field(256.0, gt=0, description="Largest answer read, in MB.")
    max_decompression_ratio: float = Field(
        100.0, ge=1, description="Largest decompressed/compressed ratio of an answer."
    )
    undo_seconds: float = Field(
        5.0, ge=0, le=600, description="Undo window (s) before a decision is sent; 0 turns it off."
    )
    theme: str | None = None
    keymap: dict[str, str] = Field(default_factory=dict)
    allow_insecure_http: bool = False


@dataclass(frozen=True)
class ConfigFile:
    path: Path
    data: dict[str, Any]
    text: str

    @property
    def exists(self) -> bool:
        return bool(self.text)

    @property
    def default_profile(self) -> str | None:
        value = self.data.get("default_profile")
        return value if isinstance(value, str) else None

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        raw = self.data.get("profiles", {})
        return (
            {k: v for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}
        )

    def line_of(self, profile: str, key: str) -> int | None:
        """The line where ``key`` is set in ``[profiles.<profile>]``, for error messages."""
        section = False
        header = re.compile(r"^\s*\[\s*profiles\s*\.\s*\"?" + re.escape(profile) + r"\"?\s*[\].]")
        for number, line in enumerate(self.text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                section = bool(header.match(stripped))
                if section and stripped.rstrip("]").endswith(f".{key}"):
                    return number
                continue
            if section and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
                return number
        return None


def read_config(path: Path) -> ConfigFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ConfigFile(path, {}, "")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message already says "(at line N, column M)".
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    profiles = data.get("profiles")
    if profiles is not None and not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table of [profiles.<name>] sections")
    return ConfigFile(path, data, text)


def active_profile_name(
    flag: str | None, config: ConfigFile, environ: Mapping[str, str] | None = None
) -> str:
    env = os.environ if environ is None else environ
    name = flag or env.get(f"{ENV_PREFIX}PROFILE", "").strip() or config.default_profile
    return name or DEFAULT_PROFILE


def load_profile(
    name: str,
    config: ConfigFile,
    *,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    must_exist: bool = False,
) -> Profile:
    """The profile ``name`` with environment variables and ``flags`` (non-None values) on top."""
    if name not in config.profiles and must_exist:
        known = ", ".join(sorted(config.profiles)) or "none yet"
        raise ConfigError(
            f"No profile {name!r} in {config.path} (profiles: {known}). "
            f"Create it with: command-center login --profile {name}"
        )
    section = dict(config.profiles.get(name, {}))
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    env = dict(os.environ if environ is None else environ)

    class _Bound(Profile):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            file_source = _SectionSource(settings_cls, section)
            return (init_settings, _EnvSource(settings_cls, env), file_source)

    try:
        return _Bound(**given)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, name, config, given, env)) from None


class _SectionSource(InitSettingsSource):
    """One ``[profiles.<name>]`` table, already read (and line-mapped) by ``read_config``."""

    def __init__(self, settings_cls: type[BaseSettings], section: dict[str, Any]) -> None:
        super().__init__(settings_cls, section)


class _EnvSource(InitSettingsSource):
    """``COMMAND_CENTER_*`` from a given mapping, so tests and callers need not touch os.environ.

    Built on the public InitSettingsSource: one value per field, read as pydantic reads the
    environment – empty values ignored, dict fields (the keymap) as JSON.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls, _from_environ(settings_cls, environ))


def _from_environ(settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, info in settings_cls.model_fields.items():
        raw = environ.get(f"{ENV_PREFIX}{name.upper()}")
        if raw is None or raw == "":
            continue
        if get_origin(info.annotation) is dict:
            try:
                values[name] = json.loads(raw)
            except ValueError:
                values[name] = raw  # validation then names the variable and says why
        else:
            values[name] = raw
    return values


def _explain(
    exc: ValidationError,
    profile: str,
    config: ConfigFile,
    given: Mapping[str, Any],
    environ: Mapping[str, str],
) -> str:
    lines = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "?"
        env_name = f"{ENV_PREFIX}{key.upper()}"
        if key in given:
            where = f"--{key.replace('_', '-')}"
        elif environ.get(env_name):
            where = env_name
        else:
            line = config.line_of(profile, key)
            at = f" line {line}" if line else ""
            where = f"{config.path}:{at} [profiles.{profile}] {key}"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            known = ", ".join(Profile.model_fields)
            message = f"unknown setting (known: {known})"
        lines.append(f"{where}: {message}")
    return "Invalid configuration – " + "; ".join(lines)


def to_console_settings(
    name: str, profile: Profile, *, cursor_blink: bool = True
) -> ConsoleSettings:
    missing = [k for k in ("base_url", "tenant") if not getattr(profile, k)]
    if missing:
        flags = " and ".join(f"--{k.replace('_', '-')}" for k in missing)
        raise ConfigError(
            f"Profile {name!r} has no {' or '.join(missing)}. Give {flags}, set "
            + " and ".join(f"{ENV_PREFIX}{k.upper()}" for k in missing)
            + f", or run: command-center login --profile {name}. To try without a platform: "
            "command-center demo"
        )
    assert profile.base_url and profile.tenant
    return ConsoleSettings(
        base_url=profile.base_url,
        tenant=profile.tenant,
        project=profile.project,
        profile=name,
        refresh_active=profile.refresh_active,
        refresh_idle=profile.refresh_idle,
        stalled_after=timedelta(minutes=profile.stalled_after_minutes),
        request_timeout=profile.request_timeout,
        max_answer_mb=profile.max_answer_mb,
        max_decompression_ratio=profile.max_decompression_ratio,
        theme=profile.theme,
        keymap=dict(profile.keymap),
        cursor_blink=cursor_blink,
        undo_seconds=profile.undo_seconds,
    )


def save_profile(
    path: Path,
    name: str,
    *,
    base_url: str,
    tenant: str,
    project: str | None,
    make_default: bool = False,
) -> None:
    """Write the connection part of a profile, keeping everything else in the file as it was."""
    if not _NAME.match(name):
        raise ConfigError(
            f"Profile name {name!r} is not allowed: use letters, digits, '.', '_' or '-'."
        )
    config = read_config(path)
    data = dict(config.data)
    profiles = dict(data.get("profiles", {}))
    profile = dict(profiles.get(name, {}))
    profile.update({"base_url": base_url, "tenant": tenant})
    if project:
        profile["project"] = project
    else:
        profile.pop("project", None)
    profiles[name] = profile
    data["profiles"] = profiles
    if make_default or not data.get("default_profile"):
        data["default_profile"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            tomli_w.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
