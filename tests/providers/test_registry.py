"""Choosing a provider: names, defaults, what is configured."""

from __future__ import annotations

import pytest

from analysis.providers import (
    PROVIDER_NAMES,
    ProviderError,
    ProviderRequest,
    analyse,
    available_providers,
    get_provider,
    resolve,
)
from tests.providers import sample_facts


def test_unknown_provider_is_a_clear_error():
    with pytest.raises(ProviderError) as caught:
        get_provider("skynet")
    assert caught.value.code == "provider_unknown"
    assert "known providers: builtin, openrouter, novita, openai, gemini" in caught.value.message


def test_names_are_case_insensitive_and_empty_means_default(settings):
    assert get_provider("  OpenRouter ").name == "openrouter"
    settings.MEDIA_ANALYSIS_DEFAULT_PROVIDER = "gemini"
    assert get_provider("").name == "gemini"
    assert get_provider(None).name == "gemini"


def test_available_providers_follow_the_configuration(settings):
    assert available_providers() == ["builtin"]
    settings.OPENROUTER_API_KEY = "k1"
    settings.GEMINI_API_KEY = "k2"
    assert available_providers() == ["builtin", "openrouter", "gemini"]
    settings.OPENAI_BASE_URL = "http://127.0.0.1:11434/v1"  # a local Ollama needs no key
    assert "openai" in available_providers()
    assert set(available_providers()) <= set(PROVIDER_NAMES)


def test_resolve_applies_the_default_provider_and_model(settings):
    assert resolve(None, None) == ("builtin", "metadata-report-v1")
    settings.NOVITA_API_KEY = "k"
    assert resolve("novita", None) == ("novita", settings.NOVITA_MODEL)
    assert resolve("novita", "meta-llama/llama-4-scout") == ("novita", "meta-llama/llama-4-scout")


def test_resolve_refuses_an_unconfigured_provider():
    with pytest.raises(ProviderError) as caught:
        resolve("openrouter", None)
    assert caught.value.code == "provider_not_configured"


def test_model_name_longer_than_the_column_is_refused(settings):
    settings.OPENROUTER_API_KEY = "k"
    with pytest.raises(ProviderError) as caught:
        resolve("openrouter", "m" * 101)
    assert caught.value.code == "provider_bad_request"


def test_analyse_uses_the_default_provider():
    result = analyse(ProviderRequest(prompt="How long?", facts=sample_facts.audio_facts(5.0)))
    assert result.provider == "builtin" and "Duration: 5.00 s" in result.text
