"""How many tokens a provider call takes, estimated from what is sent, and what that
costs by the price table (``analysis/providers/pricing.py``, the one place prices live).

The rules, each an assumption a caller is told about:

- text: 4 characters a token (OpenAI's and Google's rule of thumb for English;
  other languages take more, hence the check's margin below), and 3 for the
  measured facts, which are JSON (quotes, braces and digits split finely);
- images: OpenAI's documented tiling for OpenAI-compatible providers (fit in
  2048x2048, shortest side at most 768, 170 tokens per 512-px tile plus 85); Gemini
  258 tokens per 768-px tile;
- audio sent whole (models that take audio): 32 tokens a second for Gemini, 10 for
  others;
- the answer: ``EXPECTED_OUTPUT_TOKENS`` for an estimate; for the budget check
  before a call, the most the call may bill (``PROVIDER_MAX_OUTPUT_TOKENS``) and the
  input with ``CHECK_INPUT_MARGIN`` on top, so a call that passes the check cannot
  take a user over their budget unless the estimate of its input is off by more.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from analysis.options import BUILTIN, GEMINI
from analysis.providers import pricing
from analysis.providers.base import ProviderRequest
from analysis.providers.prompting import SYSTEM_MESSAGE, TextPart, build_parts, facts_as_text

CHARS_PER_TOKEN = 4
JSON_CHARS_PER_TOKEN = 3
# Per message framing (role, separators) in chat APIs: a few tokens each.
MESSAGE_OVERHEAD_TOKENS = 10
EXPECTED_OUTPUT_TOKENS = 400
CHECK_INPUT_MARGIN = Decimal("1.25")
GEMINI_TILE_TOKENS, GEMINI_TILE = 258, 768
OPENAI_BASE_TOKENS, OPENAI_TILE_TOKENS, OPENAI_TILE = 85, 170, 512
AUDIO_TOKENS_PER_SECOND = {GEMINI: 32}
DEFAULT_AUDIO_TOKENS_PER_SECOND = 10


def text_tokens(text: str) -> int:
    return prose_tokens(len(text))


def prose_tokens(characters: int) -> int:
    return math.ceil(characters / CHARS_PER_TOKEN)


def json_tokens(characters: int) -> int:
    return math.ceil(characters / JSON_CHARS_PER_TOKEN)


def image_tokens(provider: str, width: int, height: int) -> int:
    """Tokens for one picture of ``width`` x ``height`` pixels."""
    width, height = max(int(width), 1), max(int(height), 1)
    if provider == GEMINI:
        if width <= 384 and height <= 384:
            return GEMINI_TILE_TOKENS
        return GEMINI_TILE_TOKENS * math.ceil(width / GEMINI_TILE) * math.ceil(height / GEMINI_TILE)
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    tiles = math.ceil(width / OPENAI_TILE) * math.ceil(height / OPENAI_TILE)
    return OPENAI_BASE_TOKENS + OPENAI_TILE_TOKENS * tiles


def image_size(data: bytes) -> tuple[int, int] | None:
    """A picture's size from its header (nothing decoded), or None when unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def audio_tokens(provider: str, seconds: float) -> int:
    rate = AUDIO_TOKENS_PER_SECOND.get(provider, DEFAULT_AUDIO_TOKENS_PER_SECOND)
    return math.ceil(max(seconds, 0.0) * rate)


def audio_seconds(size_bytes: int, mime_type: str) -> float:
    """A sound's length from its size: 16-bit stereo 44.1 kHz for WAV, 128 kbit/s else."""
    per_second = 176_400 if "wav" in mime_type else 16_000
    return size_bytes / per_second


def request_input_tokens(provider: str, request: ProviderRequest, *, include_audio: bool) -> int:
    """Input tokens of asking ``request``: the system message, the user's text parts
    as built for the provider, each picture, and the audio when sent."""
    parts = build_parts(
        request,
        include_audio=include_audio,
        max_text_chars=settings.PROVIDER_MAX_TEXT_CHARS,
        # The schema travels as response_format or in the prompt: billed either way.
        schema_in_prompt=True,
    )
    text = SYSTEM_MESSAGE + "".join(part.text for part in parts if isinstance(part, TextPart))
    tokens = 2 * MESSAGE_OVERHEAD_TOKENS + text_tokens(text)
    if request.facts is not None:  # inside the text above at 4 characters a token
        facts = len(facts_as_text(request.facts))
        tokens += json_tokens(facts) - prose_tokens(facts)
    for image in request.images:
        width, height = image_size(image.data) or (1024, 1024)
        tokens += image_tokens(provider, width, height)
    if include_audio and request.audio is not None:
        seconds = audio_seconds(len(request.audio.data), request.audio.mime_type)
        tokens += audio_tokens(provider, seconds)
    return tokens


@dataclass(frozen=True)
class Priced:
    """Tokens and their cost; ``cost_usd`` None when the model has no price."""

    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None


def price(provider: str, model: str, input_tokens: int, output_tokens: int) -> Priced:
    """The table's cost of the tokens; the built-in provider is free."""
    if provider == BUILTIN:
        return Priced(input_tokens, output_tokens, Decimal("0.000000"))
    cost = pricing.cost_for(provider, model, input_tokens, output_tokens)
    return Priced(input_tokens, output_tokens, cost)


def call_ceiling(
    provider: str, model: str, request: ProviderRequest, *, include_audio: bool
) -> Priced:
    """The most one call with ``request`` is expected to cost: its input with a
    margin and a full-length answer (see the module's notes)."""
    if provider == BUILTIN:
        return Priced(0, 0, Decimal("0.000000"))
    estimated = request_input_tokens(provider, request, include_audio=include_audio)
    input_tokens = math.ceil(estimated * CHECK_INPUT_MARGIN)
    return price(provider, model, input_tokens, settings.PROVIDER_MAX_OUTPUT_TOKENS)
