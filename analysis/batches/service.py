"""Batches: all items checked before any is created, created in one transaction,
and settled once, when the last item reaches an ending.

An item is an ordinary analysis request (``analysis.services``); the batch adds
only the grouping. ``settle_after_change`` runs in the transaction of every item's
status change (``analysis.transitions.move`` sends ``request_state_changing``): it
locks the batch row, so two items ending at the same moment are serialised and the
second one sees the first one's ending; the one that finds no item still running
stamps ``completed_at`` and creates the ``batch.completed`` deliveries. A retried
item reopens nothing: the batch completes once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from analysis import services
from analysis.batches.models import AnalysisBatch
from analysis.costs.budgets import check_submit_budget
from analysis.models import AnalysisRequest, AnalysisStatus
from analysis.webhooks.registry import validate_callback_url
from media_analysis.errors import InvalidRequest, RequestNotFound, ServiceError
from storage_app.disk import ensure_space_for_write

logger = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 100
# An item in one of these will not change again by itself: the batch is done when
# every item is in one (a deleted item counts: its owner gave up on it).
SETTLED = frozenset(
    {
        AnalysisStatus.COMPLETED,
        AnalysisStatus.FAILED,
        AnalysisStatus.CANCELLED,
        AnalysisStatus.DELETED,
    }
)


@dataclass(frozen=True)
class ItemProblem:
    """Why one item of a batch was refused (``index`` counts from 0)."""

    index: int
    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class BatchInvalid(InvalidRequest):
    """At least one item was refused; nothing was created."""

    def __init__(self, problems: Sequence[ItemProblem], item_count: int):
        bad = len({problem.index for problem in problems})
        super().__init__(
            "batch_invalid",
            f"{bad} of {item_count} items are invalid; nothing was created.",
            field="items",
        )
        self.problems = list(problems)

    def details(self) -> dict[str, Any]:
        return {"items": [problem.as_dict() for problem in self.problems]}


def check_item_count(count: int) -> None:
    if not 1 <= count <= MAX_BATCH_ITEMS:
        raise InvalidRequest(
            "invalid_items",
            f"A batch has 1 to {MAX_BATCH_ITEMS} items; this one has {count}.",
            field="items",
        )


def prepare_item(index: int, body: dict[str, Any]) -> services.PreparedUrlSubmission:
    """One item's checks, as a single submission has them; raises ``ItemRefused``."""
    try:
        return services.prepare_url_submission(
            media_url=body.get("media_url"),
            prompt=body.get("prompt"),
            provider=body.get("provider"),
            model=body.get("model"),
            media_type=body.get("media_type"),
            options=body.get("options"),
            callback_url=body.get("callback_url"),
        )
    except ServiceError as exc:
        raise ItemRefused(ItemProblem(index, exc.code, exc.message, exc.field)) from None


class ItemRefused(Exception):
    def __init__(self, problem: ItemProblem):
        super().__init__(problem.message)
        self.problem = problem


def submit_batch(
    items: Sequence[services.PreparedUrlSubmission],
    *,
    owner=None,
    callback_url: Any = None,
    correlation_id: uuid.UUID | None = None,
) -> AnalysisBatch:
    """The batch and every item, in one transaction (all or nothing); each item is
    queued after the commit like a single submission."""
    check_item_count(len(items))
    callback = validate_callback_url(callback_url)
    check_submit_budget(owner)  # 429 budget_exceeded, as a single submission
    ensure_space_for_write()
    with transaction.atomic():
        batch = AnalysisBatch.objects.create(
            owner=owner,
            item_count=len(items),
            callback_url=callback,
            correlation_id=correlation_id,
        )
        created = [
            services.create_url_request(
                item, owner=owner, correlation_id=correlation_id, batch=batch
            )
            for item in items
        ]
        batch.item_ids = [request.id for request in created]
        batch.save(update_fields=["item_ids"])
    logger.info("batch submitted", extra={"batch_id": str(batch.id), "items": len(created)})
    return batch


# ------------------------------------------------------------------ progress
@dataclass(frozen=True)
class BatchItem:
    id: uuid.UUID
    status: str
    error_code: str | None


@dataclass(frozen=True)
class BatchProgress:
    batch: AnalysisBatch
    counts: dict[str, int]  # every status, zeros included
    items: list[BatchItem]  # in submission order

    @property
    def done(self) -> bool:
        return sum(self.counts[status] for status in SETTLED) >= self.batch.item_count


def progress_of(batch: AnalysisBatch) -> BatchProgress:
    rows = AnalysisRequest.objects.filter(batch_id=batch.id).values_list(
        "id", "status", "error_code"
    )
    found = {row[0]: BatchItem(*row) for row in rows}
    items = [found[item_id] for item_id in batch.item_ids if item_id in found]
    counts = dict.fromkeys(AnalysisStatus.values, 0)
    for item in items:
        counts[item.status] += 1
    return BatchProgress(batch=batch, counts=counts, items=items)


def visible_batch(batch_id: uuid.UUID, user) -> AnalysisBatch:
    """The batch, when ``user`` submitted it (staff: any)."""
    queryset = AnalysisBatch.objects.all()
    if not user.is_staff:
        queryset = queryset.filter(owner_id=user.pk)
    batch = queryset.filter(pk=batch_id).first()
    if batch is None:
        raise RequestNotFound("not_found", "No such batch.")
    return batch


# ---------------------------------------------------------------- settling
def settle_after_change(request: AnalysisRequest, state: str) -> AnalysisBatch | None:
    """In an item's status change: the batch, stamped completed, when this change
    ended its last running item (else None)."""
    if request.batch_id is None or state not in SETTLED:
        return None
    batch = (
        AnalysisBatch.objects.select_for_update()
        .filter(pk=request.batch_id, completed_at__isnull=True)
        .first()
    )
    if batch is None:
        return None  # completed before (an item retried and ended again)
    running = (
        AnalysisRequest.objects.filter(batch_id=batch.id)
        .exclude(status__in=SETTLED)
        .aggregate(n=Count("id"))["n"]
    )
    if running:
        return None
    batch.completed_at = timezone.now()
    batch.save(update_fields=["completed_at"])
    logger.info("batch completed", extra={"batch_id": str(batch.id)})
    return batch
