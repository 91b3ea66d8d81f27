"""Two operators race to complete the same 200 tasks over real loopback HTTP.

Client A approves, client B rejects with a reason; A walks the tasks forward, B backward, so they
meet in the middle and fight over every task on the way. Whatever the interleaving, each task must
be completed exactly once, with the winner's decision, and the loser must be told so with a 409.

The second race makes each of A's first attempts ambiguous: it goes to a second stub server on
the same state whose FaultInjector drops every answer after applying the request (DROP_AFTER,
fail rate 1.0); A's retry, with the same Idempotency-Key, goes to the healthy server. Where A's
first attempt won, the retry is an idempotent replay (200); where B had already won, the retry
gets a 409 that A must report as "maybe ours", since it cannot know what its first attempt did.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from client import (
    AsyncCommandCenterClient,
    CommandCenterClient,
    Completion,
    ConflictError,
    RetryPolicy,
)
from server_stub import (
    DEMO_CONTRIBUTOR_TOKEN,
    DEMO_PROJECT,
    DEMO_TENANT,
    FaultInjector,
    FaultKind,
    RunState,
    StubServer,
    StubState,
    generate_tasks,
)

pytestmark = pytest.mark.e2e

TASKS = 200
REASON = "duplicate of an earlier request"
TaskKey = tuple[str, str, str]


@dataclass
class Racer:
    """One operator: the decision it sends, and what it got back for each task."""

    name: str
    approved: bool
    result: dict[str, Any] | None = None
    won: dict[TaskKey, Completion] = field(default_factory=dict)
    lost: dict[TaskKey, ConflictError] = field(default_factory=dict)

    @property
    def recorded(self) -> dict[str, Any]:
        """The step result the stub records when this racer wins: its body, ``result`` merged."""
        return {**(self.result or {}), "approved": self.approved}

    def complete(self, client: CommandCenterClient, keys: Sequence[TaskKey]) -> None:
        for key in keys:
            try:
                self.won[key] = client.complete_task(
                    *key, approved=self.approved, result=self.result
                )
            except ConflictError as exc:
                self.lost[key] = exc

    async def complete_async(
        self, client: AsyncCommandCenterClient, keys: Sequence[TaskKey]
    ) -> None:
        for key in keys:
            try:
                self.won[key] = await client.complete_task(
                    *key, approved=self.approved, result=self.result
                )
            except ConflictError as exc:
                self.lost[key] = exc


def make_racers() -> tuple[Racer, Racer]:
    return Racer("A", approved=True), Racer("B", approved=False, result={"reason": REASON})


def client_for(url: str, **kwargs: Any) -> CommandCenterClient:
    return CommandCenterClient(url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, **kwargs)


def async_client_for(url: str, **kwargs: Any) -> AsyncCommandCenterClient:
    return AsyncCommandCenterClient(
        url, DEMO_CONTRIBUTOR_TOKEN, DEMO_TENANT, DEMO_PROJECT, **kwargs
    )


def race_in_threads(*runs: Callable[[], None]) -> None:
    """Start every run at once (a barrier), each in its own thread; re-raise what any raised."""
    barrier = threading.Barrier(len(runs))

    def start(run: Callable[[], None]) -> None:
        barrier.wait(timeout=10)
        run()

    with ThreadPoolExecutor(len(runs)) as pool:
        for future in [pool.submit(start, run) for run in runs]:
            future.result(timeout=30)


def check_outcomes(
    state: StubState, keys: Sequence[TaskKey], a: Racer, b: Racer, *, a_ambiguous: bool
) -> dict[str, int]:
    """Each task: exactly one winner, its decision recorded, the other told 409. Returns figures."""
    assert len(set(keys)) == TASKS
    assert set(a.won) | set(a.lost) == set(keys), "A did not get an answer for every task"
    assert set(b.won) | set(b.lost) == set(keys), "B did not get an answer for every task"
    maybe_ours: Counter[str] = Counter()
    for key in keys:
        a_won, b_won = key in a.won, key in b.won
        assert a_won != b_won, f"{key}: not exactly one winner (A won: {a_won}, B won: {b_won})"
        winner, loser = (a, b) if a_won else (b, a)
        assert key not in winner.lost and key in loser.lost

        answer = Completion(status="completed", task_id=key[2], approved=winner.approved)
        assert winner.won[key] == answer
        assert not state.is_pending(*key)
        assert state.completion_of(*key) == winner.recorded
        finished = RunState.COMPLETED if winner.approved else RunState.STOPPED
        assert state.run_state(*key[:2]) is finished

        conflict = loser.lost[key]
        assert conflict.status_code == 409 and conflict.code == "CONFLICT"
        # A first-attempt 409 is someone else's completion; only a retry after an answer that
        # may have been lost can be our own.
        expected = loser is a and a_ambiguous
        assert conflict.maybe_ours is expected, f"{key}: {loser.name}'s 409 maybe_ours"
        maybe_ours[loser.name] += conflict.maybe_ours
    figures = {
        "tasks": len(keys),
        "A won": len(a.won),
        "B won": len(b.won),
        "A conflicts": len(a.lost),
        "B conflicts": len(b.lost),
        "A maybe_ours": maybe_ours["A"],
        "B maybe_ours": maybe_ours["B"],
    }
    assert figures["A won"] + figures["B won"] == TASKS
    # A starts where B ends and vice versa: each wins at least its own first task.
    assert figures["A won"] > 0 and figures["B won"] > 0, figures
    return figures


@pytest.fixture
def race_keys(stub_state: StubState) -> list[TaskKey]:
    """200 generated tasks on top of the demo seed."""
    return generate_tasks(stub_state, TASKS, seed=7)


@pytest.mark.parametrize("mode", ["threads", "asyncio"])
def test_two_clients_race_and_each_task_is_completed_exactly_once(
    mode: str, stub_state: StubState, race_keys: list[TaskKey], live_stub: StubServer
) -> None:
    a, b = make_racers()
    pending_before = stub_state.pending_count
    # No retries: a transport failure would surface instead of hiding in a retry.
    url = live_stub.url
    if mode == "threads":
        with client_for(url, max_retries=0) as ca, client_for(url, max_retries=0) as cb:
            race_in_threads(
                lambda: a.complete(ca, race_keys), lambda: b.complete(cb, race_keys[::-1])
            )
    else:

        async def race() -> None:
            async with (
                async_client_for(url, max_retries=0) as ca,
                async_client_for(url, max_retries=0) as cb,
            ):
                await asyncio.gather(
                    a.complete_async(ca, race_keys), b.complete_async(cb, race_keys[::-1])
                )

        asyncio.run(race())

    assert pending_before - stub_state.pending_count == TASKS
    figures = check_outcomes(stub_state, race_keys, a, b, a_ambiguous=False)
    assert figures["A maybe_ours"] == figures["B maybe_ours"] == 0
    print(f"race ({mode}): {figures}")


class FirstAttemptToFaultyServer(httpx.BaseTransport):
    """Client A's transport: the first attempt of each completion (per Idempotency-Key) goes to
    the faulty server, whose answer is dropped; every later attempt goes to the healthy one.

    Records, per task path, the key and what each attempt got: ``"dropped"`` or the status and
    ``Idempotent-Replayed`` header of the healthy server's answer.
    """

    def __init__(self, faulty_url: str) -> None:
        self._inner = httpx.HTTPTransport()
        self._faulty = httpx.URL(faulty_url)
        self.keys: dict[str, set[str]] = {}
        self.attempts: dict[str, list[object]] = {}
        self._seen: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        key = request.headers["Idempotency-Key"]
        first = key not in self._seen
        self._seen.add(key)
        self.keys.setdefault(path, set()).add(key)
        attempts = self.attempts.setdefault(path, [])
        if not first:
            response = self._inner.handle_request(request)
            attempts.append((response.status_code, response.headers.get("Idempotent-Replayed")))
            return response
        url = request.url.copy_with(host=self._faulty.host, port=self._faulty.port)
        headers = httpx.Headers(request.headers)
        headers["Host"] = url.netloc.decode()
        detour = httpx.Request(request.method, url, headers=headers, content=request.content)
        try:
            response = self._inner.handle_request(detour)
            response.read()
        except httpx.RemoteProtocolError:
            attempts.append("dropped")
            raise
        attempts.append(("not dropped", response.status_code))
        return response

    def close(self) -> None:
        self._inner.close()


def test_race_where_a_loses_every_first_answer(
    stub_state: StubState, race_keys: list[TaskKey], live_stub: StubServer
) -> None:
    a, b = make_racers()
    pending_before = stub_state.pending_count
    faults = FaultInjector(1.0, kinds=[FaultKind.DROP_AFTER])
    with StubServer(stub_state, faults=faults) as faulty:
        transport = FirstAttemptToFaultyServer(faulty.url)
        http = httpx.Client(transport=transport)
        # One retry, at once: the second attempt must settle it.
        policy = RetryPolicy(max_retries=1, initial_delay=0.0, jitter=0.0)
        with (
            http,
            client_for(live_stub.url, http_client=http, retry_policy=policy) as ca,
            client_for(live_stub.url, max_retries=0) as cb,
        ):
            race_in_threads(
                lambda: a.complete(ca, race_keys), lambda: b.complete(cb, race_keys[::-1])
            )

    assert pending_before - stub_state.pending_count == TASKS
    figures = check_outcomes(stub_state, race_keys, a, b, a_ambiguous=True)
    # Every first attempt of A reached the faulty server, was applied there, and lost its answer.
    assert faults.report() == {
        "requests": TASKS,
        "unavailable": 0,
        "drop_before": 0,
        "drop_after": TASKS,
    }
    paths = {f"/v1/workflows/{w}/runs/{r}/tasks/{t}/complete": (w, r, t) for w, r, t in race_keys}
    assert set(transport.attempts) == set(paths)
    for path, key in paths.items():
        assert len(transport.keys[path]) == 1, "a retry must reuse the Idempotency-Key"
        if key in a.won:
            # A's first attempt landed; the retry is answered with the stored first answer.
            assert transport.attempts[path] == ["dropped", (200, "true")], path
        else:
            # B had already won; A's first attempt was refused unseen, the retry is told so.
            assert transport.attempts[path] == ["dropped", (409, None)], path
    assert figures["A maybe_ours"] == figures["B won"] and figures["B maybe_ours"] == 0
    print(f"race with A's first answers dropped: {figures}")
