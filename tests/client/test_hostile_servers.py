"""The client against servers that misbehave on purpose: slow, huge, bombs, odd ids, proxies.

Slow servers are real loopback sockets (``_loopback``); bodies are streamed through
``httpx.MockTransport`` so that nothing is read before the client reads it.
"""

from __future__ import annotations

import copy
import gc
import gzip
import inspect
import json
import pickle
import re
import socket
import time
import traceback
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from client import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncCommandCenterClient,
    CommandCenterClient,
    CommandCenterError,
    CompletionAnswerTooLargeError,
    InvalidIdError,
    RateLimitError,
    ResponseTooLargeError,
    RetryPolicy,
    Secret,
    ServerError,
    TaskListing,
    TaskReport,
    UnconfirmedCompletionError,
    UnreadableTask,
    is_loopback_url,
    proxy_for,
)

from ._loopback import Loopback, answer, hang_up, trickle_body, trickle_headers

TOKEN = "pat_H0stile_canary_9a8b7c"
TASK = {"id": "t1", "workflow_id": "wf", "run_id": "run1"}
LISTING = json.dumps({"tasks": [TASK]}).encode()
MiB = 1024 * 1024

AnyClient = CommandCenterClient | AsyncCommandCenterClient


def make(kind: str, base_url: str, sleeps: list[float] | None = None, **kwargs: Any) -> AnyClient:
    """A sync or async client whose retry sleeps are recorded, not slept."""
    kwargs.setdefault("max_retries", 0)
    cls = CommandCenterClient if kind == "sync" else AsyncCommandCenterClient
    client = cls(base_url, kwargs.pop("token", TOKEN), "acme", "proj", **kwargs)
    record = sleeps if sleeps is not None else []
    if kind == "sync":
        client._sleep = record.append  # type: ignore[method-assign,assignment]
    else:

        async def asleep(seconds: float) -> None:
            record.append(seconds)

        client._sleep = asleep  # type: ignore[method-assign,assignment]
    return client


def mocked(kind: str, handler: Any, **kwargs: Any) -> AnyClient:
    transport = httpx.MockTransport(handler)
    http: httpx.Client | httpx.AsyncClient = (
        httpx.Client(transport=transport)
        if kind == "sync"
        else httpx.AsyncClient(transport=transport)
    )
    return make(kind, "https://platform.test", http_client=http, **kwargs)


async def call(client: AnyClient, method: str, *args: Any, **kwargs: Any) -> Any:
    result = getattr(client, method)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def close(client: AnyClient) -> None:
    if isinstance(client, CommandCenterClient):
        client.close()
    else:
        await client.aclose()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- 1. the overall deadline ----------------------------------------------------------------


@pytest.mark.parametrize("script", [trickle_body(0.2), trickle_headers(0.2)], ids=["body", "head"])
async def test_a_trickling_server_is_cut_off_at_the_deadline(kind: str, script: Any) -> None:
    with Loopback(script) as server:
        client = make(kind, server.url, timeout=0.5, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await call(client, "list_pending_tasks")
        elapsed = time.monotonic() - started
        await close(client)
    # Every single read came within the 0.5 s timeout: only the deadline can stop this.
    assert 0.9 <= elapsed < 1.8, elapsed
    assert "no complete answer within 1 s" in str(info.value)
    assert info.value.deadline == 1.0
    assert info.value.path == "/v1/tasks/pending"


async def test_a_deadline_is_retried_like_a_timeout_and_a_completion_keeps_its_key(
    kind: str,
) -> None:
    sleeps: list[float] = []
    with Loopback(trickle_body(0.1)) as server:
        client = make(kind, server.url, sleeps, timeout=0.5, deadline=0.4, max_retries=1)
        with pytest.raises(APITimeoutError) as info:
            await call(client, "complete_task", "wf", "run1", "t1", approved=True)
        await close(client)
    assert isinstance(info.value, APIConnectionError)  # the console's "may have landed"
    assert len(server.requests) == 2 and len(sleeps) == 1
    keys = {
        line
        for request in server.requests
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"idempotency-key")
    }
    assert len(keys) == 1


async def test_a_handed_in_client_is_still_bounded_per_chunk(kind: str) -> None:
    with Loopback(trickle_body(0.1)) as server:
        http: httpx.Client | httpx.AsyncClient = (
            httpx.Client() if kind == "sync" else httpx.AsyncClient()
        )
        client = make(kind, server.url, http_client=http, timeout=0.5, deadline=0.6)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=re.escape("within 0.6 s")):
            await call(client, "list_pending_tasks")
        assert time.monotonic() - started < 1.5
        await close(client)
        await close_http(http)


async def close_http(http: httpx.Client | httpx.AsyncClient) -> None:
    if isinstance(http, httpx.Client):
        http.close()  # noqa: ASYNC212 - closing an idle pool does not block
    else:
        await http.aclose()


async def test_each_phase_timeout_is_never_longer_than_the_deadline(kind: str) -> None:
    with respx.mock() as mock:
        route = mock.get("https://platform.test/v1/tasks/pending").mock(
            return_value=httpx.Response(200, json={"tasks": []})
        )
        client = make(kind, "https://platform.test", timeout=10, deadline=2.5)
        await call(client, "list_pending_tasks")
        timeouts = route.calls.last.request.extensions["timeout"]
        assert set(timeouts.values()) == {2.5}
        await call(client.with_options(deadline=None), "list_pending_tasks")
        assert set(route.calls.last.request.extensions["timeout"].values()) == {10}
        await close(client)


async def test_a_fast_answer_is_unaffected_by_the_deadline(kind: str) -> None:
    with Loopback(answer(200, LISTING, Content_Type="application/json")) as server:
        client = make(kind, server.url, deadline=5)
        for _ in range(2):  # the second over the kept-alive connection
            tasks = await call(client, "list_pending_tasks")
            assert [t.key for t in tasks] == [("wf", "run1", "t1")]
        await close(client)
    assert server.connections == 1


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_the_deadline_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="deadline"):
        CommandCenterClient("https://platform.test", TOKEN, "acme", deadline=bad)


# -- 2. bounded answers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MB of zeros in about 50 KB of gzip."""
    return gzip.compress(b"0" * 50_000_000)


@pytest.fixture(scope="module")
def nested_bomb() -> bytes:
    """``Content-Encoding: gzip, gzip``: 200 MB of zeros in a few hundred bytes."""
    inner = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"0" * MiB
    once = b"".join(inner.compress(block) for _ in range(200)) + inner.flush()
    return gzip.compress(once)


def streamed(body: bytes, **headers: str) -> Any:
    """A handler whose response is read only when the client reads it."""

    named = {name.replace("_", "-"): value for name, value in headers.items()}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=named, stream=httpx.ByteStream(body))

    return handler


async def _peak_while(coro_factory: Any) -> tuple[BaseException | None, int]:
    gc.collect()
    tracemalloc.start()
    caught: BaseException | None = None
    try:
        await coro_factory()
    except Exception as exc:
        caught = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return caught, peak


async def test_a_gzip_bomb_stops_at_max_body_bytes(kind: str, gzip_bomb: bytes) -> None:
    client = mocked(kind, streamed(gzip_bomb, Content_Encoding="gzip"), max_body_bytes=MiB)
    error, peak = await _peak_while(lambda: call(client, "list_pending_tasks"))
    assert isinstance(error, ResponseTooLargeError), error
    assert error.option == "max_body_bytes" and error.limit == MiB
    assert MiB < error.received <= MiB + 64 * 1024
    assert error.response.content == b""  # nothing of it kept
    assert "max_body_bytes = 1,048,576 bytes" in str(error)
    assert peak < 4 * MiB, peak  # httpx's own read() would hold all 50 MB
    await close(client)


async def test_a_gzip_bomb_trips_the_decompression_ratio(kind: str, gzip_bomb: bytes) -> None:
    client = mocked(kind, streamed(gzip_bomb, Content_Encoding="gzip"))
    error, peak = await _peak_while(lambda: call(client, "poll_pending_tasks"))
    assert isinstance(error, ResponseTooLargeError), error
    assert error.option == "max_decompression_ratio" and error.limit == 100
    assert error.received < 100 * len(gzip_bomb) + 64 * 1024
    assert "max_decompression_ratio = 100x" in str(error) and "gzip" in str(error)
    assert peak < 16 * MiB, peak
    await close(client)


async def test_a_nested_bomb_is_inflated_piece_by_piece(kind: str, nested_bomb: bytes) -> None:
    client = mocked(
        kind,
        streamed(nested_bomb, Content_Encoding="gzip, gzip"),
        max_body_bytes=8 * MiB,
        max_decompression_ratio=None,
    )
    error, peak = await _peak_while(lambda: call(client, "list_pending_tasks"))
    assert isinstance(error, ResponseTooLargeError), error
    assert error.option == "max_body_bytes" and error.received <= 8 * MiB + 64 * 1024
    assert peak < 24 * MiB, peak  # 200 MB if a layer were inflated in one go
    await close(client)


async def test_a_declared_length_over_the_limit_is_not_downloaded(kind: str) -> None:
    served: list[int] = []

    class Endless(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            served.append(1)
            yield b" " * 1024

        async def __aiter__(self) -> Any:
            served.append(1)
            yield b" " * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(10**10)}, stream=Endless())

    client = mocked(kind, handler)
    with pytest.raises(ResponseTooLargeError, match="max_body_bytes = 268,435,456"):
        await call(client, "list_pending_tasks")
    assert served == []
    await close(client)


async def test_a_completion_answer_too_large_is_unconfirmed(kind: str, gzip_bomb: bytes) -> None:
    client = mocked(kind, streamed(gzip_bomb, Content_Encoding="gzip"), max_body_bytes=MiB)
    with pytest.raises(CompletionAnswerTooLargeError) as info:
        await call(client, "complete_task", "wf", "run1", "t1", approved=True)
    assert isinstance(info.value, UnconfirmedCompletionError)  # keep it, resend, same key
    assert isinstance(info.value, ResponseTooLargeError)
    await close(client)


async def test_a_huge_error_page_still_counts_as_its_status(kind: str) -> None:
    page = b"<html>" + b"x" * (5 * MiB) + b"</html>"
    sleeps: list[float] = []
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(1)
        return httpx.Response(503, stream=httpx.ByteStream(page))

    client = mocked(kind, handler, sleeps=sleeps, max_retries=1, max_body_bytes=MiB)
    with pytest.raises(ServerError) as info:
        await call(client, "list_pending_tasks")
    assert info.value.status_code == 503 and len(sleeps) == 1 and len(served) == 2  # retried
    assert len(info.value.response.content) == 64 * 1024  # only its beginning was kept
    assert info.value.error.startswith("'<html>xxx")
    await close(client)


@pytest.mark.parametrize(
    ("method", "args", "cls"),
    [
        ("list_pending_tasks", (), APIResponseValidationError),
        ("complete_task", ("wf", "run1", "t1"), UnconfirmedCompletionError),
    ],
)
async def test_a_corrupt_gzip_body_is_a_typed_error(
    kind: str, method: str, args: tuple[str, ...], cls: type[Exception]
) -> None:
    client = mocked(kind, streamed(b"this is not gzip", Content_Encoding="gzip"))
    kwargs = {"approved": True} if method == "complete_task" else {}
    with pytest.raises(cls, match="could not be decompressed"):
        await call(client, method, *args, **kwargs)
    await close(client)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "gzip, deflate"])
async def test_honest_compressed_answers_still_read(kind: str, coding: str) -> None:
    body = LISTING
    if coding == "raw-deflate":
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        body, coding = packer.compress(body) + packer.flush(), "deflate"
    else:
        for layer in coding.split(", "):
            body = gzip.compress(body) if layer == "gzip" else zlib.compress(body)
    client = mocked(kind, streamed(body, Content_Encoding=coding))
    tasks = await call(client, "list_pending_tasks")
    assert [t.key for t in tasks] == [("wf", "run1", "t1")]
    await close(client)


def test_the_limits_are_options_with_documented_defaults() -> None:
    client = CommandCenterClient("https://platform.test", TOKEN, "acme")
    assert (client.max_body_bytes, client.max_decompression_ratio) == (256 * MiB, 100)
    assert client.deadline == 30 and client.timeout == 10
    other = client.with_options(max_body_bytes=MiB)
    assert (other.max_body_bytes, other.max_decompression_ratio) == (MiB, 100)
    with pytest.raises(ValueError, match="max_body_bytes"):
        client.with_options(max_body_bytes=0)
    client.close()


# -- 3. ids ---------------------------------------------------------------------------------

BAD_IDS = {
    "empty": "",
    "dot": ".",
    "dot-dot": "..",
    "nul": "a\x00b",
    "newline": "a\nb",
    "del": "a\x7f",
    "c1": "a\x85b",
    "lone-surrogate": "a\ud800",
    "too-long": "x" * 1001,
    "way-too-long": "x" * 70_000,
}


@pytest.mark.parametrize("position", ["workflow", "run", "task"])
@pytest.mark.parametrize("name", list(BAD_IDS))
async def test_ids_that_would_change_the_url_are_refused_before_sending(
    kind: str, position: str, name: str
) -> None:
    ids = {"workflow": "wf", "run": "run1", "task": "t1"}
    ids[position] = BAD_IDS[name]
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        client = make(kind, "https://platform.test")
        with pytest.raises(InvalidIdError) as info:
            await call(
                client, "complete_task", ids["workflow"], ids["run"], ids["task"], approved=True
            )
        assert not route.called
        await close(client)
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, CommandCenterError)
    assert error.what == f"{position} id" and str(error).startswith(f"Refusing {position} id")
    assert not any(ch in str(error) for ch in "\x00\n\x7f\x85\ud800")
    assert len(str(error)) < 300


async def test_run_listings_refuse_bad_ids_too(kind: str) -> None:
    client = make(kind, "https://platform.test")
    for method in ("list_run_events", "list_run_pending_tasks"):
        with pytest.raises(InvalidIdError, match=re.escape("run id '..'")):
            await call(client, method, "wf", "..")
    await close(client)


async def test_long_but_acceptable_ids_are_sent(kind: str) -> None:
    long = "é" * 1000  # 12,000 bytes percent-encoded; three of them still fit
    with respx.mock() as mock:
        route = mock.post(url__startswith="https://platform.test/v1/workflows/").mock(
            return_value=httpx.Response(200, json={"status": "completed"})
        )
        client = make(kind, "https://platform.test")
        await call(client, "complete_task", long, long, long, approved=True)
        assert route.called
        await close(client)


async def test_an_invalid_url_from_httpx_is_a_typed_error(kind: str) -> None:
    client = make(kind, "https://platform.test")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise httpx.InvalidURL("URL too long")

    client._http.send = refuse  # type: ignore[method-assign]
    with pytest.raises(InvalidIdError, match="httpx refused the URL"):
        await call(client, "list_pending_tasks")
    client._http.build_request = refuse  # type: ignore[method-assign]
    with pytest.raises(InvalidIdError, match="Nothing was sent"):
        await call(client, "list_pending_tasks")
    await close(client)


# -- 4. proxies -----------------------------------------------------------------------------

_real_getaddrinfo = socket.getaddrinfo


def resolving(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> None:
    """Make ``names`` resolve to the given addresses; everything else resolves as usual."""

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host  # anyio passes IDNA bytes
        if isinstance(name, str) and name in names:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))
                for address in names[name]
            ]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.5.6.7", True),
        ("http://[::1]:8080/x", True),
        ("http://[::ffff:127.0.0.1]", True),
        ("http://localhost:8000", True),
        ("https://LOCALHOST./", True),
        ("http://10.0.0.1", False),
        ("https://api.example.com", False),
        ("http://localhost.example.com", False),
        ("http://0.0.0.0", False),
        ("not a url", False),
        ("", False),
    ],
)
def test_is_loopback_url(url: str, expected: bool) -> None:
    assert is_loopback_url(url) is expected


def test_a_localhost_subdomain_is_loopback_only_if_it_resolves_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolving(
        monkeypatch,
        {
            "app.localhost": ["127.0.0.1"],
            "evil.localhost": ["10.9.8.7"],
            "mixed.localhost": ["127.0.0.1", "192.0.2.1"],
        },
    )
    assert is_loopback_url("http://app.localhost:8000")
    assert not is_loopback_url("http://evil.localhost:8000")
    assert not is_loopback_url("http://mixed.localhost")
    assert not is_loopback_url("http://unresolvable.invalid.localhost")  # gaierror


def test_proxy_for_follows_the_environment_as_httpx_does(no_proxy_env: pytest.MonkeyPatch) -> None:
    env = no_proxy_env
    assert proxy_for("http://api.example.com") is None
    env.setenv("HTTP_PROXY", "http://proxy.corp:3128")
    env.setenv("HTTPS_PROXY", "proxy.corp:3129")  # no scheme: httpx reads it as http://
    env.setenv("NO_PROXY", "internal.example,10.1.2.3")
    assert proxy_for("http://api.example.com/v1") == "http://proxy.corp:3128"
    assert proxy_for("https://api.example.com") == "http://proxy.corp:3129"
    assert proxy_for("https://svc.internal.example") is None
    assert proxy_for("http://10.1.2.3:80") is None
    env.setenv("NO_PROXY", "*")
    assert proxy_for("http://api.example.com") is None


def test_cleartext_through_a_cleartext_proxy_is_refused(no_proxy_env: pytest.MonkeyPatch) -> None:
    env = no_proxy_env
    env.setenv("HTTP_PROXY", "http://user:pr0xy-pw@proxy.corp:3128")
    with pytest.raises(ValueError, match="clear text") as info:
        CommandCenterClient("http://api.example.com", TOKEN, "acme")
    assert "pr0xy-pw" not in str(info.value) and "proxy.corp:3128" in str(info.value)
    with pytest.raises(ValueError, match="clear text"):
        AsyncCommandCenterClient("http://api.example.com", TOKEN, "acme")
    CommandCenterClient("https://api.example.com", TOKEN, "acme").close()  # TLS end to end
    CommandCenterClient("http://api.example.com", TOKEN, "acme", http_client=httpx.Client())
    env.setenv("NO_PROXY", "api.example.com")
    CommandCenterClient("http://api.example.com", TOKEN, "acme").close()
    env.setenv("HTTP_PROXY", "https://proxy.corp:3128")
    env.delenv("NO_PROXY")
    CommandCenterClient("http://api.example.com", TOKEN, "acme").close()


def _proxy_script(conn: socket.socket, server: Loopback) -> None:
    server.read_request(conn)
    conn.sendall(b"HTTP/1.1 502 Proxy\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "app.localhost"])
async def test_loopback_requests_never_go_through_the_proxy(
    kind: str, host: str, no_proxy_env: pytest.MonkeyPatch
) -> None:
    resolving(no_proxy_env, {"app.localhost": ["127.0.0.1"], "localhost": ["127.0.0.1"]})
    with (
        Loopback(_proxy_script) as proxy,
        Loopback(answer(200, LISTING)) as server,
    ):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            no_proxy_env.setenv(name, proxy.url)
        base = f"http://{host}:{server.port}"
        client = make(kind, base)
        assert client.trust_env is False
        tasks = await call(client, "list_pending_tasks")
        await close(client)
        assert [t.key for t in tasks] == [("wf", "run1", "t1")]
        assert proxy.connections == 0 and server.connections == 1
        # The control: a client that trusts the environment does go to the proxy.
        async with httpx.AsyncClient() as trusting:
            assert (await trusting.get(base + "/v1/tasks/pending")).status_code == 502
        assert proxy.connections == 1 and TOKEN.encode() not in b"".join(proxy.requests)


def test_a_localhost_name_resolving_elsewhere_keeps_the_environment(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    resolving(no_proxy_env, {"evil.localhost": ["10.9.8.7"]})
    no_proxy_env.setenv("HTTP_PROXY", "http://proxy.corp:3128")
    with pytest.raises(ValueError, match="clear text"):
        CommandCenterClient("http://evil.localhost:8000", TOKEN, "acme")
    client = CommandCenterClient("https://evil.localhost:8000", TOKEN, "acme")
    assert client.trust_env is True
    client.close()


# -- 5. Retry-After and on_wait -------------------------------------------------------------


def _rate_limited(retry_after: str) -> httpx.Response:
    return httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": retry_after})


@pytest.mark.parametrize("hint", ["1000000000", "601", "inf", "nan"])
async def test_an_absurd_retry_after_is_never_waited_for(kind: str, hint: str) -> None:
    sleeps: list[float] = []
    waits: list[tuple[float, str]] = []
    client = mocked(
        kind,
        lambda request: _rate_limited(hint),
        sleeps=sleeps,
        max_retries=3,
        on_wait=lambda s, r: waits.append((s, r)),
    )
    with pytest.raises(RateLimitError):
        await call(client, "list_pending_tasks")
    assert sleeps == [] and waits == []
    await close(client)


async def test_long_waits_are_announced_before_they_begin(kind: str) -> None:
    answers = iter(
        [
            _rate_limited("600"),
            _rate_limited("2"),  # short: not announced
            httpx.Response(503, json={"error": "down"}, headers={"Retry-After": "5"}),
            httpx.Response(200, json={"tasks": []}),
        ]
    )
    sleeps: list[float] = []
    waits: list[tuple[float, str]] = []

    def on_wait(seconds: float, reason: str) -> None:
        waits.append((seconds, reason))
        assert seconds not in sleeps[len(waits) - 1 :]  # said before the sleep, not after

    client = mocked(kind, lambda r: next(answers), sleeps=sleeps, max_retries=3, on_wait=on_wait)
    assert await call(client, "list_pending_tasks") == []
    assert sleeps == [600.0, 2.0, 5.0]
    assert waits == [(600.0, "rate limited (429)"), (5.0, "server error (503)")]
    await close(client)


async def test_connection_waits_are_announced_and_a_failing_hook_is_harmless(kind: str) -> None:
    failures = iter([httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])

    def handler(request: httpx.Request) -> httpx.Response:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return httpx.Response(200, json={"tasks": []})

    reasons: list[str] = []

    def on_wait(seconds: float, reason: str) -> None:
        reasons.append(reason)
        raise RuntimeError("the UI is gone")

    policy = RetryPolicy(max_retries=2, initial_delay=4.0, jitter=0.0)
    client = mocked(kind, handler, retry_policy=policy, on_wait=on_wait)
    assert await call(client, "list_pending_tasks") == []
    assert reasons == ["connection error", "timed out"]
    quiet = client.with_options(on_wait=None)
    assert quiet.on_wait is None and client.on_wait is on_wait
    await close(client)


def test_the_retry_after_cap_is_ten_minutes() -> None:
    assert RetryPolicy().max_retry_after == 600


# -- 6. one bad task does not hide the others -----------------------------------------------

MIXED = {
    "tasks": [
        TASK,
        5,
        {"id": "x", "workflow_id": "wf"},
        {"id": "t2", "workflow_id": ["not", "text"], "run_id": "run1"},
        None,
        {**TASK, "id": "t3"},
    ]
}


async def test_a_listing_keeps_its_good_tasks_and_reports_the_bad(kind: str) -> None:
    body = json.dumps(MIXED).encode()
    client = mocked(kind, streamed(body, Content_Type="application/json"))
    tasks = await call(client, "list_pending_tasks")
    assert [t.id for t in tasks] == ["t1", "t3"]
    report = await call(client, "list_pending_tasks_report")
    assert isinstance(report, TaskReport) and [t.id for t in report.tasks] == ["t1", "t3"]
    assert report.unreadable == [
        UnreadableTask(1, 5, "not a JSON object (a number)"),
        UnreadableTask(2, {"id": "x", "workflow_id": "wf"}, "run_id: Field required"),
        UnreadableTask(3, MIXED["tasks"][3], "workflow_id: Input should be a valid string"),
        UnreadableTask(4, None, "not a JSON object (a null)"),
    ]
    listing = await call(client, "poll_pending_tasks")
    assert [t.id for t in listing.tasks] == ["t1", "t3"]
    assert [u.index for u in listing.unreadable] == [1, 2, 3, 4]
    again = await call(client, "poll_pending_tasks", listing)
    assert not again.changed and again.unreadable == listing.unreadable
    run = await call(client, "list_run_pending_tasks_report", "wf", "run1")
    assert len(run.unreadable) == 4
    await close(client)


async def test_a_body_that_is_no_listing_at_all_is_still_an_error(kind: str) -> None:
    client = mocked(kind, streamed(b'{"tasks": {"id": "t1"}}'))
    with pytest.raises(APIResponseValidationError, match="tasks: Input should be a valid list"):
        await call(client, "list_pending_tasks_report")
    await close(client)


def test_the_console_can_still_build_a_listing_positionally() -> None:
    listing = TaskListing([], b"digest")
    assert listing.unreadable == [] and listing.changed


# -- 7. the token in crash reports ----------------------------------------------------------


def test_a_secret_never_shows_itself() -> None:
    secret = Secret(TOKEN)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r:>40}", repr([secret])):
        assert TOKEN not in shown and "H0stile" not in shown
    assert repr(secret) == "Secret('pat_…[redacted]')"
    assert repr(Secret("opaque-token")) == "Secret('[redacted]')"
    assert secret.reveal() == TOKEN and secret == Secret(TOKEN) and secret != Secret("x")
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_no_attribute_of_a_client_holds_the_token_as_text() -> None:
    client = CommandCenterClient("https://platform.test", TOKEN, "acme")
    for value in vars(client).values():
        assert TOKEN not in repr(value)
    assert isinstance(client._secret, Secret)
    client.close()


def _exceptions(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def assert_no_token_in_locals(exc: BaseException) -> int:
    """repr() every local of every frame of ``exc`` and its causes: no token anywhere."""
    frames = 0
    for current in _exceptions(exc):
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if frame.f_globals.get("__name__") == __name__:
                continue  # this test's own frames hold the token it passed in
            frames += 1
            for name, value in frame.f_locals.items():
                shown = repr(value)
                assert TOKEN not in shown, (frame.f_code.co_name, name, shown[:200])
    return frames


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "failure", ["401", "hang-up", "refused", "deadline", "deadline-on-write", "too-large", "id"]
)
async def test_no_frame_of_a_failing_request_shows_the_token(kind: str, failure: str) -> None:
    scripts: dict[str, Any] = {
        "401": answer(401, b'{"error": "unknown token"}'),
        "hang-up": hang_up,
        "deadline": trickle_body(0.05),
        "deadline-on-write": answer(200, LISTING),
        "too-large": answer(200, b"[" + b"1," * 600_000 + b"1]"),
    }
    with Loopback(scripts.get(failure, hang_up)) as server:
        base = f"http://127.0.0.1:{_closed_port()}" if failure == "refused" else server.url
        client = make(kind, base, deadline=0.3, max_body_bytes=MiB)
        if failure == "deadline-on-write":
            await call(client, "list_pending_tasks")  # a kept-alive connection...
            client = client.with_options(deadline=1e-9)  # ...whose next write is too late
        args: tuple[Any, ...] = ("wf", "run1", "..") if failure == "id" else ("wf", "run1", "t1")
        with pytest.raises(CommandCenterError) as info:
            await call(client, "complete_task", *args, approved=True)
        await close(client)
    assert assert_no_token_in_locals(info.value) > 0
