"""Model providers behind one small interface. See ``base`` for the types,
``registry`` for choosing a provider, ``pricing`` for the price table."""

from analysis.providers.base import (
    AudioInput,
    ImageInput,
    Provider,
    ProviderError,
    ProviderRequest,
    ProviderResult,
)
from analysis.providers.registry import (
    PROVIDER_NAMES,
    analyse,
    available_providers,
    get_provider,
    resolve,
)

__all__ = [
    "PROVIDER_NAMES",
    "AudioInput",
    "ImageInput",
    "Provider",
    "ProviderError",
    "ProviderRequest",
    "ProviderResult",
    "analyse",
    "available_providers",
    "get_provider",
    "resolve",
]
