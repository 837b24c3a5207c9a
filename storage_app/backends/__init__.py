"""Storage backends: ``get_backend()`` is the one chosen by
``MEDIA_ANALYSIS_STORAGE_BACKEND`` (``filesystem`` by default, or ``s3``)."""

from __future__ import annotations

import functools

from django.conf import settings

from media_analysis.object_store_settings import (
    BACKEND_FILESYSTEM,
    BACKEND_S3,
    ObjectStoreSettings,
)
from storage_app.backends.base import ObjectInfo, StorageBackend, StoredObject

__all__ = ["ObjectInfo", "StorageBackend", "StoredObject", "get_backend"]


def get_backend() -> StorageBackend:
    """The configured backend (one per configuration and process: its clients
    and connection pools are reused)."""
    return _backend_for(settings.STORAGE_BACKEND, settings.OBJECT_STORE)


@functools.lru_cache(maxsize=8)
def _backend_for(name: str, config: ObjectStoreSettings | None) -> StorageBackend:
    if name == BACKEND_FILESYSTEM:
        # Here, not at the top: it reaches storage_app.models (through disk.py), and
        # this package must import before the app registry is ready.
        from storage_app.backends.filesystem import FilesystemBackend

        return FilesystemBackend()
    if name == BACKEND_S3:
        if config is None:
            raise ValueError("the s3 backend needs OBJECT_STORE settings")
        from storage_app.backends.s3 import S3Backend  # boto3 only when used

        return S3Backend(config)
    raise ValueError(f"unknown storage backend {name!r}")
