"""The one entry point the pipeline calls: a file in, facts and pictures out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from analysis.processing.contact_sheet import ContactSheet
from analysis.processing.detect import (
    AUDIO,
    DOCUMENT,
    IMAGE,
    MEDIA_TYPES,
    VIDEO,
    DetectedMedia,
    detect_media,
)
from analysis.processing.errors import (
    MEDIA_CORRUPT,
    PROCESSING_FAILED,
    UNSUPPORTED_MEDIA,
    MediaProcessingError,
)
from analysis.processing.facts import (
    DocumentFacts,
    ImageFacts,
    MediaFacts,
    PdfFacts,
    VideoFacts,
)
from analysis.processing.ocr import OcrTarget, read_pictures  # light: the engine loads on use
from analysis.processing.options import OnFrame, ProcessingOptions

# The per-type modules are imported when their type comes up: a worker that only
# ever sees video does not pay for numpy's waveform code or the PDF stack.

JPEG = "image/jpeg"
PNG = "image/png"


@dataclass
class ProcessingOutcome:
    """What processing learnt and made.

    ``facts`` is the typed facts of the file's media type, with ``timings_ms`` per
    stage and the detection verdict; ``facts.as_dict()`` is the JSON stored in the
    result's metadata. ``images`` are the pictures to show a vision model,
    as (path, MIME type); ``text`` is the extracted document text (None for
    non-documents); ``contact_sheet`` and ``frames`` are set for video only.
    """

    media_type: str
    mime_type: str
    extension: str
    facts: MediaFacts
    images: list[tuple[Path, str]] = field(default_factory=list)
    text: str | None = None
    contact_sheet: ContactSheet | None = None
    frames: list[Path] = field(default_factory=list)


def process_media(
    path: Path,
    media_type: str | None,
    work_dir: Path,
    options: ProcessingOptions | None = None,
    *,
    on_frame: OnFrame | None = None,
) -> ProcessingOutcome:
    """Process the file at ``path`` and write what it makes under ``work_dir``;
    ``on_frame`` hears of each video frame extracted.

    The type is detected from the content; ``media_type`` (what an earlier
    detection or the request said) is only checked against it: the content wins,
    and the facts record both. Raises MediaProcessingError, and nothing else, for
    any media that cannot be processed.
    """
    options = options or ProcessingOptions()
    if media_type is not None and media_type not in MEDIA_TYPES:
        raise ValueError(f"media_type must be one of {MEDIA_TYPES}, got {media_type!r}")
    started = time.perf_counter()
    try:
        detected = detect_media(Path(path))
        detect_ms = round((time.perf_counter() - started) * 1000, 1)
        outcome = _dispatch(Path(path), detected, Path(work_dir), options, on_frame)
    except MediaProcessingError:
        raise
    except MemoryError as exc:
        raise MediaProcessingError(
            PROCESSING_FAILED, "The file needs more memory to process than this service has."
        ) from exc
    except (OSError, ValueError, EOFError, LookupError, TypeError, ArithmeticError) as exc:
        # A library failed in a way our modules did not foresee: still the media's
        # fault in practice, and still a MediaProcessingError for the caller.
        raise MediaProcessingError(
            MEDIA_CORRUPT, f"The file could not be processed ({type(exc).__name__})."
        ) from exc
    except Exception as exc:
        raise MediaProcessingError(
            PROCESSING_FAILED, f"Processing failed unexpectedly ({type(exc).__name__})."
        ) from exc
    ocr_ms = _read_text_in_pictures(outcome, Path(path), options)
    declared = media_type if media_type not in (None, detected.media_type) else None
    timings = {**outcome.facts.timings_ms, "detect_ms": detect_ms}
    if ocr_ms is not None:
        timings["ocr_ms"] = ocr_ms
    timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    outcome.facts = replace(
        outcome.facts, detected=detected, declared_media_type=declared, timings_ms=timings
    )
    return outcome


def _read_text_in_pictures(
    outcome: ProcessingOutcome, source: Path, options: ProcessingOptions
) -> float | None:
    """OCR of the pictures the options ask for, into ``facts.ocr``; the time it
    took, or None when nothing was to be read (no ``ocr`` key then)."""
    facts = outcome.facts
    targets: list[OcrTarget] = []
    if isinstance(facts, ImageFacts) and options.ocr_images:
        # The file itself, not the normalised JPEG: its compression blurs the gaps
        # between words (measured: "total due" read as "totaldue"). Processing has
        # already refused pixel bombs, and OCR shrinks the picture first.
        targets = [OcrTarget("image", None, source)]
    elif isinstance(facts, DocumentFacts) and options.ocr_pages:
        if isinstance(facts.details, PdfFacts):
            pages = zip(facts.details.rendered_pages, outcome.images, strict=False)
            targets = [OcrTarget(f"page {n}", n, path) for n, (path, _) in pages]
    elif isinstance(facts, VideoFacts) and options.ocr_frames:
        targets = [
            OcrTarget(f"frame {frame.index or n}", frame.index or n, Path(frame.path))
            for n, frame in enumerate(facts.frames, start=1)
        ]
    if not targets:
        return None
    ocr = read_pictures(
        targets, max_images=options.ocr_max_images, seconds_per_image=options.ocr_seconds_per_image
    )
    outcome.facts = replace(facts, ocr=ocr)
    return ocr.total_ms


def _dispatch(
    path: Path,
    detected: DetectedMedia,
    work_dir: Path,
    options: ProcessingOptions,
    on_frame: OnFrame | None,
) -> ProcessingOutcome:
    common = {
        "media_type": detected.media_type,
        "mime_type": detected.mime_type,
        "extension": detected.extension,
    }
    # Each kind's libraries (PyAV, Pillow, pypdf, pypdfium2) load when that kind is
    # first processed: the web imports this package only to detect types.
    if detected.media_type == VIDEO:
        from analysis.processing.video import process_video  # on first use (see above)

        video = process_video(path, work_dir, options, on_frame=on_frame)
        return ProcessingOutcome(
            **common,
            facts=video.facts,
            images=[(video.contact_sheet.path, JPEG)],
            contact_sheet=video.contact_sheet,
            frames=[frame.path for frame in video.frames],
        )
    if detected.media_type == AUDIO:
        from analysis.processing.audio import process_audio  # on first use

        audio = process_audio(path, work_dir, options)
        return ProcessingOutcome(**common, facts=audio.facts, images=[(audio.waveform, PNG)])
    if detected.media_type == IMAGE:
        from analysis.processing.image import process_image  # on first use

        image = process_image(path, work_dir, options)
        return ProcessingOutcome(**common, facts=image.facts, images=[(image.normalized, JPEG)])
    if detected.media_type == DOCUMENT:
        from analysis.processing.document import process_document  # on first use

        document = process_document(path, detected.mime_type, work_dir, options)
        return ProcessingOutcome(
            **common,
            facts=document.facts,
            images=[(page, JPEG) for page in document.page_images],
            text=document.text,
        )
    raise MediaProcessingError(
        UNSUPPORTED_MEDIA,
        f"This kind of file ({detected.mime_type}) is not supported: send a video, audio, "
        "image or document (PDF, DOCX, HTML, Markdown, plain text).",
    )
