"""The one small interface every model provider speaks.

A provider takes a :class:`ProviderRequest` (the user's prompt plus what processing
produced: text, images, audio and measured facts) and returns a
:class:`ProviderResult` (text, tokens, cost, latency and the provider's raw usage),
or raises :class:`ProviderError` with a short machine code.

No Django models and no views here: the pipeline records the result; this package
only talks to providers. Settings are read from ``django.conf.settings`` when a
provider is built, never at import time.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from analysis.processing.facts import MediaFacts
from analysis.transcription.types import Transcript
from media_analysis.errors import ServiceError

# Error codes (each fits the 50-character ``error_code`` column).
PROVIDER_TIMEOUT = "provider_timeout"
PROVIDER_RATE_LIMITED = "provider_rate_limited"
PROVIDER_UNAVAILABLE = "provider_unavailable"
PROVIDER_CONNECTION_ERROR = "provider_connection_error"
PROVIDER_BAD_REQUEST = "provider_bad_request"
PROVIDER_AUTH_FAILED = "provider_auth_failed"
PROVIDER_QUOTA_EXCEEDED = "provider_quota_exceeded"
PROVIDER_CIRCUIT_OPEN = "provider_circuit_open"
PROVIDER_NOT_CONFIGURED = "provider_not_configured"
PROVIDER_UNKNOWN = "provider_unknown"
PROVIDER_BAD_RESPONSE = "provider_bad_response"
PROVIDER_CONTENT_FILTERED = "provider_content_filtered"

# Model names go into a 100-character column.
MODEL_NAME_MAX_LENGTH = 100


@dataclass(frozen=True)
class ImageInput:
    """One picture for the model: a contact sheet, a frame, the image itself or a
    rendered document page. ``label`` says what it is ("contact sheet, 16 frames")."""

    data: bytes
    mime_type: str
    label: str | None = None


@dataclass(frozen=True)
class AudioInput:
    """An audio excerpt (wav or mp3 travel best) for models that accept audio."""

    data: bytes
    mime_type: str
    label: str | None = None


@dataclass(frozen=True)
class SchemaRepair:
    """A second ask after an answer that did not match the response schema: the
    validation ``problem`` and the ``previous_answer`` as the model wrote it."""

    previous_answer: str
    problem: str


@dataclass(frozen=True)
class ProviderRequest:
    """What a provider is asked. ``model`` None means the provider's default model.

    ``facts`` is what processing measured, typed per media type (duration,
    resolution, codecs, levels, pages, text statistics...; None when nothing was
    measured); providers read it by attribute, or send ``facts.as_dict()`` as JSON.
    ``text`` is extracted document text. Everything except ``prompt`` and
    ``response_schema`` comes from the media and is treated as untrusted data by
    every provider.

    ``response_schema`` is the caller's JSON Schema (already checked on submit):
    the answer must be JSON matching it (see :mod:`structured`). ``repair`` is set
    on the one second ask after an answer that did not match.
    """

    prompt: str
    model: str | None = None
    text: str | None = None
    images: tuple[ImageInput, ...] | list[ImageInput] = ()
    audio: AudioInput | None = None
    facts: MediaFacts | None = None
    response_schema: Mapping[str, Any] | None = None
    repair: SchemaRepair | None = None
    # Speech heard in the audio, with absolute times (analysis/transcription/);
    # untrusted, like everything from the media.
    transcript: Transcript | None = None


@dataclass(frozen=True)
class ProviderResult:
    """What one provider call produced, ready for ``AnalysisResult``.

    ``cost_usd`` is None when the cost is unknown (never a made-up 0);
    ``cost_source`` says where a known cost came from ("provider" when the
    provider reported it, "price_table" from :mod:`pricing`, "free" for the
    built-in report). ``latency_ms`` covers the whole provider step, retries
    included; ``attempts`` counts the HTTP attempts made.

    With a response schema, ``structured_mode`` says how JSON was asked for
    ("native": the provider's structured mode; "prompt": instructions in the
    prompt, where the model refused the native mode; "facts": filled by the
    built-in provider) and ``data`` holds the answer already as data when the
    provider built it itself (the built-in one); otherwise ``text`` is parsed.
    """

    text: str
    model_used: str
    provider: str
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    latency_ms: int
    raw_usage: dict[str, Any]
    cost_source: str | None = None
    attempts: int = 1
    structured_mode: str | None = None
    data: Any = None


class ProviderError(ServiceError):
    """A provider call that did not produce a result.

    ``retryable`` says whether the same request may succeed later (rate limits,
    outages, an open circuit); bad requests and auth failures will not.
    ``upstream_status`` is the provider's HTTP status, when it answered one, and
    ``retry_after`` its own hint in seconds, when it gave one. The message never
    contains an API key.
    """

    http_status = 502  # the provider, behind us, failed

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(code, message)
        self.retryable = retryable
        self.upstream_status = upstream_status
        self.retry_after = retry_after
        self.provider = provider

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @property
    def failure_message(self) -> str:
        # A failed request names the provider that failed it.
        return f"{self.provider}: {self.message}" if self.provider else self.message


def clip_model_name(name: str) -> str:
    return name[:MODEL_NAME_MAX_LENGTH]


class Provider(ABC):
    """Base class: resolves the model, times the call, fills in the provider name."""

    name: str = ""
    # What the provider needs before it can be called, for the "not configured" error.
    requirement: str = "its settings"

    @property
    @abstractmethod
    def default_model(self) -> str | None:
        """The model used when a request names none (None when unset)."""

    @abstractmethod
    def is_configured(self) -> bool:
        """True when the provider has what it needs (key, or a base URL) to be called."""

    def not_configured(self) -> ProviderError:
        return ProviderError(
            PROVIDER_NOT_CONFIGURED,
            f"the {self.name} provider is not configured: set {self.requirement}",
            retryable=False,
            provider=self.name,
        )

    def resolve_model(self, requested: str | None) -> str:
        model = (requested or "").strip() or self.default_model
        if not model:
            raise ProviderError(
                PROVIDER_NOT_CONFIGURED,
                f"no model was requested and {self.name} has no default model configured",
                retryable=False,
                provider=self.name,
            )
        if len(model) > MODEL_NAME_MAX_LENGTH:
            raise ProviderError(
                PROVIDER_BAD_REQUEST,
                f"model name is longer than {MODEL_NAME_MAX_LENGTH} characters",
                retryable=False,
                provider=self.name,
            )
        return model

    def analyse(self, request: ProviderRequest) -> ProviderResult:
        """Ask the provider; returns a result or raises :class:`ProviderError`."""
        if not self.is_configured():
            raise self.not_configured()
        model = self.resolve_model(request.model)
        started = time.monotonic()
        try:
            outcome = self._analyse(request, model)
        except ProviderError as exc:
            exc.provider = exc.provider or self.name
            raise
        latency_ms = int((time.monotonic() - started) * 1000)
        return ProviderResult(
            text=outcome.text,
            model_used=clip_model_name(outcome.model_used or model),
            provider=self.name,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            cost_usd=outcome.cost_usd,
            latency_ms=latency_ms,
            raw_usage=outcome.raw_usage,
            cost_source=outcome.cost_source,
            attempts=outcome.attempts,
            structured_mode=outcome.structured_mode,
            data=outcome.data,
        )

    @abstractmethod
    def _analyse(self, request: ProviderRequest, model: str) -> CallOutcome:
        """Do the provider-specific work for an already resolved model."""


@dataclass(frozen=True)
class CallOutcome:
    """What a provider implementation hands back to :meth:`Provider.analyse`."""

    text: str
    model_used: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    raw_usage: dict[str, Any]
    cost_source: str | None
    attempts: int = 1
    structured_mode: str | None = None
    data: Any = None


def error_for_status(
    status: int, message: str, *, retry_after: float | None = None, provider: str | None = None
) -> ProviderError:
    """The :class:`ProviderError` for an HTTP error status, with the provider's message.

    429 and 5xx are retryable (and retried in the call); 408 is retryable later;
    every other 4xx is the request's or the configuration's fault and is not.
    """
    detail = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 429:
        code, retryable = PROVIDER_RATE_LIMITED, True
    elif status >= 500:
        code, retryable = PROVIDER_UNAVAILABLE, True
    elif status == 408:
        code, retryable = PROVIDER_TIMEOUT, True
    elif status in (401, 403):
        code, retryable = PROVIDER_AUTH_FAILED, False
    elif status == 402:
        code, retryable = PROVIDER_QUOTA_EXCEEDED, False
    else:
        code, retryable = PROVIDER_BAD_REQUEST, False
    return ProviderError(
        code,
        detail,
        retryable=retryable,
        upstream_status=status,
        retry_after=retry_after,
        provider=provider,
    )


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every configured secret replaced (providers sometimes echo keys)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
