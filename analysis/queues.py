"""Which queue an analysis is published to: the one rule, used by the outbox for
every publish (after the submitting commit, by beat's flush, on a requeue).

Heavy work (video, long audio, and media whose type is not known yet) goes to
``media.heavy``, light work (images, documents, short audio) to ``media.light``,
so a flood of videos never keeps a small job waiting behind it: each queue has a
pool of its own (docs/deployment.md, "Queues and worker pools").

What is known when the message is published:
- an upload was detected from its bytes when it was stored, so its row's
  ``media_type`` is set at submission (``services.submit_upload_request``);
- a URL not downloaded yet has the caller's ``media_type`` hint, else the
  extension of the URL's path, else nothing: unknown counts as heavy;
- a request run before (a retry, a takeover) has the type its run detected.
Audio's length is only learnt by probing it; its size stands in for it
(``ANALYSIS_LIGHT_AUDIO_MAX_BYTES``), read from the stored file, so audio at a URL
not downloaded yet is heavy.

A guess can be wrong (a ``.jpg`` URL that serves a video): that run finishes on
the light pool rather than being handed over, see ``pipeline._ingest``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings

from analysis.media_types import AUDIO, DOCUMENT, IMAGE, MEDIA_TYPES, UNKNOWN, VIDEO
from analysis.models import AnalysisRequest
from storage_app.layout import METADATA_NAME, Category
from storage_app.models import MediaFile

# What a URL's extension suggests, before any byte is read. Ambiguous containers
# (.ogg, .webm) are listed under the heavier type they may hold.
_EXTENSIONS = {
    VIDEO: ".mp4 .m4v .mov .mkv .webm .avi .wmv .flv .mpg .mpeg .ts .3gp",
    AUDIO: ".mp3 .wav .flac .ogg .oga .opus .m4a .aac .wma",
    IMAGE: ".jpg .jpeg .png .gif .webp .bmp .tif .tiff .heic",
    DOCUMENT: ".pdf .docx .txt .md .markdown .csv .html .htm .xml",
}
EXTENSION_TYPES: dict[str, str] = {
    extension: media_type
    for media_type, extensions in _EXTENSIONS.items()
    for extension in extensions.split()
}


def queue_for(request: AnalysisRequest) -> str:
    """The queue ``request``'s analysis is published to."""
    media_type = expected_media_type(request)
    size = stored_media_bytes(request) if media_type == AUDIO else None
    return queue_for_media(media_type, size)


def queue_for_media(media_type: str, size_bytes: int | None = None) -> str:
    """Light for images, documents and audio known to be at most
    ``ANALYSIS_LIGHT_AUDIO_MAX_BYTES``; heavy for everything else."""
    light = media_type in (IMAGE, DOCUMENT) or (
        media_type == AUDIO
        and size_bytes is not None
        and size_bytes <= settings.ANALYSIS_LIGHT_AUDIO_MAX_BYTES
    )
    return settings.QUEUE_MEDIA_LIGHT if light else settings.QUEUE_MEDIA_HEAVY


def expected_media_type(request: AnalysisRequest) -> str:
    """The detected type when there is one, else the caller's hint, else the URL's
    extension, else unknown."""
    if request.media_type and request.media_type != UNKNOWN:
        return str(request.media_type)
    hint = (request.metadata or {}).get("media_type_hint")
    if hint in MEDIA_TYPES:
        return hint
    return media_type_of_url(request.media_url)


def media_type_of_url(url: str) -> str:
    """What the extension of ``url``'s path suggests (query and fragment ignored)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return UNKNOWN
    return EXTENSION_TYPES.get(PurePosixPath(path).suffix.lower(), UNKNOWN)


def stored_media_bytes(request: AnalysisRequest) -> int | None:
    """The size of the request's stored media (an upload, or an earlier run's
    download), or None when there is none yet."""
    return (
        MediaFile.objects.filter(
            request_id=request.id,
            relative_path__startswith=f"{Category.UPLOADS}/",
            deleted_at__isnull=True,
        )
        .exclude(filename=METADATA_NAME)
        .order_by("-uploaded_at")
        .values_list("size_bytes", flat=True)
        .first()
    )
