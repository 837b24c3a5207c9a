"""Analysis requests and their results: the plan's ``media_analysis_requests`` and
``media_analysis_results`` tables, column for column (see docs/reference/plan_schema.sql).

Columns the plan leaves nullable stay nullable, and every plan default exists in
the database too, so a row written by plain SQL from another service looks like
one written here.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from analysis import media_types
from media_analysis.db_fields import (
    FixedCharField,
    PgEnumField,
    created_at_field,
    metadata_field,
    uuid_primary_key,
)


class AnalysisStatus(models.TextChoices):
    """Values of the PostgreSQL ENUM ``media_analysis_status``."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DELETED = "deleted"


class MediaType(models.TextChoices):
    """Values of the PostgreSQL ENUM ``media_type_enum`` (analysis/media_types.py)."""

    VIDEO = media_types.VIDEO
    AUDIO = media_types.AUDIO
    DOCUMENT = media_types.DOCUMENT
    IMAGE = media_types.IMAGE
    UNKNOWN = media_types.UNKNOWN


MAX_RETRY_COUNT = 10  # also enforced by the chk_retry_count constraint

# A request's status changes only through analysis.transitions.move, which opens
# this for the one save it makes. Anything else that writes ``status`` on an
# existing row (a save, QuerySet.update, bulk_update) raises: no door can skip the
# transition table, the cache invalidation or the state-change signal. Tests that
# need a row in a given state create it in that state, or open this themselves.
_status_writes = contextvars.ContextVar("analysis_status_writes", default=False)


@contextmanager
def status_writes_allowed() -> Iterator[None]:
    token = _status_writes.set(True)
    try:
        yield
    finally:
        _status_writes.reset(token)


class StatusWriteRefused(RuntimeError):
    """``status`` written outside ``analysis.transitions.move``."""


def _refuse_status_write() -> None:
    if not _status_writes.get():
        raise StatusWriteRefused(
            "An analysis request's status changes only through analysis.transitions.move."
        )


class AnalysisRequestQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if "status" in kwargs:
            _refuse_status_write()
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        if "status" in fields:
            _refuse_status_write()
        return super().bulk_update(objs, fields, *args, **kwargs)


# The history's orderings (analysis/api/filters.py), each read in index order so a
# page costs the same at a million requests as at ten: per owner, and staff-wide.
# The primary key is last, as the history's tie-break (same direction): a deep
# page is skipped over in the index alone (an index-only scan), and ties need no
# sort.
HISTORY_ORDERINGS = {
    "created_at": "created_id",  # the default, newest first: read backwards
    "completed_at": "completed",
    "latency_ms": "latency",
    "status": "status_id",
    "retry_count": "retries",
}


def _history_indexes() -> list[models.Index]:
    visible = Q(deleted_at__isnull=True)
    indexes = []
    for field, short in HISTORY_ORDERINGS.items():
        indexes.append(
            models.Index(
                fields=["owner", field, "id"], name=f"idx_requests_owner_{short}", condition=visible
            )
        )
        indexes.append(
            models.Index(fields=[field, "id"], name=f"idx_requests_{short}", condition=visible)
        )
    # The media type filter, newest first: a search walking the owner's history
    # (analysis/api/filters.py, plan_search) then reads only rows of that type, not
    # every row of a date window (issue 12: 6-10 ms of a filtered search at a
    # million requests, 3-6 ms with this index).
    indexes.append(
        models.Index(
            fields=["owner", "media_type", "created_at", "id"],
            name="idx_requests_owner_media",
            condition=visible,
        )
    )
    # The search is a case-insensitive substring (icontains: UPPER(col) LIKE
    # UPPER('%text%')); trigram indexes on the same expressions find rare words
    # without reading every row.
    for field, short in (("prompt", "prompt"), ("original_filename", "filename")):
        indexes.append(
            GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=f"idx_requests_{short}_trgm")
        )
    return indexes
    # Not here: the full-text search's ``search_vector`` column and its GIN index
    # (idx_requests_search_vector), which no model field describes; see
    # analysis/search_document.py and migration 0011_history_fulltext.


class AnalysisRequest(models.Model):
    id = uuid_primary_key()
    correlation_id = models.UUIDField(
        null=True,
        blank=True,
        default=uuid.uuid4,
        db_default=RandomUUID(),
        help_text="Traces one request across services and logs.",
    )
    media_url = models.TextField()
    original_filename = models.TextField(null=True, blank=True)
    prompt = models.TextField()
    media_type = PgEnumField(
        enum_type="media_type_enum",
        choices=MediaType.choices,
        default=MediaType.UNKNOWN,
        db_default=MediaType.UNKNOWN.value,
    )
    status = PgEnumField(
        enum_type="media_analysis_status",
        choices=AnalysisStatus.choices,
        default=AnalysisStatus.PENDING,
        db_default=AnalysisStatus.PENDING.value,
    )
    model_used = models.CharField(max_length=100, null=True, blank=True)
    prompt_hash = FixedCharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="SHA-256 of media identity, prompt, provider and model.",
    )
    latency_ms = models.IntegerField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    error_code = models.CharField(max_length=50, null=True, blank=True)
    retry_count = models.IntegerField(null=True, default=0, db_default=0)
    metadata = metadata_field()
    created_at = created_at_field()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    # Beyond the plan: who asked, and which provider was asked for.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="analysis_requests",
    )
    provider = models.CharField(max_length=50, null=True, blank=True)
    # Renewed every few seconds by the run that is analysing the request; a stale
    # one (and a free advisory lock) means its worker died. See analysis/recovery.py.
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Beyond the plan (issue 14): the batch it was submitted in, if any.
    batch = models.ForeignKey(
        "analysis.AnalysisBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="items",
        db_index=False,  # the partial index below: most requests have no batch
    )

    objects = AnalysisRequestQuerySet.as_manager()

    class Meta:
        db_table = "media_analysis_requests"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status"], name="idx_requests_status"),
            # Beyond the plan: the provider filter (the history's indexes are below).
            models.Index(fields=["provider"], name="idx_requests_provider"),
            models.Index(fields=["-created_at"], name="idx_requests_created"),
            models.Index(fields=["correlation_id"], name="idx_requests_correlation"),
            models.Index(fields=["prompt_hash"], name="idx_requests_prompt_hash"),
            models.Index(
                fields=["deleted_at"],
                name="idx_requests_deleted",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["batch"], name="idx_requests_batch", condition=Q(batch__isnull=False)
            ),
            *_history_indexes(),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(retry_count__gte=0) & Q(retry_count__lte=MAX_RETRY_COUNT),
                name="chk_retry_count",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        writes_status = update_fields is None or "status" in update_fields
        if not self._state.adding and writes_status:
            current = self.status  # may load a deferred status, which sets _saved_status
            if getattr(self, "_saved_status", None) != current:
                _refuse_status_write()
        super().save(*args, **kwargs)
        self._saved_status = self.status

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._saved_status = instance.__dict__.get("status")
        return instance

    def refresh_from_db(self, using=None, fields=None, **kwargs) -> None:
        super().refresh_from_db(using=using, fields=fields, **kwargs)
        if fields is None or "status" in fields:
            self._saved_status = self.__dict__.get("status")


class AnalysisResult(models.Model):
    id = uuid_primary_key()
    # The foreign key constraint (ON DELETE CASCADE, as the plan has it) is created
    # by SQL in the migration: Django 5.2 cannot express database-level ON DELETE.
    request = models.ForeignKey(
        AnalysisRequest,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="results",
    )
    result_text = models.TextField()
    model_used = models.CharField(max_length=100)
    prompt_used = models.TextField(null=True, blank=True)
    provider = models.CharField(max_length=50, null=True, blank=True)
    input_tokens = models.IntegerField(null=True, blank=True)
    output_tokens = models.IntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    latency_ms = models.IntegerField(null=True, blank=True)
    confidence_score = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    metadata = metadata_field()
    created_at = created_at_field()
    # Beyond the plan (issue 13): the answer as JSON matching the request's
    # options.response_schema, validated; null for a free-text answer.
    data = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "media_analysis_results"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["request"], name="idx_results_request"),
            models.Index(fields=["model_used"], name="idx_results_model"),
            # Beyond the plan: the admin's results list is ordered by it.
            models.Index(fields=["-created_at"], name="idx_results_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(input_tokens__gte=0) & Q(output_tokens__gte=0), name="chk_tokens"
            ),
        ]

    def __str__(self) -> str:
        return f"result {self.id} of {self.request_id}"


class OutboxEntry(models.Model):
    """A pending request's analysis task, from the transaction that made the request
    pending until a run claims it (see ``analysis/outbox.py``).

    ``sent_at`` is empty until the message reached the broker; an entry still unsent
    (the broker was down, the process died before publishing), or sent long ago and
    never claimed (the broker lost it), is sent again by ``analysis.outbox.flush``.
    """

    # The foreign key (ON DELETE CASCADE) is created by SQL in the migration.
    request = models.OneToOneField(
        AnalysisRequest,
        primary_key=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="outbox_entry",
    )
    created_at = created_at_field()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0, db_default=0)
    last_error = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "media_analysis_outbox"

    def __str__(self) -> str:
        return f"outbox {self.request_id}"


# API tokens and idempotency keys live in their own module; imported here so Django
# registers them with the app.
from analysis.batches.models import AnalysisBatch  # noqa: E402, F401
from analysis.costs.models import CostReservation, UserBudget  # noqa: E402, F401
from analysis.models_api import ApiToken, IdempotencyKey  # noqa: E402, F401
from analysis.webhooks.models import (  # noqa: E402, F401
    CallbackSecret,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
