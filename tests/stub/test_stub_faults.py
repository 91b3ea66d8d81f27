"""Fault injection: deterministic decisions, and each fault as an httpx client really meets it."""

from __future__ import annotations

import time

import httpx
import pytest

from server_stub import FaultInjector, FaultKind, StubServer, StubState, create_app

PR_KEY = ("wf_pr_review", "run_7f3a9c1e5b2d", "approve-review")
PR_COMPLETE = "/v1/workflows/wf_pr_review/runs/run_7f3a9c1e5b2d/tasks/approve-review/complete"


def test_decisions_are_deterministic_per_seed() -> None:
    def draws(seed: int) -> list[FaultKind | None]:
        injector = FaultInjector(0.3, seed=seed)
        return [injector.decide() for _ in range(1000)]

    first = draws(5)

    assert first == draws(5)
    assert first != draws(6)
    faulted = [kind for kind in first if kind is not None]
    assert 250 <= len(faulted) <= 350
    assert set(faulted) == set(FaultKind)


def test_counts_follow_the_decisions() -> None:
    injector = FaultInjector(0.5, seed=1, kinds=["drop_after", FaultKind.UNAVAILABLE])
    decided = [injector.decide() for _ in range(200)]

    assert injector.requests == 200
    assert injector.counts == {
        FaultKind.UNAVAILABLE: decided.count(FaultKind.UNAVAILABLE),
        FaultKind.DROP_BEFORE: 0,
        FaultKind.DROP_AFTER: decided.count(FaultKind.DROP_AFTER),
    }
    assert injector.report()["requests"] == 200
    assert injector.report()["drop_after"] == decided.count(FaultKind.DROP_AFTER)
    assert FaultInjector(0.0).decide() is None
    assert FaultInjector(1.0, kinds=["drop_before"]).decide() is FaultKind.DROP_BEFORE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fail_rate": -0.1},
        {"fail_rate": 1.5},
        {"latency_ms": -1},
        {"kinds": []},
        {"kinds": ["boom"]},
    ],
)
def test_bad_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        FaultInjector(**kwargs)


@pytest.mark.e2e
def test_a_503_over_loopback_applies_nothing(
    stub_state: StubState, contributor: dict[str, str]
) -> None:
    injector = FaultInjector(1.0, kinds=[FaultKind.UNAVAILABLE])
    with (
        StubServer(stub_state, faults=injector) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        response = http.post(PR_COMPLETE, headers=contributor, json={"approved": True})

    assert response.status_code == 503
    assert response.json()["code"] == "INTERNAL_ERROR"
    assert stub_state.is_pending(*PR_KEY)
    assert injector.counts[FaultKind.UNAVAILABLE] == 1


@pytest.mark.e2e
@pytest.mark.parametrize("kind", [FaultKind.DROP_BEFORE, FaultKind.DROP_AFTER])
def test_a_dropped_connection_over_loopback_is_a_transport_error(
    stub_state: StubState, contributor: dict[str, str], kind: FaultKind
) -> None:
    injector = FaultInjector(1.0, kinds=[kind])
    headers = contributor | {"Idempotency-Key": "attempt-1"}
    with StubServer(stub_state, faults=injector) as server:
        with (
            httpx.Client(base_url=server.url) as http,
            pytest.raises(httpx.TransportError) as caught,
        ):
            http.post(PR_COMPLETE, headers=headers, json={"approved": True})
        assert not isinstance(caught.value, httpx.HTTPStatusError)

        landed = not stub_state.is_pending(*PR_KEY)
        assert landed is (kind is FaultKind.DROP_AFTER)
        assert injector.counts[kind] == 1
        # The retry, without faults, learns the truth: a replay if it had landed, else a fresh 200.
        injector.fail_rate = 0.0
        with httpx.Client(base_url=server.url) as http:
            retry = http.post(PR_COMPLETE, headers=headers, json={"approved": True})

    assert retry.status_code == 200
    assert retry.headers.get("Idempotent-Replayed") == ("true" if landed else None)
    assert stub_state.completed_count == 1


@pytest.mark.parametrize("kind", [FaultKind.DROP_BEFORE, FaultKind.DROP_AFTER])
async def test_in_process_a_drop_is_a_transport_error_too(
    stub_state: StubState, contributor: dict[str, str], kind: FaultKind
) -> None:
    app = create_app(stub_state, faults=FaultInjector(1.0, kinds=[kind]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        with pytest.raises(httpx.TransportError):
            await api.post(PR_COMPLETE, headers=contributor, json={"approved": True})

    assert stub_state.is_pending(*PR_KEY) is (kind is FaultKind.DROP_BEFORE)


async def test_latency_delays_api_requests_only(
    stub_state: StubState, contributor: dict[str, str]
) -> None:
    app = create_app(stub_state, faults=FaultInjector(1.0, latency_ms=40, kinds=["unavailable"]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        started = time.perf_counter()
        response = await api.get("/v1/tasks/pending", headers=contributor)
        delayed = time.perf_counter() - started
        docs = await api.get("/openapi.json")

    assert response.status_code == 503
    assert delayed >= 0.04
    assert docs.status_code == 200  # outside /v1/: never faulted
    assert app.state.faults.requests == 1
