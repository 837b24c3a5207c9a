"""``verify_set``: is this folder a complete, intact set? Reads only.

Checks the manifest, every file against its size and SHA-256 (and that the set
holds no file the manifest does not list), the prelude, and that the dump is a
readable archive holding the data of every table the manifest counts
(``pg_restore --list``, with a ``pg_restore`` able to read that ``pg_dump``'s
output).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from storage_app.backup.files import hash_file, walk_storage
from storage_app.backup.manifest import (
    FILES_DIR,
    FileEntry,
    Manifest,
    ManifestError,
    iter_entries,
    read_manifest,
)
from storage_app.backup.pgtools import PgTools, ToolError, choose_tools, environment

MAX_LISTED = 50


@dataclass
class VerifyReport:
    set_dir: Path
    manifest: Manifest | None = None
    files_checked: int = 0
    bytes_checked: int = 0
    dump_entries: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def add(self, problem: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return self.manifest is not None and self.problem_count == 0

    def summary(self) -> str:
        if self.ok:
            return (
                f"{self.set_dir}: OK, {self.files_checked} files ({self.bytes_checked} bytes) "
                f"and the dump ({self.dump_entries} archive entries) match the manifest"
            )
        more = self.problem_count - len(self.problems)
        lines = [f"{self.set_dir}: {self.problem_count} problem(s)"]
        lines += [f"  - {problem}" for problem in self.problems]
        if more:
            lines.append(f"  ... and {more} more")
        return "\n".join(lines)


def verify_set(set_dir: Path, tools: PgTools | None = None) -> VerifyReport:
    report = VerifyReport(set_dir=set_dir)
    if not set_dir.is_dir():
        report.add(f"{set_dir} is not a folder")
        return report
    try:
        report.manifest = manifest = read_manifest(set_dir)
    except ManifestError as exc:
        report.add(str(exc))
        return report
    for entry in (manifest.database.dump, manifest.database.prelude):
        _check_file(report, set_dir / entry.path, entry, entry.path)
    _check_dump(report, set_dir, manifest, tools)
    _check_files(report, set_dir, manifest)
    return report


def _check_file(report: VerifyReport, path: Path, entry: FileEntry, label: str) -> bool:
    try:
        if not path.is_file() or path.is_symlink():
            report.add(f"missing: {label}")
            return False
        size, sha256 = hash_file(path)
    except OSError as exc:
        report.add(f"unreadable: {label} ({exc.strerror})")
        return False
    if size != entry.size:
        report.add(f"size differs: {label} is {size} bytes, the manifest says {entry.size}")
        return False
    if sha256 != entry.sha256:
        report.add(
            f"checksum differs: {label} (SHA-256 {sha256[:12]}…, expected {entry.sha256[:12]}…)"
        )
        return False
    return True


def _check_dump(
    report: VerifyReport, set_dir: Path, manifest: Manifest, tools: PgTools | None
) -> None:
    dump = set_dir / manifest.database.dump.path
    if not dump.is_file():
        return  # already reported missing
    try:
        tools = tools or tools_for_set(manifest)
    except ToolError as exc:
        report.add(f"cannot read the dump: {exc}")
        return
    result = subprocess.run(
        [tools.path("pg_restore"), "--list", str(dump)],
        capture_output=True,
        text=True,
        env=environment(),
        check=False,
    )
    if result.returncode != 0:
        report.add(f"the dump is not a readable archive: {result.stderr.strip()[-500:]}")
        return
    listing = result.stdout
    report.dump_entries = sum(
        1 for line in listing.splitlines() if line and not line.startswith(";")
    )
    for qualified in manifest.database.tables:
        schema, _, name = qualified.partition(".")
        if f" TABLE DATA {schema} {name} " not in listing:
            report.add(f"the dump holds no data for table {qualified}")


def tools_for_set(manifest: Manifest) -> PgTools:
    """A pg_restore able to read what this set's pg_dump wrote."""
    version = manifest.database.pg_dump_version
    major = int(version.split(".")[0])
    return choose_tools(major, needed_for=f"the set was written by pg_dump {version}")


def _check_files(report: VerifyReport, set_dir: Path, manifest: Manifest) -> None:
    """Walk the manifest and the set's files side by side (both in path order)."""
    on_disk = _paths_on_disk(set_dir / FILES_DIR)
    current = next(on_disk, None)
    try:
        for entry in iter_entries(set_dir, expected_count=manifest.storage.file_count):
            while current is not None and current < entry.path:
                report.add(f"not in the manifest: files/{current}")
                current = next(on_disk, None)
            if current == entry.path:
                current = next(on_disk, None)
            if _check_file(report, set_dir / FILES_DIR / entry.path, entry, f"files/{entry.path}"):
                report.files_checked += 1
                report.bytes_checked += entry.size
    except ManifestError as exc:
        report.add(str(exc))
        return
    while current is not None:
        report.add(f"not in the manifest: files/{current}")
        current = next(on_disk, None)


def _paths_on_disk(folder: Path) -> Iterator[str]:
    if not folder.is_dir():
        return iter(())
    return (relative for relative, _ in walk_storage(folder))
