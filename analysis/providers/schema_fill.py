"""The built-in provider's structured answer: a caller's schema filled from what
processing measured, and nothing else.

Each property of the schema is matched by name to a measured value: first the
well-known facts under their names and common synonyms (``duration_seconds``,
``duration``, ``length``...; ``page_count``, ``pages``...), then every measured
leaf of ``facts.as_dict()`` under its own key or dotted path (``video.codec`` as
``video_codec``, or ``codec`` inside a ``video`` object). Names are compared
normalised (``pageCount``, ``Page-Count`` and ``page_count`` are one name). A
value is used only when it fits the property's type (a whole number of seconds
for ``integer`` is rounded; a number is never passed off as a boolean) and its
``enum`` / ``const``. A property nothing measured matches is left out and named,
so the report can say which fields it could not fill; the provider refuses when a
required one is among them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analysis.processing.facts import (
    AudioFacts,
    DocumentFacts,
    HtmlFacts,
    ImageFacts,
    MediaFacts,
    PdfFacts,
    VideoFacts,
)

# Canonical name -> other names callers use for it (normalised: snake_case).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "duration_seconds": (
        "duration",
        "duration_s",
        "duration_sec",
        "duration_secs",
        "duration_in_seconds",
        "length",
        "length_seconds",
        "length_s",
        "runtime",
        "runtime_seconds",
        "seconds",
        "total_seconds",
    ),
    "width": (
        "width_px",
        "width_pixels",
        "pixel_width",
        "frame_width",
        "image_width",
        "video_width",
    ),
    "height": (
        "height_px",
        "height_pixels",
        "pixel_height",
        "frame_height",
        "image_height",
        "video_height",
    ),
    "resolution": ("dimensions", "frame_size", "image_size", "pixel_size"),
    "aspect_ratio": ("aspect",),
    "frame_rate": ("fps", "framerate", "frames_per_second"),
    "page_count": ("pages", "num_pages", "number_of_pages", "total_pages", "n_pages"),
    "word_count": ("words", "num_words", "number_of_words", "total_words", "n_words"),
    "character_count": ("characters", "chars", "char_count", "num_characters"),
    "line_count": ("lines", "num_lines", "number_of_lines"),
    "paragraph_count": ("paragraphs", "num_paragraphs", "number_of_paragraphs"),
    "size_bytes": ("file_size", "file_size_bytes", "filesize", "bytes", "size"),
    "media_type": ("type", "kind", "media_kind", "file_type"),
    "mime_type": ("mime", "mimetype", "content_type"),
    "video_codec": ("codec",),
    "audio_codec": (),
    "sample_rate": ("sample_rate_hz", "sampling_rate", "sampling_rate_hz"),
    "channels": ("channel_count", "audio_channels", "num_channels"),
    "has_audio": ("audio_present", "with_audio", "has_sound"),
    "bit_rate": ("bitrate", "bit_rate_bps", "bitrate_bps"),
    "peak_dbfs": ("peak", "peak_level", "peak_db", "peak_level_dbfs"),
    "rms_dbfs": ("rms", "rms_level", "rms_db", "rms_level_dbfs", "average_level"),
    "silence_ratio": ("silence", "silence_share", "silence_fraction"),
    "title": ("document_title",),
    "language": ("lang",),
    "excerpt": ("text_excerpt", "opening_text"),
    "text": ("document_text", "full_text"),
}
_ALIASES = {alias: name for name, aliases in SYNONYMS.items() for alias in aliases}
# Sections of the facts: a property inside an object named after one is looked up
# there only (``audio.codec`` of a silent video is not the video's codec).
SECTIONS = frozenset(
    {
        "video",
        "audio",
        "loudness",
        "stats",
        "detected",
        "contact_sheet",
        "exif",
        "normalized",
        "waveform",
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(name: str) -> str:
    """``pageCount``, ``Page-Count``, ``page count`` -> ``page_count``."""
    return _NOT_WORD.sub("_", _CAMEL.sub("_", name).lower()).strip("_")


@dataclass(frozen=True)
class Filled:
    """``data`` holds the fields that could be filled; ``filled`` and ``unfilled``
    name properties by path ("video.codec"); ``missing_required`` are the required
    ones among the unfilled."""

    data: dict[str, Any]
    filled: tuple[str, ...]
    unfilled: tuple[str, ...]
    missing_required: tuple[str, ...]


def measured_values(facts: MediaFacts | None, text: str | None) -> dict[str, Any]:
    """What was measured, by normalised name (None values are not measured)."""
    values: dict[str, Any] = {}
    if facts is not None:
        leaves = _leaves(facts.as_dict(), "")
        for path, value in leaves:
            values.setdefault(normalise(path), value)  # dotted path: video.codec -> video_codec
        for path, value in leaves:
            values.setdefault(normalise(path.rsplit(".", 1)[-1]), value)
        values.update({k: v for k, v in _well_known(facts).items() if v is not None})
    if text and text.strip():
        values.setdefault("text", text)
        values.setdefault("word_count", len(text.split()))
        values.setdefault("character_count", len(text))
    return values


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            found += _leaves(item, f"{path}.{key}" if path else str(key))
        return found
    if value is None or (
        isinstance(value, list | tuple) and any(isinstance(v, dict) for v in value)
    ):
        return []  # not measured, or a list of records (frames) no field maps onto
    key = path.rsplit(".", 1)[-1]
    if key == "path" or key.endswith("_path") or ".timings_ms." in f".{path}.":
        return []  # storage paths and internal timings are not facts about the media
    return [(path, value)]


def _well_known(facts: MediaFacts) -> dict[str, Any]:
    """The facts callers ask for most, under their canonical names."""
    known: dict[str, Any] = {"media_type": facts.media_type}
    if facts.detected is not None:
        known["mime_type"] = facts.detected.mime_type
    width = height = None
    if isinstance(facts, VideoFacts):
        video = facts.video
        width, height = video.width, video.height
        known["duration_seconds"] = facts.duration_s or video.duration_s
        known["frame_rate"] = video.frame_rate
        known["video_codec"] = video.codec
        known["has_audio"] = facts.audio is not None
        known["bit_rate"] = facts.bit_rate or video.bit_rate
        if facts.audio is not None:
            known["audio_codec"] = facts.audio.codec
            known["sample_rate"] = facts.audio.sample_rate
            known["channels"] = facts.audio.channels
        if facts.loudness is not None:  # the sound track's (analysis/sound_track.py)
            known["peak_dbfs"] = facts.loudness.peak_dbfs
            known["rms_dbfs"] = facts.loudness.rms_dbfs
            known["silence_ratio"] = facts.loudness.silence_ratio
    elif isinstance(facts, AudioFacts):
        known["duration_seconds"] = facts.duration_s or facts.decoded_duration_s
        known["audio_codec"] = facts.audio.codec
        known["sample_rate"] = facts.audio.sample_rate
        known["channels"] = facts.audio.channels
        known["has_audio"] = True
        known["bit_rate"] = facts.bit_rate or facts.audio.bit_rate
        known["peak_dbfs"] = facts.loudness.peak_dbfs
        known["rms_dbfs"] = facts.loudness.rms_dbfs
        known["silence_ratio"] = facts.loudness.silence_ratio
    elif isinstance(facts, ImageFacts):
        width, height = facts.width, facts.height
        known["mime_type"] = known.get("mime_type") or facts.mime_type
    elif isinstance(facts, DocumentFacts):
        known["mime_type"] = known.get("mime_type") or facts.format
        known["page_count"] = facts.page_count
        known["word_count"] = facts.stats.words
        known["character_count"] = facts.stats.chars
        known["line_count"] = facts.stats.lines
        known["paragraph_count"] = facts.stats.paragraphs
        known["excerpt"] = facts.excerpt or None
        details = facts.details
        if isinstance(details, HtmlFacts):
            known["title"], known["language"] = details.title, details.lang
        elif isinstance(details, PdfFacts):
            known["title"] = details.metadata.get("title")
    if width and height:
        known.update(width=width, height=height, resolution=f"{width}x{height}")
        known["aspect_ratio"] = round(width / height, 4)
    known["size_bytes"] = getattr(facts, "size_bytes", None)
    return known


def fill(schema: Mapping[str, Any], facts: MediaFacts | None, text: str | None) -> Filled | None:
    """``schema``'s properties filled from the measurements; None when the schema
    is not an object with named properties (nothing to match names against)."""
    if not _is_object(schema, schema):
        return None
    filler = _Filler(schema, measured_values(facts, text))
    data = filler.object(schema, prefix="", path="")
    return Filled(
        data=data,
        filled=tuple(filler.filled),
        unfilled=tuple(filler.unfilled),
        missing_required=tuple(filler.missing),
    )


class _Filler:
    def __init__(self, root: Mapping[str, Any], values: dict[str, Any]) -> None:
        self.root, self.values = root, values
        self.filled: list[str] = []
        self.unfilled: list[str] = []
        self.missing: list[str] = []

    def object(
        self, schema: Mapping[str, Any], *, prefix: str, path: str, section: bool = False
    ) -> dict[str, Any]:
        schema = _resolve(self.root, schema)
        required = set(schema.get("required") or ())
        data: dict[str, Any] = {}
        for name, raw in (schema.get("properties") or {}).items():
            prop = _resolve(self.root, raw) if isinstance(raw, Mapping) else {}
            where = f"{path}.{name}" if path else name
            key = normalise(name)
            if _is_object(self.root, prop):
                inner = self.object(
                    prop, prefix=f"{prefix}{key}_", path=where, section=key in SECTIONS
                )
                if inner or name in required:
                    data[name] = inner
                continue
            found, value = self._value(key, prefix, prop, section=section)
            if found:
                data[name] = value
                self.filled.append(where)
                continue
            self.unfilled.append(where)
            if name in required:
                if "null" in _types(self.root, prop):
                    data[name] = None  # allowed by the schema: "not measured"
                else:
                    self.missing.append(where)
        return data

    def _value(
        self, key: str, prefix: str, prop: Mapping[str, Any], *, section: bool
    ) -> tuple[bool, Any]:
        canonical = _ALIASES.get(key)
        # The canonical name first: "size" is the file's size, not a waveform's.
        names = [prefix + canonical, prefix + key] if canonical else [prefix + key]
        if prefix and not section:
            names += [canonical, key] if canonical else [key]
        for name in dict.fromkeys(names):
            if name in self.values:
                fits, value = _fit(self.values[name], self.root, prop)
                if fits:
                    return True, value
        return False, None


def _resolve(root: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """A ``{"$ref": "#/..."}`` property replaced by what it points at (checked on
    submit to resolve inside the schema)."""
    seen = 0
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/") and seen < 20:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                return schema
            target = target[part]
        if not isinstance(target, Mapping):
            return schema
        schema, seen = target, seen + 1
    return schema


def _types(root: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The JSON types a property allows, through ``anyOf`` / ``oneOf`` branches."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    branches = [
        b for key in ("anyOf", "oneOf") for b in schema.get(key) or () if isinstance(b, Mapping)
    ]
    return [t for branch in branches for t in _types(root, _resolve(root, branch))]


def _is_object(root: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    schema = _resolve(root, schema)
    return "object" in _types(root, schema) or (
        "type" not in schema and isinstance(schema.get("properties"), Mapping)
    )


def _fit(value: Any, root: Mapping[str, Any], prop: Mapping[str, Any]) -> tuple[bool, Any]:
    """``value`` in the form the property's type asks for, if it can take one."""
    allowed = _types(root, prop) or ["any"]
    for kind in allowed:
        fits, shaped = _as(kind, value)
        if not fits:
            continue
        if "enum" in prop and shaped not in prop["enum"]:
            continue
        if "const" in prop and shaped != prop["const"]:
            continue
        return True, shaped
    return False, None


def _as(kind: str, value: Any) -> tuple[bool, Any]:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "any":
        return True, value
    if kind == "boolean":
        return isinstance(value, bool), value
    if kind == "integer":
        return (True, round(value)) if number else (False, None)
    if kind == "number":
        return number, value
    if kind == "string":
        if isinstance(value, str):
            return True, value
        return (True, str(value)) if number else (False, None)
    if kind == "array" and isinstance(value, list | tuple):
        return True, list(value)
    return False, None
