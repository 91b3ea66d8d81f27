"""Where requests go and how long they may take: loopback detection, proxies, the deadline.

- :func:`is_loopback_url` decides whether the environment (proxies, netrc) is trusted: a request
  to this machine must never detour through a proxy, token and all, in clear text.
- :func:`proxy_for` says which proxy httpx would pick for a URL from the environment, by httpx's
  own rules (its ``NO_PROXY`` handling differs from urllib's ``proxy_bypass``).
- :class:`Budget` is one request's overall deadline. httpx bounds each read, not the whole
  exchange, so a server sending a byte every few seconds would hold a request forever; the
  drivers check the budget after every chunk, and :class:`DeadlineBackend` makes every socket
  wait of the blocking client (headers included) end by the deadline.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx
from httpx._utils import URLPattern, get_environment_proxies  # the rules httpx itself applies

__all__ = [
    "Budget",
    "DeadlineBackend",
    "DeadlineExceeded",
    "cleartext_proxy_problem",
    "is_loopback_url",
    "proxy_for",
    "scrub_frames",
]


@functools.cache
def verifying_tls(trust_env: bool) -> ssl.SSLContext:
    """httpx's default verifying TLS context, made once per process (a context is safe to share
    between clients and threads): loading the CA bundle is slow, and the console makes two
    clients before its first frame."""
    return httpx.create_ssl_context(trust_env=trust_env)


def _loopback_address(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1
    return address.is_loopback


def _resolves_only_to_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(_loopback_address(a) for a in addresses)


def is_loopback_url(url: str | httpx.URL) -> bool:
    """Whether ``url`` addresses this machine: 127.0.0.0/8, ``::1``, ``localhost``, or a
    ``*.localhost`` name that resolves only to loopback addresses.

    ``*.localhost`` is resolved (``socket.getaddrinfo``, may block briefly) rather than trusted:
    RFC 6761 asks resolvers to keep it local, but /etc/hosts or a DNS search domain may not.
    Anything unparseable is not loopback.
    """
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return False
    host = parsed.host.strip("[]").rstrip(".").lower()
    if not host:
        return False
    if host == "localhost" or _loopback_address(host):
        return True
    if host.endswith(".localhost"):
        return _resolves_only_to_loopback(host)
    return False


def proxy_for(url: str | httpx.URL) -> str | None:
    """The proxy URL httpx would use for ``url`` with ``trust_env=True``, or ``None``.

    Read from ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` (and the system settings
    ``urllib.request.getproxies`` reads), matched exactly as ``httpx.Client`` matches its mounts.
    """
    target = url if isinstance(url, httpx.URL) else httpx.URL(url)
    mounts = sorted(
        ((URLPattern(key), proxy) for key, proxy in get_environment_proxies().items()),
        key=lambda item: item[0],
    )
    for pattern, proxy in mounts:
        if pattern.matches(target):
            return proxy
    return None


def _without_credentials(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<unparseable proxy URL>"
    return str(parsed.copy_with(username=None, password=None))


def cleartext_proxy_problem(base_url: str) -> str | None:
    """Why ``base_url`` must be refused, if its requests would cross a proxy in clear text.

    Only for a plain ``http://`` base URL whose environment proxy is plain ``http://`` too: then
    the token is readable on every hop to the proxy and beyond.
    """
    url = httpx.URL(base_url)
    if url.scheme != "http" or is_loopback_url(url):
        return None
    proxy = proxy_for(url)
    if proxy is None or httpx.URL(proxy).scheme != "http":
        return None
    return (
        f"Refusing {url.scheme}://{url.host}: its requests would go through the proxy "
        f"{_without_credentials(proxy)} (from the HTTP_PROXY/ALL_PROXY environment) in clear "
        "text, token included. Use an https:// base URL or proxy, or list the host in NO_PROXY."
    )


# -- crash reports ----------------------------------------------------------------------------

# Modules whose frames hold a request's serialized bytes (Authorization included) as locals:
# h11's event, httpcore's ``bytes_to_send``, our stream's ``buffer``.
_RAW_BYTES_MODULES = ("httpcore", "h11")


def scrub_frames(exc: BaseException) -> None:
    """Clear the locals of the HTTP stack's frames in ``exc``'s tracebacks (and its causes').

    A crash report that prints locals (rich/Textual's ``show_locals``) would otherwise show the
    raw request, token and all. The frames stay in the traceback (file, line, function); only
    their finished locals go. Frames still running are left alone.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            module = str(frame.f_globals.get("__name__", ""))
            if module.split(".", 1)[0] in _RAW_BYTES_MODULES or module == __name__:
                with contextlib.suppress(RuntimeError):  # still executing: left alone
                    frame.clear()
            tb = tb.tb_next
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


# -- the deadline ---------------------------------------------------------------------------


class DeadlineExceeded(httpx.TimeoutException):
    """The whole exchange (connect, headers, body) took longer than the client's deadline."""

    def __init__(self, deadline: float, *, request: httpx.Request | None = None) -> None:
        super().__init__(f"no complete answer within {deadline:g} s", request=request)
        self.deadline = deadline


class Budget:
    """One request's overall deadline on the monotonic clock (``None``: unbounded)."""

    __slots__ = ("at", "deadline", "hit", "started")

    def __init__(self, deadline: float | None, clock_now: float | None = None) -> None:
        self.deadline = deadline
        self.started = time.monotonic() if clock_now is None else clock_now
        self.at = None if deadline is None else self.started + deadline
        # Set when a socket wait was cut short by the deadline rather than by its own timeout.
        self.hit = False

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def exceeded(self) -> bool:
        return self.hit or (self.at is not None and time.monotonic() >= self.at)

    def check(self, request: httpx.Request | None = None) -> None:
        """Raise :class:`DeadlineExceeded` once the time is up (after every chunk)."""
        if self.deadline is not None and self.exceeded():
            raise DeadlineExceeded(self.deadline, request=request)

    def bound(self, timeout: float | None) -> float | None:
        """``timeout`` shortened to what is left; raises ``httpcore.ReadTimeout`` if nothing is."""
        left = self.remaining()
        if left is None:
            return timeout
        if left <= 0:
            self.hit = True
            raise httpcore.ReadTimeout("the request's deadline has passed")
        return left if timeout is None or left < timeout else timeout


_current: ContextVar[Budget | None] = ContextVar("command_center_budget", default=None)


@contextmanager
def budget_scope(budget: Budget) -> Iterator[Budget]:
    """Make ``budget`` the one :class:`DeadlineBackend` streams of this thread obey."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def _bounded(timeout: float | None) -> tuple[float | None, Budget | None]:
    budget = _current.get()
    if budget is None:
        return timeout, None
    bounded = budget.bound(timeout)
    return bounded, (budget if bounded != timeout else None)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every wait ends by the current request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounded, budget = _bounded(timeout)
        try:
            return self._inner.read(max_bytes, bounded)
        except httpcore.ReadTimeout:
            if budget is not None:
                budget.hit = True
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounded, budget = _bounded(timeout)
        try:
            self._inner.write(buffer, bounded)
        except httpcore.WriteTimeout:
            if budget is not None:
                budget.hit = True
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded, _ = _bounded(timeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, with the deadline of :func:`budget_scope` on every wait.

    The async client needs none of this: it wraps the whole exchange in ``anyio.fail_after``.
    """

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner if inner is not None else httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded, _ = _bounded(timeout)
        stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded, _ = _bounded(timeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install_deadline_backend(client: httpx.Client) -> bool:
    """Put :class:`DeadlineBackend` under every connection pool of a client we built.

    httpx does not expose the pool's network backend, so this reaches into ``_transport``,
    ``_mounts`` and ``_pool`` (httpx 0.28); if their shape ever differs it changes nothing and
    answers False, and the per-chunk deadline check still applies.
    """
    transports = [getattr(client, "_transport", None)]
    transports += list(getattr(client, "_mounts", {}).values())
    installed = False
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(
            backend, DeadlineBackend
        ):
            pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
            installed = True
    return installed
