"""The storage lock: one housekeeping run (cleanup, sanity check, backup copy,
migration) at a time, across every host that shares the database.

A PostgreSQL session advisory lock on a fixed key, taken without waiting on a
connection of its own (so a second run in the same process, or thread, is
refused as one elsewhere is). The server drops the lock the moment that session
ends, however the holder ends (a SIGKILL, a dead host once TCP keepalives give
up), so a crashed run leaves no stale lock. The holder's session names itself in
``application_name`` (``storage-lock:cleanup pid=... host=...``), which is what
a refused run prints, with when the holder connected.

It works the same whatever the storage backend: nothing is kept on a disk that
other hosts cannot see. (The old ``.cleanup.lock`` file is no longer used; an
existing one is still skipped by listings and backups.)
"""

from __future__ import annotations

import copy
import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC

from django.db import DEFAULT_DB_ALIAS, connections

# pg_try_advisory_lock(int, int): a namespace of our own, then the lock's number.
LOCK_NAMESPACE = zlib.crc32(b"media-analysis:storage-lock") & 0x7FFFFFFF
LOCK_ID = 1
APPLICATION_PREFIX = "storage-lock:"
# PostgreSQL keeps at most NAMEDATALEN - 1 bytes of application_name.
_MAX_APPLICATION_NAME = 63

_HOLDER_SQL = """
SELECT a.application_name, a.backend_start, a.client_addr
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
    SELECT oid FROM pg_database WHERE datname = current_database()
) AND l.classid = %s AND l.objid = %s AND l.objsubid = 2
LIMIT 1
"""


class StorageBusyError(RuntimeError):
    """Another storage run holds the storage lock."""


def holder_name(purpose: str) -> str:
    """What the holding session calls itself: purpose, pid and host, cut to fit."""
    name = f"{APPLICATION_PREFIX}{purpose} pid={os.getpid()} host={socket.gethostname()}"
    return name.encode()[:_MAX_APPLICATION_NAME].decode("utf-8", "ignore")


@contextmanager
def storage_lock(purpose: str) -> Iterator[str]:
    """Hold the storage lock for the block, or raise ``StorageBusyError`` at once.
    Yields the holder's name."""
    name = holder_name(purpose)
    wrapper = _lock_connection(name)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, LOCK_ID])
            acquired = cursor.fetchone()[0]
            if not acquired:
                holder = _describe_holder(cursor)
                raise StorageBusyError(
                    f"another storage run is in progress ({holder}); the storage lock "
                    "(a PostgreSQL advisory lock) is held, exiting"
                )
        try:
            yield name
        finally:
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, LOCK_ID])
    finally:
        wrapper.close()  # ends the session: the lock goes with it whatever happened


def _lock_connection(application_name: str):
    """A new, unpooled autocommit session on the default database: the lock lives
    exactly as long as it, and no pool can hand it to anyone else."""
    base = connections[DEFAULT_DB_ALIAS]
    settings_dict = copy.deepcopy(base.settings_dict)
    options = settings_dict.setdefault("OPTIONS", {})
    options.pop("pool", None)
    options["application_name"] = application_name
    settings_dict["CONN_MAX_AGE"] = 0
    return type(base)(settings_dict, DEFAULT_DB_ALIAS)


def _describe_holder(cursor) -> str:
    cursor.execute(_HOLDER_SQL, [LOCK_NAMESPACE, LOCK_ID])
    row = cursor.fetchone()
    if row is None:  # released between our try and this look
        return "holder unknown"
    name, started, address = row
    since = started.astimezone(UTC).isoformat(timespec="seconds") if started else "?"
    where = f", from {address}" if address else ""
    return f"{name or 'unnamed session'}, connected since {since}{where}"
