"""What a file is, from its content: magic bytes first, then the container.

The name and the client's Content-Type are never consulted: they are claims, and
a ``.jpg`` that is really a PDF must be handled as a PDF. Containers that can hold
either sound or pictures (MP4, Matroska/WebM, Ogg, ASF, MPEG-TS) are opened with
PyAV to see whether a real video stream is there (cover art does not count).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import av

from analysis.media_types import AUDIO, DOCUMENT, IMAGE, MEDIA_TYPES, UNKNOWN, VIDEO  # noqa: F401 (re-exported)
from analysis.processing.errors import MEDIA_EMPTY, MEDIA_NOT_FOUND, MediaProcessingError
from analysis.processing.facts import DetectedMedia  # defined among the facts it is stored in
from analysis.processing.text import decode_text, looks_like_text

HEAD_BYTES = 64 * 1024

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _media(media_type: str, mime: str, ext: str, detail: str) -> DetectedMedia:
    return DetectedMedia(media_type=media_type, mime_type=mime, extension=ext, detail=detail)


UNKNOWN_BINARY = _media(UNKNOWN, "application/octet-stream", ".bin", "no known signature")


def detect_media(path: Path) -> DetectedMedia:
    """Detect the type of the file at ``path`` from its bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except FileNotFoundError as exc:
        raise MediaProcessingError(MEDIA_NOT_FOUND, "The media file is missing.") from exc
    except OSError as exc:
        raise MediaProcessingError(
            MEDIA_NOT_FOUND, f"The media file cannot be read: {exc.strerror}."
        ) from exc
    if not head:
        raise MediaProcessingError(MEDIA_EMPTY, "The file is empty (0 bytes).")
    return _detect_binary(path, head) or _detect_text(head) or UNKNOWN_BINARY


# --- binary signatures -------------------------------------------------------------


def _detect_binary(path: Path, head: bytes) -> DetectedMedia | None:
    for sniff in (
        _sniff_image,
        _sniff_iso_bmff,
        _sniff_riff,
        _sniff_audio,
        _sniff_video,
        _sniff_document,
    ):
        found = sniff(path, head)
        if found is not None:
            return found
    return None


_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}


def _sniff_image(path: Path, head: bytes) -> DetectedMedia | None:
    if head.startswith(b"\xff\xd8\xff"):
        return _media(IMAGE, "image/jpeg", ".jpg", "jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _media(IMAGE, "image/png", ".png", "png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _media(IMAGE, "image/gif", ".gif", "gif")
    if head[:2] in (b"II", b"MM") and head[2:4] in (b"*\x00", b"\x00*"):
        return _media(IMAGE, "image/tiff", ".tif", "tiff")
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES
    ):
        return _media(IMAGE, "image/bmp", ".bmp", "bmp")
    if (
        head[:4] == b"\x00\x00\x01\x00"
        and len(head) >= 6
        and 0 < int.from_bytes(head[4:6], "little") < 256
    ):
        return _media(IMAGE, "image/x-icon", ".ico", "ico")
    return None


_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_AUDIO_MP4_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def _sniff_iso_bmff(path: Path, head: bytes) -> DetectedMedia | None:
    """MP4, QuickTime, 3GP, M4A, HEIF and AVIF all start with an ``ftyp`` box."""
    if head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(box_size, len(head), 64), 4)}
    if major in _AVIF_BRANDS:
        return _media(IMAGE, "image/avif", ".avif", f"iso-bmff:{major.decode('latin-1')}")
    if major in _HEIF_BRANDS or (
        brands & _HEIF_BRANDS and not brands & {b"isom", b"mp41", b"mp42"}
    ):
        return _media(IMAGE, "image/heic", ".heic", f"iso-bmff:{major.decode('latin-1')}")
    detail = f"iso-bmff:{major.decode('latin-1').strip()}"
    if major in _AUDIO_MP4_BRANDS:
        guess = _media(AUDIO, "audio/mp4", ".m4a", detail)
        return _refine_by_streams(
            path, guess, video_mime="video/mp4", video_ext=".mp4", default_video=False
        )
    if major == b"qt  ":
        guess = _media(VIDEO, "video/quicktime", ".mov", detail)
    elif major.startswith(b"3g2"):
        guess = _media(VIDEO, "video/3gpp2", ".3g2", detail)
    elif major.startswith(b"3gp"):
        guess = _media(VIDEO, "video/3gpp", ".3gp", detail)
    else:
        guess = _media(VIDEO, "video/mp4", ".mp4", detail)
    return _refine_by_streams(path, guess, audio_mime="audio/mp4", audio_ext=".m4a")


def _sniff_riff(path: Path, head: bytes) -> DetectedMedia | None:
    if head[:4] != b"RIFF":
        return None
    kind = head[8:12]
    if kind == b"WEBP":
        return _media(IMAGE, "image/webp", ".webp", "riff:webp")
    if kind == b"WAVE":
        return _media(AUDIO, "audio/wav", ".wav", "riff:wave")
    if kind == b"AVI ":
        return _media(VIDEO, "video/x-msvideo", ".avi", "riff:avi")
    return None


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a valid layer and bitrate index."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    layer = (head[1] >> 1) & 0x03
    bitrate_index = head[2] >> 4
    return layer != 0 and bitrate_index not in (0, 15) and (head[2] >> 2) & 0x03 != 3


def _sniff_audio(path: Path, head: bytes) -> DetectedMedia | None:
    if head.startswith(b"fLaC"):
        return _media(AUDIO, "audio/flac", ".flac", "flac")
    if head.startswith(b"ID3"):
        return _media(AUDIO, "audio/mpeg", ".mp3", "id3")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _media(AUDIO, "audio/aiff", ".aiff", "aiff")
    if head.startswith(b"#!AMR"):
        return _media(AUDIO, "audio/amr", ".amr", "amr")
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return _media(AUDIO, "audio/aac", ".aac", "adts")
    if _is_mpeg_audio_frame(head):
        return _media(AUDIO, "audio/mpeg", ".mp3", "mpeg-audio")
    if head.startswith(b"OggS"):
        guess = _media(AUDIO, "audio/ogg", ".ogg", "ogg")
        if b"OpusHead" in head[:512]:
            guess = _media(AUDIO, "audio/ogg", ".opus", "ogg:opus")
        return _refine_by_streams(
            path, guess, video_mime="video/ogg", video_ext=".ogv", default_video=False
        )
    return None


def _sniff_video(path: Path, head: bytes) -> DetectedMedia | None:
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        if b"webm" in head[:64]:
            guess = _media(VIDEO, "video/webm", ".webm", "ebml:webm")
            return _refine_by_streams(path, guess, audio_mime="audio/webm", audio_ext=".weba")
        guess = _media(VIDEO, "video/x-matroska", ".mkv", "ebml:matroska")
        return _refine_by_streams(path, guess, audio_mime="audio/x-matroska", audio_ext=".mka")
    if head.startswith(b"FLV\x01"):
        return _media(VIDEO, "video/x-flv", ".flv", "flv")
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        guess = _media(VIDEO, "video/x-ms-asf", ".wmv", "asf")
        return _refine_by_streams(path, guess, audio_mime="audio/x-ms-wma", audio_ext=".wma")
    if head.startswith(b"\x00\x00\x01\xba"):
        return _media(VIDEO, "video/mpeg", ".mpg", "mpeg-ps")
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        guess = _media(VIDEO, "video/mp2t", ".ts", "mpeg-ts")
        return _refine_by_streams(path, guess, audio_mime="audio/mp2t", audio_ext=".ts")
    return None


def _sniff_document(path: Path, head: bytes) -> DetectedMedia | None:
    # The PDF header may follow a little junk; readers accept it within 1 KiB.
    if b"%PDF-" in head[:1024]:
        return _media(DOCUMENT, "application/pdf", ".pdf", "pdf")
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # An OLE compound file: a legacy Office file, or an encrypted OOXML one.
        if "EncryptedPackage".encode("utf-16-le") in head or _file_contains(
            path, "EncryptedPackage".encode("utf-16-le")
        ):
            return _media(
                DOCUMENT, "application/x-encrypted-office", ".docx", "ole:encrypted-package"
            )
        return _media(UNKNOWN, "application/x-ole-storage", ".doc", "ole")
    if head.startswith(b"{\\rtf"):
        return _media(UNKNOWN, "application/rtf", ".rtf", "rtf")
    return None


_ZIP_KINDS = (
    (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".xlsx",
    ),
    (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".pptx",
    ),
    ("content.xml", "application/vnd.oasis.opendocument", ".odf"),
    ("META-INF/container.xml", "application/epub+zip", ".epub"),
)


def _sniff_zip(path: Path) -> DetectedMedia:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        # A DOCX cut short loses its central directory; keep it a document so
        # extraction can say "truncated" rather than "unknown".
        return _media(DOCUMENT, DOCX_MIME, ".docx", "zip:unreadable")
    if "word/document.xml" in names:
        return _media(DOCUMENT, DOCX_MIME, ".docx", "zip:docx")
    for member, mime, ext in _ZIP_KINDS:
        if member in names:
            return _media(UNKNOWN, mime, ext, "zip")
    return _media(UNKNOWN, "application/zip", ".zip", "zip")


def _file_contains(path: Path, needle: bytes, limit: int = 4 * 1024 * 1024) -> bool:
    with open(path, "rb") as handle:
        return needle in handle.read(limit)


# --- container probing -------------------------------------------------------------


def _probe_streams(path: Path) -> tuple[bool, bool]:
    """(has a real video stream, has an audio stream); (False, False) when the
    container cannot be opened (processing will report why)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            video = any(
                not (stream.disposition & av.stream.Disposition.attached_pic)
                for stream in container.streams.video
            )
            return video, bool(container.streams.audio)
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return False, False


def _refine_by_streams(
    path: Path,
    guess: DetectedMedia,
    *,
    audio_mime: str | None = None,
    audio_ext: str | None = None,
    video_mime: str | None = None,
    video_ext: str | None = None,
    default_video: bool = True,
) -> DetectedMedia:
    """Decide video or audio by the streams inside; keep ``guess`` when unreadable."""
    video, audio = _probe_streams(path)
    detail = guess.detail + ":probed"
    if video and not default_video and video_mime and video_ext:
        return _media(VIDEO, video_mime, video_ext, detail)
    if audio and not video and default_video and audio_mime and audio_ext:
        return _media(AUDIO, audio_mime, audio_ext, detail)
    return guess


# --- text formats ------------------------------------------------------------------

_HTML_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S
)
_HTML_TAGS = re.compile(r"<(?:head|body|title|meta|div|p|script|style|table)\b[^>]*>", re.I)
_SVG_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+svg[^>]*>\s*)?<svg\b", re.I | re.S
)
_XML_START = re.compile(r"^\s*<\?xml\b", re.I)
_MARKDOWN_STRONG = re.compile(r"^(?:#{1,6}\s+\S|```|~~~)", re.M)
_MARKDOWN_WEAK = re.compile(
    r"^(?:\s{0,3}[-*+]\s+\S|\s{0,3}\d+\.\s+\S|>\s|\|.*\|\s*$|[-=]{3,}\s*$)|\[[^\]\n]+\]\([^)\s]+\)|\*\*[^*\n]+\*\*|`[^`\n]+`",
    re.M,
)


def _detect_text(head: bytes) -> DetectedMedia | None:
    if not looks_like_text(head):
        return None
    text = decode_text(head, partial=True).text
    sample = text[:4096]
    if _SVG_START.match(sample):
        return _media(UNKNOWN, "image/svg+xml", ".svg", "text:svg")
    if _HTML_START.match(sample) or len(_HTML_TAGS.findall(sample)) >= 2:
        return _media(DOCUMENT, "text/html", ".html", "text:html")
    if _XML_START.match(sample):
        return _media(DOCUMENT, "application/xml", ".xml", "text:xml")
    if _MARKDOWN_STRONG.search(text) or len(_MARKDOWN_WEAK.findall(text)) >= 3:
        return _media(DOCUMENT, "text/markdown", ".md", "text:markdown")
    return _media(DOCUMENT, "text/plain", ".txt", "text:plain")
