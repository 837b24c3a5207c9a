"""The plan's tree under ``STORAGE_ROOT``: exactly what ``writer.store_file`` does
(same paths, temporary file + fsync + atomic rename, ``storage_path`` = the
absolute path), behind the backend interface."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from storage_app.backends.base import (
    ObjectInfo,
    StorageBackend,
    StoredObject,
    check_key,
    check_list_prefix,
)
from storage_app.disk import ensure_space_for_write
from storage_app.layout import (
    LOCK_FILENAME,
    TEMPORARY_PREFIX,
    category_of,
    resolve_relative,
    storage_root,
)
from storage_app.writer import (
    CHUNK_SIZE,
    SPACE_CHECKED_CATEGORIES,
    delete_file,
    iter_chunks,
    write_into_place,
)


class FilesystemBackend(StorageBackend):
    name = "filesystem"

    def path_for(self, key: str) -> Path:
        """The absolute path of ``key``, resolved and checked inside the root."""
        return resolve_relative(check_key(key))

    def uri_for(self, key: str) -> str:
        return str(self.path_for(key))

    def save_stream(self, key: str, source: Any, *, max_bytes: int | None = None) -> StoredObject:
        path = self.path_for(key)
        if category_of(key) in SPACE_CHECKED_CATEGORIES:
            ensure_space_for_write(0)  # the writer's rule: a full disk takes no new media
        size, sha256 = write_into_place(path, iter_chunks(source, CHUNK_SIZE), max_bytes)
        return StoredObject(key=key, uri=str(path), size=size, sha256=sha256)

    def open(self, key: str) -> BinaryIO:
        # O_NOFOLLOW: a symlink planted under the final name is not read through.
        fd = os.open(self.path_for(key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return os.fdopen(fd, "rb")

    def delete(self, key: str) -> None:
        delete_file(self.path_for(key))

    def exists(self, key: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.path_for(key)).st_mode)
        except FileNotFoundError:
            return False

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        check_list_prefix(prefix)
        root = storage_root()
        # Start at the deepest folder the prefix names completely; filter the rest.
        parts = prefix.split("/")[:-1]
        top = root.joinpath(*parts)
        base = "".join(f"{part}/" for part in parts)
        for info in _walk_in_key_order(top, base, prefix):
            if info.key.startswith(prefix):
                yield info

    def url_for(self, key: str, expires: int) -> str | None:
        check_key(key)
        return None  # files on disk are served by the service itself


def _walk_in_key_order(folder: Path, base: str, prefix: str) -> Iterator[ObjectInfo]:
    """Regular files under ``folder`` in S3's key order, one folder's entries in
    memory at a time: a sub-folder sorts as its name plus "/", which is where
    every key inside it falls among its siblings. Symlinks are not followed."""
    try:
        with os.scandir(folder) as scan:
            entries = [
                (entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry)
                for entry in scan
            ]
    except (FileNotFoundError, NotADirectoryError):
        return
    for sort_name, entry in sorted(entries, key=lambda pair: pair[0]):
        if sort_name.endswith("/"):
            below = base + sort_name
            if below.startswith(prefix) or prefix.startswith(below):  # else no key matches
                yield from _walk_in_key_order(Path(entry.path), below, prefix)
        elif entry.name.startswith(TEMPORARY_PREFIX) or entry.name == LOCK_FILENAME:
            continue  # a write in progress, or cleanup's lock: not objects
        elif entry.is_file(follow_symlinks=False):
            info = entry.stat(follow_symlinks=False)
            modified = datetime.fromtimestamp(info.st_mtime, tz=UTC)
            yield ObjectInfo(key=base + entry.name, size=info.st_size, modified=modified)
