"""Providers that speak OpenAI's chat completions: OpenRouter, Novita, and ``openai``
(OpenAI itself or any compatible server: vLLM, Ollama, LM Studio).

Images travel as ``image_url`` parts holding ``data:`` URLs (base64), document
text as text parts inside untrusted blocks, audio as an ``input_audio`` part when
the model accepts audio (``PROVIDER_AUDIO_MODELS``). OpenRouter is asked to report
the call's cost (``"usage": {"include": true}``); other providers' costs come from
the price table.

A request with a response schema asks for JSON through ``response_format``
(``json_schema``, not strict: OpenAI's strict mode accepts only a subset of JSON
Schema, and the answer is validated here anyway). A model or server that refuses
it (HTTP 400 naming response_format) is asked again once with the schema as
instructions in the prompt.
"""

from __future__ import annotations

import base64
import fnmatch
import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings

from analysis.providers import pricing, structured
from analysis.providers.base import (
    PROVIDER_BAD_RESPONSE,
    PROVIDER_CONTENT_FILTERED,
    CallOutcome,
    Provider,
    ProviderError,
    ProviderRequest,
    error_for_status,
    redact,
)
from analysis.providers.http import json_answer
from analysis.providers.prompting import (
    SYSTEM_MESSAGE,
    AudioPart,
    ImagePart,
    TextPart,
    build_parts,
)
from analysis.providers.retry import RetryPolicy, call_with_retries

logger = logging.getLogger(__name__)

USER_AGENT = "media-analysis/0.1"
MAX_ERROR_MESSAGE_CHARS = 1000

# input_audio "format" for the audio MIME types OpenAI-compatible APIs understand.
AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/ogg": "ogg",
    "audio/aac": "aac",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aiff": "aiff",
    "audio/x-aiff": "aiff",
}


@dataclass(frozen=True)
class OpenAICompatibleConfig:
    name: str
    base_url: str
    api_key: str | None
    default_model: str | None
    requires_key: bool = True
    report_cost: bool = False  # ask for usage.cost (OpenRouter)
    token_limit_field: str = "max_tokens"  # noqa: S105 (a field name, not a secret)
    max_output_tokens: int = 1500
    timeout: float = 120.0
    connect_timeout: float = 10.0
    max_text_chars: int = 50_000
    audio_models: tuple[str, ...] = ()
    extra_headers: dict[str, str] = field(default_factory=dict)


class OpenAICompatibleProvider(Provider):
    def __init__(
        self, config: OpenAICompatibleConfig, *, retry_policy: RetryPolicy | None = None
    ) -> None:
        self.config = config
        self.name = config.name
        self.retry_policy = retry_policy
        prefix = config.name.upper()
        self.requirement = f"{prefix}_API_KEY"
        if config.name == "openai":
            self.requirement += " (or OPENAI_BASE_URL pointing at a local server)"

    @property
    def default_model(self) -> str | None:
        return self.config.default_model

    def is_configured(self) -> bool:
        return bool(self.config.base_url) and (
            bool(self.config.api_key) or not self.config.requires_key
        )

    def accepts_audio(self, model: str) -> bool:
        lowered = model.lower()
        return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in self.config.audio_models)

    # ------------------------------------------------------------------ request
    def build_body(
        self, request: ProviderRequest, model: str, *, schema_in_prompt: bool = False
    ) -> dict[str, Any]:
        """The JSON body of the chat completion request; a response schema goes as
        ``response_format`` unless ``schema_in_prompt`` (the model has no such mode)."""
        audio = request.audio
        include_audio = (
            audio is not None
            and self.accepts_audio(model)
            and audio.mime_type.lower() in AUDIO_FORMATS
        )
        content: list[dict[str, Any]] = []
        for part in build_parts(
            request,
            include_audio=include_audio,
            max_text_chars=self.config.max_text_chars,
            schema_in_prompt=schema_in_prompt,
        ):
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                encoded = base64.b64encode(part.image.data).decode("ascii")
                url = f"data:{part.image.mime_type};base64,{encoded}"
                content.append({"type": "image_url", "image_url": {"url": url}})
            elif isinstance(part, AudioPart):
                content.append(
                    {
                        "type": "input_audio",
                        "input_audio": {
                            "data": base64.b64encode(part.audio.data).decode("ascii"),
                            "format": AUDIO_FORMATS[part.audio.mime_type.lower()],
                        },
                    }
                )
        body: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM_MESSAGE},
                {"role": "user", "content": content},
            ],
            self.config.token_limit_field: self.config.max_output_tokens,
            "stream": False,
        }
        if self.config.report_cost:
            body["usage"] = {"include": True}
        schema = request.response_schema
        if schema is not None and not schema_in_prompt:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": structured.schema_name(schema),
                    "schema": dict(schema),
                    "strict": False,
                },
            }
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        headers.update(self.config.extra_headers)
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    @property
    def endpoint(self) -> str:
        return self.config.base_url.rstrip("/") + "/chat/completions"

    # ------------------------------------------------------------------ calling
    def _analyse(self, request: ProviderRequest, model: str) -> CallOutcome:
        timeout = httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout)
        mode = structured.NATIVE if request.response_schema is not None else None
        refused = 0
        with httpx.Client(timeout=timeout, headers=self._headers()) as client:
            body = self.build_body(request, model)
            try:
                attempted = call_with_retries(
                    self.name, lambda: self._post(client, body), self.retry_policy
                )
            except ProviderError as exc:
                if mode is None or not structured.refuses_structured_mode(
                    exc.upstream_status, exc.message
                ):
                    raise
                logger.info("%s %s refused response_format; schema in the prompt", self.name, model)
                mode, refused = structured.PROMPT, 1
                body = self.build_body(request, model, schema_in_prompt=True)
                attempted = call_with_retries(
                    self.name, lambda: self._post(client, body), self.retry_policy
                )
        outcome = self._outcome(attempted.value, model, attempted.attempts + refused)
        return replace(outcome, structured_mode=mode)

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
        """One HTTP attempt: the parsed JSON body of a 2xx answer, or ProviderError."""
        payload = json_answer(
            lambda: client.post(self.endpoint, json=body),
            endpoint=self.endpoint,
            redact=self._redact,
            error_message=self._error_message,
            provider=self.name,
        )
        if not isinstance(payload, dict):
            raise ProviderError(
                PROVIDER_BAD_RESPONSE, "the answer is not a JSON object", retryable=True
            )
        error = payload.get("error")
        if error and not payload.get("choices"):
            # OpenRouter can answer 200 with an error object (an upstream failure).
            status = error.get("code") if isinstance(error, dict) else None
            status = status if isinstance(status, int) and 400 <= status < 600 else 502
            raise error_for_status(status, self._redact(_message_of(error)), provider=self.name)
        return payload

    def _redact(self, text: str) -> str:
        return redact(text, self.config.api_key)[:MAX_ERROR_MESSAGE_CHARS]

    def _error_message(self, response: httpx.Response) -> str:
        try:
            payload = response.json()
        except ValueError:
            return self._redact(response.text.strip())
        if isinstance(payload, dict):
            return self._redact(_message_of(payload.get("error") or payload))
        return self._redact(str(payload))

    # ------------------------------------------------------------------ answer
    def _outcome(self, payload: dict[str, Any], model: str, attempts: int) -> CallOutcome:
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ProviderError(PROVIDER_BAD_RESPONSE, "the answer has no choices", retryable=True)
        choice = choices[0]
        message = choice.get("message") or {}
        text = _content_text(message.get("content") if isinstance(message, dict) else None)
        refusal = message.get("refusal") if isinstance(message, dict) else None
        if not text.strip() and isinstance(refusal, str) and refusal.strip():
            # Structured outputs: the model declined, in words, instead of JSON.
            raise ProviderError(
                PROVIDER_CONTENT_FILTERED,
                f"the model refused: {self._redact(refusal.strip())}",
                retryable=False,
            )
        if not text.strip():
            if choice.get("finish_reason") == "content_filter":
                raise ProviderError(
                    PROVIDER_CONTENT_FILTERED,
                    "the provider's content filter withheld the answer",
                    retryable=False,
                )
            raise ProviderError(
                PROVIDER_BAD_RESPONSE,
                f"the model returned no text (finish_reason={choice.get('finish_reason')!r})",
                retryable=True,
            )
        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
        input_tokens = token_count(usage.get("prompt_tokens"))
        output_tokens = token_count(usage.get("completion_tokens"))
        model_used = payload.get("model") if isinstance(payload.get("model"), str) else None
        cost, source = self._cost(usage, model_used or model, model, input_tokens, output_tokens)
        return CallOutcome(
            text=text.strip(),
            model_used=model_used or model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            raw_usage=usage,
            cost_source=source,
            attempts=attempts,
        )

    def _cost(
        self,
        usage: dict[str, Any],
        model_used: str,
        model: str,
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> tuple[Decimal | None, str | None]:
        reported = usage.get("cost")
        if isinstance(reported, int | float | str) and not isinstance(reported, bool):
            try:
                return pricing.quantize_cost(reported), "provider"
            except ArithmeticError:
                logger.warning("%s reported an unreadable cost %r", self.name, reported)
        details = usage.get("prompt_tokens_details")
        audio_tokens = (
            token_count(details.get("audio_tokens")) if isinstance(details, dict) else None
        )
        for name in dict.fromkeys((model_used, model)):
            cost = pricing.cost_for(
                self.name, name, input_tokens, output_tokens, audio_input_tokens=audio_tokens
            )
            if cost is not None:
                return cost, "price_table"
        return None, None


def token_count(value: Any) -> int | None:
    """A token count as a non-negative int, or None when absent or junk."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value >= 0 else None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some servers answer with a list of parts
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _message_of(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail") or error.get("error")
        if isinstance(message, str):
            return message
        return str(error)
    return str(error)


def config_from_settings(name: str) -> OpenAICompatibleConfig:
    """The configuration of ``openrouter``, ``novita`` or ``openai`` from settings."""
    prefix = name.upper()
    common = {
        "max_output_tokens": settings.PROVIDER_MAX_OUTPUT_TOKENS,
        "timeout": settings.PROVIDER_TIMEOUT,
        "connect_timeout": settings.PROVIDER_CONNECT_TIMEOUT,
        "max_text_chars": settings.PROVIDER_MAX_TEXT_CHARS,
        "audio_models": tuple(settings.PROVIDER_AUDIO_MODELS),
    }
    return OpenAICompatibleConfig(
        name=name,
        base_url=getattr(settings, f"{prefix}_BASE_URL"),
        api_key=getattr(settings, f"{prefix}_API_KEY"),
        default_model=getattr(settings, f"{prefix}_MODEL"),
        # A local OpenAI-compatible server (vLLM, Ollama) may need no key.
        requires_key=name != "openai" or "api.openai.com" in settings.OPENAI_BASE_URL,
        report_cost=name == "openrouter",
        token_limit_field=getattr(settings, f"{prefix}_TOKEN_LIMIT_FIELD", "max_tokens"),
        extra_headers={"X-Title": "media-analysis"} if name == "openrouter" else {},
        **common,
    )
