"""One POST of a webhook: to an address that was checked, within one timeout,
without following redirects.

The URL goes through the media URL rule again (``url_guard``) at each attempt: the
host is resolved once, every address must be allowed, and the socket is opened to
one of exactly those addresses. The host name is used only for the Host header and
for TLS (SNI and certificate), so a DNS answer changed after the check (rebinding)
is never connected to. A watchdog closes the socket when the timeout passes, which
also bounds a receiver that drips its answer byte by byte.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from contextlib import suppress
from dataclasses import dataclass

from analysis.ingest.errors import IngestError
from analysis.ingest.url_guard import (
    AddressPolicy,
    IPAddress,
    ParsedTarget,
    resolve_public_addresses,
    validate_url,
)

USER_AGENT = "media-analysis-webhooks/1.0"
MAX_ANSWER_BYTES = 64 * 1024  # read (and dropped) so the receiver sees a clean close


@dataclass(frozen=True)
class PostResult:
    status_code: int | None  # None: no HTTP answer (refused address, timeout, network)
    duration_ms: int
    error: str | None  # for people: names the host, never the query string or a secret


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    policy: AddressPolicy | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> PostResult:
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> PostResult:
        return PostResult(status, round((time.monotonic() - started) * 1000), error)

    try:
        target = validate_url(url)
        addresses = resolve_public_addresses(
            target.host, target.port, policy=policy or AddressPolicy.from_settings()
        )
    except IngestError as exc:
        return done(None, f"refused: {exc.message}")
    deadline = started + timeout
    connection = _PinnedConnection(target, addresses, deadline, ssl_context)
    try:
        connection.connect()
        connection.putrequest(
            "POST", target.request_target, skip_host=True, skip_accept_encoding=True
        )
        for name, value in {
            "Host": target.host_header,
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Connection": "close",
            **headers,
        }.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        response.read(MAX_ANSWER_BYTES)
        return done(response.status, None if 200 <= response.status < 300 else _answer(response))
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline or isinstance(exc, TimeoutError):
            return done(None, f"timed out after {timeout:g} s ({target.host})")
        return done(None, _network_error(exc, target))
    finally:
        connection.release()


def _answer(response: http.client.HTTPResponse) -> str:
    text = f"HTTP {response.status} {response.reason}".strip()
    if 300 <= response.status < 400:
        text += " (redirects are not followed)"
    return text


def _network_error(exc: BaseException, target: ParsedTarget) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the TLS certificate of {target.host} could not be verified"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS connection to {target.host} failed"
    if isinstance(exc, ConnectionRefusedError):
        return f"{target.host} refused the connection"
    return f"the connection to {target.host} failed ({type(exc).__name__})"


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to the checked addresses only, every step bounded by one deadline."""

    def __init__(
        self,
        target: ParsedTarget,
        addresses: list[IPAddress],
        deadline: float,
        ssl_context: ssl.SSLContext | None,
    ):
        super().__init__(target.host, target.port)
        self._target = target
        self._addresses = addresses
        self._deadline = deadline
        self._ssl_context = ssl_context
        self._raw: socket.socket | None = None
        self._watchdog: threading.Timer | None = None

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("webhook timeout")
        return remaining

    def connect(self) -> None:
        last_error: OSError | None = None
        for ip in self._addresses:  # in resolver order; the last error wins
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self._remaining())
                sock.connect((str(ip), self._target.port))
            except OSError as error:
                sock.close()
                last_error = error
                continue
            self._raw = sock
            self._watchdog = threading.Timer(self._remaining(), _shutdown, args=(sock,))
            self._watchdog.daemon = True
            self._watchdog.start()
            if self._target.scheme == "https":
                context = self._ssl_context or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=self._target.host)
            self.sock = sock
            return
        assert last_error is not None  # addresses is never empty
        raise last_error

    def release(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.close()
        if self._raw is not None:
            self._raw.close()


def _shutdown(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
