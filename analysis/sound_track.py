"""Loudness of a video's sound track (issue 13): peak, RMS and the share of
silence, measured as an audio file's are (``analysis.processing.audio``).

A step of its own that the worker pipeline runs after processing, not a part of
``process_video``: the contact-sheet path (``python -m analysis.processing``) is
timed against vcsi by ``benchmarks/contact_sheet_vs_vcsi.py`` and must stay well
ahead of it, and vcsi measures no loudness. Bounded by
``VIDEO_LOUDNESS_MAX_AUDIO_SECONDS`` of sound and ``VIDEO_LOUDNESS_SECONDS`` of
work. Optional like OCR and an unrequested transcription: a failure is logged as
a warning and kept in the note, and the analysis goes on without loudness.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.conf import settings

from analysis.processing.errors import MediaProcessingError
from analysis.processing.facts import LoudnessFacts, MediaFacts, VideoFacts
from analysis.processing.options import ProcessingOptions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoudnessBounds:
    """How much of a sound track is measured at most: seconds of sound, seconds of work."""

    max_audio_seconds: float
    seconds: float

    @classmethod
    def from_settings(cls) -> LoudnessBounds:
        return cls(
            max_audio_seconds=settings.VIDEO_LOUDNESS_MAX_AUDIO_SECONDS,
            seconds=settings.VIDEO_LOUDNESS_SECONDS,
        )


@dataclass(frozen=True)
class SoundTrackOutcome:
    """The facts (with ``loudness`` when measured) and the note kept in the
    request's metadata: None when the step did not apply (not a video, or a video
    without sound), else ``status`` "completed" or "failed" with its code."""

    facts: MediaFacts
    note: dict[str, Any] | None = None


def measure_video_loudness(
    path: Path,
    facts: MediaFacts,
    options: ProcessingOptions,
    bounds: LoudnessBounds | None = None,
) -> SoundTrackOutcome:
    """``facts`` with the sound track's loudness when ``facts`` is a video's that
    has one; never raises for the media's sake."""
    if not isinstance(facts, VideoFacts) or facts.audio is None:
        return SoundTrackOutcome(facts=facts)
    bounds = bounds or LoudnessBounds.from_settings()
    started = time.perf_counter()
    try:
        loudness = _measure(path, options, bounds)
    except MediaProcessingError as exc:
        return _failed(facts, exc.code, exc.message)
    except (OSError, ValueError, EOFError, LookupError, TypeError, ArithmeticError) as exc:
        # A library failed in a way the meter did not foresee: still optional.
        logger.warning("sound track loudness failed unexpectedly", exc_info=True)
        return _failed(facts, "loudness_failed", f"{type(exc).__name__}: {exc}")
    if loudness is None:  # the probe saw a stream the demuxer could not give
        return SoundTrackOutcome(facts=facts)
    took = round((time.perf_counter() - started) * 1000, 1)
    timings = {**facts.timings_ms, "loudness_ms": took}
    note: dict[str, Any] = {"status": "completed", "ms": took}
    if loudness.measured_s is not None:
        note["measured_s"] = loudness.measured_s
    return SoundTrackOutcome(facts=replace(facts, loudness=loudness, timings_ms=timings), note=note)


def loudness_metadata(outcome: SoundTrackOutcome | None) -> dict[str, Any]:
    """What the request's metadata and result.json keep about the step."""
    if outcome is None or outcome.note is None:
        return {}
    return {"sound_track_loudness": outcome.note}


def _measure(
    path: Path, options: ProcessingOptions, bounds: LoudnessBounds
) -> LoudnessFacts | None:
    # Imported here, like processing's per-type modules (process.py): the audio
    # module loads NumPy and the waveform code when a video with sound first comes up.
    from analysis.processing.audio import measure_sound_track

    return measure_sound_track(
        path, options, max_audio_seconds=bounds.max_audio_seconds, seconds=bounds.seconds
    )


def _failed(facts: MediaFacts, code: str, message: str) -> SoundTrackOutcome:
    logger.warning("sound track loudness not measured; analysis continues (%s)", code)
    return SoundTrackOutcome(
        facts=facts, note={"status": "failed", "code": code, "message": str(message)[:1000]}
    )
