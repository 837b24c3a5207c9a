"""The frames of a video request in the status response: each frame's number,
its position in the source and where to fetch it. Read from the facts stored with
the completed request (``metadata["facts"]["frames"]``), so listing them costs no
query; the picture itself is the ``media_files`` row the pipeline wrote under
``frames/`` (see ``MediaViewSet.frame``)."""

from __future__ import annotations

import functools
from typing import Any

from django.urls import reverse
from rest_framework import serializers

from analysis.models import AnalysisRequest

_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
_PLACEHOLDER_INDEX = 987654321


class FrameSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="1 for the first frame, in time order.")
    timestamp_seconds = serializers.FloatField(help_text="Position in the source video.")
    scene = serializers.IntegerField(
        allow_null=True, help_text="The scene it shows (1 the first), when chosen by scene."
    )
    url = serializers.CharField(help_text="GET it for the JPEG.")


@functools.cache
def _frame_template() -> str:
    # Reversed once: status answers are built often, the route never changes.
    return reverse("media-frame", kwargs={"id": _PLACEHOLDER_ID, "index": _PLACEHOLDER_INDEX})


def frame_path(request_id: Any, index: int) -> str:
    return (
        _frame_template()
        .replace(_PLACEHOLDER_ID, str(request_id))
        .replace(str(_PLACEHOLDER_INDEX), str(int(index)))
    )


def frames_of(request: AnalysisRequest) -> list[dict[str, Any]]:
    """The completed request's frames; empty for other states and other media."""
    if request.status != "completed":
        return []
    facts = (request.metadata or {}).get("facts") or {}
    listed = facts.get("frames") if isinstance(facts, dict) else None
    if not isinstance(listed, list):
        return []
    frames = []
    for position, frame in enumerate(listed, start=1):
        if not isinstance(frame, dict):
            continue
        # Facts stored before frames carried their index are numbered by position,
        # which is how the pipeline named their files.
        index = frame.get("index") or position
        frames.append(
            {
                "index": index,
                "timestamp_seconds": frame.get("time_s"),
                "scene": frame.get("scene"),
                "url": frame_path(request.id, index),
            }
        )
    return frames
