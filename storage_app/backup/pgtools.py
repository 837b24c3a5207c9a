"""Which ``pg_dump`` / ``pg_restore`` / ``psql``, and how they reach the database.

The rule (a ``pg_dump`` older than the server's major version refuses to dump it,
and a ``pg_restore`` cannot read an archive from a newer ``pg_dump``):

1. ``BACKUP_PG_BIN_DIR``, when set, is used as it is;
2. with the embedded server (``dev.py``: the database is reached through a Unix
   socket and ``pgserver`` is installed), the tools shipped with it;
3. otherwise the system's (``pg_dump`` on ``PATH``).

Whichever is chosen must not be older than the server (or, to read a set, than
the ``pg_dump`` that wrote it); otherwise ``ToolError`` says which version is
needed. Connection parameters come from ``DATABASES["default"]``; the password
travels in ``PGPASSWORD``, never on a command line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections

TOOLS = ("pg_dump", "pg_restore", "psql")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
# Django's own OPTIONS keys, not libpq's.
_NOT_LIBPQ = {"pool", "options", "server_side_binding", "assume_role", "isolation_level"}


class ToolError(RuntimeError):
    """No usable PostgreSQL client tools: the message says what to install."""


@dataclass(frozen=True)
class PgTools:
    bin_dir: Path
    version: str  # "16.2"
    major: int
    origin: str  # where they came from, for messages

    def path(self, tool: str) -> str:
        return str(self.bin_dir / tool)


@dataclass(frozen=True)
class ServerInfo:
    version: str  # "16.2", or "15.20 (Debian ...)"
    major: int


def tool_version(executable: str) -> tuple[str, int]:
    """``("16.2", 16)`` from ``<executable> --version``."""
    try:
        result = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise ToolError(f"cannot run {executable}: {exc}") from None
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or not match:
        raise ToolError(f"{executable} --version said {result.stdout.strip() or result.stderr!r}")
    major = int(match[1])
    return (f"{major}.{match[2]}" if match[2] else str(major)), major


def server_info(alias: str = "default") -> ServerInfo:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')"
        )
        version, number = cursor.fetchone()
    return ServerInfo(version=version, major=int(number) // 10000)


def embedded_bin_dir() -> Path | None:
    """pgserver's bin folder when the database is the embedded server."""
    host = settings.DATABASES["default"].get("HOST") or ""
    if not host.startswith("/"):
        return None
    try:
        import pgserver
    except ImportError:
        return None
    folder = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return folder if (folder / "pg_dump").exists() else None


def choose_tools(needed_major: int, *, needed_for: str) -> PgTools:
    """The tools to use, at least ``needed_major`` (``needed_for`` says why, e.g.
    "the server is PostgreSQL 16.2")."""
    explicit = settings.BACKUP_PG_BIN_DIR
    if explicit:
        folder, origin = Path(explicit), "BACKUP_PG_BIN_DIR"
    elif (embedded := embedded_bin_dir()) is not None:
        folder, origin = embedded, "the embedded server's"
    else:
        found = shutil.which("pg_dump")
        if found is None:
            raise ToolError(
                f"pg_dump is not installed; {needed_for}: install a PostgreSQL {needed_major} "
                f"client (Debian: postgresql-client-{needed_major}) or set BACKUP_PG_BIN_DIR"
            )
        folder, origin = Path(found).parent, "the system's"
    missing = [tool for tool in TOOLS if not (folder / tool).exists()]
    if missing:
        raise ToolError(f"{', '.join(missing)} not found in {folder} ({origin} tools)")
    version, major = tool_version(str(folder / "pg_dump"))
    for tool in TOOLS[1:]:
        if tool_version(str(folder / tool))[1] < major:
            raise ToolError(f"{folder / tool} is older than {folder / 'pg_dump'} ({version})")
    if major < needed_major:
        raise ToolError(
            f"{origin} pg_dump {version} ({folder / 'pg_dump'}) is too old: {needed_for}, so "
            f"PostgreSQL {needed_major} client tools or newer are needed. Install "
            f"postgresql-client-{needed_major} (or rebuild the image with "
            f"--build-arg PG_CLIENT_MAJOR={needed_major}), or point BACKUP_PG_BIN_DIR at them."
        )
    return PgTools(bin_dir=folder, version=version, major=major, origin=origin)


def tools_for_server(server: ServerInfo) -> PgTools:
    return choose_tools(server.major, needed_for=f"the server is PostgreSQL {server.version}")


def conninfo() -> str:
    """libpq connection string for the default database, without the password."""
    from psycopg import conninfo as psycopg_conninfo
    from psycopg.pq import Conninfo

    db = settings.DATABASES["default"]
    known = {option.keyword.decode() for option in Conninfo.get_defaults()}
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    for key, value in (db.get("OPTIONS") or {}).items():
        if key in known and key not in _NOT_LIBPQ and key != "password":
            params[key] = value
    # The service's own options (search_path, ...) apply, but not its statement
    # timeout: a dump or a restore's COPY may take longer than any request.
    options = str((db.get("OPTIONS") or {}).get("options") or "")
    params["options"] = f"{options} -c statement_timeout=0".strip()
    params["application_name"] = "media-analysis-backup"
    return psycopg_conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


def environment() -> dict[str, str]:
    """The tools' environment: ours (libpq reads PG* variables for Django's
    connections too), plus the password."""
    env = dict(os.environ)
    password = settings.DATABASES["default"].get("PASSWORD")
    if password:
        env["PGPASSWORD"] = password
    return env
