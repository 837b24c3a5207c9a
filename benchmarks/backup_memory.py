"""Backups of a large storage: memory stays flat, second sets cost little, restore time.
Not a timed test: it prints the figures once.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/backup_memory.py [--files 20000] [--big-mib 1024] [--keep]

It makes a database of its own on DATABASE_URL's server (migrated, one
``media_files`` row per file) and a storage root of N small files plus one large
one, then runs the commands as an operator does, each in a process of its own
whose peak RSS (``wait4``'s ru_maxrss) is read when it exits:

- ``backup`` of a small storage (the reference) and of the large one: the growth
  between them must stay under 64 MiB however large the storage;
- a second ``backup`` with nothing new: its disk use (``du``, hard links counted
  once) against the first set's;
- ``restore`` of the small and of the large set into empty databases and storage
  roots: time, and memory growth against the small one;
- a control process holding 128 MiB, to show the meter sees held memory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
LIMIT_MIB = 64
BENCH_DB = "media_analysis_backup_bench"


def database_url(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_connection():
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def recreate_database(name: str) -> None:
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, output) of ``args`` run as a child of its own."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(args, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {process.returncode}:\n{text}")
    return seconds, usage.ru_maxrss / 1024, text


def manage(*args: str, env: dict[str, str]) -> tuple[float, float, str]:
    return run([sys.executable, str(PROJECT / "manage.py"), *args], env)


def make_storage(root: Path, files: int, big_mib: int) -> list[tuple[str, int, str]]:
    """Frames of ``files // 10`` requests (10 each, 4-60 KiB) and one large upload;
    returns (relative path, size, sha256) for the index rows."""
    rows = []
    block = os.urandom(MIB)
    for number in range(files):
        request = uuid.UUID(int=number // 10 + 1)
        day = (number // 10) % 28 + 1
        relative = f"frames/2026-11-{day:02d}/{request}/frame_{number % 10 + 1:03d}.jpg"
        content = os.urandom(4096 + (number * 7919) % (56 * 1024))
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        rows.append((relative, len(content), hashlib.sha256(content).hexdigest()))
    if big_mib:
        relative = f"uploads/2026-11-30/{uuid.UUID(int=10**9)}/original.mp4"
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with path.open("wb") as handle:
            for index in range(big_mib):
                chunk = bytes([index % 251]) + block[1:]
                handle.write(chunk)
                digest.update(chunk)
        rows.append((relative, big_mib * MIB, digest.hexdigest()))
    return rows


def index(database: str, root: Path, rows: list[tuple[str, int, str]]) -> None:
    import psycopg

    with (
        psycopg.connect(database_url(database), autocommit=True) as conn,
        conn.cursor().copy(
            "COPY media_files (id, filename, storage_path, relative_path, size_bytes, checksum) "
            "FROM STDIN"
        ) as copy,
    ):
        for relative, size, sha256 in rows:
            name = relative.rsplit("/", 1)[1]
            copy.write_row((uuid.uuid4(), name, str(root / relative), relative, size, sha256))


def du_kib(*folders: Path) -> list[int]:
    result = subprocess.run(["du", "-sk", *map(str, folders)], capture_output=True, text=True)
    return [int(line.split()[0]) for line in result.stdout.splitlines()]


def scenario(work: Path, label: str, files: int, big_mib: int) -> dict:
    """Make a service (database + storage), back it up twice, restore it once."""
    source_db, target_db = f"{BENCH_DB}_{label}", f"{BENCH_DB}_{label}_restored"
    recreate_database(source_db)
    recreate_database(target_db)
    storage, restored = work / f"{label}-storage", work / f"{label}-restored"
    storage.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(source_db),
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(storage),
        "BACKUP_DIR": str(work / f"{label}-backups"),
        "LOG_LEVEL": "warning",
    }
    manage("migrate", "--noinput", "-v", "0", env=env)
    rows = make_storage(storage, files, big_mib)
    index(source_db, storage, rows)
    os.sync()
    first = manage("backup", env=env)
    second = manage("backup", env=env)
    sets = sorted(p for p in (work / f"{label}-backups").iterdir() if not p.name.startswith("."))
    sizes = du_kib(*sets)
    restore_env = {
        **env,
        "DATABASE_URL": database_url(target_db),
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(restored),
    }
    restore = manage("restore", str(sets[-1]), env=restore_env)
    drop_database(source_db)
    drop_database(target_db)
    return {
        "files": len(rows),
        "bytes": sum(size for _, size, _ in rows),
        "first": first,
        "second": second,
        "restore": restore,
        "first_kib": sizes[0],
        "second_kib": sizes[1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--keep", action="store_true", help="keep the folders it made")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit(
            "set DATABASE_URL and REDIS_URL (a server this benchmark may add databases to)"
        )
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_FORMAT", "text")
    work = Path(tempfile.mkdtemp(prefix="backup-benchmark-"))
    try:
        small = scenario(work, "small", 100, 0)
        large = scenario(work, "large", args.files, args.big_mib)
        control = run(
            [
                sys.executable,
                "-c",
                "x = bytearray(128 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])",
            ],
            dict(os.environ),
        )
        baseline = run([sys.executable, "-c", "pass"], dict(os.environ))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    def line(
        what: str, figures: tuple[float, float, str], reference: tuple[float, float, str]
    ) -> bool:
        growth = figures[1] - reference[1]
        ok = growth < LIMIT_MIB
        print(
            f"{what:34s} {figures[0]:7.1f} s, peak RSS {figures[1]:6.1f} MiB "
            f"(reference {reference[1]:6.1f} MiB: growth {growth:5.1f} MiB, "
            f"{'OK' if ok else 'OVER'} < {LIMIT_MIB} MiB)"
        )
        return ok

    print(
        f"large storage: {large['files']} files, {large['bytes'] / MIB:.0f} MiB "
        f"({args.files} files of 4-60 KiB, one of {args.big_mib} MiB); "
        f"reference: {small['files']} files, {small['bytes'] / MIB:.1f} MiB"
    )
    ok = line("backup (first set)", large["first"], small["first"])
    ok &= line("backup (second set, nothing new)", large["second"], small["second"])
    ok &= line("restore", large["restore"], small["restore"])
    print(
        f"set sizes (du, hard links counted once): first {large['first_kib'] / 1024:.1f} MiB, "
        f"second {large['second_kib'] / 1024:.1f} MiB = {large['second_kib'] / large['first_kib']:.1%} "
        f"of the first"
    )
    print(
        f"throughput: first backup {large['bytes'] / MIB / large['first'][0]:.0f} MiB/s, "
        f"restore {large['bytes'] / MIB / large['restore'][0]:.0f} MiB/s"
    )
    print(
        f"control: a process holding 128 MiB peaks at {control[1]:.1f} MiB vs "
        f"{baseline[1]:.1f} MiB for an empty one (the meter sees held memory)"
    )
    return 0 if ok and large["second_kib"] < 0.1 * large["first_kib"] else 1


if __name__ == "__main__":
    sys.exit(main())
