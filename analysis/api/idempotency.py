"""``Idempotency-Key``: a repeated submission returns the request the first one made.

The key row is inserted in the same transaction as the request it names, so they
commit together or not at all; two concurrent submissions with one key meet on the
unique index, and the second waits for the first and then gets its request. The
same key with different fields is refused (422), as a client bug. Keys are
remembered for ``API_IDEMPOTENCY_KEY_HOURS``; after that the key may be used again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analysis.api.exceptions import ApiError
from analysis.batches.models import AnalysisBatch
from analysis.models import AnalysisRequest
from analysis.models_api import IdempotencyKey

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
HEADER_SCHEMA = {"type": "string", "pattern": "^[!-~]{1,255}$", "minLength": 1, "maxLength": 255}


def parse_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _VALID_KEY.match(value):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces.",
            field=HEADER,
        )
    return value


def fingerprint(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_once(
    *, owner, key: str | None, fields_fingerprint: str, submit: Callable[[], AnalysisRequest]
) -> tuple[AnalysisRequest, bool]:
    """``(request, replayed)``: the request ``submit()`` made, or the one an earlier
    submission with ``key`` made."""
    return _once(owner, key, fields_fingerprint, submit, names="request")


def submit_batch_once(
    *, owner, key: str | None, fields_fingerprint: str, submit: Callable[[], AnalysisBatch]
) -> tuple[AnalysisBatch, bool]:
    """``(batch, replayed)``, as ``submit_once`` for a batch submission."""
    return _once(owner, key, fields_fingerprint, submit, names="batch")


def _once(owner, key, fields_fingerprint, submit, *, names: str):
    if key is None:
        return submit(), False
    model = AnalysisBatch if names == "batch" else AnalysisRequest
    with transaction.atomic():
        row, created = IdempotencyKey.objects.select_for_update().get_or_create(
            owner=owner, key=key, defaults={"fingerprint": fields_fingerprint}
        )
        if not created:
            expired = row.created_at < timezone.now() - timedelta(
                hours=settings.API_IDEMPOTENCY_KEY_HOURS
            )
            named = getattr(row, f"{names}_id")
            used = row.request_id is not None or row.batch_id is not None
            if not expired and used:
                if row.fingerprint != fields_fingerprint or named is None:
                    raise ApiError(
                        422,
                        "idempotency_key_reused",
                        "This Idempotency-Key was used with different fields.",
                        field=HEADER,
                    )
                return model.objects.get(pk=named), True
            row.fingerprint = fields_fingerprint
            row.created_at = timezone.now()
            row.request = row.batch = None
        made = submit()
        setattr(row, names, made)
        row.save()
        return made, False
