"""What keeps ``command-center serve`` to its operator: a secret, Host and Origin checks, and
children that end with it.

textual-serve hands a console with the operator's token to whoever reaches its WebSocket, so
any web page (or DNS rebinding, or another local user) could drive it. :class:`GuardedServer`
is textual-serve's ``Server`` with one middleware added to the aiohttp application it builds
(``Server._make_app``): every request needs this launch's secret (``?token=`` in the printed
URL, then an HttpOnly SameSite=Strict cookie), a Host naming the served address, and – on the
WebSocket – the served Origin. Each tab's console runs in its own process group, and every
group is ended when ``serve`` ends.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import secrets
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from textual_serve.server import Server

TOKEN_PARAM = "token"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NOT_IN_HOST = set("/\\@?#%") | {" ", "\t"}

Origin = tuple[str, str, int]  # scheme, lower-case host name (no brackets), port


def new_secret() -> str:
    """A fresh secret for one launch: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def base_url(host: str, port: int) -> str:
    """``http://host:port`` for the bound address (IPv6 in brackets, as browsers write it)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse_origin(url: str) -> Origin:
    """The origin of an http(s) URL; ValueError for anything else (credentials, no host…)."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"not an http(s)://host[:port] URL: {url!r}")
    return parts.scheme, parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme]


def parse_host(header: str) -> tuple[str, int | None] | None:
    """A Host header as (host name, port or None), or None when it is malformed."""
    if not header or _NOT_IN_HOST & set(header):
        return None
    try:
        parts = urlsplit("//" + header)
        return (parts.hostname, parts.port) if parts.hostname else None
    except ValueError:  # a bad port
        return None


def token_matches(candidate: str | None, secret: str) -> bool:
    """Constant-time comparison, so timing tells nothing about the secret."""
    return candidate is not None and hmac.compare_digest(candidate.encode(), secret.encode())


@dataclass(frozen=True)
class Guard:
    """The secret and the addresses a request must name."""

    secret: str
    origins: frozenset[Origin]
    cookie_name: str
    secure_cookie: bool

    @classmethod
    def for_urls(cls, secret: str, port: int, bound: str, public: str) -> Guard:
        """Accept the bound URL's origin and the public one (a ``--public-url``, or the same).

        The cookie's name carries the bound port: cookies are not kept apart by port, and two
        ``serve`` on one machine must not overwrite each other's.
        """
        origins = frozenset({parse_origin(bound), parse_origin(public)})
        name = f"command_center_serve_{port}"
        return cls(secret, origins, name, secure_cookie=public.startswith("https:"))

    def host_allowed(self, header: str | None) -> bool:
        """Host must name a served address: a rebinding name (attacker.example) never does."""
        parsed = parse_host(header or "")
        if parsed is None:
            return False
        name, port = parsed
        # Without a port, the Host means the default one of whichever scheme reached us.
        return any(
            name == host and (port == allowed or (port is None and allowed == _DEFAULT_PORTS[s]))
            for s, host, allowed in self.origins
        )

    def origin_allowed(self, header: str) -> bool:
        try:
            return parse_origin(header) in self.origins and urlsplit(header).path == ""
        except ValueError:  # "null", or not a URL at all
            return False

    def refusal(
        self, headers: Mapping[str, str], tokens: Iterable[str | None], *, websocket: bool
    ) -> str | None:
        """Why a request is refused, or None. A browser always sends Origin on a WebSocket."""
        if not self.host_allowed(headers.get(hdrs.HOST)):
            return "Forbidden: this server does not answer to that Host."
        origin = headers.get(hdrs.ORIGIN)
        if (origin is not None or websocket) and not self.origin_allowed(origin or ""):
            return "Forbidden: cross-origin request."
        if not any(token_matches(token, self.secret) for token in tokens):
            return "Forbidden: open the URL `command-center serve` printed (it carries the secret)."
        return None


def guard_middleware(guard: Guard) -> Middleware:
    """aiohttp middleware: 403 unless :meth:`Guard.refusal` lets the request through."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        from_url = request.query.get(TOKEN_PARAM)
        websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        tokens = (from_url, request.cookies.get(guard.cookie_name))
        reason = guard.refusal(request.headers, tokens, websocket=websocket)
        if reason is not None:
            return web.Response(status=403, text=reason)
        response = await handler(request)
        if not response.prepared:  # a WebSocket has sent its headers already
            response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the secret
            response.headers["X-Frame-Options"] = "DENY"
            if token_matches(from_url, guard.secret):
                # The page's own static files and WebSocket come without ?token=.
                response.set_cookie(
                    guard.cookie_name,
                    guard.secret,
                    httponly=True,
                    samesite="Strict",
                    secure=guard.secure_cookie,
                    path="/",
                )
        return response

    return check


class ChildGroupLoop(asyncio.SelectorEventLoop):
    """An event loop that starts every shell child in a process group of its own and keeps
    the group ids, so ending ``serve`` can end the consoles (and whatever they started)."""

    def __init__(self) -> None:
        super().__init__()
        self.child_groups: set[int] = set()

    async def subprocess_shell(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("process_group", 0)  # group id = the child's pid
        transport, protocol = await super().subprocess_shell(*args, **kwargs)
        # Forget groups that are gone, before their ids can be reused by someone else's.
        self.child_groups.difference_update([g for g in self.child_groups if not _group_alive(g)])
        self.child_groups.add(transport.get_pid())
        return transport, protocol


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_groups(pgids: Iterable[int], signum: signal.Signals) -> set[int]:
    """Send ``signum`` to each group; the ones that still existed."""
    reached = set()
    for pgid in pgids:
        try:
            os.killpg(pgid, signum)
            reached.add(pgid)
        except (ProcessLookupError, PermissionError):
            pass
    return reached


async def end_groups(pgids: set[int], grace: float = 3.0) -> None:
    """SIGTERM the groups, SIGKILL those still there after ``grace`` seconds; empties ``pgids``."""
    alive = _signal_groups(pgids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # lets the loop reap the children
        alive = {g for g in alive if _group_alive(g)}
    _signal_groups(alive, signal.SIGKILL)
    pgids.clear()


class _Redact(logging.Filter):
    """Replaces the secret in log records, whichever logger they come from."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "<secret>"), ()
        return True


class GuardedServer(Server):
    """textual-serve's Server behind :func:`guard_middleware`, whose tabs end with it.

    ``child_env`` is added to the environment each tab's console starts with (textual-serve
    copies ``os.environ``): secrets travel there, never in the ps-visible command line.
    """

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        public_url: str | None,
        title: str,
        child_env: Mapping[str, str] | None = None,
    ) -> None:
        bound = base_url(host, port)
        super().__init__(command, host=host, port=port, title=title, public_url=public_url or bound)
        self.public_url = self.public_url.rstrip("/")
        self.guard = Guard.for_urls(new_secret(), port, bound, self.public_url)
        self.child_env = dict(child_env or {})
        self._tabs: set[asyncio.Task[Any]] = set()
        self._children: set[int] = set()  # the loop's child_groups, once serving

    @property
    def entry_url(self) -> str:
        """The URL to open: it carries the secret."""
        return f"{self.public_url}/?{TOKEN_PARAM}={self.guard.secret}"

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.extend([guard_middleware(self.guard), self._track_tabs])
        app.on_shutdown.append(self._end_tabs)
        return app

    @web.middleware
    async def _track_tabs(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Remember the task serving each WebSocket (a tab), so shutdown can end it."""
        task = asyncio.current_task()
        if task is None or request.headers.get(hdrs.UPGRADE, "").lower() != "websocket":
            return await handler(request)
        self._tabs.add(task)
        try:
            return await handler(request)
        finally:
            self._tabs.discard(task)

    async def _end_tabs(self, app: web.Application) -> None:
        """Close every tab, then end the consoles' groups (aiohttp would wait 60 s for open
        WebSockets). Cancelling lets textual-serve ask each console to quit first."""
        for task in self._tabs:
            task.cancel()
        if self._tabs:
            await asyncio.wait(self._tabs, timeout=3.0)
        await end_groups(self._children)

    def initialize_logging(self) -> None:
        """textual-serve's logging, minus the secret (the access log shows ``/?token=…``)."""
        super().initialize_logging()
        for handler in logging.getLogger().handlers:
            handler.addFilter(_Redact(self.guard.secret))

    async def on_startup(self, app: web.Application) -> None:
        await super().on_startup(app)
        self.console.print(
            "Open this URL (it carries this launch's secret; without it every request is "
            f"refused):\n  {self.entry_url}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )

    def serve(self, debug: bool = False) -> None:
        """Serve on a loop that groups the children; end them however serving stops."""
        saved = {name: os.environ.get(name) for name in self.child_env}
        os.environ.update(self.child_env)
        loop = ChildGroupLoop()
        self._children = loop.child_groups
        asyncio.set_event_loop(loop)  # textual-serve's serve() runs on the current loop
        loop.add_signal_handler(signal.SIGHUP, self.request_exit)
        try:
            super().serve(debug)
        finally:
            if loop.child_groups:  # serving stopped without its shutdown hook
                asyncio.run(end_groups(loop.child_groups))
            loop.close()
            asyncio.set_event_loop(None)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
