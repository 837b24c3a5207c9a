"""The built-in provider: a technical report from what processing measured.

It needs no key and no network, and it is honest about what it is: no model
looks at the content, so it can say how long a video is, how loud a track is or
how many words a document has, but not what a picture shows or what a text
means. It answers the prompt only as far as the measured facts reach and says so
when they do not.

Facts it knows by name (flat, or nested under "video" / "audio" / "image" /
"document" / "text" / "loudness"): media_type, mime_type, container, size_bytes,
duration_seconds, width, height, frame_rate, video_codec, audio_codec,
sample_rate, channels, bit_rate, integrated_lufs, peak_dbfs, rms_dbfs,
page_count, word_count, char_count, line_count, dominant_colours, text_excerpt.
Anything else measured is listed under "Other measurements", so nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from analysis.providers.base import (
    PROVIDER_BAD_REQUEST,
    CallOutcome,
    Provider,
    ProviderError,
    ProviderRequest,
)

BUILTIN_MODEL = "metadata-report-v1"
EXCERPT_CHARS = 600
MAX_OTHER_ITEMS = 40

HONESTY_NOTE = (
    "No model looked at the content of this file. This report was written by the "
    "service's built-in provider from what processing measured (type, duration, "
    "resolution, codecs, loudness, pages, text statistics, colours). It cannot say "
    "what the pictures show, what is said or what the text means; ask a model "
    "provider (openrouter, novita, openai or gemini) for that."
)


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


def fmt_colours(value: Any) -> str:
    if not isinstance(value, list | tuple):
        return str(value)
    rendered = []
    for colour in value[:8]:
        if isinstance(colour, dict):
            code = colour.get("hex") or colour.get("colour") or colour.get("color") or colour
            share = _number(colour.get("fraction", colour.get("share", colour.get("ratio"))))
            rendered.append(f"{code} ({share:.0%})" if share is not None else str(code))
        else:
            rendered.append(str(colour))
    return ", ".join(rendered)


@dataclass(frozen=True)
class FactSpec:
    label: str
    paths: tuple[str, ...]
    render: Callable[[Any], str] = str
    topic: str = ""


def _paths(names: str | tuple[str, ...], *sections: str) -> tuple[str, ...]:
    """Each name at the top level, then under each section ("video.codec")."""
    names = (names,) if isinstance(names, str) else names
    return (*names, *(f"{section}.{name}" for section in sections for name in names))


_TEXT_SECTIONS = ("document", "text", "text_stats", "text_statistics", "statistics")
_LOUDNESS_SECTIONS = ("audio", "loudness", "audio.loudness")

FACT_SPECS: tuple[FactSpec, ...] = (
    FactSpec("Media type", _paths("media_type", "detected"), topic="format"),
    FactSpec("MIME type", _paths("mime_type", "detected"), topic="format"),
    FactSpec("Container", _paths(("container", "format_name"), "video"), topic="format"),
    FactSpec("File size", _paths(("size_bytes", "file_size")), fmt_bytes, "size"),
    FactSpec(
        "Duration",
        _paths(("duration_seconds", "duration_s", "duration"), "video", "audio"),
        fmt_duration,
        "duration",
    ),
    FactSpec("Resolution", (), topic="size"),  # from width and height, see measured_lines
    FactSpec("Frame rate", _paths(("frame_rate", "fps"), "video"), fmt_unit("fps", 2), "format"),
    FactSpec("Video codec", ("video_codec", "video.codec"), topic="format"),
    FactSpec("Audio codec", ("audio_codec", "audio.codec"), topic="format"),
    FactSpec("Sample rate", _paths("sample_rate", "audio"), fmt_sample_rate, "format"),
    FactSpec("Channels", _paths("channels", "audio"), fmt_channels, "format"),
    FactSpec("Bit rate", _paths("bit_rate", "video", "audio"), fmt_bit_rate, "format"),
    FactSpec(
        "Integrated loudness",
        _paths(("integrated_lufs", "loudness_lufs", "lufs"), *_LOUDNESS_SECTIONS),
        fmt_unit("LUFS"),
        "loudness",
    ),
    FactSpec("Peak level", _paths("peak_dbfs", *_LOUDNESS_SECTIONS), fmt_unit("dBFS"), "loudness"),
    FactSpec("RMS level", _paths("rms_dbfs", *_LOUDNESS_SECTIONS), fmt_unit("dBFS"), "loudness"),
    FactSpec(
        "Silence", _paths("silence_ratio", *_LOUDNESS_SECTIONS), fmt_share_of_time, "loudness"
    ),
    FactSpec("Pages", _paths(("page_count", "pages"), "document"), fmt_count, "pages"),
    FactSpec("Words", _paths(("word_count", "words"), *_TEXT_SECTIONS), fmt_count, "text"),
    FactSpec("Characters", _paths(("char_count", "chars"), *_TEXT_SECTIONS), fmt_count, "text"),
    FactSpec("Lines", _paths(("line_count", "lines"), *_TEXT_SECTIONS), fmt_count, "text"),
    FactSpec("Paragraphs", _paths("paragraphs", *_TEXT_SECTIONS), fmt_count, "text"),
    FactSpec(
        "Dominant colours",
        _paths(
            ("dominant_colours", "dominant_colors", "colours", "colors", "palette"),
            "image",
            "video",
        ),
        fmt_colours,
        "colours",
    ),
)
_EXCERPT_PATHS = _paths(("text_excerpt", "excerpt"), *_TEXT_SECTIONS)
# Leaves left out of "Other measurements": storage paths and internal timings.
_HIDDEN_KEYS = frozenset({"path", "timings_ms"})

# Which words in a prompt point at which measured facts.
TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "duration": ("how long", "duration", "length", "minute", "second", "runtime", "time"),
    "size": ("resolution", "dimension", "width", "height", "pixel", "aspect", "size", "large"),
    "format": (
        "codec",
        "format",
        "encod",
        "container",
        "bitrate",
        "bit rate",
        "fps",
        "frame rate",
        "sample rate",
        "channel",
        "stereo",
        "mono",
        "type",
        "kind of file",
    ),
    "loudness": ("loud", "volume", "level", "lufs", "db", "quiet", "silent", "silence", "audio"),
    "pages": ("page",),
    "text": ("text", "word", "say", "written", "content", "summar", "read", "about"),
    "colours": ("colour", "color", "palette", "bright", "dark", "tone", "hue"),
}
# Words that ask about the content itself, which measurements cannot answer.
CONTENT_WORDS = (
    "describe",
    "what is",
    "what's",
    "who",
    "show",
    "scene",
    "happen",
    "summar",
    "mean",
    "explain",
    "identify",
    "transcri",
    "object",
    "people",
    "person",
    "about",
)
TOPIC_NAMES = {
    "duration": "duration",
    "size": "resolution and size",
    "format": "format and codecs",
    "loudness": "loudness",
    "pages": "page count",
    "text": "text",
    "colours": "colours",
}


def _lookup(facts: dict[str, Any], path: str) -> Any:
    value: Any = facts
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


@dataclass(frozen=True)
class ReportLine:
    label: str
    value: str
    topic: str


def measured_lines(facts: dict[str, Any], text: str | None) -> tuple[list[ReportLine], set[str]]:
    """Known facts as labelled lines, and the paths they used up."""
    lines: list[ReportLine] = []
    used: set[str] = set(_EXCERPT_PATHS)
    width = next((v for p in _paths("width", "video", "image") if (v := _lookup(facts, p))), None)
    height = next((v for p in _paths("height", "video", "image") if (v := _lookup(facts, p))), None)
    for spec in FACT_SPECS:
        if spec.label == "Resolution":
            if width and height:
                w, h = _number(width), _number(height)
                ratio = f" (aspect {w / h:.2f}:1)" if w and h else ""
                lines.append(ReportLine(spec.label, f"{width} x {height} px{ratio}", spec.topic))
                used.update(_paths("width", "video", "image") + _paths("height", "video", "image"))
            continue
        for path in spec.paths:
            value = _lookup(facts, path)
            if value is not None and value != "":
                lines.append(ReportLine(spec.label, spec.render(value), spec.topic))
                used.update(spec.paths)
                break
    if text and text.strip() and not any(line.topic == "text" for line in lines):
        counted = f"{len(text.split()):,} words, {len(text):,} characters, {text.count(chr(10)) + 1:,} lines"
        lines.append(ReportLine("Text statistics (counted here)", counted, "text"))
    return lines, used


def other_lines(facts: dict[str, Any], used: set[str]) -> list[str]:
    """Every measured leaf not already reported, as "dotted.path: value"."""
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
        found.append(f"{path}: {rendered[:200]}")

    walk(facts, "")
    return found[:MAX_OTHER_ITEMS]


def answer_lines(prompt: str, lines: list[ReportLine]) -> list[str]:
    """What the measurements say about the prompt, topic by topic."""
    lowered = prompt.lower()
    topics = [t for t, words in TOPIC_KEYWORDS.items() if any(w in lowered for w in words)]
    answer: list[str] = []
    for topic in topics:
        matching = [line for line in lines if line.topic == topic]
        if matching:
            answer.extend(f"- {line.label}: {line.value}" for line in matching)
        else:
            answer.append(f"- Asked about {TOPIC_NAMES[topic]}: processing measured nothing on it.")
    if not answer:
        answer.append("- None of the measured facts answer this request.")
    if not topics or any(word in lowered for word in CONTENT_WORDS):
        answer.append(
            "- What the media shows, says or means: not answered here, because no model "
            "looked at the content."
        )
    return answer


def build_report(request: ProviderRequest) -> str:
    facts = request.facts or {}
    lines, used = measured_lines(facts, request.text)
    parts = [
        "Technical report (metadata only)",
        "",
        HONESTY_NOTE,
        "",
        f"Your request: {request.prompt.strip()[:500]}",
        "What the measurements can say about it:",
        *answer_lines(request.prompt, lines),
        "",
        "Measured facts:",
    ]
    parts.extend(f"- {line.label}: {line.value}" for line in lines)
    if not lines:
        parts.append("- (processing reported no facts)")
    others = other_lines(facts, used)
    if others:
        parts += ["", "Other measurements:", *(f"- {item}" for item in others)]
    excerpt = next(
        (v for p in _EXCERPT_PATHS if isinstance(v := _lookup(facts, p), str) and v.strip()),
        request.text,
    )
    if isinstance(excerpt, str) and excerpt.strip():
        clipped = excerpt.strip()[:EXCERPT_CHARS]
        more = "..." if len(excerpt.strip()) > EXCERPT_CHARS else ""
        parts += [
            "",
            f"Text excerpt (verbatim from the document, first {len(clipped)} characters):",
            f'"{clipped}{more}"',
        ]
    if request.images:
        parts += ["", f"{len(request.images)} image(s) were prepared; none was looked at."]
    return "\n".join(parts)


class BuiltinProvider(Provider):
    name = "builtin"

    @property
    def default_model(self) -> str:
        return BUILTIN_MODEL

    def is_configured(self) -> bool:
        return True

    def _analyse(self, request: ProviderRequest, model: str) -> CallOutcome:
        if model != BUILTIN_MODEL:
            raise ProviderError(
                PROVIDER_BAD_REQUEST,
                f"the builtin provider has one model, {BUILTIN_MODEL!r}, not {model!r}",
                retryable=False,
            )
        return CallOutcome(
            text=build_report(request),
            model_used=BUILTIN_MODEL,
            input_tokens=0,
            output_tokens=0,
            cost_usd=Decimal("0.000000"),
            raw_usage={},
            cost_source="free",
        )
