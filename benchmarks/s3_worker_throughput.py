"""Issue 15's "Done when": throughput of the S3 backend (SeaweedFS on this machine)
with 1 and then 2 Celery worker processes, and the filesystem backend with 1
worker as the reference, all in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/14 \\
        flock -x /tmp/bench.lock .venv/bin/python benchmarks/s3_worker_throughput.py \\
        [--jobs 200] [--concurrency 1]

The service runs as shipped (``mix_stack.py``: a database of its own on
DATABASE_URL's server, REDIS_URL's database flushed, ``gunicorn -c gunicorn.conf.py
media_analysis.wsgi`` and ``celery -A media_analysis worker -l info`` with a
production environment); SeaweedFS (``tests/storage/seaweed.py``) is started on
local ports with one bucket, each run under a key prefix of its own (AWS_LOCATION:
a bucket per run is a SeaweedFS collection per run, and its volume slots ran out
in the third), and the S3 backend is chosen through the environment
(MEDIA_ANALYSIS_STORAGE_BACKEND=s3, AWS_*). On S3 the web and each
worker have a storage root of their own (their local ``temp/`` only); on the
filesystem the web and the worker share one root, as that backend needs.

Each run starts the web and its workers (``--concurrency 1 -n bench<i>@%h`` each
by default: a worker process then runs one task at a time, so the second worker
is the only capacity added; celery's own default, the CPU count, would already run
two tasks at once in one worker on this 2-core machine and four in two, measuring
oversubscription rather than a worker added; ``--concurrency 0`` gives celery's
default), warms them up with one job of each kind (not counted), then submits the
same fixed mix of ``--jobs`` real media through the HTTP API (200 by default: at
40 a run lasted ~6 s, too short to tell one worker from two): a 6-second 640x360
H.264 video with sound (PyAV, ffmpeg's libraries), a JPEG, a 10-second WAV tone, a
text PDF and a DOCX in turn, alternately uploaded and given as a URL on a local
HTTP server, each with ``options.force`` (the same bytes and prompt would
otherwise reuse the first answer and skip the provider step). It prints jobs,
wall time (first submission to last completion), jobs/min, p50/p95 job latency
(submission to completion), the speed-up of 2 workers over 1 on S3 and S3's
jobs/min against the filesystem's, and checks each run: every request (warm-up
included) completed with exactly one result; on S3 every stored row (files,
contact sheets) is an ``s3://bucket/prefix/key`` whose object is in the bucket
with the row's size, and no local root holds anything but an empty ``temp/``; on
the filesystem every row's file is on disk and ``temp/`` is empty; no
log holds a traceback. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
from mix_media import Upload
from mix_report import TERMINAL
from mix_stack import MixStack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.storage.seaweed, tests.processing.media_factory

from tests.processing.media_factory import (  # noqa: E402
    make_audio,
    make_docx,
    make_image,
    make_text_pdf,
    make_video,
)
from tests.storage.seaweed import SeaweedServer  # noqa: E402

PROMPT = "Describe this."
# The same bytes and prompt would reuse the first answer (analysis/reuse.py) and skip
# the provider step; forced, every job does the whole analysis, as distinct media do.
FORCE = {"force": True}
BUCKET = "media-analysis-bench"
SUBMITTERS = 8  # submissions in flight at once: the whole batch lands in seconds
TERMINAL_TIMEOUT = 1200.0
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".wav": "audio/wav",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True)
class Job:
    upload: Upload
    via: str  # "upload" or "url"


@dataclass
class RunResult:
    label: str
    workers: int
    jobs: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, timed jobs
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        return self.jobs / self.wall * 60 if self.wall else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


# ------------------------------------------------------------------- media
def media_files(folder: Path) -> list[Upload]:
    """One real file of each kind the pipeline handles (PyAV encodes the video)."""
    folder.mkdir(parents=True, exist_ok=True)
    words = ["The quarterly results improved in every region.", "Costs fell; sales rose."]
    paths = [
        make_video(folder / "clip.mp4", seconds=6.0, width=640, height=360),
        make_image(folder / "photo.jpg", size=(640, 360)),
        make_audio(folder / "tone.wav", seconds=10.0),
        make_text_pdf(folder / "report.pdf", words),
        make_docx(folder / "letter.docx", words),
    ]
    return [Upload(p.name, p.read_bytes(), CONTENT_TYPES[p.suffix]) for p in paths]


def job_mix(uploads: list[Upload], count: int) -> list[Job]:
    """The kinds in turn, alternately uploaded and fetched by URL (fixed order)."""
    kinds = len(uploads)
    return [
        Job(uploads[i % kinds], "upload" if (i // kinds) % 2 == 0 else "url") for i in range(count)
    ]


# --------------------------------------------------------------- submitting
def submit(api: httpx.Client, media_base: str, job: Job) -> tuple[str, float]:
    """(request id, when it was sent) of one accepted submission."""
    sent = time.time()
    if job.via == "url":
        body = {"media_url": f"{media_base}/{job.upload.name}", "prompt": PROMPT, "options": FORCE}
        answer = api.post("/api/media/analyze", json=body)
    else:
        files = {"file": (job.upload.name, job.upload.data, job.upload.content_type)}
        answer = api.post(
            "/api/media/analyze", files=files, data={"prompt": PROMPT, "options": json.dumps(FORCE)}
        )
    if answer.status_code != 202:
        raise SystemExit(f"{job.via} of {job.upload.name}: {answer.status_code} {answer.text}")
    return answer.json()["id"], sent


def submit_all(stack: MixStack, jobs: list[Job]) -> dict[str, float]:
    headers = {"Authorization": f"Token {stack.token}"}
    with (
        httpx.Client(base_url=stack.url, headers=headers, timeout=60) as api,
        ThreadPoolExecutor(SUBMITTERS) as pool,
    ):
        sent = pool.map(lambda job: submit(api, stack.media.base, job), jobs)
        return dict(sent)


def wait_done(database_url: str, ids: list[str]) -> dict[str, tuple[str, datetime | None]]:
    """Every request's (status, completed_at) once all are terminal (or timed out)."""
    deadline = time.monotonic() + TERMINAL_TIMEOUT
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT id::text, status, completed_at FROM media_analysis_requests"
                " WHERE id = ANY(%s::uuid[])",
                [ids],
            ).fetchall()
            states = {rid: (status, done) for rid, status, done in rows}
            finished = all(status in TERMINAL for status, _ in states.values())
            if (finished and len(states) == len(ids)) or time.monotonic() > deadline:
                return states
            time.sleep(0.5)


# ------------------------------------------------------------------- checks
def check_requests(database_url: str, states: dict, ids: list[str]) -> list[str]:
    problems = []
    ended = {rid: status for rid, (status, _) in states.items()}
    not_completed = [
        f"{rid} {ended.get(rid, 'missing')}" for rid in ids if ended.get(rid) != "completed"
    ]
    if not_completed:
        problems.append(f"{len(not_completed)} not completed, e.g. {not_completed[:3]}")
    with psycopg.connect(database_url, autocommit=True) as conn:
        counts = dict(
            conn.execute(
                "SELECT request_id::text, count(*) FROM media_analysis_results"
                " WHERE request_id = ANY(%s::uuid[]) GROUP BY request_id",
                [ids],
            ).fetchall()
        )
    wrong = [rid for rid in ids if counts.get(rid, 0) != 1]
    if wrong:
        problems.append(f"{len(wrong)} requests without exactly one result, e.g. {wrong[:3]}")
    return problems


def stored_rows(database_url: str, ids: list[str]) -> list[tuple[str, str, int]]:
    """(relative_path, storage_path, size) of every file and contact sheet of ``ids``."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT relative_path, storage_path, size_bytes FROM media_files"
            " WHERE request_id = ANY(%(ids)s::uuid[]) AND deleted_at IS NULL"
            " UNION ALL SELECT relative_path, storage_path, file_size_bytes FROM contact_sheets"
            " WHERE request_id = ANY(%(ids)s::uuid[])",
            {"ids": ids},
        ).fetchall()


def check_bucket(rows, seaweed: SeaweedServer, prefix: str) -> tuple[list[str], str]:
    """Every row an ``s3://bucket/prefix/key`` URI whose object is there with its size."""
    client = seaweed.client()
    objects: dict[str, int] = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/")
    for page in pages:
        objects.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
    problems = []
    for key, uri, size in rows:
        if uri != f"s3://{BUCKET}/{prefix}/{key}":
            problems.append(f"row {key} points to {uri}")
        elif objects.get(f"{prefix}/{key}") != size:
            found = objects.get(f"{prefix}/{key}", "missing")
            problems.append(f"object {key}: {found} bytes, row says {size}")
    extra = len(set(objects) - {f"{prefix}/{key}" for key, _, _ in rows})
    note = f"{len(rows)} rows, {len(objects)} objects under {prefix}/ ({extra} without a row)"
    return problems[:10], note


def check_disk_rows(rows, storage_root: Path) -> list[str]:
    problems = []
    for key, path, size in rows:
        file = Path(path)
        if not file.is_relative_to(storage_root) or not file.is_file():
            problems.append(f"row {key}: no file at {path}")
        elif file.stat().st_size != size:
            problems.append(f"row {key}: {file.stat().st_size} bytes on disk, row says {size}")
    return problems[:10]


def check_only_empty_temp(root: Path) -> list[str]:
    """Nothing under a local root of an S3 process but its ``temp/``, empty."""
    stray = [p for p in root.rglob("*") if not p.is_relative_to(root / "temp")]
    problems = (
        [f"{root.name}: {len(stray)} entries outside temp/, e.g. {stray[:3]}"] if stray else []
    )
    return problems + check_temp_empty(root)


def check_temp_empty(root: Path) -> list[str]:
    left = list((root / "temp").rglob("*"))
    return [f"{root.name}: temp/ keeps {len(left)} entries, e.g. {left[:3]}"] if left else []


# --------------------------------------------------------------------- runs
@dataclass(frozen=True)
class Plan:
    label: str
    backend: str  # "filesystem" or "s3"
    workers: int


# The reference first, then S3 with one worker, then two.
PLANS = (Plan("filesystem-1", "filesystem", 1), Plan("s3-1", "s3", 1), Plan("s3-2", "s3", 2))


def s3_env(seaweed: SeaweedServer, prefix: str) -> dict[str, str]:
    return {
        "MEDIA_ANALYSIS_STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_LOCATION": prefix,
        "AWS_ACCESS_KEY_ID": seaweed.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweed.secret_key,
        "AWS_S3_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_S3_REGION_NAME": seaweed.region,
        "AWS_S3_ADDRESSING_STYLE": "path",
    }


def start_processes(
    stack: MixStack, plan: Plan, env: dict, folder: Path, concurrency: int
) -> list[Path]:
    """The web and ``plan.workers`` workers; the local storage roots they use."""
    shared = plan.backend == "filesystem"  # that backend's web and workers share a disk
    roots = [folder / "storage"] if shared else [folder / "web"]
    stack.start_web(**env, MEDIA_ANALYSIS_STORAGE_ROOT=str(roots[0]))
    for index in range(1, plan.workers + 1):
        root = roots[0] if shared else folder / f"worker-{index}"
        if root not in roots:
            roots.append(root)
        args = ["-n", f"bench{index}@%h"]
        args += ["--concurrency", str(concurrency)] if concurrency else []
        stack.start_worker(
            *args, name=f"worker-{index}", **env, MEDIA_ANALYSIS_STORAGE_ROOT=str(root)
        )
    return roots


def run_plan(
    stack: MixStack, plan: Plan, jobs: list[Job], seaweed: SeaweedServer, concurrency: int
) -> RunResult:
    folder = stack.folder / plan.label
    env = {"MEDIA_ANALYSIS_STORAGE_BACKEND": "filesystem"}
    if plan.backend == "s3":
        env = s3_env(seaweed, plan.label)
    roots = start_processes(stack, plan, env, folder, concurrency)
    try:
        # One job of each kind first: imports, connections and caches are not timed.
        warm = submit_all(stack, job_mix(stack.uploads, len(stack.uploads)))
        states = wait_done(stack.database.url, list(warm))
        began = time.time()
        sent = submit_all(stack, jobs)
        submitted = time.time() - began
        timed = wait_done(stack.database.url, list(sent))
    finally:
        for name in [n for n in stack.processes if n != "web"] + ["web"]:  # workers first
            stack.stop(name)
    result = RunResult(plan.label, plan.workers, jobs=len(jobs))
    done = {rid: at.timestamp() for rid, (_, at) in timed.items() if at is not None}
    result.notes.append(f"all {len(jobs)} submitted in {submitted:.1f} s")
    result.latencies = [done[rid] - sent_at for rid, sent_at in sent.items() if rid in done]
    result.wall = max(done.values(), default=began) - began
    ids = list(warm) + list(sent)
    result.problems = check_requests(stack.database.url, states | timed, ids)
    result.problems += check_storage(stack, plan, ids, roots, seaweed, result.notes)
    return result


def check_storage(stack, plan, ids, roots, seaweed, notes: list[str]) -> list[str]:
    rows = stored_rows(stack.database.url, ids)
    if plan.backend == "filesystem":
        notes.append(f"{len(rows)} rows, each a file under the shared root")
        return check_disk_rows(rows, roots[0]) + check_temp_empty(roots[0])
    problems, note = check_bucket(rows, seaweed, plan.label)
    notes.append(note + f"; local roots {', '.join(root.name for root in roots)}: temp/ only")
    for root in roots:
        problems += check_only_empty_temp(root)
    return problems


# ------------------------------------------------------------------- report
def print_table(results: list[RunResult]) -> None:
    header = f"{'run':<16}{'workers':>8}{'jobs':>6}{'wall s':>9}{'jobs/min':>10}"
    print(f"{header}{'p50 s':>8}{'p95 s':>8}  checks")
    for r in results:
        verdict = "ok" if not r.problems else f"FAILED ({len(r.problems)})"
        print(
            f"{r.label:<16}{r.workers:>8}{r.jobs:>6}{r.wall:>9.1f}{r.per_minute:>10.1f}"
            f"{r.percentile(0.50):>8.1f}{r.percentile(0.95):>8.1f}  {verdict}"
        )
    by_label = {r.label: r for r in results}
    one, two, disk = by_label.get("s3-1"), by_label.get("s3-2"), by_label.get("filesystem-1")
    if one and two and one.per_minute:
        print(f"speed-up on S3, 2 workers vs 1: {two.per_minute / one.per_minute:.2f}x")
    if one and disk and disk.per_minute:
        print(f"S3 vs filesystem, 1 worker: {one.per_minute / disk.per_minute:.0%} of the jobs/min")
    for r in results:
        print(f"  {r.label}: {'; '.join(r.notes)}")
        for problem in r.problems:
            print(f"    FAILED: {problem}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1, help="per worker; 0: celery's")
    parser.add_argument("--port", type=int, default=18975)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-s3-media-") as folder:
        uploads = media_files(Path(folder))
    with MixStack("bench_s3_workers", options.port, uploads=uploads) as stack:
        seaweed = SeaweedServer(stack.folder / "seaweed").start()
        try:
            seaweed.create_bucket(BUCKET)
            describe(options, uploads, seaweed)
            results = []
            for plan in PLANS:
                result = run_plan(
                    stack, plan, job_mix(uploads, options.jobs), seaweed, options.concurrency
                )
                print(f"{plan.label}: {result.wall:.1f} s", flush=True)
                results.append(result)
        finally:
            seaweed.stop()
        tracebacks = stack.tracebacks()
        print_table(results)
        for path in tracebacks:
            print(f"FAILED: a traceback in {path}")
    return 1 if tracebacks or any(r.problems for r in results) else 0


def describe(options, uploads: list[Upload], seaweed: SeaweedServer) -> None:
    kinds = ", ".join(f"{u.name} {len(u.data) / 1024:.0f} KiB" for u in uploads)
    concurrency = options.concurrency or "celery's default"
    print(
        f"{options.jobs} jobs of {kinds}, half uploaded, half by URL; each worker"
        f" --concurrency {concurrency}; {os.cpu_count()} CPUs; SeaweedFS {seaweed.endpoint_url}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
