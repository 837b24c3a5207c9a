"""The transfer: real HTTP(S) to loopback servers that behave well, lie, stall or
redirect. Only 127.0.0.1 is ever connected to (the conftest tripwire enforces it)."""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import time

import pytest
import trustme

from analysis.ingest import (
    MAX_REDIRECTS,
    AddressPolicy,
    DownloadError,
    IngestError,
    IngestErrorCode,
    UnsafeURLError,
    download_to,
    open_download,
)
from tests.ingest.conftest import TEST_SERVER_NETWORK
from tests.ingest.servers import Connection, Request, resolver_from

MEDIA = os.urandom(300_000)


def send_media(request: Request, conn: Connection) -> None:
    conn.respond(MEDIA, headers={"Content-Type": "image/png; charset=binary"})


def fetch(url: str, **options) -> tuple[bytes, object]:
    received = bytearray()
    result = download_to(url, received.extend, **options)
    return bytes(received), result


def error_of(url: str, **options) -> IngestError:
    with pytest.raises(IngestError) as caught:
        fetch(url, **options)
    return caught.value


class TestHappyPath:
    def test_allow_private_setting_lets_a_loopback_download_through(self, settings, serve):
        settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
        server = serve({"/media.png": send_media})
        body, result = fetch(server.url("/media.png?token=abc"))
        assert body == MEDIA
        assert result.status == 200
        assert result.content_type == "image/png"
        assert result.size_bytes == len(MEDIA)
        assert result.redirects == ()
        assert result.final_url == server.url("/media.png?token=abc")
        assert result.safe_final_url == server.url("/media.png")

    def test_the_same_download_is_refused_with_the_setting_off(self, serve):
        server = serve({"/media.png": send_media})
        error = error_of(server.url("/media.png"))
        assert error.code == IngestErrorCode.URL_PRIVATE_ADDRESS
        assert server.requests == []  # refused before connecting

    def test_request_headers(self, serve, test_server_is_public):
        server = serve({"/a%20b/../a": send_media})
        fetch(server.url("/a b/../a?x=1"), policy=test_server_is_public)
        request = server.requests[0]
        assert (request.method, request.target) == ("GET", "/a%20b/../a?x=1")
        assert request.headers["host"] == f"127.0.0.1:{server.port}"
        assert request.headers["accept-encoding"] == "identity"
        assert request.headers["user-agent"].startswith("media-analysis/")

    def test_open_download_gives_headers_first_and_an_iterable_of_chunks(
        self, serve, test_server_is_public
    ):
        server = serve({"/v": send_media})
        with open_download(server.url("/v"), policy=test_server_is_public) as media:
            assert media.declared_length == len(MEDIA)
            assert media.content_type == "image/png"
            assert media.size_bytes == 0
            chunks = list(media.chunks())
            with pytest.raises(RuntimeError):
                list(media.chunks())
        assert b"".join(chunks) == MEDIA
        assert media.result().size_bytes == len(MEDIA)

    def test_chunked_and_close_delimited_bodies(self, serve, test_server_is_public):
        def chunked(request: Request, conn: Connection) -> None:
            conn.head(headers={"Transfer-Encoding": "chunked", "Connection": "close"})
            conn.send_chunked(MEDIA, chunk_size=7000)

        def close_delimited(request: Request, conn: Connection) -> None:
            conn.head(headers={"Connection": "close"})
            conn.send(MEDIA)

        server = serve({"/chunked": chunked, "/eof": close_delimited})
        for path in ("/chunked", "/eof"):
            body, result = fetch(server.url(path), policy=test_server_is_public)
            assert body == MEDIA, path
            assert result.size_bytes == len(MEDIA)

    def test_exactly_max_bytes_is_allowed(self, serve, test_server_is_public):
        server = serve({"/m": send_media})
        body, _ = fetch(server.url("/m"), policy=test_server_is_public, max_bytes=len(MEDIA))
        assert body == MEDIA


class TestRefusedTargets:
    @pytest.mark.parametrize(
        "url",
        [
            "http://localhost/",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://10.0.0.1/",
            "http://172.16.5.4/",
            "http://192.168.0.10/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[fc00::1]/",
            "http://[fe80::1]/",
            "https://[::ffff:a9fe:a9fe]/",
        ],
    )
    def test_private_targets_are_refused_before_any_connection(
        self, url: str, only_loopback_connections: list[str]
    ):
        error = error_of(url)
        assert error.code == IngestErrorCode.URL_PRIVATE_ADDRESS
        assert isinstance(error, UnsafeURLError)
        assert only_loopback_connections == []

    @pytest.mark.parametrize(
        "url",
        ["file:///etc/passwd", "ftp://example.com/", "gopher://x/", "data:,x", "javascript:x"],
    )
    def test_other_schemes(self, url: str):
        assert error_of(url).code == IngestErrorCode.URL_SCHEME_NOT_ALLOWED

    def test_credentials(self, serve, test_server_is_public):
        server = serve({"/": send_media})
        url = server.url("/").replace("127.0.0.1", "me:pw@127.0.0.1")
        assert error_of(url, policy=test_server_is_public).code == (
            IngestErrorCode.URL_CREDENTIALS_NOT_ALLOWED
        )
        assert server.requests == []


class TestRedirects:
    @pytest.mark.parametrize(
        "location",
        [
            "http://169.254.169.254/latest/meta-data/iam/",
            "http://10.0.0.1/",
            "http://[::1]:{port}/media",
            "http://127.0.0.2:{port}/media",
            "http://[::ffff:127.0.0.1]:{port}/media",
            "http://internal.test/media",
        ],
    )
    def test_redirect_from_an_allowed_host_to_a_private_one_is_refused(
        self, serve, location: str, only_loopback_connections: list[str]
    ):
        server = serve({})
        server.routes["/start"] = lambda req, conn: conn.redirect(location.format(port=server.port))
        policy = AddressPolicy(
            trusted_networks=(TEST_SERVER_NETWORK,),
            resolver=resolver_from({"127.0.0.1": ["127.0.0.1"], "internal.test": ["192.168.1.20"]}),
        )
        error = error_of(server.url("/start"), policy=policy)
        assert error.code == IngestErrorCode.URL_PRIVATE_ADDRESS
        assert "redirected" in error.message
        assert [r.target for r in server.requests] == ["/start"]
        assert only_loopback_connections == ["127.0.0.1"]

    def test_redirect_to_another_scheme_is_refused(self, serve, test_server_is_public):
        server = serve({"/": lambda req, conn: conn.redirect("file:///etc/passwd")})
        error = error_of(server.url("/"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.URL_SCHEME_NOT_ALLOWED

    def hops(self, serve, count: int):
        """A server where /hop/N redirects to /hop/N+1 (relative, absolute, and every
        redirect status alternately) and /hop/<count> serves the media."""
        server = serve({})
        statuses = [
            "301 Moved Permanently",
            "302 Found",
            "303 See Other",
            "307 Temporary Redirect",
            "308 Permanent Redirect",
        ]
        for n in range(count):
            target = f"/hop/{n + 1}" if n % 2 else server.url(f"/hop/{n + 1}")
            server.routes[f"/hop/{n}"] = lambda req, conn, target=target, status=statuses[n % 5]: (
                conn.redirect(target, status)
            )
        server.routes[f"/hop/{count}"] = send_media
        return server

    def test_five_redirects_are_followed(self, serve, test_server_is_public):
        server = self.hops(serve, MAX_REDIRECTS)
        body, result = fetch(server.url("/hop/0?sig=1"), policy=test_server_is_public)
        assert body == MEDIA
        assert result.redirects == tuple(server.url(f"/hop/{n}") for n in range(1, 6))
        assert result.final_url == server.url("/hop/5")

    def test_a_sixth_redirect_is_refused(self, serve, test_server_is_public):
        server = self.hops(serve, MAX_REDIRECTS + 1)
        error = error_of(server.url("/hop/0"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.TOO_MANY_REDIRECTS
        assert error.http_status == 502
        assert len(server.requests) == MAX_REDIRECTS + 1  # /hop/6 never asked for

    def test_relative_location_with_raw_utf8_is_followed(self, serve, test_server_is_public):
        def raw_utf8_redirect(request: Request, conn: Connection) -> None:
            conn.head(
                "302 Found",
                {"Location": "/m%C3%A9dia?x=1", "Content-Length": "0", "Connection": "close"},
            )

        def raw_bytes_redirect(request: Request, conn: Connection) -> None:
            conn.send(
                b"HTTP/1.1 302 Found\r\nLocation: /m\xc3\xa9dia?x=1\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )

        server = serve(
            {"/a": raw_utf8_redirect, "/b": raw_bytes_redirect, "/m%C3%A9dia": send_media}
        )
        for start in ("/a", "/b"):
            body, result = fetch(server.url(start), policy=test_server_is_public)
            assert body == MEDIA
            assert result.final_url == server.url("/m%C3%A9dia?x=1")

    def test_redirect_loop_is_cut(self, serve, test_server_is_public):
        server = serve({"/loop": lambda req, conn: conn.redirect("/loop")})
        error = error_of(server.url("/loop"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.TOO_MANY_REDIRECTS

    def test_redirect_without_location(self, serve, test_server_is_public):
        server = serve({"/": lambda req, conn: conn.respond(b"", status="302 Found")})
        error = error_of(server.url("/"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.DOWNLOAD_HTTP_ERROR


class TestDnsRebinding:
    def test_connects_to_the_address_that_was_checked(self, serve, only_loopback_connections):
        """The resolver answers public (the test server) first and private after; the
        download succeeds on one lookup, so the second answer is never used."""
        server = serve({"/m": send_media})
        calls: list[str] = []
        answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])

        def rebinding_resolver(host: str, port: int) -> list:
            calls.append(host)
            return [ipaddress.ip_address(a) for a in next(answers)]

        policy = AddressPolicy(trusted_networks=(TEST_SERVER_NETWORK,), resolver=rebinding_resolver)
        body, _ = fetch(f"http://rebind.test:{server.port}/m", policy=policy)
        assert body == MEDIA
        assert calls == ["rebind.test"]
        assert only_loopback_connections == ["127.0.0.1"]
        assert server.requests[0].headers["host"] == f"rebind.test:{server.port}"

    def test_every_redirect_hop_is_resolved_and_checked_again(self, serve):
        server = serve({"/": lambda req, conn: conn.redirect("/again")})
        calls: list[str] = []
        answers = iter([["127.0.0.1"], ["10.0.0.1"]])

        def rebinding_resolver(host: str, port: int) -> list:
            calls.append(host)
            return [ipaddress.ip_address(a) for a in next(answers)]

        policy = AddressPolicy(trusted_networks=(TEST_SERVER_NETWORK,), resolver=rebinding_resolver)
        error = error_of(f"http://rebind.test:{server.port}/", policy=policy)
        assert error.code == IngestErrorCode.URL_PRIVATE_ADDRESS
        assert calls == ["rebind.test", "rebind.test"]


class TestSizeLimit:
    LIMIT = 64 * 1024

    def test_content_length_over_the_limit_is_refused_before_reading(
        self, serve, test_server_is_public
    ):
        server = serve({"/big": send_media})
        received = bytearray()
        with pytest.raises(DownloadError) as caught:
            download_to(
                server.url("/big"),
                received.extend,
                policy=test_server_is_public,
                max_bytes=self.LIMIT,
            )
        assert caught.value.code == IngestErrorCode.DOWNLOAD_TOO_LARGE
        assert caught.value.http_status == 413
        assert received == b""
        assert "64 KiB" in caught.value.message

    @pytest.mark.parametrize(
        "headers",
        [
            # Content-Length claims a small body; chunked framing wins and sends more.
            {"Content-Length": "100", "Transfer-Encoding": "chunked"},
            {"Transfer-Encoding": "chunked"},
        ],
    )
    def test_chunked_body_is_counted_while_reading(self, serve, test_server_is_public, headers):
        endless = 256 * 1024 * 1024  # far more than loopback socket buffers hold

        def lying(request: Request, conn: Connection) -> None:
            conn.head(headers={**headers, "Connection": "close"})
            block = os.urandom(16384)
            while conn.bytes_sent < endless:
                conn.send(b"4000\r\n" + block + b"\r\n")

        server = serve({"/lie": lying})
        received = bytearray()
        with pytest.raises(DownloadError) as caught:
            download_to(
                server.url("/lie"),
                received.extend,
                policy=test_server_is_public,
                max_bytes=self.LIMIT,
            )
        assert caught.value.code == IngestErrorCode.DOWNLOAD_TOO_LARGE
        assert len(received) <= self.LIMIT
        server.stop()  # wait for the handler: its writes fail once we hung up
        assert server.connections[0].bytes_sent < endless

    @pytest.mark.parametrize("content_length", [None, "not-a-number", "-5"])
    def test_body_without_a_usable_length_is_counted_while_reading(
        self, serve, test_server_is_public, content_length
    ):
        def unbounded(request: Request, conn: Connection) -> None:
            headers = {"Connection": "close"}
            if content_length is not None:
                headers["Content-Length"] = content_length
            conn.head(headers=headers)
            for _ in range(100):
                conn.send(os.urandom(20_000))

        server = serve({"/stream": unbounded})
        received = bytearray()
        with pytest.raises(DownloadError) as caught:
            download_to(
                server.url("/stream"),
                received.extend,
                policy=test_server_is_public,
                max_bytes=self.LIMIT,
            )
        assert caught.value.code == IngestErrorCode.DOWNLOAD_TOO_LARGE
        assert len(received) <= self.LIMIT

    def test_content_length_understating_the_body_never_yields_more_than_declared(
        self, serve, test_server_is_public
    ):
        def understating(request: Request, conn: Connection) -> None:
            conn.head(headers={"Content-Length": "1000", "Connection": "close"})
            conn.send(MEDIA)

        server = serve({"/under": understating})
        body, result = fetch(
            server.url("/under"), policy=test_server_is_public, max_bytes=self.LIMIT
        )
        assert body == MEDIA[:1000]
        assert result.size_bytes == 1000

    def test_settings_limit_is_the_default(self, settings, serve, test_server_is_public):
        settings.MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES = 1000
        server = serve({"/m": send_media})
        error = error_of(server.url("/m"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.DOWNLOAD_TOO_LARGE

    def test_body_shorter_than_content_length_fails(self, serve, test_server_is_public):
        def truncated(request: Request, conn: Connection) -> None:
            conn.head(headers={"Content-Length": "5000", "Connection": "close"})
            conn.send(b"x" * 1200)

        server = serve({"/t": truncated})
        error = error_of(server.url("/t"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.DOWNLOAD_FAILED


class TestTimeouts:
    def test_stall_before_headers(self, serve, test_server_is_public):
        server = serve({"/": lambda req, conn: conn.stall()})
        started = time.monotonic()
        error = error_of(server.url("/"), policy=test_server_is_public, read_timeout=0.5)
        assert error.code == IngestErrorCode.DOWNLOAD_TIMEOUT
        assert error.http_status == 504
        assert 0.4 < time.monotonic() - started < 3

    def test_stall_in_the_middle_of_the_body(self, serve, test_server_is_public):
        def half_then_stall(request: Request, conn: Connection) -> None:
            conn.head(headers={"Content-Length": str(len(MEDIA))})
            conn.send(MEDIA[:1000])
            conn.stall()

        server = serve({"/": half_then_stall})
        received = bytearray()
        started = time.monotonic()
        with pytest.raises(DownloadError) as caught:
            download_to(
                server.url("/"), received.extend, policy=test_server_is_public, read_timeout=0.5
            )
        assert caught.value.code == IngestErrorCode.DOWNLOAD_TIMEOUT
        assert received == MEDIA[:1000]
        assert time.monotonic() - started < 3

    def test_slow_drip_body_hits_the_overall_deadline(self, serve, test_server_is_public):
        """Each byte arrives well within the read timeout; the deadline still ends it."""

        def drip(request: Request, conn: Connection) -> None:
            conn.head(headers={"Connection": "close"})
            for _ in range(200):
                conn.send(b"x")
                if conn.server.released.wait(0.05):
                    return

        server = serve({"/": drip})
        started = time.monotonic()
        error = error_of(server.url("/"), policy=test_server_is_public, read_timeout=1, deadline=1)
        assert error.code == IngestErrorCode.DOWNLOAD_TIMEOUT
        assert 0.9 < time.monotonic() - started < 2.5

    def test_slow_drip_headers_hit_the_overall_deadline(self, serve, test_server_is_public):
        """http.client reads headers line by line without us in the loop: the deadline
        watchdog has to cut the connection."""

        def drip_headers(request: Request, conn: Connection) -> None:
            conn.send(b"HTTP/1.1 200 OK\r\n")
            for n in range(200):
                conn.send(f"X-Slow-{n}: 1\r\n".encode())
                if conn.server.released.wait(0.05):
                    return

        server = serve({"/": drip_headers})
        started = time.monotonic()
        error = error_of(server.url("/"), policy=test_server_is_public, read_timeout=1, deadline=1)
        assert error.code == IngestErrorCode.DOWNLOAD_TIMEOUT
        assert 0.9 < time.monotonic() - started < 2.5


class TestServerFailures:
    def test_http_error_status(self, serve, test_server_is_public):
        server = serve({})
        error = error_of(server.url("/missing"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.DOWNLOAD_HTTP_ERROR
        assert error.http_status == 502
        assert "404" in error.message

    def test_connection_refused(self, test_server_is_public):
        import socket

        with socket.create_server(("127.0.0.1", 0)) as placeholder:
            port = placeholder.getsockname()[1]
        error = error_of(f"http://127.0.0.1:{port}/", policy=test_server_is_public)
        assert error.code == IngestErrorCode.DOWNLOAD_FAILED
        assert "refused" in error.message

    def test_not_http_at_all(self, serve, test_server_is_public):
        server = serve({"/": lambda req, conn: conn.send(b"SSH-2.0-OpenSSH_9.2\r\n")})
        error = error_of(server.url("/"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.DOWNLOAD_FAILED

    def test_compressed_content_is_refused(self, serve, test_server_is_public):
        server = serve(
            {
                "/": lambda req, conn: conn.respond(
                    b"\x1f\x8b...", headers={"Content-Encoding": "gzip"}
                )
            }
        )
        error = error_of(server.url("/"), policy=test_server_is_public)
        assert error.code == IngestErrorCode.DOWNLOAD_FAILED
        assert "gzip" in error.message


class TestTls:
    @pytest.fixture
    def ca(self) -> trustme.CA:
        return trustme.CA()

    def https_server(self, serve, ca: trustme.CA, name: str):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(name).configure_cert(context)
        return serve({"/m": send_media}, ssl_context=context)

    def client_context(self, ca: trustme.CA) -> ssl.SSLContext:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        return context

    def policy_for(self, name: str) -> AddressPolicy:
        return AddressPolicy(
            trusted_networks=(TEST_SERVER_NETWORK,),
            resolver=resolver_from({name: ["127.0.0.1"]}),
        )

    def test_certificate_is_verified_against_the_url_host_while_connecting_to_the_ip(
        self, serve, ca
    ):
        server = self.https_server(serve, ca, "media.test")
        body, result = fetch(
            f"https://media.test:{server.port}/m",
            policy=self.policy_for("media.test"),
            ssl_context=self.client_context(ca),
        )
        assert body == MEDIA
        assert result.final_url == f"https://media.test:{server.port}/m"
        assert server.requests[0].headers["host"] == f"media.test:{server.port}"

    def test_certificate_for_another_name_is_refused(self, serve, ca):
        server = self.https_server(serve, ca, "other.test")
        error = error_of(
            f"https://media.test:{server.port}/m",
            policy=self.policy_for("media.test"),
            ssl_context=self.client_context(ca),
        )
        assert error.code == IngestErrorCode.DOWNLOAD_FAILED
        assert "certificate" in error.message

    def test_default_context_uses_the_system_trust_store(self, serve, ca):
        server = self.https_server(serve, ca, "media.test")
        error = error_of(
            f"https://media.test:{server.port}/m", policy=self.policy_for("media.test")
        )
        assert error.code == IngestErrorCode.DOWNLOAD_FAILED
        assert server.requests == []


class TestLogging:
    def test_query_strings_and_credentials_never_reach_logs_or_messages(
        self, serve, test_server_is_public, caplog
    ):
        server = serve(
            {"/m": send_media, "/r": lambda req, conn: conn.redirect("/m?sig=HOPSECRET")}
        )
        with caplog.at_level(logging.DEBUG, logger="analysis.ingest"):
            fetch(server.url("/r?token=TOPSECRET"), policy=test_server_is_public)
            error = error_of(server.url("/missing?token=TOPSECRET"), policy=test_server_is_public)
            error_of("http://user:TOPSECRET@example.com/", policy=test_server_is_public)
        logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
        assert "download finished" in logged
        assert server.url("/m") in logged
        for secret in ("TOPSECRET", "HOPSECRET"):
            assert secret not in logged
            assert secret not in error.message


def test_deadline_watchdog_also_cuts_a_tls_connection(serve):
    """The watchdog shuts the TLS socket's descriptor down without touching TLS state."""
    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("media.test").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    def drip_headers(request: Request, conn: Connection) -> None:
        conn.send(b"HTTP/1.1 200 OK\r\n")
        for n in range(200):
            conn.send(f"X-Slow-{n}: 1\r\n".encode())
            if conn.server.released.wait(0.05):
                return

    server = serve({"/": drip_headers}, ssl_context=server_context)
    policy = AddressPolicy(
        trusted_networks=(TEST_SERVER_NETWORK,),
        resolver=resolver_from({"media.test": ["127.0.0.1"]}),
    )
    started = time.monotonic()
    error = error_of(
        f"https://media.test:{server.port}/",
        policy=policy,
        ssl_context=client_context,
        read_timeout=5,
        deadline=1,
    )
    assert error.code == IngestErrorCode.DOWNLOAD_TIMEOUT
    assert 0.9 < time.monotonic() - started < 2.5
