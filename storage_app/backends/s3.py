"""Objects in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph RGW,
SeaweedFS) through django-storages' ``S3Storage`` on boto3.

Keys are the layout's relative paths under the optional prefix (``AWS_LOCATION``);
``storage_path`` is ``s3://bucket/prefix/key``. Writes are boto3 managed multipart
uploads fed by a ``HashingReader``: memory holds about twice part size x
concurrency (64 MiB at the defaults) whatever the object's size, and a failed upload is aborted (no object, no parts
left behind). Reads stream the response body. ``temp/`` is never stored here: it
stays on each worker's local disk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from storages.backends.s3 import S3Storage

from media_analysis.object_store_settings import ObjectStoreSettings
from storage_app.backends.base import (
    ObjectInfo,
    ObjectStoreUnavailable,
    StorageBackend,
    StoredObject,
    check_key,
    check_list_prefix,
)
from storage_app.backends.streams import HashingReader
from storage_app.layout import Category, UnsafePathError, category_of
from storage_app.writer import CHUNK_SIZE, iter_chunks

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}

logger = logging.getLogger(__name__)


class S3Backend(StorageBackend):
    name = "s3"

    def __init__(self, config: ObjectStoreSettings):
        self.config = config
        self.storage = S3Storage(
            bucket_name=config.bucket,
            access_key=config.access_key,
            secret_key=config.secret_key,
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            location=config.prefix,
            file_overwrite=True,  # a retried task rewrites the same key
            querystring_auth=True,  # url() presigns
            default_acl=None,  # the bucket's policy decides; objects are private
            transfer_config=_transfer_config(config),
            client_config=Config(
                s3={"addressing_style": config.addressing_style},
                signature_version="s3v4",
                # botocore's default CRC trailers on streamed parts are refused by
                # several S3-compatible stores; we hash every write ourselves.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"mode": "standard", "max_attempts": 5},
                connect_timeout=10,
                read_timeout=120,
            ),
        )

    @property
    def client(self) -> Any:
        """The boto3 S3 client of this thread (django-storages keeps one per thread)."""
        return self.storage.connection.meta.client

    def full_key(self, key: str) -> str:
        """The object's key in the bucket: the prefix, then the relative path."""
        return f"{self.config.prefix}/{key}" if self.config.prefix else key

    def uri_for(self, key: str) -> str:
        return f"s3://{self.config.bucket}/{self.full_key(_check_stored_key(key))}"

    def save_stream(self, key: str, source: Any, *, max_bytes: int | None = None) -> StoredObject:
        _check_stored_key(key)
        reader = HashingReader(iter_chunks(source, CHUNK_SIZE), max_bytes)
        # Storage.save picks the Content-Type from the name and uploads with the
        # transfer config above; the reader is not seekable, so boto3 streams it.
        with _store_calls(f"storing {key}"):
            saved = self.storage.save(key, reader)
        if saved != key:  # file_overwrite=True: django-storages never renames
            raise RuntimeError(f"object stored as {saved!r} instead of {key!r}")
        return StoredObject(
            key=key, uri=self.uri_for(key), size=reader.size, sha256=reader.hexdigest()
        )

    def open(self, key: str) -> BinaryIO:
        try:
            with _store_calls(f"reading {key}"):
                response = self.client.get_object(
                    Bucket=self.config.bucket, Key=self.full_key(_check_stored_key(key))
                )
        except ClientError:  # only a 404 comes through _store_calls
            raise FileNotFoundError(f"no object {key!r}") from None
        return response["Body"]  # botocore's StreamingBody: read(n), with-block

    def delete(self, key: str) -> None:
        with _store_calls(f"deleting {key}"):
            self.storage.delete(_check_stored_key(key))

    def exists(self, key: str) -> bool:
        with _store_calls(f"looking up {key}"):
            return self.storage.exists(_check_stored_key(key))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        check_list_prefix(prefix)
        strip = len(self.full_key(""))
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.config.bucket, Prefix=self.full_key(prefix)
        )
        with _store_calls(f"listing {prefix or 'the bucket'}"):
            for page in pages:
                for entry in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=entry["Key"][strip:], size=entry["Size"], modified=entry["LastModified"]
                    )

    def url_for(self, key: str, expires: int) -> str | None:
        return self.storage.url(_check_stored_key(key), expire=expires)  # signed locally


@contextmanager
def _store_calls(action: str) -> Iterator[None]:
    """botocore's errors, after its own retries, as ours: an absent object's
    ``ClientError`` passes (each caller knows what absent means), anything else
    the store or the network did is ``ObjectStoreUnavailable``."""
    try:
        yield
    except ClientError as err:
        if _is_not_found(err):
            raise
        raise _unavailable(action, err.response.get("Error", {}).get("Code"), err) from err
    except BotoCoreError as err:
        raise _unavailable(action, type(err).__name__, err) from err


def _unavailable(action: str, kind: str | None, err: Exception) -> ObjectStoreUnavailable:
    # The store's own words go to the log only; the caller gets the kind of failure.
    logger.error("object store call failed", extra={"action": action, "error": str(err)})
    return ObjectStoreUnavailable(action, kind or "an error answer")


def _check_stored_key(key: str) -> str:
    check_key(key)
    if category_of(key) is Category.TEMP:
        raise UnsafePathError("temp/ stays on the worker's local disk, not in the object store")
    return key


def _is_not_found(err: ClientError) -> bool:
    error = err.response.get("Error", {})
    status = str(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error.get("Code") in _NOT_FOUND or status == "404"


def _transfer_config(config: ObjectStoreSettings) -> TransferConfig:
    transfer = TransferConfig(
        multipart_threshold=config.part_size_bytes,
        multipart_chunksize=config.part_size_bytes,
        max_concurrency=config.max_concurrency,
        use_threads=True,
    )
    # Parts read ahead of the uploads: s3transfer's default (10) would hold ten
    # parts; as many as upload at once keeps memory at part size x concurrency.
    transfer.max_in_memory_upload_chunks = config.max_concurrency
    return transfer
