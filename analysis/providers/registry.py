"""Which providers exist, which are usable now, and which one a request gets.

A request may name ``provider`` and ``model``; otherwise it gets
``MEDIA_ANALYSIS_DEFAULT_PROVIDER`` (default "builtin") and that provider's
default model. Providers are built from settings on each call (cheap: no
connection is opened until ``analyse``), so a changed setting takes effect
without a restart of anything but the process reading it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from analysis.options import BUILTIN, GEMINI, NOVITA, OPENAI, OPENROUTER, PROVIDER_NAMES
from analysis.providers.base import (
    PROVIDER_UNKNOWN,
    Provider,
    ProviderError,
    ProviderRequest,
    ProviderResult,
)


# Each factory imports its provider's module (and client library: google-genai is
# heavy) when that provider is first built: the web mostly just validates names.
def _builtin() -> Provider:
    from analysis.providers.builtin import BuiltinProvider  # see above: on first use

    return BuiltinProvider()


def _openai_compatible(name: str) -> Callable[[], Provider]:
    def build() -> Provider:
        # On first use, like every provider module (see above).
        from analysis.providers.openai_compatible import (
            OpenAICompatibleProvider,
            config_from_settings,
        )

        return OpenAICompatibleProvider(config_from_settings(name))

    return build


def _gemini() -> Provider:
    # On first use: google-genai takes a while to import.
    from analysis.providers.gemini import GeminiProvider, config_from_settings

    return GeminiProvider(config_from_settings())


_FACTORIES: dict[str, Callable[[], Provider]] = {
    BUILTIN: _builtin,
    OPENROUTER: _openai_compatible(OPENROUTER),
    NOVITA: _openai_compatible(NOVITA),
    OPENAI: _openai_compatible(OPENAI),
    GEMINI: _gemini,
}


def get_provider(name: str | None = None) -> Provider:
    """The provider called ``name`` (the default provider when None or empty).

    Raises ProviderError("provider_unknown") for a name that is not a provider.
    """
    key = (name or "").strip().lower() or settings.MEDIA_ANALYSIS_DEFAULT_PROVIDER
    factory = _FACTORIES.get(key)
    if factory is None:
        raise ProviderError(
            PROVIDER_UNKNOWN,
            f"unknown provider {name!r}; known providers: {', '.join(PROVIDER_NAMES)}",
            retryable=False,
        )
    return factory()


def available_providers() -> list[str]:
    """Names of the providers that are configured and can be called now."""
    return [name for name in PROVIDER_NAMES if _FACTORIES[name]().is_configured()]


def resolve(provider: str | None, model: str | None) -> tuple[str, str]:
    """The (provider, model) a request will use, defaults applied; raises
    ProviderError when the provider is unknown, not configured, or has no model.
    Useful for validating a request before it is queued."""
    chosen = get_provider(provider)
    if not chosen.is_configured():
        raise chosen.not_configured()
    return chosen.name, chosen.resolve_model(model)


def analyse(request: ProviderRequest, provider: str | None = None) -> ProviderResult:
    """Ask ``provider`` (default provider when None); raises ProviderError."""
    return get_provider(provider).analyse(request)
