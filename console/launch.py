"""Build the client, services and app from settings and a token, and run the console."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from client import AsyncCommandCenterClient

from .app import CommandCenterApp
from .audit import AuditLog
from .outbox import Outbox
from .services import ConsoleServices
from .settings import ConsoleSettings


def build_app(
    settings: ConsoleSettings,
    token: str,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    outbox: Outbox | None = None,
    audit: AuditLog | None = None,
) -> CommandCenterApp:
    client = AsyncCommandCenterClient(
        settings.base_url,
        token,
        settings.tenant,
        settings.project,
        timeout=settings.request_timeout,
        http_client=http_client,
    )
    services = ConsoleServices(
        settings,
        client,
        outbox=outbox or Outbox.default(),
        audit=audit or AuditLog.default(),
        clock=clock,
    )
    return CommandCenterApp(services)


def run_console(
    settings: ConsoleSettings,
    token: str,
    *,
    outbox: Outbox | None = None,
    audit: AuditLog | None = None,
) -> None:
    build_app(settings, token, outbox=outbox, audit=audit).run()
