"""The OpenAI-compatible transcription endpoint: ``POST {base}/audio/transcriptions``
with a multipart form (``file``, ``model``, ``response_format=verbose_json``),
answered with ``text``, ``language`` and ``segments`` (``start``/``end`` seconds).

OpenAI, Groq, faster-whisper-server (speaches) and whisper.cpp's server all
speak it (docs/transcription.md). Calls go through the providers' retries
(429, 5xx and connection errors, ``Retry-After`` honoured) and a circuit breaker
named ``transcription``; errors are :class:`ProviderError` with the providers'
codes. The API key is sent as a Bearer token and redacted from every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from analysis.providers.base import (
    PROVIDER_BAD_RESPONSE,
    ProviderError,
    redact,
)
from analysis.providers.http import json_answer
from analysis.providers.retry import RetryPolicy, call_with_retries
from analysis.transcription.types import AudioChunk, ChunkTranscript, Segment

BREAKER_NAME = "transcription"
USER_AGENT = "media-analysis/0.1"
MAX_ERROR_MESSAGE_CHARS = 1000
MB = 1_000_000  # decimal megabytes, the smaller reading of an endpoint's "25 MB"


@dataclass(frozen=True)
class TranscriptionConfig:
    base_url: str
    api_key: str | None
    model: str
    max_upload_bytes: int
    price_per_minute_usd: float | None = None
    timeout: float = 120.0
    connect_timeout: float = 10.0

    @classmethod
    def from_settings(cls) -> TranscriptionConfig | None:
        """The configured endpoint, or None when ``TRANSCRIPTION_BASE_URL`` is unset."""
        base_url = (settings.TRANSCRIPTION_BASE_URL or "").strip()
        if not base_url:
            return None
        return cls(
            base_url=base_url,
            api_key=settings.TRANSCRIPTION_API_KEY or None,
            model=settings.TRANSCRIPTION_MODEL or "whisper-1",
            max_upload_bytes=int(settings.TRANSCRIPTION_MAX_UPLOAD_MB * MB),
            price_per_minute_usd=settings.TRANSCRIPTION_PRICE_PER_MINUTE_USD,
            timeout=settings.PROVIDER_TIMEOUT,
            connect_timeout=settings.PROVIDER_CONNECT_TIMEOUT,
        )

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/audio/transcriptions"


class TranscriptionClient:
    """One HTTP client for the chunks of one media file."""

    def __init__(self, config: TranscriptionConfig, retry_policy: RetryPolicy | None = None):
        self.config = config
        self.retry_policy = retry_policy
        headers = {"User-Agent": USER_AGENT}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.Client(
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            headers=headers,
        )

    def __enter__(self) -> TranscriptionClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def transcribe(self, chunk: AudioChunk) -> ChunkTranscript:
        """One chunk's speech, times relative to the chunk; ProviderError on failure."""
        data = chunk.path.read_bytes()
        attempted = call_with_retries(
            BREAKER_NAME, lambda: self._post(chunk.path.name, data), self.retry_policy
        )
        return _chunk_transcript(attempted.value, chunk.duration_s, attempted.attempts)

    def _post(self, filename: str, data: bytes) -> dict[str, Any]:
        form = {"model": self.config.model, "response_format": "verbose_json"}
        payload = json_answer(
            lambda: self._http.post(
                self.config.endpoint, data=form, files={"file": (filename, data, "audio/wav")}
            ),
            endpoint=self.config.endpoint,
            redact=self._redact,
            error_message=lambda response: self._redact(_error_message(response)),
            provider=BREAKER_NAME,
        )
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            raise ProviderError(
                PROVIDER_BAD_RESPONSE,
                "the answer is not a JSON object with a text",
                retryable=True,
                provider=BREAKER_NAME,
            )
        return payload

    def _redact(self, text: str) -> str:
        return redact(text, self.config.api_key)[:MAX_ERROR_MESSAGE_CHARS]


def _error_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    if isinstance(payload, dict) and isinstance(payload.get("detail"), str):
        return payload["detail"]
    return str(payload)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and value >= 0 else None


def _chunk_transcript(payload: dict[str, Any], duration_s: float, attempts: int) -> ChunkTranscript:
    """Segments from verbose_json; a server that sends only ``text`` gets one
    segment spanning the chunk, so the speech still has a time."""
    text = payload["text"].strip()
    segments: list[Segment] = []
    raw = payload.get("segments")
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            continue
        start, end = _seconds(item.get("start")), _seconds(item.get("end"))
        if start is None or end is None or not item["text"].strip():
            continue
        segments.append(Segment(start=start, end=max(end, start), text=item["text"].strip()))
    if not segments and text:
        segments.append(Segment(start=0.0, end=duration_s, text=text))
    language = payload.get("language")
    return ChunkTranscript(
        text=text,
        language=language if isinstance(language, str) and language else None,
        segments=tuple(sorted(segments, key=lambda s: (s.start, s.end))),
        attempts=attempts,
    )
