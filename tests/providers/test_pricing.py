"""The price table: USD per million tokens; unknown models cost None, never 0."""

from __future__ import annotations

from decimal import Decimal

from analysis.providers.pricing import PRICES_AS_OF, cost_for, price_for, quantize_cost


def test_listed_model_cost():
    # 1M input at $0.15 + 1M output at $0.60
    assert cost_for("openai", "gpt-4o-mini", 1_000_000, 1_000_000) == Decimal("0.750000")


def test_dated_and_numbered_snapshots_cost_what_the_model_costs():
    assert price_for("openai", "gpt-4o-mini-2024-07-18") == price_for("openai", "gpt-4o-mini")
    assert price_for("gemini", "gemini-2.0-flash-001") == price_for("gemini", "gemini-2.0-flash")


def test_a_different_model_with_a_listed_prefix_is_not_priced():
    assert price_for("openai", "gpt-4o-audio-preview") is None
    assert price_for("openai", "gpt-4o-mini-tts") is None


def test_unknown_model_provider_or_tokens_give_none():
    assert cost_for("openai", "my-local-llava", 100, 100) is None
    assert cost_for("novita", "qwen/qwen2.5-vl-72b-instruct", 100, 100) is None
    assert cost_for("openai", "gpt-4o-mini", None, 100) is None


def test_audio_input_tokens_use_the_audio_rate():
    plain = cost_for("gemini", "gemini-2.5-flash", 1_000_000, 0)
    with_audio = cost_for("gemini", "gemini-2.5-flash", 1_000_000, 0, audio_input_tokens=500_000)
    assert plain == Decimal("0.300000")
    assert with_audio == Decimal("0.650000")  # 0.5M x 0.30 + 0.5M x 1.00


def test_costs_are_rounded_to_the_columns_six_decimals():
    assert quantize_cost(0.1) == Decimal("0.100000")
    assert quantize_cost("0.0000004") == Decimal("0.000000")
    assert quantize_cost(Decimal("0.0000005")) == Decimal("0.000001")
    assert cost_for("openai", "gpt-4o-mini", 1, 1) == Decimal("0.000001")


def test_table_is_dated():
    assert PRICES_AS_OF.count("-") == 2
