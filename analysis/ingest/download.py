"""Streaming download of media by URL, through the address rule of ``url_guard``.

Each hop (the first URL and every redirect, at most ``MAX_REDIRECTS``) is validated
and resolved once; the socket is opened to an address that was checked, and the
host name is used only for the Host header and for TLS (SNI and certificate
verification). So DNS rebinding between check and connect has nothing to act on.

The body is read with one system call per chunk, with a read timeout per call and an
overall deadline across the whole transfer, and the byte count is checked as it
arrives; Content-Length is used only to refuse early, never trusted as a bound.
Name resolution is the one step outside the deadline: getaddrinfo has no timeout of
its own, and is bounded by the system resolver's (resolv.conf ``timeout``/``attempts``).

Usage, as the pipeline does it (``analysis.ingest.store.store_incoming_media``
hashes the chunks, enforces the size limit and writes them atomically)::

    with open_download(url) as media:
        incoming = store_incoming_media(request_id, media.chunks())
        result = media.result()  # final URL, status, content type, size, redirects

or, with a callback, ``download_to(url, write) -> DownloadResult``.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urljoin

from analysis.ingest.errors import DownloadError, IngestErrorCode, UnsafeURLError
from analysis.ingest.url_guard import (
    AddressPolicy,
    IPAddress,
    ParsedTarget,
    resolve_public_addresses,
    validate_url,
)

logger = logging.getLogger("analysis.ingest")

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_SIZE = 256 * 1024
USER_AGENT = "media-analysis/0.1 (media fetcher)"


@dataclass(frozen=True)
class DownloadLimits:
    """Bounds of one download; defaults come from settings."""

    max_bytes: int
    connect_timeout: float  # seconds to open a connection (TLS handshake included)
    read_timeout: float  # seconds one read may wait for the next bytes
    deadline: float  # seconds for the whole download, redirects included

    @classmethod
    def from_settings(cls) -> DownloadLimits:
        from django.conf import settings

        return cls(
            max_bytes=settings.MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES,
            connect_timeout=settings.MEDIA_ANALYSIS_DOWNLOAD_CONNECT_TIMEOUT,
            read_timeout=settings.MEDIA_ANALYSIS_DOWNLOAD_READ_TIMEOUT,
            deadline=settings.MEDIA_ANALYSIS_DOWNLOAD_DEADLINE,
        )


@dataclass(frozen=True)
class DownloadResult:
    final_url: str  # the URL the media came from, query included: store it, do not log it
    safe_final_url: str  # scheme://host[:port]/path of final_url, for logs
    status: int
    content_type: str | None  # media type from the header, lowercased, no parameters
    size_bytes: int
    redirects: tuple[str, ...]  # each hop after the first, in safe (loggable) form


class RemoteMedia:
    """An open, checked response whose body has not been read yet."""

    def __init__(
        self,
        *,
        target: ParsedTarget,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        redirects: tuple[str, ...],
        limits: DownloadLimits,
        clock: _Deadline,
    ):
        self.target = target
        self.status = response.status
        self.content_type = _media_type(response.getheader("Content-Type"))
        self.declared_length: int | None = response.length
        self.redirects = redirects
        self.size_bytes = 0
        self._connection = connection
        self._response = response
        self._limits = limits
        self._clock = clock
        self._started = False

    @property
    def final_url(self) -> str:
        return self.target.url

    def chunks(self) -> Iterator[bytes]:
        """Yield the body in chunks; raises DownloadError past the size limit, on a
        stall or the deadline, or when the server closes before the body is complete.
        Can be iterated once; the connection is closed when it ends."""
        if self._started:
            raise RuntimeError("the body of a download can be read only once")
        self._started = True
        try:
            with _translated_errors(self.target, self._clock):
                while True:
                    self._connection.bound_next_read()
                    chunk = self._response.read1(CHUNK_SIZE)
                    if not chunk:
                        break
                    self.size_bytes += len(chunk)
                    if self.size_bytes > self._limits.max_bytes:
                        raise _too_large(self._limits.max_bytes)
                    yield chunk
                if self._clock.expired():  # the watchdog cut a close-delimited body short
                    raise _deadline_passed()
                if self._response.length:  # bytes still owed under Content-Length
                    raise DownloadError(
                        IngestErrorCode.DOWNLOAD_FAILED,
                        "The server closed the connection before sending the whole file.",
                    )
        finally:
            self.close()
        logger.info(
            "download finished",
            extra={
                "url": self.target.safe_url,
                "size_bytes": self.size_bytes,
                "seconds": round(self._clock.elapsed(), 3),
            },
        )

    def result(self) -> DownloadResult:
        return DownloadResult(
            final_url=self.target.url,
            safe_final_url=self.target.safe_url,
            status=self.status,
            content_type=self.content_type,
            size_bytes=self.size_bytes,
            redirects=self.redirects,
        )

    def close(self) -> None:
        self._response.close()
        self._connection.release()

    def __enter__(self) -> RemoteMedia:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_download(
    url: str,
    *,
    max_bytes: int | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    deadline: float | None = None,
    policy: AddressPolicy | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> RemoteMedia:
    """Follow redirects to a 2xx response and return it unread (use as a context
    manager). Limits default to settings; ``policy`` and ``ssl_context`` are hooks for
    tests and special deployments (default: settings' address rule, system CAs)."""
    defaults = DownloadLimits.from_settings()
    limits = DownloadLimits(
        max_bytes=defaults.max_bytes if max_bytes is None else max_bytes,
        connect_timeout=defaults.connect_timeout if connect_timeout is None else connect_timeout,
        read_timeout=defaults.read_timeout if read_timeout is None else read_timeout,
        deadline=defaults.deadline if deadline is None else deadline,
    )
    policy = policy or AddressPolicy.from_settings()
    ssl_context = ssl_context or ssl.create_default_context()
    clock = _Deadline(limits.deadline)

    target = validate_url(url)
    redirects: list[str] = []
    logger.info("download started", extra={"url": target.safe_url})
    while True:
        with _naming_the_redirect(bool(redirects)):
            addresses = resolve_public_addresses(target.host, target.port, policy=policy)
        connection = _PinnedConnection(target, addresses, limits, clock, ssl_context)
        response: http.client.HTTPResponse | None = None
        handed_over = False
        try:
            with _translated_errors(target, clock):
                connection.connect()
                response = _send_get(connection, target)
            if response.status not in REDIRECT_STATUSES:
                _check_final_response(response, limits)
                handed_over = True
                return RemoteMedia(
                    target=target,
                    connection=connection,
                    response=response,
                    redirects=tuple(redirects),
                    limits=limits,
                    clock=clock,
                )
            status, location = response.status, response.getheader("Location")
        finally:
            if not handed_over:
                if response is not None:
                    response.close()
                connection.release()
        if not location:
            raise DownloadError(
                IngestErrorCode.DOWNLOAD_HTTP_ERROR,
                f"The server answered with a redirect ({status}) but no location.",
            )
        if len(redirects) >= MAX_REDIRECTS:
            raise DownloadError(
                IngestErrorCode.TOO_MANY_REDIRECTS,
                f"The URL redirected more than {MAX_REDIRECTS} times.",
            )
        target = _redirect_target(target, location)
        redirects.append(target.safe_url)
        logger.info("download redirected", extra={"url": target.safe_url, "hop": len(redirects)})


def download_to(
    url: str,
    write: Callable[[bytes], object],
    *,
    max_bytes: int | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    deadline: float | None = None,
    policy: AddressPolicy | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> DownloadResult:
    """Download ``url`` and hand each chunk to ``write``; options as ``open_download``."""
    with open_download(
        url,
        max_bytes=max_bytes,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        deadline=deadline,
        policy=policy,
        ssl_context=ssl_context,
    ) as media:
        for chunk in media.chunks():
            write(chunk)
        return media.result()


class _Deadline:
    """Time left for the whole download. Every blocking call gets a timeout bounded by
    it, and a watchdog cuts the socket when it passes, which also bounds a server that
    drips response headers one byte at a time (http.client reads them unsupervised)."""

    def __init__(self, seconds: float):
        self._start = time.monotonic()
        self._end = self._start + seconds

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def watch(self, sock: socket.socket) -> threading.Timer:
        # socket.socket.shutdown, not SSLSocket.shutdown: the latter changes TLS state
        # under the reading thread; a plain shutdown just makes its read see EOF.
        watchdog = threading.Timer(
            max(0.0, self._end - time.monotonic()), _shutdown_quietly, args=(sock,)
        )
        watchdog.daemon = True
        watchdog.start()
        return watchdog

    def bound(self, timeout: float) -> float:
        remaining = self._end - time.monotonic()
        if remaining <= 0:
            raise _deadline_passed()
        return min(timeout, remaining)


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP or HTTPS connection to addresses that were checked, never to what the
    host name resolves to now. TLS still verifies the certificate against, and sends
    SNI for, the host name from the URL.

    http.client drops ``self.sock`` once a response says it will close the connection
    (the response keeps reading through its own file object), so the socket is also
    kept here, for per-read timeouts and for the deadline watchdog."""

    def __init__(
        self,
        target: ParsedTarget,
        addresses: list[IPAddress],
        limits: DownloadLimits,
        clock: _Deadline,
        ssl_context: ssl.SSLContext,
    ):
        super().__init__(target.host, target.port)
        self._target = target
        self._addresses = addresses
        self._limits = limits
        self._clock = clock
        self._ssl_context = ssl_context
        self._pinned_socket: socket.socket | None = None
        self._watchdog: threading.Timer | None = None

    def connect(self) -> None:
        sock = self._open_socket()
        try:
            if self._target.scheme == "https":
                sock = self._ssl_context.wrap_socket(sock, server_hostname=self._target.host)
        except BaseException:
            sock.close()
            raise
        self.sock = self._pinned_socket = sock
        self._watchdog = self._clock.watch(sock)
        self.bound_next_read()

    def bound_next_read(self) -> None:
        """Give the next blocking read the read timeout, or less if the deadline is near."""
        assert self._pinned_socket is not None
        self._pinned_socket.settimeout(self._clock.bound(self._limits.read_timeout))

    def release(self) -> None:
        """Stop the watchdog and close the socket (the response, if any, first)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.close()
        if self._pinned_socket is not None:
            self._pinned_socket.close()

    def _open_socket(self) -> socket.socket:
        """Try the checked addresses in resolver order; the last error wins."""
        last_error: OSError | None = None
        for ip in self._addresses:
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self._clock.bound(self._limits.connect_timeout))
                sock.connect((str(ip), self._target.port))
                return sock
            except OSError as error:
                sock.close()
                last_error = error
            except BaseException:
                sock.close()
                raise
        assert last_error is not None  # addresses is never empty
        raise last_error


def _send_get(connection: _PinnedConnection, target: ParsedTarget) -> http.client.HTTPResponse:
    connection.putrequest("GET", target.request_target, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", target.host_header)
    connection.putheader("User-Agent", USER_AGENT)
    connection.putheader("Accept", "*/*")
    connection.putheader("Accept-Encoding", "identity")
    connection.putheader("Connection", "close")
    connection.endheaders()
    connection.bound_next_read()
    return connection.getresponse()


def _check_final_response(response: http.client.HTTPResponse, limits: DownloadLimits) -> None:
    if not 200 <= response.status < 300:
        raise DownloadError(
            IngestErrorCode.DOWNLOAD_HTTP_ERROR,
            f"The server answered {response.status} {response.reason}".rstrip() + ".",
        )
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        # We ask for identity; a compressed body would be stored as the wrong bytes.
        raise DownloadError(
            IngestErrorCode.DOWNLOAD_FAILED,
            f"The server sent {encoding}-encoded content although uncompressed was asked for.",
        )
    if response.length is not None and response.length > limits.max_bytes:
        raise _too_large(limits.max_bytes)


def _redirect_target(current: ParsedTarget, location: str) -> ParsedTarget:
    # http.client decodes header bytes as latin-1; servers that put raw UTF-8 in
    # Location (common) mean UTF-8, which validate_url then percent-encodes.
    with suppress(UnicodeError):
        location = location.encode("latin-1").decode("utf-8")
    with _naming_the_redirect(True):
        return validate_url(urljoin(current.url, location.strip()))


@contextmanager
def _naming_the_redirect(redirected: bool) -> Iterator[None]:
    """Say in the message that it was a redirect, not the submitted URL, that was refused."""
    try:
        yield
    except UnsafeURLError as error:
        if not redirected:
            raise
        raise UnsafeURLError(
            error.code, f"The URL redirected to a location that is refused: {error.message}"
        ) from None


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type or None


def _deadline_passed() -> DownloadError:
    return DownloadError(
        IngestErrorCode.DOWNLOAD_TIMEOUT, "The download took longer than the time allowed."
    )


def _too_large(max_bytes: int) -> DownloadError:
    return DownloadError(
        IngestErrorCode.DOWNLOAD_TOO_LARGE,
        f"The file is larger than the limit of {_human_size(max_bytes)}.",
    )


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    scaled = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "TiB":
            break
    return f"{scaled:.3g} {unit}"


def _shutdown_quietly(sock: socket.socket) -> None:
    with suppress(OSError):  # already closed: the download ended in time
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextmanager
def _translated_errors(target: ParsedTarget, clock: _Deadline) -> Iterator[None]:
    """Turn socket, TLS and HTTP-parsing errors into DownloadError with a message for
    a person; the host is named, the resolved address and query string are not."""
    try:
        yield
    except (OSError, http.client.HTTPException) as error:
        if clock.expired():  # the watchdog cut the connection
            raise _deadline_passed() from None
        raise _translated(error, target) from None


def _translated(error: Exception, target: ParsedTarget) -> DownloadError:
    host = repr(target.host)
    if isinstance(error, TimeoutError):
        return DownloadError(
            IngestErrorCode.DOWNLOAD_TIMEOUT, f"The server {host} was too slow to answer."
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        message = f"The TLS certificate of {host} could not be verified."
    elif isinstance(error, ssl.SSLError):
        message = f"The TLS connection to {host} failed."
    elif isinstance(error, ConnectionRefusedError):
        message = f"The server {host} refused the connection."
    else:
        message = (
            f"The download from {host} failed: the connection broke or the answer "
            "was not valid HTTP."
        )
    logger.info("download failed", extra={"url": target.safe_url, "error": type(error).__name__})
    return DownloadError(IngestErrorCode.DOWNLOAD_FAILED, message)
