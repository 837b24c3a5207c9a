"""Which storage backend keeps the media, and the object store's settings.

``MEDIA_ANALYSIS_STORAGE_BACKEND=filesystem`` (the default) keeps the plan's tree
under ``MEDIA_ANALYSIS_STORAGE_ROOT``; ``s3`` keeps the same relative paths as
object keys in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph RGW,
SeaweedFS), read with django-storages' usual variable names. ``temp/`` stays on
each worker's local disk either way.

Read once by ``media_analysis.settings.work``; a plain module (no Django apps), so
its refusals can be tested without restarting Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from media_analysis.env import env_choice, env_int, env_secret, env_str

BACKEND_FILESYSTEM = "filesystem"
BACKEND_S3 = "s3"
STORAGE_BACKENDS = frozenset({BACKEND_FILESYSTEM, BACKEND_S3})
ADDRESSING_STYLES = frozenset({"auto", "path", "virtual"})
# How the contact sheet and frames reach their owner: a 302 to a presigned URL, or
# the bytes streamed through the service (a store callers cannot reach).
SERVE_REDIRECT = "redirect"
SERVE_STREAM = "stream"
SERVE_MODES = frozenset({SERVE_REDIRECT, SERVE_STREAM})
# S3 signs URLs for at most 7 days (SigV4).
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

MIB = 1024 * 1024
# S3 refuses parts under 5 MiB (but the last) and over 5 GiB.
MIN_PART_MB = 5
MAX_PART_MB = 5 * 1024

# S3's bucket naming rules (the strictest of the stores named above).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[A-Za-z0-9-]{1,64}")
_PREFIX_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class ObjectStoreSettings:
    """Where and how objects are written; the secret is never shown in a repr."""

    bucket: str
    access_key: str
    secret_key: str = field(repr=False)
    endpoint_url: str | None = None
    region: str | None = None
    # Key prefix ("" or "a/b", no slashes at either end): keys are "{prefix}/{relative path}".
    prefix: str = ""
    addressing_style: str = "auto"
    part_size_bytes: int = 8 * MIB
    max_concurrency: int = 4
    serve: str = SERVE_REDIRECT
    presign_seconds: int = 300


def read_storage_backend() -> str:
    return env_choice("MEDIA_ANALYSIS_STORAGE_BACKEND", BACKEND_FILESYSTEM, STORAGE_BACKENDS)


def read_object_store(backend: str) -> ObjectStoreSettings | None:
    """The object store's settings when ``backend`` is ``s3`` (None otherwise);
    a missing bucket or credential, or a malformed value, stops start-up naming
    the variable (never showing a secret)."""
    if backend != BACKEND_S3:
        return None
    bucket = env_str("AWS_STORAGE_BUCKET_NAME")
    access_key = env_secret("AWS_ACCESS_KEY_ID")
    secret_key = env_secret("AWS_SECRET_ACCESS_KEY")
    missing = [
        name
        for name, value in (
            ("AWS_STORAGE_BUCKET_NAME", bucket),
            ("AWS_ACCESS_KEY_ID", access_key),
            ("AWS_SECRET_ACCESS_KEY", secret_key),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"MEDIA_ANALYSIS_STORAGE_BACKEND=s3 needs {', '.join(missing)} to be set"
        )
    endpoint_url = check_endpoint_url(env_str("AWS_S3_ENDPOINT_URL"))
    default_style = "path" if endpoint_url else "auto"  # self-hosted stores: path style
    return ObjectStoreSettings(
        bucket=check_bucket(bucket),
        access_key=access_key,
        secret_key=secret_key,
        endpoint_url=endpoint_url,
        region=check_region(env_str("AWS_S3_REGION_NAME")),
        prefix=check_prefix(env_str("AWS_LOCATION", "")),
        addressing_style=env_choice("AWS_S3_ADDRESSING_STYLE", default_style, ADDRESSING_STYLES),
        part_size_bytes=MIB
        * env_int("STORAGE_S3_PART_SIZE_MB", 8, minimum=MIN_PART_MB, maximum=MAX_PART_MB),
        max_concurrency=env_int("STORAGE_S3_MAX_CONCURRENCY", 4, minimum=1, maximum=32),
        serve=env_choice("MEDIA_ANALYSIS_S3_SERVE", SERVE_REDIRECT, SERVE_MODES),
        presign_seconds=env_int(
            "AWS_QUERYSTRING_EXPIRE", 300, minimum=1, maximum=MAX_PRESIGN_SECONDS
        ),
    )


def check_bucket(bucket: str) -> str:
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ImproperlyConfigured(
            f"AWS_STORAGE_BUCKET_NAME={bucket!r} is not a bucket name (3-63 characters: "
            "lowercase letters, digits, '.' and '-')"
        )
    return bucket


def check_endpoint_url(url: str | None) -> str | None:
    """``http(s)://host[:port]`` and nothing else: a path, query or credentials in
    it would be silently dropped or leak into logs."""
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.username is not None
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
    ):
        raise ImproperlyConfigured(
            f"AWS_S3_ENDPOINT_URL={url!r} must be http(s)://host[:port] (no path, "
            "query or credentials)"
        )
    return url.rstrip("/")


def check_region(region: str | None) -> str | None:
    if region is not None and not _REGION.fullmatch(region):
        raise ImproperlyConfigured(f"AWS_S3_REGION_NAME={region!r} is not a region name")
    return region


def check_prefix(prefix: str) -> str:
    """A key prefix of safe "/"-separated parts; slashes at either end are dropped."""
    trimmed = prefix.strip("/")
    if not trimmed:
        return ""
    for part in trimmed.split("/"):
        if not _PREFIX_PART.fullmatch(part):
            raise ImproperlyConfigured(
                f"AWS_LOCATION={prefix!r} is not a key prefix (parts of letters, digits, "
                "'.', '_' and '-' separated by '/'; no '..' or empty parts)"
            )
    return trimmed
