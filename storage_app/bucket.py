"""The configured bucket, created when it is missing (``manage.py ensure_bucket``,
run by compose's one-shot ``migrate`` on the object store).

A bucket that exists is left as it is, whoever made it; one the credentials may
not see (403) or a bucket name taken by another account is refused, never worked
around. A store that does not answer yet (just started beside us) is asked again
until ``wait`` seconds have passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from media_analysis.object_store_settings import BACKEND_S3
from storage_app.backends import get_backend

# AWS wants the region named on creation everywhere but its first region.
_DEFAULT_REGION = "us-east-1"
_ALREADY_OURS = "BucketAlreadyOwnedByYou"


class BucketRefused(RuntimeError):
    """Not configured for a bucket, or the store refuses this one: nothing done."""


class StoreUnreachable(RuntimeError):
    """The store did not answer within the wait."""


@dataclass(frozen=True)
class BucketState:
    bucket: str
    created: bool


def ensure_bucket(
    *, wait: float = 0, sleep: Callable[[float], None] = time.sleep, every: float = 1.0
) -> BucketState:
    """The configured bucket, created if missing; asks again for ``wait`` seconds
    while the store does not answer (connection errors, 5xx)."""
    if settings.STORAGE_BACKEND != BACKEND_S3 or settings.OBJECT_STORE is None:
        raise BucketRefused(
            "the storage backend is not s3: set MEDIA_ANALYSIS_STORAGE_BACKEND=s3 with "
            "AWS_STORAGE_BUCKET_NAME, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    deadline = time.monotonic() + wait
    while True:
        try:
            return _ensure_once()
        except (BotoCoreError, ClientError) as exc:
            if not _store_not_ready(exc) or time.monotonic() >= deadline:
                raise _explained(exc) from exc
        sleep(every)


def _ensure_once() -> BucketState:
    config = settings.OBJECT_STORE
    client = get_backend().client
    try:
        client.head_bucket(Bucket=config.bucket)
        return BucketState(config.bucket, created=False)
    except ClientError as exc:
        if _status(exc) != 404:
            raise
    options = {}
    if config.region and config.region != _DEFAULT_REGION:
        options["CreateBucketConfiguration"] = {"LocationConstraint": config.region}
    try:
        client.create_bucket(Bucket=config.bucket, **options)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != _ALREADY_OURS:
            raise
        return BucketState(config.bucket, created=False)  # made meanwhile, by us
    return BucketState(config.bucket, created=True)


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _store_not_ready(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        return _status(exc) >= 500
    return True  # BotoCoreError: no answer at all (connection refused, timeout, DNS)


def _explained(exc: Exception) -> Exception:
    """What went wrong, naming the bucket and the endpoint, never a credential."""
    config = settings.OBJECT_STORE
    where = f"bucket {config.bucket!r} at {config.endpoint_url or 'AWS S3'}"
    if _store_not_ready(exc):
        return StoreUnreachable(f"the store does not answer for {where}: {exc}")
    if _status(exc) == 403:
        return BucketRefused(
            f"access denied to {where}: wrong AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
            "or the bucket belongs to another account"
        )
    return BucketRefused(f"the store refused {where}: {exc}")
