"""The stub's listening socket: accepted connections must get TCP_NODELAY from asyncio."""

from __future__ import annotations

import socket

import httpx

from server_stub import StubServer, StubState
from server_stub._socket import listening_socket


def test_listening_socket_is_declared_tcp() -> None:
    # asyncio only sets TCP_NODELAY on sockets whose proto is IPPROTO_TCP; with proto 0 every
    # kept-alive response was held ~40 ms by Nagle's algorithm against delayed ACKs.
    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_server_side_connections_have_nodelay() -> None:
    seen: list[int] = []
    with StubServer(StubState()) as server:
        import uvicorn.protocols.http.h11_impl as h11_impl

        original = h11_impl.H11Protocol.connection_made

        def spy(self: h11_impl.H11Protocol, transport: object) -> None:
            sock = transport.get_extra_info("socket")  # type: ignore[attr-defined]
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            original(self, transport)  # type: ignore[arg-type]

        h11_impl.H11Protocol.connection_made = spy  # type: ignore[method-assign]
        try:
            httpx.get(f"{server.url}/openapi.json")
        finally:
            h11_impl.H11Protocol.connection_made = original  # type: ignore[method-assign]
    assert seen and all(seen)
