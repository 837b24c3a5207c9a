"""``manifest.json``: what a backup set holds, written and read in constant memory.

It is ordinary JSON (``python -m json.tool manifest.json`` reads it), laid out so
that a set of millions of files never has to be held in memory::

    {"manifest": {...everything but the file list, on one line...},
    "files": [
    {"path": "contact-sheets/2026-12-01/<id>/contact_sheet.jpg", "size": 81234, "sha256": "..."},
    ...
    ]}

One stored file per line, sorted by path in byte order (the order of
``files.walk_storage``), so two manifests, or a manifest and the database's rows
sorted ``COLLATE "C"``, can be merged side by side without an index.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1
MANIFEST_NAME = "manifest.json"
FILES_DIR = "files"
DUMP_PATH = "database/project.dump"
PRELUDE_PATH = "database/prelude.sql"

_HEAD = '{"manifest": '
_FILES_OPEN = '"files": ['
_CLOSE = "]}"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(ValueError):
    """The manifest is missing, truncated, or not one this code wrote."""


@dataclass(frozen=True)
class FileEntry:
    """One file of the set: its path relative to ``files/`` (or to the set, for the
    database files), its size and its SHA-256."""

    path: str
    size: int
    sha256: str

    def line(self) -> str:
        return json.dumps(
            {"path": self.path, "size": self.size, "sha256": self.sha256}, ensure_ascii=False
        )

    @classmethod
    def parse(cls, data: Any) -> FileEntry:
        if not isinstance(data, dict):
            raise ManifestError(f"a file entry must be an object, got {data!r}")
        path, size, sha256 = data.get("path"), data.get("size"), data.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"file entry {path!r}: bad size {size!r}")
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise ManifestError(f"file entry {path!r}: bad sha256 {sha256!r}")
        return cls(path=check_relative_path(path), size=size, sha256=sha256)


def check_relative_path(path: Any) -> str:
    """A "/"-separated relative path with no empty, "." or ".." part: a manifest
    can never make a restore write outside the storage root."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise ManifestError(f"unsafe path {path!r}")
    if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        raise ManifestError(f"unsafe path {path!r}")
    return path


@dataclass(frozen=True)
class DatabasePart:
    dump: FileEntry
    prelude: FileEntry
    server_version: str
    pg_dump_version: str
    schema: str
    # Rows per table, counted in the dump's snapshot.
    tables: dict[str, int]
    enum_types: list[str]
    functions: list[str]

    @classmethod
    def parse(cls, data: dict) -> DatabasePart:
        return cls(
            dump=FileEntry.parse(data["dump"]),
            prelude=FileEntry.parse(data["prelude"]),
            server_version=str(data["server_version"]),
            pg_dump_version=str(data["pg_dump_version"]),
            schema=str(data["schema"]),
            tables={str(k): int(v) for k, v in data["tables"].items()},
            enum_types=[str(t) for t in data["enum_types"]],
            functions=[str(f) for f in data["functions"]],
        )


@dataclass(frozen=True)
class StoragePart:
    file_count: int
    total_bytes: int
    # Files hard-linked from the previous set (unchanged path, size and SHA-256).
    linked_count: int
    linked_bytes: int
    previous_set: str | None
    storage_root: str


@dataclass(frozen=True)
class Consistency:
    """The snapshot's live ``media_files`` / ``contact_sheets`` rows against the
    copied files: a row whose file was missing or different on disk when the set
    was made. Files without a row (written after the snapshot) are harmless."""

    live_rows: int
    missing: int
    mismatched: int
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.mismatched)


@dataclass(frozen=True)
class Manifest:
    name: str
    run_id: str | None
    started_at: str
    completed_at: str
    duration_seconds: float
    project_version: str
    # Applied migrations per app, from the snapshot's django_migrations.
    migrations: dict[str, list[str]]
    database: DatabasePart
    storage: StoragePart
    consistency: Consistency
    format: int = FORMAT

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise ManifestError("the manifest's summary is not an object")
        if data.get("format") != FORMAT:
            raise ManifestError(f"manifest format {data.get('format')!r}; this code reads {FORMAT}")
        try:
            return cls(
                name=str(data["name"]),
                run_id=data.get("run_id"),
                started_at=str(data["started_at"]),
                completed_at=str(data["completed_at"]),
                duration_seconds=float(data["duration_seconds"]),
                project_version=str(data["project_version"]),
                migrations={
                    str(app): [str(n) for n in names] for app, names in data["migrations"].items()
                },
                database=DatabasePart.parse(data["database"]),
                storage=StoragePart(**data["storage"]),
                consistency=Consistency(**data["consistency"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ManifestError):
                raise
            raise ManifestError(f"the manifest's summary is incomplete: {exc!r}") from None


# ---------------------------------------------------------------------- writing
def write_manifest(set_dir: Path, manifest: Manifest, entries: Iterable[FileEntry]) -> Path:
    """Write ``manifest.json`` (fsynced); ``entries`` is consumed once, in order."""
    path = set_dir / MANIFEST_NAME
    with path.open("w", encoding="utf-8") as out:
        out.write(_HEAD + json.dumps(manifest.as_dict(), sort_keys=True, ensure_ascii=False))
        out.write(",\n" + _FILES_OPEN + "\n")
        previous = None
        for entry in entries:
            if previous is not None:
                out.write(previous + ",\n")
            previous = entry.line()
        if previous is not None:
            out.write(previous + "\n")
        out.write(_CLOSE + "\n")
        out.flush()
        os.fsync(out.fileno())
    return path


class EntryLog:
    """File entries appended one per line while a set is being made, read back in
    order when the manifest is written (a temporary file, not a list in memory)."""

    def __init__(self, path: Path):
        self.path = path
        self._out = path.open("w", encoding="utf-8")

    def add(self, entry: FileEntry) -> None:
        self._out.write(entry.line() + "\n")

    def close(self) -> None:
        if not self._out.closed:
            self._out.close()

    def __iter__(self) -> Iterator[FileEntry]:
        self.close()
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                yield FileEntry.parse(json.loads(line))


# ---------------------------------------------------------------------- reading
def read_manifest(set_dir: Path) -> Manifest:
    """The summary (first line) of ``set_dir``'s manifest."""
    path = set_dir / MANIFEST_NAME
    try:
        with path.open(encoding="utf-8") as lines:
            first = lines.readline()
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist: not a complete backup set") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path} cannot be read: {exc}") from None
    if not first.startswith(_HEAD) or not first.rstrip("\n").endswith(","):
        raise ManifestError(f"{path} does not start with a manifest summary")
    try:
        data = json.loads(first[len(_HEAD) :].rstrip("\n")[:-1])
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: the summary is not valid JSON ({exc})") from None
    return Manifest.parse(data)


def iter_entries(set_dir: Path, *, expected_count: int | None = None) -> Iterator[FileEntry]:
    """The file entries of ``set_dir``'s manifest, one at a time, checked to be in
    strictly increasing path order and complete (the closing line is there, and
    ``expected_count`` entries were read)."""
    path = set_dir / MANIFEST_NAME
    count = 0
    previous = ""
    with path.open(encoding="utf-8") as lines:
        lines.readline()  # the summary
        if lines.readline().rstrip("\n") != _FILES_OPEN:
            raise ManifestError(f"{path}: line 2 should open the file list")
        for number, line in enumerate(lines, start=3):
            text = line.rstrip("\n")
            if text == _CLOSE:
                break
            try:
                entry = FileEntry.parse(json.loads(text.removesuffix(",")))
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path} line {number}: not JSON ({exc})") from None
            if entry.path <= previous:
                raise ManifestError(f"{path} line {number}: {entry.path!r} is out of order")
            previous = entry.path
            count += 1
            yield entry
        else:
            raise ManifestError(f"{path} is truncated: the file list is not closed")
    if expected_count is not None and count != expected_count:
        raise ManifestError(f"{path} lists {count} files, its summary says {expected_count}")
