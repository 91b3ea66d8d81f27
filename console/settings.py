"""What the console runs with: where to connect and how the inbox behaves.

One frozen object handed to the app; the CLI (and later the config file and profiles) build it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

# Each phase of a request (connect, a read, a write) waits at most this long.
PHASE_TIMEOUT = 10.0


@dataclass(frozen=True)
class ConsoleSettings:
    base_url: str
    tenant: str
    project: str | None = None
    profile: str | None = None
    # The platform console's own rhythm: every 3 s while tasks are pending, 30 s when empty.
    refresh_active: float = 3.0
    refresh_idle: float = 30.0
    stalled_after: timedelta = timedelta(hours=1)
    # The whole exchange – connect, headers and body together – must end within this (s).
    request_timeout: float = 30.0
    # Bounds on an answer, enforced while it is read: a gzip bomb stops at the limit.
    max_answer_mb: float = 256.0
    max_decompression_ratio: float = 100.0
    theme: str | None = None
    # Binding id → keys, e.g. {"inbox.approve": "A"}; binding ids in the help screen (?).
    keymap: dict[str, str] = field(default_factory=dict)
    cursor_blink: bool = True
    # A confirmed decision waits this long (held, `u` undoes it) before its first request.
    undo_seconds: float = 5.0
    # After a decision made on a task's own screen: "next" opens the next task of the inbox's
    # view (a queue is worked through with a y a y …), "inbox" goes back to the inbox.
    after_decision: str = "next"
    # A run's page in the platform's web console (w): {workflow_id}, {run_id}, {task_id}.
    web_url: str | None = None
    # How the console alerts when new tasks arrive: "bell", "desktop" (a notification) or "off".
    notify: str = "bell"
    # Named filters of the profile ([profiles.<name>.views]): view name → filter text, in the
    # order the file lists them.
    views: dict[str, str] = field(default_factory=dict)
    # The filter text the inbox starts with (--filter, or --view's text); None: unfiltered.
    start_filter: str | None = None
    # The view --view chose, by name (for the status line); None with --filter or no filter.
    start_view: str | None = None

    def client_options(self) -> dict[str, Any]:
        """What every client of the console and the CLI is built with, from these settings."""
        return {
            "timeout": min(PHASE_TIMEOUT, self.request_timeout),
            "deadline": self.request_timeout,
            "max_body_bytes": int(self.max_answer_mb * 1024 * 1024),
            "max_decompression_ratio": self.max_decompression_ratio,
        }

    @property
    def where(self) -> str:
        """Profile name or base URL, for the status line."""
        return self.profile or self.base_url
