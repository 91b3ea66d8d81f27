"""The inbox's link to the platform: live, retrying or offline, why, and since when.

Kept apart from the services because the status line, the details screen (L) and the refresh
flow all read it, and none of it needs the network: it is told what happened and says so.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .error_text import describe_error, short_reason
from .safe_text import clean


class Link(enum.Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    RETRYING = "retrying"
    OFFLINE = "offline"


# After this many failed refreshes in a row the status line says "offline since".
OFFLINE_AFTER_FAILURES = 3

# Live data older than twice the poll interval plus this is called stale.
STALE_GRACE = 5.0

# A Retry-After longer than this is not waited out (a misbehaving server could say a year).
MAX_RETRY_AFTER = 600.0


def retry_backoff(failures: int) -> float:
    """Poll delay after ``failures`` failed refreshes in a row: 3, 6, 12, 24, then 30 s."""
    return float(min(30, 3 * 2 ** (failures - 1)))


@dataclass
class ConnectionState:
    """The inbox's link to the platform, as the status line tells it (words, not colours)."""

    link: Link = Link.CONNECTING
    last_ok: datetime | None = None
    failing_since: datetime | None = None
    failures: int = 0
    next_retry_at: datetime | None = None
    last_error: str | None = None  # the whole sentence, for the details screen (L)
    reason: str | None = None  # the few words the status line shows
    failed_at: datetime | None = None
    # The answer of the last failed refresh, for the details screen (status, type, snippet).
    evidence: dict[str, str] = field(default_factory=dict)
    ok_at: float = 0.0  # time.monotonic() of the last good refresh: how old the data really is

    def ok(self, now: datetime) -> None:
        self.link = Link.LIVE
        self.last_ok = now
        self.ok_at = time.monotonic()
        self.failing_since = None
        self.failures = 0
        self.next_retry_at = None
        self.last_error = None
        self.reason = None

    def failed(self, now: datetime, exc: BaseException, retry_in: float) -> None:
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = now
        self.link = Link.OFFLINE if self.failures >= OFFLINE_AFTER_FAILURES else Link.RETRYING
        self.next_retry_at = datetime.fromtimestamp(now.timestamp() + retry_in, UTC)
        self.last_error = describe_error(exc, doing="refreshing the inbox")
        self.reason = short_reason(exc)
        self.failed_at = now
        self.evidence = evidence_of(exc)

    def describe(self, now: datetime, *, stale_after: float | None = None) -> str:
        """The link in words; ``stale_after``: seconds of silence that make live data stale."""
        if self.link is Link.CONNECTING:
            return "◌ connecting…"
        if self.link is Link.LIVE:
            age = time.monotonic() - self.ok_at
            if stale_after is not None and self.last_ok is not None and age > stale_after:
                since = _clock(self.last_ok)
                return f"◌ stale since {since} – the platform is answering too slowly"
            return "● live"
        wait = ""
        if self.next_retry_at is not None:
            seconds = max(0, round((self.next_retry_at - now).total_seconds()))
            wait = f"retrying in {seconds}s" if seconds else "retrying now"
        reason = self.reason or "failed"
        if self.link is Link.RETRYING:
            return f"◌ {reason}, {wait} · L details"
        since = _clock(self.failing_since) if self.failing_since else "?"
        return f"✕ {reason} · offline since {since} · {wait} · L details"


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S")


def evidence_of(exc: BaseException) -> dict[str, str]:
    """What the failed answer looked like (never its headers: they may echo the token)."""
    response = getattr(exc, "response", None)
    request = getattr(exc, "request", None) or getattr(response, "request", None)
    found: dict[str, str] = {"error": type(exc).__name__}
    if request is not None:
        found["request"] = f"{request.method} {request.url.path}"
    if response is not None:
        found["status"] = str(response.status_code)
        found["content type"] = response.headers.get("content-type", "(none)")
        try:
            text = response.text
        except Exception:  # a streamed body that was never read
            text = ""
        found["body"] = clean(text[:300], max_len=300, multiline=False) or "(empty)"
    return found
