"""The one exception that processing raises.

Every failure of a media library (PyAV, Pillow, pypdf, pypdfium2, zipfile, XML)
is turned into a ``MediaProcessingError`` with a short machine code, stored in
the result's ``error_code`` column (VARCHAR(50)), and a message a person can act on.
"""

from __future__ import annotations

from media_analysis.errors import ServiceError

MAX_CODE_LENGTH = 50

# The codes in use, so callers and tests can refer to them by name.
MEDIA_EMPTY = "media_empty"
MEDIA_CORRUPT = "media_corrupt"
MEDIA_TRUNCATED = "media_truncated"
UNSUPPORTED_MEDIA = "unsupported_media"
IMAGE_TOO_LARGE = "image_too_large"
NO_VIDEO_STREAM = "no_video_stream"
NO_AUDIO_STREAM = "no_audio_stream"
DOCUMENT_ENCRYPTED = "document_encrypted"
DOCUMENT_TOO_LARGE = "document_too_large"
MEDIA_NOT_FOUND = "media_not_found"
PROCESSING_FAILED = "processing_failed"


class MediaProcessingError(ServiceError):
    """Media that cannot be processed, with a code for machines and a message for people."""

    http_status = 422  # well-formed request, media we cannot handle

    def __init__(self, code: str, message: str) -> None:
        if not code or len(code) > MAX_CODE_LENGTH:
            raise ValueError(f"error code must be 1..{MAX_CODE_LENGTH} characters: {code!r}")
        super().__init__(code, message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __reduce__(self):
        # Keep the two-argument constructor when pickled (Celery results, multiprocessing).
        return (type(self), (self.code, self.message))
