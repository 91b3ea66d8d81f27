"""Logging that can never leak a token.

The client logs each request at DEBUG with its headers already redacted; this filter is the second
line of defence for anything else (httpx, httpcore, an application's own records) that might carry
an ``Authorization`` value or a PAT in its message or arguments.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("command_center.client")

REDACTED = "[REDACTED]"
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})

_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s'\",;]+"),
    re.compile(r"\bpat_[A-Za-z0-9_\-]+"),
)


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers.items()}


def _redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"), secrets)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if str(k).lower() in SENSITIVE_HEADERS else _redact_value(v, secrets))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, secrets) for v in value)
    text = repr(value) if not isinstance(value, int | float | bool | type(None)) else None
    if text is not None and redact_text(text, secrets) != text:
        return redact_text(text, secrets)
    return value


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and arguments so no token or Authorization value survives."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def add_secret(self, secret: str) -> None:
        """Redact this exact value too, for tokens that do not look like ``pat_…``."""
        if secret and secret not in self.secrets:
            self.secrets = (*self.secrets, secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg, self.secrets)
        if isinstance(record.args, Mapping):
            record.args = _redact_value(record.args, self.secrets)
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a, self.secrets) for a in record.args)
        return True


# Loggers of the HTTP stack we sit on: a filter on a logger sees only records logged to it.
_HTTP_LOGGERS = (
    "command_center.client",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)

_installed = RedactingFilter()


def install_redaction(*handlers: logging.Handler, secret: str | None = None) -> RedactingFilter:
    """Attach the shared redacting filter to the HTTP loggers and to any handlers given.

    Attaching to a handler covers records from every logger that reaches it.
    """
    if secret:
        _installed.add_secret(secret)
    for name in _HTTP_LOGGERS:
        log = logging.getLogger(name)
        if _installed not in log.filters:
            log.addFilter(_installed)
    for handler in handlers:
        if _installed not in handler.filters:
            handler.addFilter(_installed)
    return _installed
