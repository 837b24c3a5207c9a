"""The batch endpoints' bodies: what is sent, and the progress answer (also the
body of ``batch.completed``)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from analysis.api.serializers import (
    CALLBACK_HELP,
    AnalyzeSerializer,
    MediaUrlField,
    status_path,
)
from analysis.batches.models import AnalysisBatch
from analysis.batches.service import MAX_BATCH_ITEMS, BatchProgress, progress_of
from analysis.models import AnalysisStatus


class BatchSubmitSerializer(serializers.Serializer):
    """``items`` are analyze bodies (media by URL); each is checked on its own by
    the view, so one answer lists every bad item."""

    items = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        help_text=f"1 to {MAX_BATCH_ITEMS} analyze bodies (JSON; media by URL).",
    )
    callback_url = MediaUrlField(
        required=False,
        allow_null=True,
        max_length=8192,
        help_text="http(s) URL told once when every item has ended: a signed POST "
        "(Standard Webhooks) of the batch's progress JSON. Public addresses only.",
    )


class BatchSubmitDocsSerializer(BatchSubmitSerializer):
    """The same body, with the items' own schema for the documentation."""

    items = serializers.ListField(
        child=AnalyzeSerializer(), min_length=1, max_length=MAX_BATCH_ITEMS
    )


def batch_path(batch_id: Any) -> str:
    return reverse("media-batch", kwargs={"id": str(batch_id)})


class BatchItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=AnalysisStatus.choices)
    error_code = serializers.CharField(allow_null=True)
    status_url = serializers.CharField()


class BatchAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    item_count = serializers.IntegerField()
    item_ids = serializers.ListField(child=serializers.UUIDField())
    created_at = serializers.DateTimeField()
    status_url = serializers.CharField()
    callback_secret = serializers.CharField(required=False, help_text=CALLBACK_HELP)

    @classmethod
    def of(cls, batch: AnalysisBatch) -> dict[str, Any]:
        return cls(
            {
                "id": batch.id,
                "item_count": batch.item_count,
                "item_ids": batch.item_ids,
                "created_at": batch.created_at,
                "status_url": batch_path(batch.id),
            }
        ).data


class BatchSerializer(serializers.Serializer):
    """A batch's progress: ``running`` until every item has ended, then
    ``completed`` (whatever each item's outcome: see ``counts``)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["running", "completed"])
    item_count = serializers.IntegerField()
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Items per status, every status listed."
    )
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    items = BatchItemSerializer(many=True)

    @classmethod
    def of(cls, progress: BatchProgress) -> dict[str, Any]:
        batch = progress.batch
        return cls(
            {
                "id": batch.id,
                "status": "completed" if progress.done else "running",
                "item_count": batch.item_count,
                "counts": progress.counts,
                "created_at": batch.created_at,
                "completed_at": batch.completed_at,
                "items": [
                    {
                        "id": item.id,
                        "status": item.status,
                        "error_code": item.error_code,
                        "status_url": status_path(item.id),
                    }
                    for item in progress.items
                ],
            }
        ).data


def batch_body(batch: AnalysisBatch) -> bytes:
    """The bytes ``GET /api/media/batch/{id}`` answers for the batch now."""
    return JSONRenderer().render(BatchSerializer.of(progress_of(batch)))
