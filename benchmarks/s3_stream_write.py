"""Streaming 1 GiB into S3-compatible storage: throughput and memory of the s3
backend against boto3's plain ``upload_file`` of the same bytes. Not a timed test:
it prints the figures once.

    .venv/bin/python benchmarks/s3_stream_write.py [--size-mib 1024] [--part-mib 8]
        [--concurrency 4]

It starts SeaweedFS (``weed server -s3`` from the venv, as the tests do) on local
ports and a bucket, then, each run sampling this process's RSS every 10 ms:

- the backend: ``save_stream`` of generated 1 MiB chunks (a download; no file),
  SHA-256 and size computed on the way; the growth must stay under 100 MiB;
- the reference: the same bytes written to a local file first (not timed), then
  boto3's ``upload_file`` with its default transfer settings;
- the backend's streamed read-back (``sha256_of``), checked against the write;
- a control holding 128 MiB, to show the meter sees held memory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
LIMIT_MIB = 100
BUCKET = "media-analysis-bench"


def generated(total: int):
    """Distinct 1 MiB chunks made on demand (a counter in each), never one buffer."""
    block = os.urandom(MIB)
    index = 0
    sent = 0
    while sent < total:
        piece = (index.to_bytes(8, "big") + block[8:])[: min(MIB, total - sent)]
        yield piece
        sent += len(piece)
        index += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--control-mib", type=int, default=128)
    args = parser.parse_args()
    size = args.size_mib * MIB

    sys.path.insert(0, str(PROJECT))
    from tests.storage.memory import sampled_rss
    from tests.storage.seaweed import SeaweedServer

    work = Path(tempfile.mkdtemp(prefix="s3-benchmark-"))
    server = SeaweedServer(work / "seaweed").start()
    try:
        server.create_bucket(BUCKET)
        os.environ.update(
            {
                "MEDIA_ANALYSIS_STORAGE_ROOT": str(work / "storage"),
                "MEDIA_ANALYSIS_STORAGE_BACKEND": "s3",
                "AWS_STORAGE_BUCKET_NAME": BUCKET,
                "AWS_ACCESS_KEY_ID": server.access_key,
                "AWS_SECRET_ACCESS_KEY": server.secret_key,
                "AWS_S3_ENDPOINT_URL": server.endpoint_url,
                "AWS_S3_REGION_NAME": server.region,
                "STORAGE_S3_PART_SIZE_MB": str(args.part_mib),
                "STORAGE_S3_MAX_CONCURRENCY": str(args.concurrency),
            }
        )
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")
        # Settings insist on these; this benchmark touches neither the database nor Redis.
        os.environ.setdefault("DEBUG", "true")
        os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:5432/unused")
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        os.environ.setdefault("LOG_LEVEL", "warning")
        import django

        django.setup()
        return run(args, size, work, server, sampled_rss)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(args, size: int, work: Path, server, sampled_rss) -> int:
    from storage_app.backends import get_backend
    from storage_app.layout import Category, object_key

    backend = get_backend()
    key = object_key(Category.UPLOADS, uuid.uuid4(), "original.bin")
    # Warm up clients, pools and allocator before any baseline.
    backend.save_stream(key, generated(3 * args.part_mib * MIB))
    rows = []

    with sampled_rss() as memory:
        started = time.monotonic()
        stored = backend.save_stream(key, generated(size))
        seconds = time.monotonic() - started
    rows.append(("backend save_stream (chunks)", memory.growth, seconds))

    local = work / "reference.bin"
    with open(local, "wb") as out:
        for chunk in generated(size):
            out.write(chunk)
    client = server.client()
    with sampled_rss() as memory:
        started = time.monotonic()
        client.upload_file(str(local), BUCKET, "reference.bin")  # boto3's defaults
        seconds = time.monotonic() - started
    rows.append(("boto3 upload_file (file)", memory.growth, seconds))
    reference_sha = hashlib.sha256()
    with open(local, "rb") as handle:
        while block := handle.read(MIB):
            reference_sha.update(block)
    local.unlink()

    with sampled_rss() as memory:
        started = time.monotonic()
        read_size, read_sha = backend.sha256_of(key)
        seconds = time.monotonic() - started
    rows.append(("backend streamed read", memory.growth, seconds))
    assert (read_size, read_sha) == (stored.size, stored.sha256) and stored.size == size

    with sampled_rss() as memory:
        held = os.urandom(args.control_mib * MIB)
    del held

    print(
        f"{args.size_mib} MiB to SeaweedFS {server.endpoint_url}, parts of {args.part_mib} MiB, "
        f"{args.concurrency} at once; sha256 {stored.sha256[:16]}... verified by read-back"
    )
    failed = False
    for label, growth, seconds in rows:
        ok = growth < LIMIT_MIB * MIB or label.startswith("boto3")
        failed |= not ok
        print(
            f"{label:30s} {size / MIB / seconds:7.1f} MiB/s  {seconds:6.1f} s  "
            f"RSS growth {growth / MIB:6.1f} MiB"
            + ("" if label.startswith("boto3") else f" ({'OK' if ok else 'OVER'} < {LIMIT_MIB})")
        )
    print(f"control: holding {args.control_mib} MiB shows {memory.growth / MIB:.1f} MiB growth")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
