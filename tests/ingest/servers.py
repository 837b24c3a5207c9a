"""A tiny raw HTTP server on loopback for the download tests.

Handlers write raw bytes to the socket, so a test can make the server lie about
Content-Length, use chunked encoding, stall, drip bytes or redirect anywhere.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # names lowercased


@dataclass
class Connection:
    sock: socket.socket
    server: LoopbackServer
    bytes_sent: int = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.bytes_sent += len(data)

    def head(self, status: str = "200 OK", headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(
        self, body: bytes, *, status: str = "200 OK", headers: dict[str, str] | None = None
    ) -> None:
        self.head(
            status, {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        )
        self.send(body)

    def redirect(self, location: str, status: str = "302 Found") -> None:
        self.respond(b"", status=status, headers={"Location": location})

    def send_chunked(self, body: bytes, chunk_size: int = 8192) -> None:
        for start in range(0, len(body), chunk_size):
            piece = body[start : start + chunk_size]
            self.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.send(b"0\r\n\r\n")

    def stall(self, seconds: float = 10.0) -> None:
        """Wait without sending, until the test ends (or ``seconds`` pass)."""
        self.server.released.wait(seconds)


Handler = Callable[[Request, Connection], None]


@dataclass
class LoopbackServer:
    routes: dict[str, Handler]
    ssl_context: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    requests: list[Request] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.create_server((self.host, 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepting.start()

    def url(self, path: str = "/", *, scheme: str | None = None, host: str | None = None) -> str:
        scheme = scheme or ("https" if self.ssl_context else "http")
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def stop(self) -> None:
        self.released.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(10)
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
            request = _read_request(sock)
            if request is None:
                return
            self.requests.append(request)
            connection = Connection(sock, self)
            self.connections.append(connection)
            handler = self.routes.get(request.target.split("?", 1)[0])
            if handler is None:
                connection.respond(b"not found", status="404 Not Found")
            else:
                handler(request, connection)
        except OSError:
            pass  # the client went away (it is allowed to: that is what limits do)
        finally:
            time.sleep(0.05)  # let the client read before the close
            sock.close()


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, target, headers)


def resolver_from(table: dict[str, list[str]], calls: list[str] | None = None):
    """A resolver hook answering from ``table``; an IP literal resolves to itself, like
    getaddrinfo, and unknown names to nothing. Each lookup's host goes to ``calls``."""

    def resolve(host: str, port: int) -> list:
        if calls is not None:
            calls.append(host)
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            return [ipaddress.ip_address(a) for a in table.get(host, [])]

    return resolve
