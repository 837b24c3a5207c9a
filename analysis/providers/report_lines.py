"""What the built-in report says about each kind of facts.

Each media type's facts are read by attribute into labelled lines ("Duration:
6.00 s"); every line names the JSON paths of ``facts.as_dict()`` it reports, so
the rest of what was measured can be listed as it is ("contact_sheet.grid_layout:
2x3") and nothing measured is left out. A line is written only for a value that
was measured (not None): the report never shows a fact processing did not take.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from analysis.processing.facts import (
    AudioFacts,
    AudioStreamFacts,
    DocumentFacts,
    ImageFacts,
    LoudnessFacts,
    MediaFacts,
    OcrFacts,
    VideoFacts,
)

# Above the leaves of the largest facts (an image with every EXIF tag read: about
# 35), so nothing measured is cut; a bound all the same, should facts grow.
MAX_OTHER_ITEMS = 40
MAX_OTHER_CHARS = 200
# Leaves left out of "Other measurements": storage paths and internal timings.
_HIDDEN_KEYS = frozenset({"path", "timings_ms"})


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def fmt_duration(value: Any) -> str:
    seconds = _number(value)
    if seconds is None:
        return str(value)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours} h {minutes} min {rest:.0f} s ({seconds:.1f} s)"
    if minutes:
        return f"{minutes} min {rest:.1f} s ({seconds:.1f} s)"
    return f"{seconds:.2f} s"


def fmt_bytes(value: Any) -> str:
    size = _number(value)
    if size is None:
        return str(value)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def fmt_unit(unit: str, digits: int = 1) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        number = _number(value)
        return f"{number:.{digits}f} {unit}" if number is not None else str(value)

    return render


def fmt_sample_rate(value: Any) -> str:
    rate = _number(value)
    return f"{rate / 1000:g} kHz" if rate else str(value)


def fmt_bit_rate(value: Any) -> str:
    rate = _number(value)
    if rate is None:
        return str(value)
    return f"{rate / 1_000_000:.2f} Mbit/s" if rate >= 1_000_000 else f"{rate / 1000:.0f} kbit/s"


def fmt_channels(value: Any) -> str:
    names = {1: "mono", 2: "stereo", 6: "5.1"}
    count = _number(value)
    if count is None:
        return str(value)
    name = names.get(int(count))
    return f"{int(count)} ({name})" if name else str(int(count))


def fmt_share_of_time(value: Any) -> str:
    return f"{float(value) * 100:.1f} % of the time"


def fmt_count(value: Any) -> str:
    number = _number(value)
    return f"{int(number):,}" if number is not None else str(value)


@dataclass(frozen=True)
class ReportLine:
    """One labelled fact; ``paths`` are the keys of ``facts.as_dict()`` it reports."""

    label: str
    value: str
    topic: str
    paths: tuple[str, ...] = ()


def _line(
    label: str, value: Any, render: Callable[[Any], str], topic: str, *paths: str
) -> ReportLine | None:
    if value is None or value == "":
        return None
    return ReportLine(label, render(value), topic, paths)


def _first(
    label: str, render: Callable[[Any], str], topic: str, *candidates: tuple[Any, str]
) -> ReportLine | None:
    """The first measured of several (value, path) candidates, e.g. the container's
    bit rate, else the stream's."""
    for value, path in candidates:
        if (line := _line(label, value, render, topic, path)) is not None:
            return line
    return None


def _resolution(width: Any, height: Any, *paths: str) -> ReportLine | None:
    if not (width and height):
        return None
    w, h = _number(width), _number(height)
    ratio = f" (aspect {w / h:.2f}:1)" if w and h else ""
    return ReportLine("Resolution", f"{width} x {height} px{ratio}", "size", paths)


def _identity(facts: MediaFacts) -> list[ReportLine | None]:
    """Media type and MIME type (from detection when processing ran it), file size."""
    detected = facts.detected
    media_type = detected.media_type if detected else facts.media_type
    lines = [ReportLine("Media type", media_type, "format", ("detected.media_type",))]
    if isinstance(facts, DocumentFacts):
        # A document's "format" is its MIME type: one line for both.
        mime = detected.mime_type if detected else facts.format
        lines.append(_line("MIME type", mime, str, "format", "detected.mime_type", "format"))
    elif detected:
        lines.append(_line("MIME type", detected.mime_type, str, "format", "detected.mime_type"))
    return lines


def _audio_stream(stream: AudioStreamFacts | None, prefix: str) -> list[ReportLine | None]:
    if stream is None:
        return []
    return [
        _line("Audio codec", stream.codec, str, "format", f"{prefix}.codec"),
        _line(
            "Sample rate", stream.sample_rate, fmt_sample_rate, "format", f"{prefix}.sample_rate"
        ),
        _line("Channels", stream.channels, fmt_channels, "format", f"{prefix}.channels"),
    ]


def _video_lines(facts: VideoFacts) -> list[ReportLine | None]:
    video = facts.video
    return [
        _line("Container", facts.container, str, "format", "container"),
        _line("File size", facts.size_bytes, fmt_bytes, "size", "size_bytes"),
        _first(
            "Duration",
            fmt_duration,
            "duration",
            (facts.duration_s, "duration_s"),
            (video.duration_s, "video.duration_s"),
        ),
        _resolution(video.width, video.height, "video.width", "video.height"),
        _line("Frame rate", video.frame_rate, fmt_unit("fps", 2), "format", "video.frame_rate"),
        _line("Video codec", video.codec, str, "format", "video.codec"),
        *_audio_stream(facts.audio, "audio"),
        _first(
            "Bit rate",
            fmt_bit_rate,
            "format",
            (facts.bit_rate, "bit_rate"),
            (video.bit_rate, "video.bit_rate"),
        ),
        *_loudness_lines(facts.loudness),  # the sound track's, measured by its own step
    ]


def _loudness_lines(loudness: LoudnessFacts | None) -> list[ReportLine | None]:
    if loudness is None:
        return []
    lines = [
        _line("Peak level", loudness.peak_dbfs, fmt_unit("dBFS"), "loudness", "loudness.peak_dbfs"),
        _line("RMS level", loudness.rms_dbfs, fmt_unit("dBFS"), "loudness", "loudness.rms_dbfs"),
        _line(
            "Silence",
            loudness.silence_ratio,
            fmt_share_of_time,
            "loudness",
            "loudness.silence_ratio",
        ),
    ]
    if loudness.measured_s is not None:  # a bound stopped the meter: say what the levels cover
        lines.append(
            _line(
                "Levels measured over",
                loudness.measured_s,
                lambda seconds: f"the first {fmt_duration(seconds)} only",
                "loudness",
                "loudness.measured_s",
            )
        )
    return lines


def _audio_lines(facts: AudioFacts) -> list[ReportLine | None]:
    return [
        _line("Container", facts.container, str, "format", "container"),
        _line("File size", facts.size_bytes, fmt_bytes, "size", "size_bytes"),
        _first(
            "Duration",
            fmt_duration,
            "duration",
            (facts.duration_s, "duration_s"),
            (facts.decoded_duration_s, "decoded_duration_s"),
        ),
        *_audio_stream(facts.audio, "audio"),
        _first(
            "Bit rate",
            fmt_bit_rate,
            "format",
            (facts.bit_rate, "bit_rate"),
            (facts.audio.bit_rate, "audio.bit_rate"),
        ),
        *_loudness_lines(facts.loudness),
    ]


def _image_lines(facts: ImageFacts) -> list[ReportLine | None]:
    return [
        _line("Format", facts.format, str, "format", "format"),
        _line("File size", facts.size_bytes, fmt_bytes, "size", "size_bytes"),
        _resolution(facts.width, facts.height, "width", "height"),
    ]


def _document_lines(facts: DocumentFacts) -> list[ReportLine | None]:
    stats = facts.stats
    return [
        _line("File size", facts.size_bytes, fmt_bytes, "size", "size_bytes"),
        _line("Pages", facts.page_count, fmt_count, "pages", "page_count"),
        _line("Words", stats.words, fmt_count, "text", "stats.words"),
        _line("Characters", stats.chars, fmt_count, "text", "stats.chars"),
        _line("Lines", stats.lines, fmt_count, "text", "stats.lines"),
        _line("Paragraphs", stats.paragraphs, fmt_count, "text", "stats.paragraphs"),
    ]


_LINES_BY_TYPE: dict[type, Callable[[Any], list[ReportLine | None]]] = {
    VideoFacts: _video_lines,
    AudioFacts: _audio_lines,
    ImageFacts: _image_lines,
    DocumentFacts: _document_lines,
}


def measured_lines(facts: MediaFacts | None, text: str | None) -> list[ReportLine]:
    """The facts as labelled lines, in the order a person reads them."""
    lines: list[ReportLine | None] = []
    if facts is not None:
        lines += _identity(facts)
        lines += _LINES_BY_TYPE[type(facts)](facts)
        lines.append(_ocr_summary(getattr(facts, "ocr", None)))  # OCR (issue 13)
    found = [line for line in lines if line is not None]
    if text and text.strip() and not any(line.topic == "text" for line in found):
        counted = f"{len(text.split()):,} words, {len(text):,} characters, {text.count(chr(10)) + 1:,} lines"
        found.append(ReportLine("Text statistics (counted here)", counted, "text"))
    return found


def used_paths(lines: Iterable[ReportLine]) -> set[str]:
    return {path for line in lines for path in line.paths}


def other_lines(facts: dict[str, Any], used: set[str]) -> list[str]:
    """Every measured leaf of ``facts`` (an ``as_dict()``) not in ``used``, as
    "dotted.path: value"."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        key = path.rsplit(".", 1)[-1]
        if path in used or key in _HIDDEN_KEYS or key.endswith("_path") or value is None:
            return
        if isinstance(value, dict) and value:
            for child in sorted(value, key=str):
                walk(value[child], f"{path}.{child}" if path else str(child))
            return
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            rendered = f"{len(value)} entries"
        elif isinstance(value, str):
            rendered = value
        else:
            rendered = json.dumps(value, ensure_ascii=False, default=str)
        found.append(f"{path}: {rendered[:MAX_OTHER_CHARS]}")

    walk(facts, "")
    return found[:MAX_OTHER_ITEMS]


# --- text read from pictures (OCR, issue 13) ------------------------------------------
OCR_QUOTE_CHARS = 4000


def _ocr_summary(ocr: OcrFacts | None) -> ReportLine | None:
    """One line on what OCR read and skipped; its section (``ocr_section``) quotes
    the text, so the readings count as reported."""
    if ocr is None:
        return None
    if ocr.error:
        return ReportLine("Text in pictures (OCR)", ocr.error, "text", ("ocr.error",))
    with_text = [reading for reading in ocr.readings if reading.text]
    lines = sum(reading.lines for reading in ocr.readings)
    value = (
        f"{lines:,} line(s) read from {len(with_text)} of {len(ocr.readings)} picture(s)"
        if with_text
        else f"no text found in {len(ocr.readings)} picture(s)"
    )
    skipped = ocr.skipped_over_cap + ocr.skipped_for_time
    if skipped:
        value += (
            f"; {skipped} not read ({ocr.skipped_over_cap} over the cap of {ocr.max_images}, "
            f"{ocr.skipped_for_time} for lack of time)"
        )
    paths = ("ocr.readings", "ocr.max_images", "ocr.skipped_over_cap", "ocr.skipped_for_time")
    return ReportLine("Text in pictures (OCR)", value, "text", paths)


def ocr_section(ocr: OcrFacts | None) -> list[str]:
    """The text OCR read, quoted per picture with its confidence (verbatim, not
    interpreted), cut to ``OCR_QUOTE_CHARS``."""
    if ocr is None or not any(reading.text for reading in ocr.readings):
        return []
    lines = [
        f"Text read from the pictures (OCR by {ocr.engine}, quoted verbatim, not interpreted):"
    ]
    used = 0
    for reading in ocr.readings:
        if not reading.text:
            continue
        quoted = reading.text.replace("\n", " / ")
        if used + len(quoted) > OCR_QUOTE_CHARS:
            quoted = quoted[: max(OCR_QUOTE_CHARS - used, 0)] + "..."
        lines.append(f'- {reading.source} (confidence {reading.confidence or 0:.2f}): "{quoted}"')
        used += len(quoted)
        if used >= OCR_QUOTE_CHARS:
            lines.append("- ... (cut short; every reading is in the facts' ocr.readings)")
            break
    return lines
