"""Typed facts: what processing measured about one file, one frozen dataclass per
media type (``VideoFacts``, ``AudioFacts``, ``ImageFacts``, ``DocumentFacts``,
together ``MediaFacts``) built from smaller typed pieces (streams, loudness,
frames, pages, text statistics...).

Processing returns them and providers read them by attribute. ``as_dict()`` gives
the JSON that is stored (the request's ``metadata["facts"]``,
``outputs/.../result.json``) and shown to models, with exactly the keys
processing wrote before the facts were typed, so stored data, the API and the
staff console read the same shape.

Serialisation rules, set per field in its metadata:

- ``OMIT_IF_NONE``: the key is left out while the value is None. For facts that
  only sometimes exist (the declared type when it differs from the content) and
  for the extension points below.
- ``FLATTEN``: a nested piece whose keys sit beside its parent's (a document's
  format-specific facts: PDF pages, DOCX paragraphs, HTML title...).

Every other None stays in the JSON as null: measured, and there is none (a video
without sound has ``audio: null``).

Extension points: ``transcript`` on video and audio (speech to text, not filled
yet), ``ocr`` on images, documents and video (text read from pictures, see
``OcrFacts`` and ``analysis/processing/ocr.py``) and ``loudness`` on video (its
sound track's levels, ``analysis/sound_track.py``). A step that produces them sets
the field with ``dataclasses.replace``; the JSON gains the key only then.

This module imports nothing but the standard library (and the list of media
types, ``analysis.media_types``): providers import it, and
detection, text helpers and every media module build on it without cycles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, ClassVar

from analysis import media_types

_OMIT_IF_NONE = "omit_if_none"
_FLATTEN = "flatten"
OMIT_IF_NONE: Mapping[str, bool] = {_OMIT_IF_NONE: True}
FLATTEN: Mapping[str, bool] = {_FLATTEN: True}


def _json_value(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _fields_as_dict(value)
    if isinstance(value, Mapping):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value


def _fields_as_dict(piece: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in fields(piece):
        value = getattr(piece, spec.name)
        if value is None and spec.metadata.get(_OMIT_IF_NONE):
            continue
        if spec.metadata.get(_FLATTEN):
            out.update(_json_value(value))
        else:
            out[spec.name] = _json_value(value)
    return out


class Facts:
    """Base of every facts piece: its JSON form, in field order."""

    def as_dict(self) -> dict[str, Any]:
        return _fields_as_dict(self)


def field_values(piece: Any) -> dict[str, Any]:
    """A facts piece's fields by name, not converted (unlike ``as_dict``), to build
    a larger piece from a smaller one: ``VideoFacts(**field_values(probe), ...)``."""
    return {spec.name: getattr(piece, spec.name) for spec in fields(piece)}


# --- detection ------------------------------------------------------------------


@dataclass(frozen=True)
class DetectedMedia(Facts):
    """The verdict of detection: one of the media types, the MIME type, the
    canonical extension to store the file under, and how the verdict was reached."""

    media_type: str
    mime_type: str
    extension: str
    detail: str

    def as_facts(self) -> dict[str, str]:
        return self.as_dict()


# --- text read from pictures (OCR) --------------------------------------------------


@dataclass(frozen=True)
class OcrReading(Facts):
    """The text read from one picture. ``source`` is ``image``, ``page N`` (a PDF
    page, from 1) or ``frame N`` (a video frame's index); ``number`` is that N.
    ``confidence`` is the mean of the recogniser's line scores (0..1), None when
    no line was read; ``lines`` counts the lines read."""

    source: str
    number: int | None
    text: str
    confidence: float | None
    lines: int
    time_ms: float
    # The exception's name when this picture could not be read.
    error: str | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class OcrFacts(Facts):
    """What OCR read, and what it left out: ``skipped_over_cap`` pictures past
    ``max_images``, ``skipped_for_time`` ones left when the time budget
    (``max_images`` x ``seconds_per_image``) was spent; ``error`` says why nothing
    could be read (the engine would not load), None when it ran."""

    engine: str
    readings: tuple[OcrReading, ...]
    max_images: int
    seconds_per_image: float
    skipped_over_cap: int
    skipped_for_time: int
    total_ms: float
    error: str | None = field(default=None, metadata=OMIT_IF_NONE)


# --- video and audio --------------------------------------------------------------


@dataclass(frozen=True)
class ContainerFacts(Facts):
    """What the container (MP4, Matroska, WAV...) declares."""

    container: str
    container_long_name: str | None
    duration_s: float | None
    bit_rate: int | None
    size_bytes: int
    stream_count: int


@dataclass(frozen=True)
class VideoStreamFacts(Facts):
    codec: str
    codec_long_name: str | None
    profile: str | None
    width: int
    height: int
    pix_fmt: str | None
    frame_rate: float | None
    frame_count: int | None
    bit_rate: int | None
    duration_s: float | None
    sample_aspect_ratio: str | None


@dataclass(frozen=True)
class AudioStreamFacts(Facts):
    codec: str
    codec_long_name: str | None
    sample_rate: int | None
    channels: int | None
    channel_layout: str | None
    sample_format: str | None
    bit_rate: int | None
    duration_s: float | None


@dataclass(frozen=True)
class VideoProbe(ContainerFacts):
    """A video file's streams, known before any frame is decoded."""

    video: VideoStreamFacts
    video_stream_count: int
    audio: AudioStreamFacts | None
    audio_stream_count: int


@dataclass(frozen=True)
class FrameFacts(Facts):
    """One frame taken from a video. ``time_s`` is its position in the source
    (seconds, the stream's own clock); ``index`` numbers the frames from 1 in time
    order, as ``frame_001.jpg`` and ``/api/media/{id}/frames/1`` do; ``scene`` is
    the scene it shows (1 the first found) when frames were chosen by scene."""

    path: str
    time_s: float
    keyframe: bool
    width: int
    height: int
    index: int | None = field(default=None, metadata=OMIT_IF_NONE)
    scene: int | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class FrameSelectionFacts(Facts):
    """How the frames were chosen. ``method`` is ``scenes`` (from keyframe
    signatures) or ``even`` (evenly spaced: the container lists no more keyframes
    than frames asked, or has no index). ``scan`` says whether every indexed
    keyframe was decoded (``full``) or only those the index points at and the ones
    nearest even spacing (``screened``). Skipped counts are keyframes passed over."""

    method: str
    scan: str | None
    keyframes_indexed: int
    keyframes_decoded: int
    scene_changes_s: tuple[float, ...]
    skipped_black: int
    skipped_blurry: int
    skipped_duplicate: int


@dataclass(frozen=True)
class ContactSheetFacts(Facts):
    path: str
    frames_count: int
    grid_layout: str
    resolution: str
    size_bytes: int


@dataclass(frozen=True)
class LoudnessFacts(Facts):
    """Levels in dBFS against full scale 1.0 with plain RMS, and the share of
    windows quieter than the threshold. Not LUFS: no K-weighting, no gating.
    ``measured_s`` is set only when a bound stopped the measurement early (a long
    video's sound track): the levels are those of its first ``measured_s`` seconds."""

    peak_dbfs: float
    rms_dbfs: float
    silence_ratio: float
    silence_threshold_dbfs: float
    window_ms: int
    windows: int
    measured_s: float | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class VideoFacts(VideoProbe):
    media_type: ClassVar[str] = media_types.VIDEO

    frames: tuple[FrameFacts, ...]
    frames_requested: int
    frames_decoded_past_keyframe: int
    decode_errors: int
    frames_skipped_as_repeats: int
    truncated: bool
    contact_sheet: ContactSheetFacts
    timings_ms: Mapping[str, float]
    detected: DetectedMedia | None = field(default=None, metadata=OMIT_IF_NONE)
    declared_media_type: str | None = field(default=None, metadata=OMIT_IF_NONE)
    transcript: str | None = field(default=None, metadata=OMIT_IF_NONE)
    # Always set by processing; None only in facts built by hand.
    frame_selection: FrameSelectionFacts | None = field(default=None, metadata=OMIT_IF_NONE)
    ocr: OcrFacts | None = field(default=None, metadata=OMIT_IF_NONE)
    # The sound track's levels, measured by the pipeline's own step after
    # processing (analysis/sound_track.py); None without sound or when it failed.
    loudness: LoudnessFacts | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class WaveformFacts(Facts):
    path: str
    size: str


@dataclass(frozen=True)
class AudioFacts(ContainerFacts):
    media_type: ClassVar[str] = media_types.AUDIO

    audio: AudioStreamFacts
    audio_stream_count: int
    decoded_duration_s: float
    decode_errors: int
    truncated: bool
    loudness: LoudnessFacts
    waveform: WaveformFacts
    timings_ms: Mapping[str, float]
    detected: DetectedMedia | None = field(default=None, metadata=OMIT_IF_NONE)
    declared_media_type: str | None = field(default=None, metadata=OMIT_IF_NONE)
    transcript: str | None = field(default=None, metadata=OMIT_IF_NONE)


# --- images -----------------------------------------------------------------------


@dataclass(frozen=True)
class NormalizedImageFacts(Facts):
    path: str
    width: int
    height: int
    size_bytes: int


@dataclass(frozen=True)
class ImageFacts(Facts):
    """``exif`` maps EXIF tag names (Make, Model, DateTimeOriginal...) to the
    values found, plus ``gps_present``; which tags a file carries varies."""

    media_type: ClassVar[str] = media_types.IMAGE

    format: str | None
    mime_type: str | None
    mode: str
    width: int
    height: int
    orientation: int
    display_width: int
    display_height: int
    has_alpha: bool
    animated: bool
    frame_count: int
    has_icc_profile: bool
    size_bytes: int
    exif: Mapping[str, Any]
    timings_ms: Mapping[str, float]
    normalized: NormalizedImageFacts
    detected: DetectedMedia | None = field(default=None, metadata=OMIT_IF_NONE)
    declared_media_type: str | None = field(default=None, metadata=OMIT_IF_NONE)
    ocr: OcrFacts | None = field(default=None, metadata=OMIT_IF_NONE)


# --- documents --------------------------------------------------------------------


@dataclass(frozen=True)
class TextStats(Facts):
    chars: int
    non_whitespace_chars: int
    words: int
    lines: int
    non_empty_lines: int
    paragraphs: int


@dataclass(frozen=True)
class PdfFacts(Facts):
    page_count: int
    pages_examined: int
    pages_with_text: int
    pages_without_text: tuple[int, ...]
    rendered_pages: tuple[int, ...]
    page_errors: int
    render_errors: int
    encrypted: bool
    complete: bool
    pdf_version: str | None
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class DocxFacts(Facts):
    """Counted in the DOCX body: ``paragraphs`` includes empty ones."""

    paragraphs: int
    tables: int
    embedded_media: int


@dataclass(frozen=True)
class HtmlFacts(Facts):
    encoding: str
    title: str | None
    lang: str | None


@dataclass(frozen=True)
class PlainTextFacts(Facts):
    """Plain text, Markdown and XML."""

    encoding: str


FormatFacts = PdfFacts | DocxFacts | HtmlFacts | PlainTextFacts


@dataclass(frozen=True)
class DocumentFacts(Facts):
    """``format`` is the MIME type; ``details`` holds what only that format has
    and is stored flat, beside the rest (``page_count``, not ``details.page_count``)."""

    media_type: ClassVar[str] = media_types.DOCUMENT

    format: str
    size_bytes: int
    details: FormatFacts = field(metadata=FLATTEN)
    text_truncated: bool
    max_text_chars: int
    stats: TextStats
    excerpt: str
    timings_ms: Mapping[str, float]
    detected: DetectedMedia | None = field(default=None, metadata=OMIT_IF_NONE)
    declared_media_type: str | None = field(default=None, metadata=OMIT_IF_NONE)
    ocr: OcrFacts | None = field(default=None, metadata=OMIT_IF_NONE)

    @property
    def page_count(self) -> int | None:
        return self.details.page_count if isinstance(self.details, PdfFacts) else None


MediaFacts = VideoFacts | AudioFacts | ImageFacts | DocumentFacts
