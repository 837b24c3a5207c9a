"""One webhook POST (analysis.webhooks.http) against loopback servers: the name is
resolved once and the socket opened to that checked address, while the Host header
and TLS (SNI, certificate) use the URL's name; a stalled receiver is cut at the
timeout. No database."""

from __future__ import annotations

import ssl
import time

import pytest
import trustme

from analysis.ingest.url_guard import AddressPolicy
from analysis.webhooks import http
from tests.ingest.conftest import TEST_SERVER_NETWORK
from tests.ingest.servers import LoopbackServer, resolver_from

BODY = b'{"status": "completed"}'


def ok(request, connection) -> None:
    connection.respond(b"thanks")


@pytest.fixture
def servers():
    started: list[LoopbackServer] = []

    def start(routes, ssl_context=None) -> LoopbackServer:
        server = LoopbackServer(routes, ssl_context=ssl_context)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def policy_for(name: str, calls: list[str] | None = None) -> AddressPolicy:
    return AddressPolicy(
        trusted_networks=(TEST_SERVER_NETWORK,),
        resolver=resolver_from({name: ["127.0.0.1"]}, calls),
    )


def test_the_checked_address_is_connected_to_with_the_names_host_header(servers):
    server = servers({"/in": ok})
    calls: list[str] = []
    result = http.post(
        f"http://hooks.test:{server.port}/in?k=1",
        BODY,
        {"webhook-id": "msg_1"},
        timeout=3,
        policy=policy_for("hooks.test", calls),
    )
    assert result.status_code == 200 and result.error is None
    assert calls == ["hooks.test"]  # resolved once, for the check and the connection
    [request] = server.requests
    assert request.method == "POST" and request.target == "/in?k=1"
    assert request.headers["host"] == f"hooks.test:{server.port}"
    assert request.headers["webhook-id"] == "msg_1"
    assert request.headers["content-length"] == str(len(BODY))


def test_tls_verifies_the_urls_name_on_the_pinned_address(servers):
    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("hooks.test").configure_cert(server_context)
    server = servers({"/in": ok}, ssl_context=server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    result = http.post(
        f"https://hooks.test:{server.port}/in",
        BODY,
        {},
        timeout=3,
        policy=policy_for("hooks.test"),
        ssl_context=client_context,
    )
    assert result.status_code == 200
    wrong = http.post(
        f"https://other.test:{server.port}/in",
        BODY,
        {},
        timeout=3,
        policy=policy_for("other.test"),
        ssl_context=client_context,
    )
    assert wrong.status_code is None and "certificate" in wrong.error


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(servers):
    server = servers({"/in": ok})
    policy = AddressPolicy(resolver=resolver_from({"inside.test": ["127.0.0.1"]}))
    result = http.post(f"http://inside.test:{server.port}/in", BODY, {}, timeout=3, policy=policy)
    assert result.status_code is None and result.error.startswith("refused:")
    assert server.requests == []


def test_a_stalled_receiver_is_cut_at_the_timeout(servers):
    server = servers({"/in": lambda request, connection: connection.stall(5)})
    started = time.monotonic()
    result = http.post(
        f"http://127.0.0.1:{server.port}/in",
        BODY,
        {},
        timeout=0.5,
        policy=AddressPolicy(trusted_networks=(TEST_SERVER_NETWORK,)),
    )
    assert time.monotonic() - started < 2
    assert result.status_code is None and "timed out" in result.error
