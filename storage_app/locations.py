"""Where an index row's bytes are, for housekeeping: an object in the configured
object store (``storage_path`` is an ``s3://`` URI) or a file under
``STORAGE_ROOT`` (any other ``storage_path``).

Asked row by row, not from the configured backend alone, so cleanup, the sanity
check and ``migrate_storage`` handle a store that is half-way through a migration
(some rows switched to the bucket, the rest still on disk). An ``s3://`` row is
only ever touched through the configured bucket and prefix: a row naming another
bucket or prefix is refused (``UnsafePathError``), as a path outside the root is.
"""

from __future__ import annotations

from django.conf import settings

from media_analysis.object_store_settings import BACKEND_S3
from storage_app.backends import ObjectInfo, StorageBackend, get_backend
from storage_app.layout import UnsafePathError, check_relative_path

S3_SCHEME = "s3://"


def is_object_row(storage_path: str | None) -> bool:
    """True if the row's bytes are an object in the object store."""
    return bool(storage_path) and storage_path.startswith(S3_SCHEME)


def object_store() -> StorageBackend | None:
    """The configured object store, or None when media is kept on the filesystem."""
    return get_backend() if settings.STORAGE_BACKEND == BACKEND_S3 else None


def object_key_of_row(relative_path: str | None, storage_path: str) -> str:
    """The key of an ``s3://`` row, checked: the configured store's URI of the key
    must be the row's ``storage_path`` exactly."""
    store = object_store()
    if store is None:
        raise UnsafePathError(
            f"row is stored at {storage_path!r} but the storage backend is not s3"
        )
    if not relative_path:
        raise UnsafePathError(f"row stored at {storage_path!r} has no relative path (key)")
    check_relative_path(relative_path)
    expected = store.uri_for(relative_path)
    if storage_path != expected:
        raise UnsafePathError(
            f"row's storage path {storage_path!r} is not this store's {expected!r} "
            "(another bucket or prefix)"
        )
    return relative_path


def object_info(store: StorageBackend, key: str) -> ObjectInfo | None:
    """The listed facts of one object (size, when written), or None if absent. A
    listing with the key as prefix: it sorts first among the keys it starts."""
    for info in store.list(key):
        return info if info.key == key else None
    return None
