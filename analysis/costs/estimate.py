"""What a submission is expected to cost, before anything is stored or asked.

Only what can be learnt cheaply is used: for an upload its detected type (the
pipeline's own magic-byte detection), size and, for a picture, its dimensions (from
the header); for a URL the extension of its path (nothing is fetched). The rest are
assumptions, listed in the answer: how long the measured facts run, how long the
answer is, how many tokens a picture takes (``analysis/costs/tokens.py``). Prices
come from the price table (``analysis/providers/pricing.py``).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from analysis.costs import tokens
from analysis.media_types import AUDIO, DOCUMENT, IMAGE, UNKNOWN, VIDEO
from analysis.options import AnalysisOptions, parse_resolution
from analysis.providers import get_provider, pricing
from analysis.providers.base import ProviderRequest

# Characters of measured facts (JSON) a provider is sent, by media type; a video's
# grow with its frames. Measured on small test media (video: 1858, 2512 and 3244
# characters with 2, 6 and 12 frames; image 1049; audio 984; a PDF 1194).
FACTS_CHARS = {VIDEO: 1650, AUDIO: 1000, IMAGE: 1100, DOCUMENT: 1200, UNKNOWN: 1500}
FACTS_CHARS_PER_FRAME = 130
# The fence and heading around the facts, and each picture's label.
FACTS_FRAME_CHARS, IMAGE_LABEL_CHARS = 220, 40
AUDIO_INPUT_TYPES = {"audio/wav", "audio/x-wav", "audio/mpeg"}  # sent whole (pipeline)
AUDIO_INPUT_MAX_BYTES = 20 * 1024 * 1024
WAVEFORM_SIZE = (1600, 400)
DEFAULT_IMAGE_SIZE = (1024, 1024)


@dataclass
class Media:
    """What is known of the media: its type, and where known its size in bytes,
    MIME type and (pictures) dimensions; ``basis`` says where that came from."""

    media_type: str
    basis: dict[str, Any] = field(default_factory=dict)
    size_bytes: int | None = None
    mime_type: str | None = None
    dimensions: tuple[int, int] | None = None


def media_of_upload(path: str, size_bytes: int) -> Media:
    """An upload, by the pipeline's detection (magic bytes, then the container)."""
    # Imported here: detection pulls in PyAV, which the web loads only when needed.
    from analysis.processing.detect import detect_media

    detected = detect_media(path)
    dimensions = None
    if detected.media_type == IMAGE:
        with open(path, "rb") as handle:
            dimensions = tokens.image_size(handle.read(1024 * 1024))
    basis = {"source": "upload", "size_bytes": size_bytes, "mime_type": detected.mime_type}
    if dimensions:
        basis["width"], basis["height"] = dimensions
    return Media(detected.media_type, basis, size_bytes, detected.mime_type, dimensions)


def media_of_url(url: str, hint: str | None) -> Media:
    """A URL, by the extension of its path (nothing is fetched), or the caller's hint."""
    mime, _ = mimetypes.guess_type(PurePosixPath(urlsplit(url).path).name)
    kind = (mime or "").split("/")[0]
    by_extension = {"video": VIDEO, "audio": AUDIO, "image": IMAGE, "text": DOCUMENT}.get(kind)
    if mime in ("application/pdf", "application/msword") or (mime or "").endswith("document"):
        by_extension = DOCUMENT
    media_type = hint or by_extension or UNKNOWN
    basis = {"source": "url", "extension_type": mime, "media_type_hint": hint}
    return Media(media_type, basis, None, mime, None)


@dataclass(frozen=True)
class Estimate:
    provider: str
    model: str
    media_type: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    assumptions: list[str]
    basis: dict[str, Any]


def estimate(
    *, prompt: str, provider: str, model: str | None, options: AnalysisOptions, media: Media
) -> Estimate:
    """The expected tokens and cost of one analysis of ``media``."""
    chosen = get_provider(provider)
    model = chosen.resolve_model(model)
    notes: list[str] = []
    media_type = media.media_type
    if media_type == UNKNOWN and media.basis.get("source") == "upload":
        notes.append(
            "The file is no video, audio, image or document this service can analyse: "
            "its analysis would fail (unsupported_media). Priced as a video."
        )
        media_type = VIDEO
    elif media_type == UNKNOWN:
        notes.append("The media type is not known before the download: priced as a video.")
        media_type = VIDEO
    pictures = _pictures(media_type, media, options, notes)
    text_chars = _document_chars(media_type, media, notes)
    input_tokens = tokens.request_input_tokens(
        chosen.name,
        ProviderRequest(
            prompt=prompt,
            model=model,
            text="x" * text_chars,
            response_schema=options.response_schema,
        ),
        include_audio=False,
    )
    facts = FACTS_CHARS[media_type] + (
        FACTS_CHARS_PER_FRAME * options.frames if media_type == VIDEO else 0
    )
    article = "an" if media_type[:1] in "aeiou" else "a"
    notes.append(
        f"Measured facts take about {facts} characters (typical for {article} {media_type})."
    )
    input_tokens += tokens.json_tokens(facts) + tokens.prose_tokens(FACTS_FRAME_CHARS)
    for width, height in pictures:
        input_tokens += tokens.image_tokens(chosen.name, width, height)
        input_tokens += tokens.prose_tokens(IMAGE_LABEL_CHARS)
    input_tokens += _audio_tokens(chosen, model, media_type, media, notes)
    output_tokens = min(tokens.EXPECTED_OUTPUT_TOKENS, settings.PROVIDER_MAX_OUTPUT_TOKENS)
    notes.append(
        f"The answer is about {output_tokens} tokens (at most {settings.PROVIDER_MAX_OUTPUT_TOKENS})"
        + (
            "; a structured answer that needs its one repair costs about twice."
            if options.response_schema
            else "."
        )
    )
    notes.append(
        f"Text is counted at {tokens.CHARS_PER_TOKEN} characters a token, the facts (JSON) "
        f"at {tokens.JSON_CHARS_PER_TOKEN}."
    )
    if not options.force:
        notes.append("An earlier answer to the same question is reused for free; not assumed here.")
    priced = tokens.price(chosen.name, model, input_tokens, output_tokens)
    cost = priced.cost_usd
    cost = _with_transcription(cost, media_type, media, options, notes)
    basis = {
        **media.basis,
        "prices_as_of": pricing.PRICES_AS_OF,
        "price": _price_basis(chosen.name, model),
    }
    if priced.cost_usd is None:
        notes.append(
            f"{chosen.name} model {model!r} has no price in the price table: cost unknown."
        )
    return Estimate(
        chosen.name, model, media.media_type, input_tokens, output_tokens, cost, notes, basis
    )


def _pictures(
    media_type: str, media: Media, options: AnalysisOptions, notes: list[str]
) -> list[tuple[int, int]]:
    """The pictures a provider is shown, by their size."""
    if media_type == VIDEO:
        size = parse_resolution(options.resolution) or DEFAULT_IMAGE_SIZE
        notes.append(f"A video is shown as one contact sheet of {options.resolution}.")
        return [size]
    if media_type == AUDIO:
        notes.append("Audio is shown as one waveform picture of 1600x400.")
        return [WAVEFORM_SIZE]
    if media_type == IMAGE:
        if media.dimensions:
            side = 2048  # ProcessingOptions.max_image_side: bigger pictures are shrunk
            width, height = media.dimensions
            scale = min(1.0, side / max(width, height, 1))
            return [(round(width * scale), round(height * scale))]
        notes.append("The picture's size is not known: priced as 1024x1024.")
        return [DEFAULT_IMAGE_SIZE]
    notes.append("A document is assumed to have a text layer: no page pictures.")
    return []


def _document_chars(media_type: str, media: Media, notes: list[str]) -> int:
    if media_type != DOCUMENT:
        return 0
    limit = settings.PROVIDER_MAX_TEXT_CHARS
    if media.size_bytes is not None and (media.mime_type or "").startswith("text/"):
        return min(media.size_bytes, limit)
    if media.size_bytes is not None:
        notes.append("A document's text is taken as a tenth of its size in characters.")
        return min(media.size_bytes // 10, limit)
    notes.append(f"A document's text is not known: priced at the limit ({limit} characters).")
    return limit


def _audio_tokens(provider, model: str, media_type: str, media: Media, notes: list[str]) -> int:
    if media_type != AUDIO:
        return 0
    sendable = (
        media.mime_type in AUDIO_INPUT_TYPES
        and media.size_bytes is not None
        and media.size_bytes <= AUDIO_INPUT_MAX_BYTES
    )
    accepts = getattr(provider, "accepts_audio", None)
    if not sendable or (callable(accepts) and not accepts(model)):
        return 0
    seconds = tokens.audio_seconds(media.size_bytes, media.mime_type)
    notes.append(f"The audio is sent whole: about {round(seconds)} s, by its size.")
    return tokens.audio_tokens(provider.name, seconds)


def _with_transcription(
    cost: Decimal | None, media_type: str, media: Media, options: AnalysisOptions, notes: list[str]
) -> Decimal | None:
    price = settings.TRANSCRIPTION_PRICE_PER_MINUTE_USD
    applies = (
        media_type in (AUDIO, VIDEO)
        and options.transcribe is not False
        and (settings.TRANSCRIPTION_BASE_URL or "").strip()
    )
    if not applies:
        return cost
    if price is None:
        notes.append(
            "Speech to text applies and has no price (TRANSCRIPTION_PRICE_PER_MINUTE_USD)."
        )
        return cost
    if media_type != AUDIO or media.size_bytes is None:
        notes.append("Speech to text applies; its length is not known, so it is not included.")
        return cost
    seconds = tokens.audio_seconds(media.size_bytes, media.mime_type or "")
    heard = pricing.quantize_cost(Decimal(str(price)) * Decimal(str(seconds)) / 60)
    notes.append(
        f"Speech to text of about {round(seconds)} s at {price} USD a minute: {heard} USD."
    )
    return None if cost is None else cost + heard


def _price_basis(provider: str, model: str) -> dict[str, str] | None:
    listed = pricing.price_for(provider, model)
    if listed is None:
        return None
    return {
        "input_per_million_usd": str(listed.input),
        "output_per_million_usd": str(listed.output),
    }
