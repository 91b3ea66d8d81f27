"""When to retry and how long to wait: exponential backoff with jitter, ``Retry-After`` honoured.

Kept free of I/O so that the sync and the async client share it and tests can drive it exactly.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

# 408 and 429 say "try again"; 5xx is the server's failure. Every other 4xx is final.
RETRYABLE_STATUSES = frozenset({408, 429})


def is_retryable_status(status_code: int) -> bool:
    return status_code in RETRYABLE_STATUSES or status_code >= 500


def is_ambiguous_status(status_code: int) -> bool:
    """Whether a failed attempt may nonetheless have been applied by the server."""
    return status_code == 408 or status_code >= 500


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``Retry-After``.

    ``Retry-After`` may be delta-seconds or an HTTP date; anything unparseable counts as absent.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - now(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff: ``initial_delay * 2**attempt``, capped at ``max_delay``, minus up to ``jitter``.

    A ``Retry-After`` up to ``max_retry_after`` seconds (10 minutes) replaces the computed delay;
    a longer one (``Retry-After: 1000000000``) is never waited for: the call fails at once with
    the server's answer (:class:`~client.errors.RateLimitError` keeps the hint) so the caller can
    decide. Waits longer than a few seconds are announced through the client's ``on_wait``.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 600.0
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt + 1`` when the server gave no hint."""
        base = min(self.initial_delay * (2.0**attempt), self.max_delay)
        return base * (1.0 - self.jitter * self.rng())

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when we should not retry."""
        if attempt >= self.max_retries:
            return None
        if response is not None:
            if not is_retryable_status(response.status_code):
                return None
            hinted = parse_retry_after(response.headers)
            if hinted is not None:
                # NaN and infinity compare false: never waited for either.
                return hinted if 0.0 <= hinted <= self.max_retry_after else None
        return self.backoff(attempt)
