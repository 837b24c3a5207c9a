"""Peak memory while streaming 1 GiB into storage: the writer must hold one chunk,
never the file. Not a timed test: it prints the figures once.

    .venv/bin/python benchmarks/stream_1gib_memory.py [--size-mib 1024] [--keep]

Two sources are streamed: an iterator of fresh 1 MiB chunks (a download) and a
binary file object (an upload spooled to disk). Peak memory is the process's
high-water mark (VmHWM / ru_maxrss), taken after Django is loaded and the writer
has been warmed up once; the growth must stay under 64 MiB.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
LIMIT_MIB = 64


def peak_rss_bytes() -> int:
    """The process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def fresh_chunks(total: int, digest) -> object:
    """``total`` bytes as new 1 MiB chunks, as a download would deliver them."""
    sent = 0
    while sent < total:
        chunk = os.urandom(min(MIB, total - sent))
        digest.update(chunk)
        sent += len(chunk)
        yield chunk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--control-mib", type=int, default=128)
    parser.add_argument("--keep", action="store_true", help="keep the written files")
    args = parser.parse_args()
    size = args.size_mib * MIB

    root = Path(tempfile.mkdtemp(prefix="stream-benchmark-"))
    os.environ["MEDIA_ANALYSIS_STORAGE_ROOT"] = str(root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")
    # Settings insist on these; this benchmark touches neither the database nor Redis.
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:5432/unused")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("LOG_LEVEL", "warning")
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from storage_app.layout import Category
    from storage_app.writer import store_file

    try:
        # Warm up code paths and allocator pools before taking the baseline.
        store_file(
            fresh_chunks(8 * MIB, hashlib.sha256()),
            category=Category.TEMP,
            request_id=uuid.uuid4(),
            name="warmup.bin",
        )
        results = []

        baseline = peak_rss_bytes()
        expected = hashlib.sha256()
        started = time.monotonic()
        stored = store_file(
            fresh_chunks(size, expected),
            category=Category.UPLOADS,
            request_id=uuid.uuid4(),
            name="original.bin",
        )
        elapsed = time.monotonic() - started
        assert stored.size_bytes == size and stored.sha256 == expected.hexdigest()
        results.append(("iterator of 1 MiB chunks", baseline, peak_rss_bytes(), elapsed))

        baseline = peak_rss_bytes()
        started = time.monotonic()
        with open(stored.path, "rb") as source:
            copy = store_file(
                source, category=Category.UPLOADS, request_id=uuid.uuid4(), name="original.bin"
            )
        elapsed = time.monotonic() - started
        assert copy.sha256 == stored.sha256
        results.append(("binary file object", baseline, peak_rss_bytes(), elapsed))

        # Control: the meter must see memory that is really held (a whole file in bytes).
        baseline = peak_rss_bytes()
        whole = os.urandom(args.control_mib * MIB)
        store_file(whole, category=Category.TEMP, request_id=uuid.uuid4(), name="control.bin")
        control_growth = peak_rss_bytes() - baseline
        del whole

        print(f"streamed {args.size_mib} MiB per source into {root}")
        print(f"current RSS after both: {current_rss_bytes() / MIB:.1f} MiB")
        failed = False
        for label, before, after, seconds in results:
            growth = after - before
            ratio = growth / size
            ok = growth < LIMIT_MIB * MIB
            failed |= not ok
            print(
                f"{label:26s} peak before {before / MIB:7.1f} MiB, after {after / MIB:7.1f} MiB, "
                f"growth {growth / MIB:6.2f} MiB = {ratio:.5f} x file size "
                f"({'OK' if ok else 'OVER'} < {LIMIT_MIB} MiB), {size / MIB / seconds:.0f} MiB/s"
            )
        print(
            f"control: a {args.control_mib} MiB bytes object held in memory shows growth "
            f"{control_growth / MIB:.1f} MiB (the meter works)"
        )
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
