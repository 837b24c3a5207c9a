"""Every path under the storage root is decided here, and only here.

A path is built from three things we control: the category, the date and the
request id (a UUID). A user's filename never becomes part of a path: it is kept
in the database only, and the stored extension comes from the detected MIME type.
Every path is resolved and must stay inside the root; anything else raises
``UnsafePathError`` with a message saying why.

Layout (the plan's)::

    uploads/{YYYY-MM-DD}/{request_id}/original.ext, metadata.json     7 days
    frames/{YYYY-MM-DD}/{request_id}/frame_001.jpg ...               30 days
    contact-sheets/{YYYY-MM-DD}/{request_id}/contact_sheet.jpg       30 days
    outputs/{YYYY-MM-DD}/{request_id}/result.json, summary.txt       kept
    temp/{request_id}/...                                            24 hours
    .cleanup.lock                                                  (no longer used; skipped)
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.utils import timezone

FOLDER_MODE = 0o755
FILE_MODE = 0o644
LOCK_FILENAME = ".cleanup.lock"
# Prefix of the in-progress file a write goes to before its atomic rename.
TEMPORARY_PREFIX = ".tmp-"
# Linux's NAME_MAX and PATH_MAX, in bytes.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096

METADATA_NAME = "metadata.json"
CONTACT_SHEET_NAME = "contact_sheet.jpg"
RESULT_NAME = "result.json"
SUMMARY_NAME = "summary.txt"

# A stored name: letters, digits, "_" and "-", then dot-separated extensions.
# No separators, no "..", no "%", no spaces, no leading dot.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9]+)*")
_DATE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")


class UnsafePathError(ValueError):
    """A name or path that could leave the storage root, or is not one we build."""


class Category(StrEnum):
    UPLOADS = "uploads"
    FRAMES = "frames"
    CONTACT_SHEETS = "contact-sheets"
    OUTPUTS = "outputs"
    TEMP = "temp"


# Categories laid out as {category}/{date}/{request_id}/; temp has no date level.
DATED_CATEGORIES: tuple[Category, ...] = (
    Category.UPLOADS,
    Category.FRAMES,
    Category.CONTACT_SHEETS,
    Category.OUTPUTS,
)

# The stored extension comes from the detected type. A fixed table rather than
# ``mimetypes``, whose answers depend on the machine (".jpe", ".qt").
_EXTENSION_FOR_MIME = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/x-matroska": "mkv",
    "video/webm": "webm",
    "video/x-msvideo": "avi",
    "video/mpeg": "mpg",
    "video/3gpp": "3gp",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/webm": "weba",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tif",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "application/json": "json",
}
UNKNOWN_EXTENSION = "bin"


def storage_root() -> Path:
    """The configured root, resolved (a symlinked root is followed once, here)."""
    return _resolved_root(os.fspath(settings.STORAGE_ROOT))


@functools.lru_cache(maxsize=8)
def _resolved_root(configured: str) -> Path:
    # Cached per configured value: every path check needs the root, and resolving
    # it costs one lstat per component (cleanup checks thousands of paths).
    return Path(configured).resolve()


def retention_for(category: Category | str) -> timedelta | None:
    """How long files of ``category`` are kept; None means kept forever."""
    category = Category(category)
    if category is Category.TEMP:
        return timedelta(hours=settings.STORAGE_RETENTION_TEMP_HOURS)
    days = settings.STORAGE_RETENTION_DAYS[category.value]
    return timedelta(days=days) if days > 0 else None


def extension_for_mime(mime_type: str | None) -> str:
    """The stored extension for a detected MIME type ("bin" when unknown)."""
    if not mime_type:
        return UNKNOWN_EXTENSION
    return _EXTENSION_FOR_MIME.get(mime_type.split(";", 1)[0].strip().lower(), UNKNOWN_EXTENSION)


def original_upload_name(mime_type: str | None) -> str:
    """``original.<ext>``: the name an upload or download is stored under."""
    return f"original.{extension_for_mime(mime_type)}"


def frame_name(index: int) -> str:
    """``frame_001.jpg`` for index 1 (1-based, as the plan numbers them)."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 1:
        raise UnsafePathError(f"frame index must be a positive integer, got {index!r}")
    return f"frame_{index:03d}.jpg"


def validate_name(name: str) -> str:
    """Return ``name`` if it is a single safe file name; raise ``UnsafePathError``."""
    if not isinstance(name, str):
        raise UnsafePathError(f"file name must be a string, got {type(name).__name__}")
    if "\x00" in name:
        raise UnsafePathError("file name contains a NUL byte")
    if "/" in name or "\\" in name:
        raise UnsafePathError(f"file name {name!r} contains a path separator")
    if name in ("", ".", ".."):
        raise UnsafePathError(f"file name {name!r} is empty or a directory reference")
    if ".." in name:
        raise UnsafePathError(f"file name {name!r} contains a parent reference")
    if "%" in name:
        raise UnsafePathError(f"file name {name!r} looks percent-encoded")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UnsafePathError(f"file name is longer than {MAX_NAME_BYTES} bytes")
    if not _SAFE_NAME.fullmatch(name):
        raise UnsafePathError(
            f"file name {name!r} is not allowed (letters, digits, '_', '-' and "
            "dot-separated extensions only)"
        )
    return name


def canonical_request_id(request_id: uuid.UUID | str) -> str:
    """The request id as a canonical lowercase UUID string; anything else is refused."""
    if isinstance(request_id, uuid.UUID):
        return str(request_id)
    if not isinstance(request_id, str) or "\x00" in request_id:
        raise UnsafePathError(f"request id {request_id!r} is not a UUID")
    try:
        parsed = uuid.UUID(request_id)
    except ValueError:
        raise UnsafePathError(f"request id {request_id!r} is not a UUID") from None
    if str(parsed) != request_id.lower():  # refuse "{...}", "urn:uuid:" and hex-only forms
        raise UnsafePathError(f"request id {request_id!r} is not a canonical UUID")
    return str(parsed)


def date_folder(on_date: date | datetime | None = None) -> str:
    """``YYYY-MM-DD`` of ``on_date`` (a datetime is taken in UTC); today by default."""
    if on_date is None:
        on_date = timezone.now()
    if isinstance(on_date, datetime):
        if timezone.is_aware(on_date):
            on_date = on_date.astimezone(UTC)
        on_date = on_date.date()
    return on_date.isoformat()


def parse_date_folder(name: str) -> date | None:
    """The date a ``YYYY-MM-DD`` folder stands for, or None for any other name."""
    if not _DATE_FOLDER.fullmatch(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def request_folder(
    category: Category | str,
    request_id: uuid.UUID | str,
    *,
    on_date: date | datetime | None = None,
) -> Path:
    """The absolute folder of one request in one category (not created here)."""
    category = Category(category)
    parts = [category.value]
    if category is not Category.TEMP:
        parts.append(date_folder(on_date))
    parts.append(canonical_request_id(request_id))
    return ensure_inside_root(storage_root().joinpath(*parts))


def build_path(
    category: Category | str,
    request_id: uuid.UUID | str,
    name: str,
    *,
    on_date: date | datetime | None = None,
) -> Path:
    """The absolute path of a file we store; ``name`` is one of ours (see the
    ``*_NAME`` constants, ``original_upload_name`` and ``frame_name``)."""
    folder = request_folder(category, request_id, on_date=on_date)
    return file_inside_root(folder / validate_name(name))


def ensure_inside_root(path: Path | str) -> Path:
    """Resolve ``path`` (following symlinks) and refuse it unless it stays strictly
    inside the storage root. Returns the resolved path."""
    raw = os.fspath(path)
    if "\x00" in raw:
        raise UnsafePathError("path contains a NUL byte")
    if len(raw.encode("utf-8")) > MAX_PATH_BYTES:
        raise UnsafePathError(f"path is longer than {MAX_PATH_BYTES} bytes")
    root = storage_root()
    resolved = Path(raw).resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise UnsafePathError(f"path {raw!r} resolves to {str(resolved)!r}, outside {str(root)!r}")
    return resolved


def file_inside_root(path: Path | str) -> Path:
    """Like ``ensure_inside_root`` for a file: its folder is resolved, its own name
    is kept, so a symlink there is handled as the link (removed, not followed);
    a symlink leading outside the root is still refused."""
    path = Path(path)
    candidate = ensure_inside_root(path.parent) / path.name
    ensure_inside_root(candidate)
    return candidate


def check_relative_path(relative_path: str) -> list[str]:
    """The components of a stored relative path (as kept in ``relative_path``, and
    the object key in an object store), checked one by one without touching any
    disk; ``UnsafePathError`` says what is wrong."""
    if not isinstance(relative_path, str) or not relative_path:
        raise UnsafePathError(f"relative path {relative_path!r} is empty or not a string")
    if "\x00" in relative_path:
        raise UnsafePathError("relative path contains a NUL byte")
    if "\\" in relative_path:
        raise UnsafePathError(f"relative path {relative_path!r} contains a Windows separator")
    if relative_path.startswith("/") or re.match(r"[A-Za-z]:", relative_path):
        raise UnsafePathError(f"relative path {relative_path!r} is absolute")
    parts = relative_path.split("/")
    if parts[0] not in {c.value for c in Category}:
        raise UnsafePathError(f"relative path {relative_path!r} is not under a storage category")
    if len(parts) < 2:
        raise UnsafePathError(f"relative path {relative_path!r} names a category, not a file")
    for part in parts[1:]:
        validate_name(part)
    if len(relative_path.encode("utf-8")) > MAX_PATH_BYTES:
        raise UnsafePathError(f"relative path is longer than {MAX_PATH_BYTES} bytes")
    return parts


def object_key(
    category: Category | str,
    request_id: uuid.UUID | str,
    name: str,
    *,
    on_date: date | datetime | None = None,
) -> str:
    """``{category}/{date}/{request_id}/{name}`` (``temp/{request_id}/{name}``): the
    relative path ``build_path`` puts under the root, built without a disk."""
    category = Category(category)
    parts = [category.value]
    if category is not Category.TEMP:
        parts.append(date_folder(on_date))
    parts += [canonical_request_id(request_id), validate_name(name)]
    return "/".join(parts)


def resolve_relative(relative_path: str) -> Path:
    """The absolute path of a stored relative path (as kept in ``relative_path``),
    checked component by component and resolved inside the root."""
    parts = check_relative_path(relative_path)
    return file_inside_root(storage_root().joinpath(*parts))


def relative_to_root(path: Path | str) -> str:
    """``path`` relative to the root, with "/" separators (what rows keep)."""
    resolved = file_inside_root(path)
    return PurePosixPath(resolved.relative_to(storage_root())).as_posix()


def category_of(relative_path: str) -> Category | None:
    """The category a relative path lies in, or None."""
    head = relative_path.split("/", 1)[0]
    try:
        return Category(head)
    except ValueError:
        return None


def make_folders(folder: Path) -> Path:
    """Create ``folder`` and any missing parent below the root with mode 755 (set
    explicitly, not left to the umask). Returns the resolved folder."""
    root = storage_root()
    make_root()
    folder = ensure_inside_root(folder)
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        try:
            os.mkdir(current, FOLDER_MODE)
        except FileExistsError:
            continue
        os.chmod(current, FOLDER_MODE)
    # A component that already existed could be a symlink: check the result again.
    return ensure_inside_root(folder)


def make_root() -> Path:
    root = storage_root()
    if not root.is_dir():
        root.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        os.chmod(root, FOLDER_MODE)
    return root


def path_of_record(relative_path: str | None, storage_path: str | None) -> Path:
    """Where an index row's file is now: its relative path under the current root
    (so a moved root still works), else its absolute path if that is inside the root."""
    if relative_path:
        return resolve_relative(relative_path)
    if storage_path:
        return file_inside_root(storage_path)
    raise UnsafePathError("row has neither a relative nor a storage path")
