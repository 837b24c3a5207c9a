"""Reusing an earlier answer: a request that asks the same question about the same
content as a completed one gets that answer again, at no cost (unless
``options.force``).

"The same question" is decided in one place, ``question_key``: every input that
changes what the provider is given or asked takes part, so a request with more
frames, OCR switched on, a transcript, another schema, provider or model is never
answered with a reply made without them. The key is stored in the request's
``prompt_hash`` column (indexed) and compared there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import Any

from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus
from analysis.options import AnalysisOptions
from analysis.sound_track import LoudnessBounds
from analysis.transcription.types import Transcript

# Bumped when the same options come to give a provider something new (a fact, a
# step: 2 added the options, the transcript and video loudness), so answers made
# before are not handed out for questions they were not asked.
QUESTION_VERSION = 2


def question_key(
    *,
    media: str,
    prompt: str,
    provider: str,
    model: str,
    options: AnalysisOptions,
    transcript: Transcript | None,
) -> str:
    """SHA-256 over what makes two requests the same question. Two requests with
    the same key give the provider the same inputs and the same instructions, so
    the earlier answer is the answer; anything that may change the answer belongs
    here. A miss costs one provider call; a wrong hit returns a wrong answer."""
    question = {
        "version": QUESTION_VERSION,
        # The content (its SHA-256, or the URL before it is known) and what is asked.
        "media": media,
        "prompt": prompt,
        "provider": provider,
        "model": model,
        # What the caller chose: frames, grid, resolution, ocr, transcribe,
        # response_schema. ``force`` only says "do not reuse", and ``max_cost_usd``
        # how much may be spent (analysis/costs/), not what to ask.
        "options": {
            k: v for k, v in options.as_dict().items() if k not in ("force", "max_cost_usd")
        },
        # What those options became with the service's settings (OCR on or off and
        # its caps, silence threshold, scene scan budget...): pictures and facts.
        "processing": _processing_knobs(options),
        "loudness_bounds": _as_plain(LoudnessBounds.from_settings()),
        # The words the provider is given: none when no endpoint is configured or
        # it failed, which an answer made with a transcript must not stand in for.
        "transcript": _transcript_digest(transcript),
    }
    payload = json.dumps(question, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def earlier_answer(request: AnalysisRequest) -> AnalysisResult | None:
    """The newest result of another completed, undeleted request with the same key."""
    return (
        AnalysisResult.objects.filter(
            request__prompt_hash=request.prompt_hash,
            request__status=AnalysisStatus.COMPLETED,
            request__deleted_at__isnull=True,
        )
        .exclude(request_id=request.id)
        .order_by("-created_at")
        .first()
    )


def reused_fields(earlier: AnalysisResult) -> dict[str, Any]:
    """The result's fields copied from ``earlier``: nothing was spent on them."""
    return {
        "result_text": earlier.result_text,
        "data": earlier.data,
        "model_used": earlier.model_used,
        "provider": earlier.provider,
        "input_tokens": earlier.input_tokens,
        "output_tokens": earlier.output_tokens,
        "cost_usd": 0,
        "latency_ms": 0,
        "metadata": {"answered_from": str(earlier.request_id), "source_result": str(earlier.id)},
    }


def _processing_knobs(options: AnalysisOptions) -> dict[str, Any]:
    return _as_plain(options.processing())


def _as_plain(piece: Any) -> dict[str, Any]:
    """A dataclass's constructor fields (derived ones left out: they follow)."""
    return {spec.name: getattr(piece, spec.name) for spec in fields(piece) if spec.init}


def _transcript_digest(transcript: Transcript | None) -> str | None:
    if transcript is None:
        return None
    # What prompts and reports show: the words, their times, the language and the
    # model that heard them; not how many HTTP attempts it took.
    heard = {**transcript.as_dict(), "model": transcript.model}
    text = json.dumps(heard, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
