"""One HTTP attempt against a provider-style JSON API, its failures mapped to
:class:`ProviderError` the same way for every client that speaks HTTP through
httpx (the OpenAI-compatible providers, the transcription endpoint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from analysis.providers.base import (
    PROVIDER_BAD_RESPONSE,
    PROVIDER_CONNECTION_ERROR,
    PROVIDER_TIMEOUT,
    ProviderError,
    error_for_status,
)
from analysis.providers.retry import parse_retry_after


def json_answer(
    send: Callable[[], httpx.Response],
    *,
    endpoint: str,
    redact: Callable[[str], str],
    error_message: Callable[[httpx.Response], str],
    provider: str | None = None,
) -> Any:
    """The parsed JSON body of a 2xx answer to ``send()``, else ProviderError:
    transport failures (retryable, the key redacted from the library's text), an
    HTTP error status (``error_message`` says what the answer said, redacted), or a
    body that is not JSON. Checking the JSON's shape is the caller's."""
    try:
        response = send()
    except httpx.ConnectTimeout as exc:
        raise _transport(
            PROVIDER_CONNECTION_ERROR, "connect timeout", exc, endpoint, redact, provider
        ) from None
    except httpx.TimeoutException as exc:
        raise _transport(PROVIDER_TIMEOUT, "timed out", exc, endpoint, redact, provider) from None
    except httpx.TransportError as exc:
        raise _transport(
            PROVIDER_CONNECTION_ERROR, "connection failed", exc, endpoint, redact, provider
        ) from None
    if response.status_code >= 400:
        raise error_for_status(
            response.status_code,
            error_message(response),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            provider=provider,
        )
    try:
        return response.json()
    except ValueError:
        raise ProviderError(
            PROVIDER_BAD_RESPONSE,
            f"HTTP {response.status_code} with a body that is not JSON",
            retryable=True,
            upstream_status=response.status_code,
            provider=provider,
        ) from None


def _transport(
    code: str,
    what: str,
    exc: Exception,
    endpoint: str,
    redact: Callable[[str], str],
    provider: str | None,
) -> ProviderError:
    return ProviderError(
        code,
        f"{what} calling {endpoint}: {type(exc).__name__}: {redact(str(exc))}",
        retryable=True,
        provider=provider,
    )
