"""The built-in provider: a technical report from what processing measured.

It needs no key and no network, and it is honest about what it is: no model
looks at the content, so it can say how long a video is, how loud a track is or
how many words a document has, but not what a picture shows or what a text
means. It answers the prompt only as far as the measured facts reach and says so
when they do not.

It reads the typed facts by attribute (see ``report_lines``): the well-known ones
as labelled lines, everything else measured under "Other measurements", so
nothing is lost, and nothing is shown that processing did not measure.

With a response schema it fills the fields it can from the same measurements
(``schema_fill``), names the ones it could not in the report, and fails with
``schema_unfillable`` when a required field is among them: it never invents a
value to satisfy a schema.
"""

from __future__ import annotations

from decimal import Decimal

from analysis.processing.facts import DocumentFacts, MediaFacts, VideoFacts
from analysis.providers import schema_fill, structured
from analysis.providers.base import (
    PROVIDER_BAD_REQUEST,
    CallOutcome,
    Provider,
    ProviderError,
    ProviderRequest,
)
from analysis.providers.report_lines import (
    ReportLine,
    measured_lines,
    ocr_section,
    other_lines,
    used_paths,
)
from analysis.transcription.types import Transcript, timestamp

BUILTIN_MODEL = "metadata-report-v1"
EXCERPT_CHARS = 600
TRANSCRIPT_CHARS = 4000
SCHEMA_UNFILLABLE = "schema_unfillable"

# What processing measures for each media type: the honesty note promises no more.
MEASURED_BY_TYPE = {
    "video": "type, file size, duration, resolution, frame rate, codecs, "
    "the frames taken for the contact sheet",
    "audio": "type, file size, duration, codec, sample rate, channels, peak and RMS "
    "levels in dBFS, the share of silence",
    "image": "type, file size, format, resolution, orientation, EXIF tags",
    "document": "type, file size, text statistics, the start of the text",
}


def honesty_note(facts: MediaFacts | None) -> str:
    """What the report is and is not, naming only what was measured for this file."""
    measured = MEASURED_BY_TYPE[facts.media_type] if facts is not None else "nothing"
    if isinstance(facts, DocumentFacts) and facts.page_count is not None:
        measured += ", the page count"
    if getattr(facts, "ocr", None) is not None:
        measured += ", the text read from pictures by OCR"
    if isinstance(facts, VideoFacts) and facts.loudness is not None:
        measured += ", the sound track's peak and RMS levels in dBFS and share of silence"
    return (
        "No model looked at the content of this file. This report was written by the "
        f"service's built-in provider from what processing measured ({measured}). It "
        "cannot say what the pictures show, what is said or what the text means; ask a "
        "model provider (openrouter, novita, openai or gemini) for that."
    )


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
    facts = request.facts
    lines = measured_lines(facts, request.text)
    parts = [
        "Technical report (metadata only)",
        "",
        honesty_note(facts),
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
    # The excerpt gets a section of its own below, so it is not listed again.
    others = other_lines(facts.as_dict(), used_paths(lines) | {"excerpt"}) if facts else []
    if others:
        parts += ["", "Other measurements:", *(f"- {item}" for item in others)]
    excerpt = _excerpt(facts, request.text)
    if excerpt:
        clipped = excerpt[:EXCERPT_CHARS]
        more = "..." if len(excerpt) > EXCERPT_CHARS else ""
        parts += [
            "",
            f"Text excerpt (verbatim from the document, first {len(clipped)} characters):",
            f'"{clipped}{more}"',
        ]
    read_text = ocr_section(getattr(facts, "ocr", None))  # OCR (issue 13)
    if read_text:
        parts += ["", *read_text]
    if request.images:
        parts += ["", f"{len(request.images)} image(s) were prepared; none was looked at."]
    if request.transcript is not None:
        parts += ["", *transcript_section(request.transcript)]
    return "\n".join(parts)


def transcript_section(transcript: Transcript) -> list[str]:
    """The speech quoted with its times, as the transcription endpoint heard it
    (quoted, not interpreted), cut to ``TRANSCRIPT_CHARS``."""
    language = f", language {transcript.language}" if transcript.language else ""
    lines = [
        f"Transcript ({len(transcript.segments)} segment(s){language}; speech to text by "
        f"{transcript.model}, quoted verbatim, not interpreted):"
    ]
    used = 0
    for segment in transcript.segments:
        line = f'[{timestamp(segment.start)}-{timestamp(segment.end)}] "{segment.text}"'
        if used + len(line) > TRANSCRIPT_CHARS:
            lines.append("- ... (cut short; the whole transcript is in transcript.json)")
            break
        lines.append(f"- {line}")
        used += len(line)
    if not transcript.segments:
        lines.append("- (no speech was heard)")
    return lines


def _excerpt(facts: MediaFacts | None, text: str | None) -> str:
    """The document's excerpt as processing made it, else the start of the text."""
    measured = facts.excerpt if isinstance(facts, DocumentFacts) else None
    for candidate in (measured, text):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return ""


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
        text, data, mode = build_report(request), None, None
        if request.response_schema is not None:
            filled = fill_schema(request)
            text += "\n\n" + structured_section(filled)
            data, mode = filled.data, structured.FACTS
        return CallOutcome(
            text=text,
            model_used=BUILTIN_MODEL,
            input_tokens=0,
            output_tokens=0,
            cost_usd=Decimal("0.000000"),
            raw_usage={},
            cost_source="free",
            structured_mode=mode,
            data=data,
        )


def fill_schema(request: ProviderRequest) -> schema_fill.Filled:
    """The schema's fields from the measurements, or ``schema_unfillable``."""
    filled = schema_fill.fill(request.response_schema or {}, request.facts, request.text)
    if filled is None:
        raise ProviderError(
            SCHEMA_UNFILLABLE,
            "the built-in provider fills object schemas with named properties from "
            "measured facts; this schema has none to match",
            retryable=False,
        )
    if filled.missing_required:
        raise ProviderError(
            SCHEMA_UNFILLABLE,
            "the built-in provider cannot fill the required field(s) "
            f"{', '.join(filled.missing_required)} from what processing measured; it fills "
            "measured facts only (duration, resolution, codecs, levels, pages, word "
            "counts...). Ask a model provider for anything else.",
            retryable=False,
        )
    return filled


def structured_section(filled: schema_fill.Filled) -> str:
    """What the report says about the structured answer."""
    lines = ["Structured answer (filled from measured facts only):"]
    lines.append(f"- Filled: {', '.join(filled.filled) or 'none'}")
    if filled.unfilled:
        lines.append(f"- Could not fill (nothing measured matches): {', '.join(filled.unfilled)}")
    return "\n".join(lines)
