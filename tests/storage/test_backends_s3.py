"""The s3 backend against a real object store (SeaweedFS, tests/storage/seaweed.py):
keys and URIs, streamed multipart writes in flat memory, presigned URLs over real
HTTP, aborted uploads, credentials really checked, the backend chosen by settings."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from media_analysis.resilience import DependencyUnavailable
from storage_app.backends import get_backend
from storage_app.backends.base import OBJECT_STORE_RETRY_AFTER_SECONDS
from storage_app.backends.filesystem import FilesystemBackend
from storage_app.backends.s3 import S3Backend
from storage_app.layout import Category, UnsafePathError, object_key
from storage_app.writer import FileTooLargeError
from tests.storage.conftest import S3_BUCKET
from tests.storage.memory import sampled_rss
from tests.storage.test_backends import DAY, MIB, REQUEST_ID, digest_of, generated, key

# A streamed write of this size must not grow this process by more than the limit:
# the backend holds part size x concurrency (5 MiB x 4 in the tests), not the file.
# 256 MiB: a write that buffered the stream would pass the RSS limit 2.5 times over;
# benchmarks/s3_stream_write.py streams 1 GiB (RSS +63 MiB on 2026-12-02).
STREAMED_BYTES = 256 * MIB
RSS_GROWTH_LIMIT = 100 * MIB


@pytest.fixture
def s3_backend(object_store) -> S3Backend:
    chosen = get_backend()
    assert isinstance(chosen, S3Backend)
    return chosen


def test_keys_are_the_layouts_relative_paths_under_the_prefix(s3_backend, object_store, seaweed):
    stored = s3_backend.save_stream(key(), b"video bytes")

    full_key = f"{object_store.prefix}/uploads/{DAY.isoformat()}/{REQUEST_ID}/original.mp4"
    assert stored.key == f"uploads/{DAY.isoformat()}/{REQUEST_ID}/original.mp4"
    assert stored.uri == f"s3://{S3_BUCKET}/{full_key}"
    head = seaweed.client().head_object(Bucket=S3_BUCKET, Key=full_key)
    assert head["ContentLength"] == len(b"video bytes")
    assert head["ContentType"] == "video/mp4"


def test_without_a_prefix_the_key_is_the_relative_path(seaweed, settings, object_store):
    settings.OBJECT_STORE = replace(object_store, prefix="")
    backend = get_backend()
    name = f"result-{object_store.prefix}.json"  # unique in the shared bucket
    stored = backend.save_stream(key(Category.OUTPUTS, name), b"{}")
    try:
        assert stored.uri == f"s3://{S3_BUCKET}/{key(Category.OUTPUTS, name)}"
        body = seaweed.client().get_object(Bucket=S3_BUCKET, Key=key(Category.OUTPUTS, name))
        assert body["Body"].read() == b"{}"
    finally:
        backend.delete(key(Category.OUTPUTS, name))


def test_temp_stays_on_local_disk(s3_backend):
    with pytest.raises(UnsafePathError, match="temp/"):
        s3_backend.save_stream(object_key(Category.TEMP, REQUEST_ID, "work.bin"), b"x")


def test_a_large_write_streams_in_flat_memory(s3_backend, object_store):
    expected = digest_of(generated(STREAMED_BYTES, chunk=MIB))
    started = time.monotonic()

    with sampled_rss() as memory:
        stored = s3_backend.save_stream(key(), generated(STREAMED_BYTES, chunk=MIB))

    seconds = time.monotonic() - started
    assert (stored.size, stored.sha256) == expected
    assert memory.growth < RSS_GROWTH_LIMIT, (
        f"RSS grew {memory.growth / MIB:.0f} MiB writing {STREAMED_BYTES / MIB:.0f} MiB "
        f"in {seconds:.1f} s"
    )
    head = s3_backend.client.head_object(Bucket=object_store.bucket, Key=s3_backend.full_key(key()))
    parts = -(-STREAMED_BYTES // object_store.part_size_bytes)
    assert head["ETag"].strip('"').endswith(f"-{parts}")  # one multipart upload
    with sampled_rss() as memory:
        assert s3_backend.sha256_of(key()) == expected  # read back as a stream
    assert memory.growth < RSS_GROWTH_LIMIT


def test_a_failed_multipart_upload_is_aborted(s3_backend, object_store, seaweed):
    with pytest.raises(FileTooLargeError):
        s3_backend.save_stream(key(), generated(30 * MIB), max_bytes=17 * MIB)

    assert not s3_backend.exists(key())
    pending = seaweed.client().list_multipart_uploads(
        Bucket=S3_BUCKET, Prefix=object_store.prefix + "/"
    )
    assert pending.get("Uploads", []) == []


def test_a_presigned_url_serves_the_bytes_over_http(s3_backend):
    payload = b"".join(generated(3 * MIB))
    s3_backend.save_stream(key(Category.CONTACT_SHEETS, "contact_sheet.jpg"), payload)

    url = s3_backend.url_for(key(Category.CONTACT_SHEETS, "contact_sheet.jpg"), expires=60)

    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).digest() == hashlib.sha256(payload).digest()
    assert answer.headers["content-type"] == "image/jpeg"
    # The signature is checked: another key under the same signature is refused.
    parts = urlsplit(url)
    forged = urlunsplit(parts._replace(path=parts.path.replace("contact_sheet", "frame_001")))
    assert httpx.get(forged, timeout=30).status_code == 403


def test_a_presigned_url_expires(s3_backend):
    s3_backend.save_stream(key(), b"short-lived")
    url = s3_backend.url_for(key(), expires=1)

    time.sleep(2.5)

    assert httpx.get(url, timeout=30).status_code == 403
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["X-Amz-Expires"] == "1"
    assert urlencode({"X-Amz-Credential": query["X-Amz-Credential"]})  # signed with v4


def test_wrong_credentials_are_refused_and_store_nothing(settings, object_store, seaweed):
    settings.OBJECT_STORE = replace(object_store, secret_key="not-the-secret")
    backend = get_backend()

    with pytest.raises(DependencyUnavailable) as raised:
        backend.save_stream(key(), b"x")

    # The store's refusal, as a 503 with Retry-After naming the object store.
    assert isinstance(raised.value.__cause__, ClientError)
    assert (raised.value.code, raised.value.http_status) == ("object_store_unavailable", 503)
    assert raised.value.http_headers() == {"Retry-After": str(OBJECT_STORE_RETRY_AFTER_SECONDS)}
    assert "not-the-secret" not in str(raised.value)
    listed = seaweed.client().list_objects_v2(Bucket=S3_BUCKET, Prefix=object_store.prefix)
    assert listed.get("KeyCount", 0) == 0


def test_the_backend_is_chosen_by_the_setting(settings, object_store):
    first = get_backend()
    assert isinstance(first, S3Backend)
    assert get_backend() is first  # clients and pools are reused

    settings.STORAGE_BACKEND = "filesystem"
    settings.OBJECT_STORE = None
    assert isinstance(get_backend(), FilesystemBackend)
