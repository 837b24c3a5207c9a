"""The ``progress`` of a request in the status response: its stage and, where
known, a percent (``analysis/progress.py`` keeps them; Redis is read for a
processing request only, when its status body is rendered)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from analysis.models import AnalysisRequest
from analysis.progress import Stage, shown_for


class ProgressSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=[stage.value for stage in Stage],
        help_text="In this order: queued (pending), then the run's stages. Never goes "
        "back within a run; a retry or a run taken over starts again.",
    )
    percent = serializers.IntegerField(
        allow_null=True,
        min_value=0,
        max_value=100,
        help_text="Of the stage, where known: downloading (the bytes of a declared "
        "Content-Length; an upload: 100), processing (a video's frames); otherwise null.",
    )
    updated_at = serializers.DateTimeField(
        allow_null=True, help_text="When the run last reported; null while queued."
    )


PROGRESS_HELP = (
    "How far a pending or processing request has come; null once it has ended, and "
    "for a processing one whose progress is not known (its store, Redis, unreachable)."
)


def progress_of(request: AnalysisRequest) -> dict[str, Any] | None:
    shown = shown_for(request)
    return None if shown is None else ProgressSerializer(shown.as_dict()).data
