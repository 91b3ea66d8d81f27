"""Build the client, services and app from settings and a token, and run the console.

Only light imports at the top: :func:`run_console` starts the first inbox request before Textual
and the screens are imported, so the two overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from client import Secret

from ._prefetch import Prefetch, polling_client
from .settings import ConsoleSettings

if TYPE_CHECKING:
    import httpx

    from client import CommandCenterClient

    from .app import CommandCenterApp
    from .audit import AuditLog
    from .draft_store import DraftStore
    from .outbox import Outbox
    from .ui_state import UiState


def build_app(
    settings: ConsoleSettings,
    token: str | Secret,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    outbox: Outbox | None = None,
    audit: AuditLog | None = None,
    prefetch: Prefetch | None = None,
    poll_client: CommandCenterClient | None = None,
    draft_store: DraftStore | None = None,
    ui_state: UiState | None = None,
) -> CommandCenterApp:
    """The app on ``settings``; ``http_client`` (async) replaces the network for every request
    – the poll reaches it through the same blocking client in a thread (LoopTransport)."""
    import httpx

    from client import AsyncCommandCenterClient

    from .app import CommandCenterApp
    from .audit import AuditLog
    from .decisions import Where
    from .draft_store import DraftStore, DraftStoreError
    from .outbox import Outbox, OutboxError
    from .services import ConsoleServices
    from .ui_state import UiState

    client = AsyncCommandCenterClient(
        settings.base_url,
        token,
        settings.tenant,
        settings.project,
        **settings.client_options(),
        http_client=http_client,
    )
    if poll_client is None:
        bridge = None
        if http_client is not None:
            from ._loop_transport import LoopTransport

            bridge = httpx.Client(transport=LoopTransport(http_client))
        poll_client = polling_client(settings, token, bridge)
    problem: str | None = None
    if outbox is None:
        try:
            outbox = Outbox.default()
        except OutboxError as exc:  # read-only or full state dir: the inbox can still be read
            problem = str(exc)
    drafts_problem: str | None = None
    if draft_store is None:
        try:
            draft_store = DraftStore.default(Where.of(settings))
        except DraftStoreError as exc:  # drafts then last as long as this console
            drafts_problem = str(exc)
    if ui_state is None:
        ui_state = UiState.default()
    services = ConsoleServices(
        settings,
        client,
        outbox=outbox,
        outbox_problem=problem,
        draft_store=draft_store,
        ui_state=ui_state,
        audit=audit or AuditLog.default(),
        clock=clock,
        prefetch=prefetch,
        poll_client=poll_client,
    )
    if drafts_problem is not None:
        services.start_notices.append(drafts_problem)
    if ui_state.problem is not None:
        services.start_notices.append(ui_state.problem)
    secret = Secret(token)
    return CommandCenterApp(services, secrets=lambda: (secret.reveal(),))


def run_console(
    settings: ConsoleSettings,
    token: str | Secret,
    *,
    outbox: Outbox | None = None,
    audit: AuditLog | None = None,
) -> None:
    from .crash import disable_core_dumps

    disable_core_dumps()  # a core file would hold the token in clear
    token = Secret(token)  # from here on every repr shows it masked
    # First, so the request overlaps the imports below; the console goes on with its client.
    poller = polling_client(settings, token)
    prefetch = Prefetch(poller)
    build_app(
        settings, token, outbox=outbox, audit=audit, prefetch=prefetch, poll_client=poller
    ).run()
