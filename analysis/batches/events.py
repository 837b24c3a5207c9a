"""An item's status change, heard in its transaction: the batch settles, and its
``batch.completed`` deliveries are written with the change (see
``analysis.batches.service.settle_after_change``)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from analysis.batches.service import settle_after_change
from analysis.models import AnalysisRequest
from analysis.webhooks.events import create_batch_deliveries

logger = logging.getLogger(__name__)


def on_state_changing(
    sender: Any, request: AnalysisRequest, previous: str | None, state: str, **kwargs: Any
) -> None:
    if request.batch_id is None:
        return
    try:
        # A savepoint: a fault here must not undo the item's own ending (its
        # result matters more than the batch's notice); it is logged instead.
        with transaction.atomic():
            batch = settle_after_change(request, state)
            if batch is not None:
                create_batch_deliveries(batch)
    except Exception as exc:
        logger.error(
            "batch not settled: %s",
            type(exc).__name__,
            extra={"analysis_id": str(request.id), "batch_id": str(request.batch_id)},
            exc_info=True,
        )
