"""docker-compose.yml and the Dockerfile, turned into processes on this machine.

No Docker engine runs here, so the containers are played by processes: Debian's
``docker-compose config`` renders the compose file exactly as Compose reads it
(anchors, ``${VAR:-default}``, ``$$``), and each service's rendered command and
environment, on top of the Dockerfile's ``ENV``, become one process started from
the repository (the image's WORKDIR) with this project's virtualenv on PATH.

Only what a container has and this machine has not is mapped:
- host names: ``af-postgres-1`` and ``af-redis-1`` become the test's servers (the
  rendered user, password and database name are kept), and with the object store
  override (``docker-compose.s3.yml``) the bundled ``seaweedfs`` becomes the
  test's SeaweedFS;
- container paths: the storage volume, ``/tmp`` and ``/app`` become test folders
  (the storage volume one per container when it is not shared);
- the published port: gunicorn binds a free local port instead of 8000.
Nothing else is added: no DEBUG, no test settings.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import yaml

from tests.conftest import ROOT
from tests.operations.stack import VENV_BIN

COMPOSE_FILE = ROOT / "docker-compose.yml"
S3_OVERRIDE_FILE = ROOT / "docker-compose.s3.yml"
BUNDLED_OBJECT_STORE = "http://seaweedfs:8333"
DOCKERFILE = ROOT / "Dockerfile"
IMAGE_WORKDIR = "/app"
STORAGE_VOLUME = "/opt/services/media-analysis/storage"
PUBLISHED_PORT = "8000"


def render(variables: dict[str, str], *overrides: Path) -> dict:
    """The compose file (with ``overrides`` on top, as ``-f`` gives them) as
    Compose sees it with ``variables`` in the environment."""
    files = [arg for path in (COMPOSE_FILE, *overrides) for arg in ("-f", str(path))]
    result = subprocess.run(
        ["docker-compose", *files, "--profile", "scale", "config"],
        env={"PATH": os.environ["PATH"], **variables},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def image_env() -> dict[str, str]:
    """The Dockerfile's ``ENV KEY=value ...`` lines."""
    env: dict[str, str] = {}
    for keyword, rest in _instructions():
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def build_step(fragment: str) -> tuple[dict[str, str], list[str]]:
    """The ``RUN`` line containing ``fragment``: its inline variables and command."""
    for keyword, rest in _instructions():
        if keyword == "RUN" and fragment in rest:
            words = shlex.split(rest)
            env = {}
            while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                key, _, value = words.pop(0).partition("=")
                env[key] = value
            return env, words
    raise AssertionError(f"no RUN line with {fragment!r} in the Dockerfile")


@dataclass
class HostMapping:
    """Where the container world's names and paths are on this machine."""

    folder: Path
    postgres_host: str  # a host name, or a Unix socket directory
    postgres_port: str
    database: str
    redis_port: int
    web_port: int
    storage: Path | None = None  # the storage volume's folder (default: folder/storage)
    object_store_url: str | None = None  # where the bundled store's address leads

    def path(self, value: str) -> str:
        """``value`` with each container path prefix replaced, in one pass."""
        folders = {
            STORAGE_VOLUME: self.storage or self.folder / "storage",
            f"{IMAGE_WORKDIR}/": f"{self.folder / 'app'}/",
            "/tmp/": f"{self.folder / 'tmp'}/",
        }
        pattern = "|".join(re.escape(prefix) for prefix in folders)
        return re.sub(rf"(?<![\w/])({pattern})", lambda m: str(folders[m[1]]), value)

    def database_url(self, rendered: str) -> str:
        parts = urlsplit(rendered)
        assert (parts.hostname, parts.port, parts.path) == ("af-postgres-1", 5432, "/af-memory")
        credentials = f"{quote(parts.username or '')}:{quote(parts.password or '')}"
        if self.postgres_host.startswith("/"):
            return f"postgres://{credentials}@/{self.database}?host={quote(self.postgres_host)}"
        port = f":{self.postgres_port}" if self.postgres_port else ""
        return f"postgres://{credentials}@{self.postgres_host}{port}/{self.database}"

    def redis_url(self, rendered: str) -> str:
        parts = urlsplit(rendered)
        assert (parts.hostname, parts.port) == ("af-redis-1", 6379)
        return rendered.replace("af-redis-1:6379", f"127.0.0.1:{self.redis_port}", 1)

    def environment(self, service: dict | None) -> dict[str, str]:
        """A service's environment (or, for None, the image's own: a build step)."""
        container = {
            **image_env(),
            **{
                key: str(value) for key, value in ((service or {}).get("environment") or {}).items()
            },
        }
        # `docker-compose config` keeps "$$" escaped; the container gets "$".
        env = {key: self.path(value).replace("$$", "$") for key, value in container.items()}
        if env.get("AWS_S3_ENDPOINT_URL") == BUNDLED_OBJECT_STORE and self.object_store_url:
            env["AWS_S3_ENDPOINT_URL"] = self.object_store_url
        if "DATABASE_URL" in env:
            env["DATABASE_URL"] = self.database_url(env["DATABASE_URL"])
        if "REDIS_URL" in env:
            env["REDIS_URL"] = self.redis_url(env["REDIS_URL"])
        # What the image's base provides: its Python first on PATH, a home, a locale.
        env["PATH"] = f"{VENV_BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin"
        env["HOME"] = str(self.folder / "app")
        env["LANG"] = "C.UTF-8"
        return env

    def command(self, words: list[str]) -> list[str]:
        # `docker-compose config` keeps "$$" escaped; the container gets "$".
        return [self.path(word).replace("$$", "$") for word in words]

    def healthcheck(self, service: dict) -> list[str]:
        """The service's healthcheck as an argv (CMD, or CMD-SHELL through sh -c)."""
        test = service["healthcheck"]["test"]
        kind, words = (
            test[0],
            [
                word.replace(f"127.0.0.1:{PUBLISHED_PORT}", f"127.0.0.1:{self.web_port}")
                for word in self.command(test[1:])
            ],
        )
        if kind == "CMD-SHELL":
            return ["sh", "-c", words[0]]
        assert kind == "CMD", test
        return words
