"""A batch of analysis requests submitted in one call.

Each item is an ordinary ``AnalysisRequest`` pointing at its batch; the batch
itself only records who submitted it, where ``batch.completed`` goes and when its
last item ended (``completed_at``, set once: see ``analysis.batches.service``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from media_analysis.db_fields import created_at_field, metadata_field


class AnalysisBatch(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="analysis_batches",
    )
    item_count = models.IntegerField()
    # The items' request ids in the order they were submitted (one transaction
    # gives them all the same created_at, so that cannot order them).
    item_ids = ArrayField(models.UUIDField(), default=list)
    # Where batch.completed is announced besides the owner's endpoints (public
    # addresses only, the media URL rule); signed with the owner's callback secret.
    callback_url = models.TextField(null=True, blank=True)
    correlation_id = models.UUIDField(null=True, blank=True)
    created_at = created_at_field()
    # When the last item reached an ending; set once (batch.completed fires then).
    completed_at = models.DateTimeField(null=True, blank=True)
    metadata = metadata_field()

    class Meta:
        db_table = "media_analysis_batches"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="idx_batches_owner")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(item_count__gte=1), name="chk_batch_item_count"
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.item_count} items)"
