"""A history line (``GET /api/media/history``): the serializer the schema shows,
and ``history_items``, which builds the same bytes from plain rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from analysis.api.serializers import ID_PLACEHOLDER, link_templates, links_for
from analysis.models import AnalysisRequest


class HistoryItemSerializer(serializers.ModelSerializer):
    """One line of the history: enough to list and pick; details come from status."""

    prompt_preview = serializers.SerializerMethodField()
    error_code = serializers.CharField(allow_null=True)
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisRequest
        fields = [
            "id",
            "status",
            "media_type",
            "provider",
            "model_used",
            "original_filename",
            "prompt_preview",
            "retry_count",
            "created_at",
            "completed_at",
            "latency_ms",
            "error_code",
            "status_url",
        ]

    def get_prompt_preview(self, request: AnalysisRequest) -> str:
        return request.prompt[:200]

    def get_status_url(self, request: AnalysisRequest) -> str:
        return links_for(request.id)["status"]


# The columns a history line is built from (``history_items``): the serializer's
# fields, with ``prompt`` for the preview and no column for the status URL (``id``
# gives it).
_DERIVED = {"prompt_preview": "prompt", "status_url": None}
HISTORY_COLUMNS = tuple(
    _DERIVED.get(name, name)
    for name in HistoryItemSerializer.Meta.fields
    if _DERIVED.get(name, name) is not None
)


def history_items(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``HistoryItemSerializer(many=True).data`` for ``.values(*HISTORY_COLUMNS)``
    rows, byte for byte once rendered (tests/api/test_history_items.py), at a
    fraction of the cost: an uncached history page of 100 lines spent most of its
    Python time building model instances and walking DRF's fields (issue 12). The
    serializer stays, as the schema's description of a line."""
    zone = timezone.get_current_timezone()  # DRF's DateTimeField: the current zone
    status_template = dict(link_templates())["status"]
    items = []
    for row in rows:
        request_id = str(row["id"])
        retry_count, latency_ms = row["retry_count"], row["latency_ms"]
        items.append(
            {
                "id": request_id,
                "status": _text(row["status"]),
                "media_type": _text(row["media_type"]),
                "provider": _text(row["provider"]),
                "model_used": _text(row["model_used"]),
                "original_filename": _text(row["original_filename"]),
                "prompt_preview": row["prompt"][:200],
                "retry_count": None if retry_count is None else int(retry_count),
                "created_at": _instant(row["created_at"], zone),
                "completed_at": _instant(row["completed_at"], zone),
                "latency_ms": None if latency_ms is None else int(latency_ms),
                "error_code": _text(row["error_code"]),
                "status_url": status_template.replace(ID_PLACEHOLDER, request_id),
            }
        )
    return items


def _text(value: Any) -> str | None:
    # DRF's CharField and ChoiceField: None stays None, anything else is its text.
    return None if value is None else str(value)


def _instant(value: datetime | None, zone: tzinfo) -> str | None:
    # DRF's DateTimeField with the default ISO 8601 format: in the current time
    # zone, "Z" for UTC.
    if not value:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
