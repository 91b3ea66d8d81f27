"""What the console runs with: where to connect and how the inbox behaves.

One frozen object handed to the app; the CLI (and later the config file and profiles) build it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


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
    request_timeout: float = 10.0
    theme: str | None = None
    # Binding id → keys, e.g. {"inbox.approve": "A"}; binding ids in the help screen (?).
    keymap: dict[str, str] = field(default_factory=dict)
    cursor_blink: bool = True
    # A confirmed decision waits this long (held, `u` undoes it) before its first request.
    undo_seconds: float = 5.0

    @property
    def where(self) -> str:
        """Profile name or base URL, for the status line."""
        return self.profile or self.base_url
