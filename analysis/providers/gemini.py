"""Google Gemini, through google-genai: the Gemini API (GEMINI_API_KEY) or Vertex AI
(GEMINI_USE_VERTEX with GOOGLE_CLOUD_PROJECT / GOOGLE_CLOUD_LOCATION and
application default credentials, or a Vertex express-mode API key).

Images, rendered pages and audio go as inline data parts (Gemini accepts audio
natively), document text as text parts inside untrusted blocks, the security
rules as the system instruction. The SDK's own retries are switched off: retries
and the circuit breaker are ours (:mod:`retry`), the same for every provider.
GEMINI_BASE_URL points the SDK elsewhere (tests use a local server).

A request with a response schema sets ``responseMimeType: application/json`` and
``responseJsonSchema`` (plain JSON Schema, Gemini 2.5 and later; the older
``responseSchema`` takes only an OpenAPI subset). A model that refuses it (HTTP
400 naming the response schema) is asked again once with the schema as
instructions in the prompt.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.conf import settings

from analysis.providers import pricing, structured
from analysis.providers.base import (
    PROVIDER_AUTH_FAILED,
    PROVIDER_BAD_RESPONSE,
    PROVIDER_CONNECTION_ERROR,
    PROVIDER_CONTENT_FILTERED,
    PROVIDER_TIMEOUT,
    CallOutcome,
    Provider,
    ProviderError,
    ProviderRequest,
    error_for_status,
    redact,
)
from analysis.providers.prompting import (
    SYSTEM_MESSAGE,
    AudioPart,
    ImagePart,
    TextPart,
    build_parts,
)
from analysis.providers.retry import RetryPolicy, call_with_retries, parse_retry_after

logger = logging.getLogger(__name__)

MAX_ERROR_MESSAGE_CHARS = 1000
_RETRY_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


@dataclass(frozen=True)
class GeminiConfig:
    api_key: str | None
    default_model: str | None
    use_vertex: bool = False
    project: str | None = None
    location: str | None = None
    base_url: str | None = None
    max_output_tokens: int = 1500
    timeout: float = 120.0
    max_text_chars: int = 50_000


class GeminiProvider(Provider):
    name = "gemini"
    requirement = (
        "GEMINI_API_KEY, or GEMINI_USE_VERTEX=true with GOOGLE_CLOUD_PROJECT and "
        "GOOGLE_CLOUD_LOCATION"
    )

    def __init__(self, config: GeminiConfig, *, retry_policy: RetryPolicy | None = None) -> None:
        self.config = config
        self.retry_policy = retry_policy

    @property
    def default_model(self) -> str | None:
        return self.config.default_model

    def is_configured(self) -> bool:
        if self.config.use_vertex:
            return bool(self.config.api_key) or bool(self.config.project and self.config.location)
        return bool(self.config.api_key)

    def _client(self):
        from google import genai
        from google.genai import types

        http_options = types.HttpOptions(
            base_url=self.config.base_url or None,
            timeout=int(self.config.timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        if self.config.use_vertex:
            if self.config.api_key:  # Vertex express mode
                return genai.Client(
                    vertexai=True, api_key=self.config.api_key, http_options=http_options
                )
            return genai.Client(
                vertexai=True,
                project=self.config.project,
                location=self.config.location,
                http_options=http_options,
            )
        return genai.Client(api_key=self.config.api_key, http_options=http_options)

    def build_contents(
        self, request: ProviderRequest, *, schema_in_prompt: bool = False
    ) -> list[Any]:
        """The user turn as google-genai parts (text, inline images and audio)."""
        from google.genai import types

        parts: list[types.Part] = []
        for part in build_parts(
            request,
            include_audio=request.audio is not None,
            max_text_chars=self.config.max_text_chars,
            schema_in_prompt=schema_in_prompt,
        ):
            if isinstance(part, TextPart):
                parts.append(types.Part.from_text(text=part.text))
            elif isinstance(part, ImagePart):
                parts.append(
                    types.Part.from_bytes(data=part.image.data, mime_type=part.image.mime_type)
                )
            elif isinstance(part, AudioPart):
                parts.append(
                    types.Part.from_bytes(data=part.audio.data, mime_type=part.audio.mime_type)
                )
        return [types.Content(role="user", parts=parts)]

    def build_config(self, request: ProviderRequest, *, schema_in_prompt: bool = False) -> Any:
        """The generation config; a response schema goes as ``responseJsonSchema``
        unless ``schema_in_prompt`` (the model has no structured mode)."""
        from google.genai import types

        schema = request.response_schema
        native = schema is not None and not schema_in_prompt
        return types.GenerateContentConfig(
            system_instruction=SYSTEM_MESSAGE,
            max_output_tokens=self.config.max_output_tokens,
            response_mime_type="application/json" if native else None,
            response_json_schema=dict(schema) if native and schema is not None else None,
        )

    def _analyse(self, request: ProviderRequest, model: str) -> CallOutcome:
        mode = structured.NATIVE if request.response_schema is not None else None
        contents, config = self.build_contents(request), self.build_config(request)
        try:
            client = self._client()
        except ValueError as exc:  # the SDK refuses an incomplete configuration
            raise ProviderError(
                PROVIDER_AUTH_FAILED, self._redact(str(exc)), retryable=False
            ) from None
        refused = 0
        with client:
            try:
                attempted = call_with_retries(
                    self.name,
                    lambda: self._generate(client, model, contents, config),
                    self.retry_policy,
                )
            except ProviderError as exc:
                if mode is None or not structured.refuses_structured_mode(
                    exc.upstream_status, exc.message
                ):
                    raise
                logger.info("gemini %s refused responseJsonSchema; schema in the prompt", model)
                mode, refused = structured.PROMPT, 1
                contents = self.build_contents(request, schema_in_prompt=True)
                config = self.build_config(request, schema_in_prompt=True)
                attempted = call_with_retries(
                    self.name,
                    lambda: self._generate(client, model, contents, config),
                    self.retry_policy,
                )
        outcome = self._outcome(attempted.value, model, attempted.attempts + refused)
        return replace(outcome, structured_mode=mode)

    def _generate(self, client, model: str, contents, config):
        """One attempt; SDK and transport exceptions become ProviderError."""
        from google.auth import exceptions as auth_exceptions
        from google.genai import errors

        try:
            return client.models.generate_content(model=model, contents=contents, config=config)
        except errors.APIError as exc:
            raise error_for_status(
                int(exc.code or 500),
                self._redact(exc.message or str(exc)),
                retry_after=_retry_after(exc),
            ) from None
        except auth_exceptions.GoogleAuthError as exc:
            raise ProviderError(
                PROVIDER_AUTH_FAILED,
                f"Google credentials: {self._redact(str(exc))}",
                retryable=False,
            ) from None
        except Exception as exc:
            transport = _transport_error_code(exc)
            if transport is None:
                raise
            raise ProviderError(
                transport,
                f"calling Gemini: {type(exc).__name__}: {self._redact(str(exc))}",
                retryable=True,
            ) from None

    def _redact(self, text: str) -> str:
        return redact(text, self.config.api_key)[:MAX_ERROR_MESSAGE_CHARS]

    def _outcome(self, response: Any, model: str, attempts: int) -> CallOutcome:
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            raise ProviderError(
                PROVIDER_CONTENT_FILTERED,
                f"Gemini blocked the prompt ({feedback.block_reason})",
                retryable=False,
            )
        text = response.text or ""
        if not text.strip():
            candidates = response.candidates or []
            reason = str(candidates[0].finish_reason) if candidates else "no candidates"
            code = PROVIDER_CONTENT_FILTERED if "SAFETY" in reason else PROVIDER_BAD_RESPONSE
            raise ProviderError(
                code,
                f"Gemini returned no text ({reason})",
                retryable=code == PROVIDER_BAD_RESPONSE,
            )
        usage = response.usage_metadata
        raw_usage = usage.model_dump(mode="json", exclude_none=True, by_alias=True) if usage else {}
        input_tokens = usage.prompt_token_count if usage else None
        output_tokens = None
        if usage and usage.candidates_token_count is not None:
            # Thinking tokens are billed as output.
            output_tokens = usage.candidates_token_count + (usage.thoughts_token_count or 0)
        model_used = response.model_version or model
        cost = _table_cost(model_used, model, input_tokens, output_tokens, _audio_tokens(usage))
        return CallOutcome(
            text=text.strip(),
            model_used=model_used,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            raw_usage=raw_usage,
            cost_source="price_table" if cost is not None else None,
            attempts=attempts,
        )


def _table_cost(
    model_used: str,
    model: str,
    input_tokens: int | None,
    output_tokens: int | None,
    audio_tokens: int | None,
) -> Decimal | None:
    for name in dict.fromkeys((model_used, model)):
        cost = pricing.cost_for(
            "gemini", name, input_tokens, output_tokens, audio_input_tokens=audio_tokens
        )
        if cost is not None:
            return cost
    return None


def _audio_tokens(usage: Any) -> int | None:
    details = getattr(usage, "prompt_tokens_details", None) or []
    counts = [
        d.token_count or 0 for d in details if str(getattr(d, "modality", "")).endswith("AUDIO")
    ]
    return sum(counts) if counts else None


def _retry_after(exc: Any) -> float | None:
    """Retry-After header, else the RetryInfo ``retryDelay`` Gemini puts in error details."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        seconds = parse_retry_after(headers.get("retry-after"))
        if seconds is not None:
            return seconds
    details = exc.details if isinstance(exc.details, dict) else {}
    error = details.get("error", details)
    for item in error.get("details", []) if isinstance(error, dict) else []:
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        match = _RETRY_DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


def _transport_error_code(exc: Exception) -> str | None:
    """Map the SDK's HTTP library errors (httpx or its fork httpx2) onto our codes."""
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        if isinstance(exc, module.ConnectTimeout):
            return PROVIDER_CONNECTION_ERROR
        if isinstance(exc, module.TimeoutException):
            return PROVIDER_TIMEOUT
        if isinstance(exc, module.TransportError):
            return PROVIDER_CONNECTION_ERROR
    return None


def config_from_settings() -> GeminiConfig:
    return GeminiConfig(
        api_key=settings.GEMINI_API_KEY,
        default_model=settings.GEMINI_MODEL,
        use_vertex=settings.GEMINI_USE_VERTEX,
        project=settings.GOOGLE_CLOUD_PROJECT,
        location=settings.GOOGLE_CLOUD_LOCATION,
        base_url=settings.GEMINI_BASE_URL,
        max_output_tokens=settings.PROVIDER_MAX_OUTPUT_TOKENS,
        timeout=settings.PROVIDER_TIMEOUT,
        max_text_chars=settings.PROVIDER_MAX_TEXT_CHARS,
    )
