"""The client's cost: decoding a listing vs ``json.loads``, in process and over the wire."""

from __future__ import annotations

import gc
import json
import statistics
import threading
import time

import httpx

from client import CommandCenterClient
from client._task_list import decode_listing, listing_of
from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    StubServer,
    StubState,
    generate_tasks,
)

from ._table import Row, by_tier

HEADERS = {
    "Authorization": f"Bearer {DEMO_CONTRIBUTOR_TOKEN}",
    "X-Tenant-Id": DEMO_TENANT,
    "X-Project-Id": DEMO_PROJECT,
}


def _median_seconds(fn: object, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def list_overhead(n: int, repeat: int = 5) -> Row:
    state = StubState()
    generate_tasks(state, n)
    with (
        StubServer(state) as server,
        httpx.Client(base_url=server.url, timeout=120) as raw,
        CommandCenterClient(
            server.url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, timeout=120
        ) as client,
    ):
        assert len(client.list_pending_tasks()) == n  # warm the stub's cache and the pools

        def plain() -> None:
            body = json.loads(raw.get("/v1/tasks/pending", headers=HEADERS).content)
            assert len(body["tasks"]) == n

        reference = _median_seconds(plain, repeat)
        value = _median_seconds(client.list_pending_tasks, repeat)
    return Row(
        "client list_pending_tasks vs httpx+json.loads",
        f"{n:,}",
        value * 1000,
        "ms",
        reference=reference * 1000,
        target=by_tier(n, (None, 1.0, 1.0)),
        note=f"median of {repeat}",
    )


def decode_overhead(n: int, repeat: int | None = None) -> Row:
    """The client's listing decode (typed heads, payloads kept raw) vs ``json.loads`` of the
    same body: the stub's ``/v1/tasks/pending`` bytes for ``n`` tasks, decoded in this process.

    Interleaved, one of each per round, the garbage collector as it is by default; each result
    is let go (and collected) outside the timed span. Median of ``repeat`` rounds (5, 3 from
    100,000 tasks)."""
    if repeat is None:
        repeat = 3 if n >= 100_000 else 5
    state = StubState()
    generate_tasks(state, n)
    body = state.pending_body()
    del state
    assert len(listing_of(decode_listing(body)).tasks) == n
    assert len(json.loads(body)["tasks"]) == n
    references: list[float] = []
    values: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        plain = json.loads(body)
        references.append(time.perf_counter() - start)
        del plain
        gc.collect()
        start = time.perf_counter()
        listing = listing_of(decode_listing(body))
        values.append(time.perf_counter() - start)
        del listing
        gc.collect()
    return Row(
        "listing decode vs json.loads",
        f"{n:,}",
        statistics.median(values) * 1000,
        "ms",
        reference=statistics.median(references) * 1000,
        target=by_tier(n, (None, None, 0.15)),
        note=f"median of {repeat}, interleaved; {len(body) / 1e6:.1f} MB body, in process",
    )


def completions_per_second(workers: int = 8, tasks: int = 4000, seconds: float = 3.0) -> Row:
    state = StubState()
    keys = generate_tasks(state, tasks)
    done = 0
    lock = threading.Lock()
    queue = list(keys)

    def worker(url: str, deadline: float) -> None:
        nonlocal done
        with CommandCenterClient(url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT) as cc:
            while time.perf_counter() < deadline:
                with lock:
                    if not queue:
                        return
                    key = queue.pop()
                cc.complete_task(*key, approved=True)
                with lock:
                    done += 1

    with StubServer(state) as server:
        start = time.perf_counter()
        threads = [
            threading.Thread(target=worker, args=(server.url, start + seconds))
            for _ in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    assert state.completed_count == done
    return Row(
        "stub completions/s",
        f"{workers} clients",
        done / elapsed,
        "/s",
        note=f"{done} completions in {elapsed:.1f} s over loopback",
    )
