"""Profiles in a TOML file, layered under environment variables and flags.

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

    [profiles.prod.views]                 # named filters: command-center --view stalled-crm
    stalled-crm = "workflow:crm stalled"
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from .clipboard import web_url_problem
from .paths import config_dir
from .settings import ConsoleSettings

DEFAULT_PROFILE = "default"
ENV_PREFIX = "COMMAND_CENTER_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FILTER_MAX = 500  # characters of a view's (or --filter's) filter text


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, line and key."""


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    override = env.get(f"{ENV_PREFIX}CONFIG", "").strip()
    if override:
        return Path(override).expanduser()
    return config_dir() / "config.toml"


@dataclass(frozen=True)
class Profile:
    """One profile's settings; every field can also come from ``COMMAND_CENTER_<FIELD>``."""

    base_url: str | None = None
    tenant: str | None = None
    project: str | None = None
    refresh_active: float = 3.0  # poll interval (s) while tasks pend
    refresh_idle: float = 30.0  # poll interval (s) when the inbox is empty
    stalled_after_minutes: float = 60.0  # age that marks a task stalled
    request_timeout: float = 30.0  # deadline (s) for a whole request: connect, headers, body
    max_answer_mb: float = 256.0  # largest answer read, in MB
    max_decompression_ratio: float = 100.0  # largest decompressed/compressed ratio of an answer
    undo_seconds: float = 5.0  # undo window (s) before a decision is sent; 0 turns it off
    after_decision: str = "next"  # from a task's screen: "next" opens the next task, "inbox"
    web_url: str | None = None  # a run's page: a template of {workflow_id}, {run_id}, {task_id}
    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    allow_insecure_http: bool = False
    notify: str = "bell"  # how new tasks are announced: "bell", "desktop" or "off"
    views: dict[str, str] = field(default_factory=dict)  # view name → filter text, file order


class _Invalid(ValueError):
    """One value a profile cannot take; the message says what it must be.

    ``entries`` (name, problem) are the bad entries of a table, each reported where it is set.
    """

    def __init__(self, message: str, entries: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.entries = entries or []


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        raise _Invalid("must be text")
    return value


def _number(low: float, high: float = math.inf, *, low_ok: bool = False) -> Callable[[Any], float]:
    def read(value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise _Invalid(f"must be a number, not {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise _Invalid("must be a number")
        if value < low or (value == low and not low_ok):
            raise _Invalid(f"must be {'at least' if low_ok else 'greater than'} {low:g}")
        if value > high:
            raise _Invalid(f"must be at most {high:g}")
        return float(value)

    return read


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(value: Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if not isinstance(value, bool):
        raise _Invalid("must be true or false")
    return value


def _choice(*choices: str) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise _Invalid("must be " + " or ".join(f'"{c}"' for c in choices))
        return value.strip().lower()

    return read


def _web_url(value: Any) -> str:
    text = _text(value)
    assert text is not None
    problem = web_url_problem(text)
    if problem is not None:
        raise _Invalid(problem)
    return text


def _keymap(value: Any) -> dict[str, str]:
    if isinstance(value, str):  # from the environment: a JSON object
        try:
            value = json.loads(value)
        except ValueError:
            raise _Invalid('must be a JSON object such as {"task.approve": "A"}') from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _Invalid("must be a table of binding ids to keys (text to text)")
    return dict(value)


def filter_text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a filter (a view's or ``--filter``'s), or None.

    Only the shape is judged here – one line of visible text, not too long; the filter language
    itself is parsed by the inbox.
    """
    if not text.strip():
        return "must not be empty"
    if len(text) > FILTER_MAX:
        return f"must be at most {FILTER_MAX} characters, not {len(text)}"
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            return f"must not hold control characters (U+{ord(char):04X} at character {position})"
    return None


def _views(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Invalid("must be a table of view names to filter text")
    views: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for name, text in value.items():
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(
                (
                    str(name),
                    "is not allowed as a view name: use up to 64 letters, digits, '.', '_' or "
                    "'-', starting with a letter or digit",
                )
            )
        elif not isinstance(text, str):
            problems.append((name, "must be filter text"))
        elif (problem := filter_text_problem(text)) is not None:
            problems.append((name, problem))
        else:
            views[name] = text
    if problems:
        raise _Invalid("; ".join(f"view {n!r} {p}" for n, p in problems), problems)
    return views


# How each setting is read from a file, a variable or a flag, and what it must be.
_READERS: dict[str, Callable[[Any], Any]] = {
    "base_url": _text,
    "tenant": _text,
    "project": _text,
    "refresh_active": _number(0),
    "refresh_idle": _number(0),
    "stalled_after_minutes": _number(0),
    "request_timeout": _number(0),
    "max_answer_mb": _number(0),
    "max_decompression_ratio": _number(1, low_ok=True),
    "undo_seconds": _number(0, 600, low_ok=True),
    "after_decision": _choice("next", "inbox"),
    "web_url": _web_url,
    "theme": _text,
    "keymap": _keymap,
    "allow_insecure_http": _flag,
    "notify": _choice("bell", "desktop", "off"),
    "views": _views,
}
assert set(_READERS) == {f.name for f in fields(Profile)}

# Tables whose environment variable holds a JSON object (an example of one for the message);
# decoded before the reader, so text in the file is never taken for JSON.
_JSON_IN_ENV = {"views": '{"mine": "type:review !new"}'}


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

    def line_of_entry(self, profile: str, table: str, entry: str) -> int | None:
        """The line where ``entry`` is set in ``[profiles.<profile>.<table>]``, if written so."""
        quoted = r"\"?" + re.escape(profile) + r"\"?"
        header = re.compile(
            r"^\s*\[\s*profiles\s*\.\s*" + quoted + r"\s*\.\s*" + re.escape(table) + r"\s*\]"
        )
        key = re.compile(r"^\s*([\"']?)" + re.escape(entry) + r"\1\s*=")
        section = False
        for number, line in enumerate(self.text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                section = bool(header.match(stripped))
            elif section and key.match(line):
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
    section = config.profiles.get(name, {})
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if environ is None else environ
    problems: list[str] = []
    # Lowest first, a later layer winning; only the value that wins is judged. Empty
    # variables count as unset.
    chosen: dict[str, tuple[Any, str]] = {}
    for key, raw in section.items():
        if key in _READERS:
            chosen[key] = (raw, _in_file(config, name, key))
        else:
            known = ", ".join(_READERS)
            problems.append(f"{_in_file(config, name, key)}: unknown setting (known: {known})")
    for key in _READERS:
        raw = env.get(_env_name(key))
        if raw:
            chosen[key] = (raw, _env_name(key))
    for key, raw in given.items():
        chosen[key] = (raw, f"--{key.replace('_', '-')}")
    values: dict[str, Any] = {}
    for key, (raw, where) in chosen.items():
        if key in _JSON_IN_ENV and where == _env_name(key):
            try:
                raw = json.loads(raw)
            except ValueError:
                problems.append(f"{where}: must be a JSON object such as {_JSON_IN_ENV[key]}")
                continue
        try:
            values[key] = _READERS[key](raw)
        except _Invalid as exc:
            if exc.entries and where == _in_file(config, name, key):
                # A table's entries in the file: each bad one where it is set.
                problems.extend(
                    f"{_entry_in_file(config, name, key, entry)}: {problem}"
                    for entry, problem in exc.entries
                )
            else:
                problems.append(f"{where}: {exc}")
    if problems:
        raise ConfigError("Invalid configuration – " + "; ".join(problems))
    return Profile(**values)


def _env_name(key: str) -> str:
    return f"{ENV_PREFIX}{key.upper()}"


def _in_file(config: ConfigFile, profile: str, key: str) -> str:
    line = config.line_of(profile, key)
    at = f" line {line}" if line else ""
    return f"{config.path}:{at} [profiles.{profile}] {key}"


def _entry_in_file(config: ConfigFile, profile: str, table: str, entry: str) -> str:
    line = config.line_of_entry(profile, table, entry) or config.line_of(profile, table)
    at = f" line {line}" if line else ""
    shown = entry if _NAME.match(entry) else repr(entry)  # a bad name may hold anything
    return f"{config.path}:{at} [profiles.{profile}.{table}] {shown}"


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
        after_decision=profile.after_decision,
        web_url=profile.web_url,
        notify=profile.notify,
        views=dict(profile.views),
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
    import tomli_w

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
