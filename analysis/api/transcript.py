"""The transcript of an audio or video request in the status response: text,
language and timed segments, read from the completed request's metadata
(``metadata["transcript"]``, written by the pipeline next to
``outputs/.../transcript.json``), so showing it costs no query."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from analysis.models import AnalysisRequest


class TranscriptSegmentSerializer(serializers.Serializer):
    start = serializers.FloatField(help_text="Seconds from the start of the media.")
    end = serializers.FloatField(help_text="Seconds from the start of the media.")
    text = serializers.CharField()


class TranscriptSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="Everything heard, segments joined.")
    language = serializers.CharField(allow_null=True, help_text="As the endpoint named it.")
    segments = TranscriptSegmentSerializer(many=True)


def transcript_of(request: AnalysisRequest) -> dict[str, Any] | None:
    """The completed request's transcript; None when nothing was transcribed."""
    if request.status != "completed":
        return None
    kept = (request.metadata or {}).get("transcript")
    if not isinstance(kept, dict):
        return None
    segments = kept.get("segments")
    return {
        "text": kept.get("text") or "",
        "language": kept.get("language"),
        "segments": segments if isinstance(segments, list) else [],
    }
