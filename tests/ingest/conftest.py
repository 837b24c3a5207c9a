"""Fixtures for the ingest tests: loopback HTTP servers, a policy that lets only the
loopback test server count as public, and a tripwire that fails any test whose code
would open a socket to a non-loopback address (this sandbox must never send traffic
to private or public ranges, even when a guard under test is broken)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator

import pytest

from analysis.ingest import AddressPolicy
from tests.ingest.servers import Handler, LoopbackServer

# The test server counts as public; every other private or loopback address,
# 127.0.0.2 included, stays refused.
TEST_SERVER_NETWORK = ipaddress.ip_network("127.0.0.1/32")


class OutsideConnectionAttempted(AssertionError):
    pass


@pytest.fixture(autouse=True)
def only_loopback_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def guarded_connect(sock: socket.socket, address: object) -> None:
        if isinstance(address, tuple):
            host = str(address[0])
            attempts.append(host)
            try:
                is_loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
            except ValueError:
                is_loopback = host == "localhost"
            if not is_loopback:
                raise OutsideConnectionAttempted(f"a test tried to connect to {host}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    return attempts


@pytest.fixture(autouse=True)
def guard_on_by_default(settings) -> None:
    """Whatever the environment says, tests start with the address rule on."""
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(routes: dict[str, Handler], ssl_context: ssl.SSLContext | None = None):
        server = LoopbackServer(routes, ssl_context=ssl_context)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def test_server_is_public() -> AddressPolicy:
    return AddressPolicy(trusted_networks=(TEST_SERVER_NETWORK,))
