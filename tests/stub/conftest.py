"""Helpers for the stub's own tests: request headers and an in-process client of the stub app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from server_stub import DEMO_CONTRIBUTOR_TOKEN, DEMO_PROJECT, DEMO_TENANT, DEMO_VIEWER_TOKEN


def headers_for(
    token: str, *, tenant: str = DEMO_TENANT, project: str | None = DEMO_PROJECT
) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}
    if project is not None:
        headers["X-Project-Id"] = project
    return headers


HeadersFor = Callable[..., dict[str, str]]


@pytest.fixture
def make_headers() -> HeadersFor:
    """``make_headers(token, tenant=..., project=...)``; ``project=None`` omits the header."""
    return headers_for


@pytest.fixture
def contributor() -> dict[str, str]:
    return headers_for(DEMO_CONTRIBUTOR_TOKEN)


@pytest.fixture
def viewer() -> dict[str, str]:
    return headers_for(DEMO_VIEWER_TOKEN)


@pytest.fixture
async def api(stub_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of ``stub_app``, without default headers (each test sends its own)."""
    transport = httpx.ASGITransport(app=stub_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stub.test") as client:
        yield client
