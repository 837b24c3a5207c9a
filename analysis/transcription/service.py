"""When speech is transcribed, the whole run for one file, WebVTT and the cost.

Whenever ``TRANSCRIPTION_BASE_URL`` is set, audio files and videos with a sound
track are transcribed. ``options.transcribe`` changes that: ``false`` skips it,
``true`` makes it required (refused on submit without an endpoint; a failure then
fails the request with ``transcription_failed``). Otherwise a failure is only
recorded (``note``) and the analysis goes on without a transcript.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from analysis.processing.errors import MediaProcessingError
from analysis.providers.base import ProviderError
from analysis.providers.pricing import quantize_cost
from analysis.providers.retry import RetryPolicy
from analysis.transcription.audio import prepare_audio
from analysis.transcription.client import TranscriptionClient, TranscriptionConfig
from analysis.transcription.stitch import stitch
from analysis.transcription.types import PreparedAudio, Transcript
from media_analysis.errors import ServiceError

logger = logging.getLogger(__name__)

TRANSCRIPTION_FAILED = "transcription_failed"
TRANSCRIBED_MEDIA_TYPES = frozenset({"audio", "video"})


class TranscriptionFailed(ServiceError):
    """A required transcription (``options.transcribe=true``) did not succeed."""

    http_status = 502

    def __init__(self, message: str, note: dict[str, Any]) -> None:
        super().__init__(TRANSCRIPTION_FAILED, message)
        self.note = note

    @property
    def failure_metadata(self) -> dict[str, Any]:
        return {"transcription": self.note}


@dataclass(frozen=True)
class TranscriptionOutcome:
    """What the pipeline records: the transcript (None when there is none), the
    ``note`` kept in metadata (None when transcription did not apply) and the cost
    (None when unknown or not applicable)."""

    transcript: Transcript | None = None
    note: dict[str, Any] | None = None
    cost_usd: Decimal | None = None


def transcribe_media(
    path: Path,
    media_type: str,
    work_dir: Path,
    *,
    requested: bool | None,
    config: TranscriptionConfig | None = None,
    retry_policy: RetryPolicy | None = None,
) -> TranscriptionOutcome:
    """Transcribe ``path`` when it applies; raises :class:`TranscriptionFailed`
    only when ``requested`` is True."""
    if media_type not in TRANSCRIBED_MEDIA_TYPES:
        return TranscriptionOutcome()
    if requested is False:
        return TranscriptionOutcome(note={"status": "skipped", "reason": "options.transcribe"})
    config = config or TranscriptionConfig.from_settings()
    if config is None:
        if requested:  # the setting went away between submit and now
            raise TranscriptionFailed(
                "transcription was asked for (options.transcribe) but "
                "TRANSCRIPTION_BASE_URL is not set",
                {"status": "failed", "code": "transcription_not_configured"},
            )
        return TranscriptionOutcome()
    try:
        prepared = prepare_audio(path, work_dir / "speech", config.max_upload_bytes)
        if prepared is None or not prepared.chunks:
            return TranscriptionOutcome(note={"status": "no_audio"})
        transcript = transcribe_prepared(prepared, config, retry_policy)
    except (ProviderError, MediaProcessingError) as exc:
        note = {"status": "failed", "code": exc.code, "message": str(exc.message)[:1000]}
        if requested:
            raise TranscriptionFailed(f"transcription failed: {exc.message}", note) from exc
        logger.warning("transcription failed; analysis continues without it (%s)", exc.code)
        return TranscriptionOutcome(note=note)
    billed = sum(chunk.duration_s for chunk in prepared.chunks)
    cost = audio_cost(billed, config.price_per_minute_usd)
    note = {
        "status": "completed",
        "model": transcript.model,
        "language": transcript.language,
        "segments": len(transcript.segments),
        "chunks": transcript.chunks,
        "attempts": transcript.attempts,
        "audio_seconds": transcript.duration_s,
        "billed_seconds": round(billed, 3),
        "cost_usd": str(cost) if cost is not None else None,
    }
    return TranscriptionOutcome(transcript=transcript, note=note, cost_usd=cost)


def transcribe_prepared(
    prepared: PreparedAudio, config: TranscriptionConfig, retry_policy: RetryPolicy | None = None
) -> Transcript:
    """Every chunk sent in order, the answers stitched in absolute time."""
    with TranscriptionClient(config, retry_policy) as client:
        parts = [(chunk, client.transcribe(chunk)) for chunk in prepared.chunks]
    segments, text, language = stitch(parts, prepared.overlap_s)
    return Transcript(
        text=text,
        language=language,
        segments=segments,
        duration_s=prepared.duration_s,
        model=config.model,
        chunks=len(parts),
        attempts=sum(heard.attempts for _, heard in parts),
    )


TRANSCRIPT_JSON_NAME = "transcript.json"
TRANSCRIPT_VTT_NAME = "transcript.vtt"


def transcript_files(heard: TranscriptionOutcome) -> list[tuple[str, str, str]]:
    """(name, content, MIME type) of the files written under outputs/."""
    if heard.transcript is None:
        return []
    document = json.dumps(heard.transcript.as_dict(), ensure_ascii=False, indent=2)
    return [
        (TRANSCRIPT_JSON_NAME, document, "application/json"),
        (TRANSCRIPT_VTT_NAME, as_vtt(heard.transcript), "text/vtt"),
    ]


def transcript_metadata(heard: TranscriptionOutcome) -> dict[str, Any]:
    """What the request's metadata and result.json keep: ``transcription`` (how it
    went) and ``transcript`` (text, language, segments) when there is one."""
    kept: dict[str, Any] = {}
    if heard.note is not None:
        kept["transcription"] = heard.note
    if heard.transcript is not None:
        kept["transcript"] = heard.transcript.as_dict()
    return kept


def transcription_fields(heard: TranscriptionOutcome, fields: dict[str, Any]) -> dict[str, Any]:
    """The result's fields with the transcription's cost added (a known provider
    cost only: unknown plus known stays unknown) and its note in the metadata."""
    if heard.note is None:
        return fields
    fields = {**fields, "metadata": {**(fields.get("metadata") or {}), "transcription": heard.note}}
    if heard.cost_usd is not None and fields.get("cost_usd") is not None:
        fields["cost_usd"] = quantize_cost(Decimal(str(fields["cost_usd"])) + heard.cost_usd)
    return fields


def audio_cost(seconds: float, price_per_minute_usd: float | None) -> Decimal | None:
    """The price of ``seconds`` of audio; None without a price (unknown, not 0)."""
    if price_per_minute_usd is None:
        return None
    return quantize_cost(Decimal(str(price_per_minute_usd)) * Decimal(str(seconds)) / 60)


def as_vtt(transcript: Transcript) -> str:
    """The transcript as WebVTT cues, one per segment."""
    cues = ["WEBVTT", ""]
    for number, segment in enumerate(transcript.segments, start=1):
        text = " ".join(segment.text.split())  # a blank line would end the cue
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace("-->", "->")
        cues += [str(number), f"{_vtt_time(segment.start)} --> {_vtt_time(segment.end)}", text, ""]
    return "\n".join(cues)


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"
