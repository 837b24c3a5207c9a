"""The price table: USD per million tokens, per provider and model.

Used only when a provider does not report the cost of a call itself (OpenRouter
does, in ``usage.cost``; OpenAI, Novita and Gemini do not). A model that is not in
the table has an unknown cost: :func:`cost_for` returns None, never 0, so an
unknown price is never recorded as free.

Prices as of 2026-11-22, transcribed from the providers' public price pages
(platform.openai.com/docs/pricing, ai.google.dev/gemini-api/docs/pricing,
openrouter.ai/models; OpenRouter passes upstream prices through) and checked
against secondary listings. Standard (not batch, not cached, not priority) rates;
Gemini 2.5 Pro's rate for prompts over 200k tokens is not modelled (such prompts
are far beyond what this service sends). Novita is left out on purpose: its
prices change often and no dated source was at hand; its calls record cost None.
Update this table, and the date above, when prices move.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PRICES_AS_OF = "2026-11-22"
ONE_MILLION = Decimal(1_000_000)
# The results table stores cost_usd as NUMERIC(10, 6).
COST_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens. ``audio_input`` applies to audio input tokens when
    the provider reports them separately and the model bills audio differently."""

    input: Decimal
    output: Decimal
    audio_input: Decimal | None = None


def _price(input_: str, output: str, audio_input: str | None = None) -> ModelPrice:
    return ModelPrice(
        Decimal(input_), Decimal(output), Decimal(audio_input) if audio_input else None
    )


PRICE_TABLE: dict[str, dict[str, ModelPrice]] = {
    "openai": {
        "gpt-4o": _price("2.50", "10.00"),
        "gpt-4o-mini": _price("0.15", "0.60"),
        "gpt-4.1": _price("2.00", "8.00"),
        "gpt-4.1-mini": _price("0.40", "1.60"),
        "gpt-4.1-nano": _price("0.10", "0.40"),
    },
    "gemini": {
        "gemini-2.5-pro": _price("1.25", "10.00"),
        "gemini-2.5-flash": _price("0.30", "2.50", audio_input="1.00"),
        "gemini-2.5-flash-lite": _price("0.10", "0.40", audio_input="0.30"),
        "gemini-2.0-flash": _price("0.10", "0.40", audio_input="0.70"),
    },
    "openrouter": {
        "openai/gpt-4o": _price("2.50", "10.00"),
        "openai/gpt-4o-mini": _price("0.15", "0.60"),
        "google/gemini-2.5-pro": _price("1.25", "10.00"),
        "google/gemini-2.5-flash": _price("0.30", "2.50", audio_input="1.00"),
        "google/gemini-2.5-flash-lite": _price("0.10", "0.40", audio_input="0.30"),
    },
}

# A dated or numbered snapshot of a listed model costs what the model costs:
# "gpt-4o-mini-2024-07-18", "gemini-2.0-flash-001".
_SNAPSHOT_SUFFIX = re.compile(r"^-(\d{4}-\d{2}-\d{2}|\d{3,})$")


def price_for(provider: str, model: str) -> ModelPrice | None:
    """The listed price of ``model`` at ``provider``, or None when not listed."""
    table = PRICE_TABLE.get(provider, {})
    name = model.strip().lower()
    if name in table:
        return table[name]
    for listed in sorted(table, key=len, reverse=True):
        if name.startswith(listed) and _SNAPSHOT_SUFFIX.match(name[len(listed) :]):
            return table[listed]
    return None


def cost_for(
    provider: str,
    model: str,
    input_tokens: int | None,
    output_tokens: int | None,
    *,
    audio_input_tokens: int | None = None,
) -> Decimal | None:
    """Cost in USD from the table, or None when the model or the token counts are unknown."""
    price = price_for(provider, model)
    if price is None or input_tokens is None or output_tokens is None:
        return None
    audio = min(max(audio_input_tokens or 0, 0), input_tokens) if price.audio_input else 0
    total = (
        Decimal(input_tokens - audio) * price.input
        + Decimal(audio) * (price.audio_input or price.input)
        + Decimal(output_tokens) * price.output
    ) / ONE_MILLION
    return quantize_cost(total)


def quantize_cost(value: Decimal | float | int | str) -> Decimal:
    """Round a cost to the column's six decimals (floats via str, so 0.1 stays 0.1)."""
    if isinstance(value, float):
        value = str(value)
    return Decimal(value).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)
