"""Backoff arithmetic and Retry-After parsing, without any I/O."""

from __future__ import annotations

import email.utils

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from client._retry import RetryPolicy, parse_retry_after


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, initial_delay=0.5, max_delay=4.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@given(attempt=st.integers(0, 30), draw=st.floats(0.0, 1.0, exclude_max=True))
def test_jitter_only_shortens_within_its_fraction(attempt: int, draw: float) -> None:
    policy = RetryPolicy(max_retries=50, jitter=0.25, rng=lambda: draw)
    base = min(policy.initial_delay * 2**attempt, policy.max_delay)
    assert base * 0.75 <= policy.backoff(attempt) <= base


def test_jitter_spreads_delays() -> None:
    draws = iter([0.0, 0.5, 0.99])
    policy = RetryPolicy(max_retries=5, jitter=0.25, rng=lambda: next(draws))
    assert len({policy.backoff(1) for _ in range(3)}) == 3


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After-Ms": "250"}, 0.25),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    stamp = email.utils.formatdate(now + 7, usegmt=True)
    assert parse_retry_after({"Retry-After": stamp}, now=lambda: now) == pytest.approx(7.0)


def _response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


def test_delay_decisions() -> None:
    policy = RetryPolicy(max_retries=2, jitter=0.0, max_retry_after=30)
    assert policy.delay(0, None) == 0.5  # connection failure: back off
    assert policy.delay(0, _response(503)) == 0.5
    assert policy.delay(1, _response(408)) == 1.0
    assert policy.delay(0, _response(429, **{"Retry-After": "12"})) == 12.0
    assert policy.delay(0, _response(429, **{"Retry-After": "31"})) is None  # beyond the cap
    assert policy.delay(2, _response(503)) is None  # out of retries
    for final in (400, 401, 403, 404, 409, 422):
        assert policy.delay(0, _response(final)) is None
