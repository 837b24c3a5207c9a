"""The one place that changes an analysis request's state.

The API, admin actions, Celery tasks and management commands all call these
functions, so validation, state rules and side effects (enqueueing the task
after commit) behave the same whichever door was used. Each change locks the
row (``select_for_update``) and saves it through the model, so concurrent
callers cannot both win and model signals (the audit trail) see every change.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from analysis import transitions
from analysis.costs.budgets import check_submit_budget
from analysis.ingest.errors import IngestError
from analysis.ingest.store import Submission, store_incoming_media
from analysis.ingest.url_guard import AddressPolicy, resolve_public_addresses, validate_url
from analysis.models import MAX_RETRY_COUNT, AnalysisRequest, AnalysisStatus, MediaType
from analysis.options import UPLOAD_URL_SCHEME, AnalysisOptions
from analysis.providers import PROVIDER_NAMES, ProviderError, resolve
from analysis.webhooks.registry import validate_callback_url
from media_analysis.context import current_request_id
from media_analysis.errors import InvalidRequest, RequestNotFound, StateConflict
from storage_app.disk import ensure_space_for_write

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ validation
def validate_prompt(prompt: Any) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("prompt_required", "A non-empty prompt is required.", field="prompt")
    if "\x00" in prompt:
        raise InvalidRequest(
            "prompt_invalid", "The prompt must not contain NUL characters.", field="prompt"
        )
    limit = settings.MEDIA_ANALYSIS_MAX_PROMPT_CHARS
    if len(prompt) > limit:
        raise InvalidRequest(
            "prompt_too_long",
            f"The prompt has {len(prompt)} characters; the limit is {limit}.",
            field="prompt",
        )
    return prompt.strip()


def validate_provider(provider: Any, model: Any) -> tuple[str, str | None]:
    """The provider's name and the requested model (None: the provider's default).

    The provider must exist and be configured now; a model, when named, must be a
    plausible name (whether the provider knows it is only learnt by asking)."""
    if provider is not None and not isinstance(provider, str):
        raise InvalidRequest("unknown_provider", "provider must be a name.", field="provider")
    if model not in (None, "") and (
        not isinstance(model, str) or len(model) > 100 or "\x00" in model
    ):
        raise InvalidRequest(
            "invalid_model", "model must be a name of at most 100 characters.", field="model"
        )
    try:
        name, _ = resolve(provider or None, model or None)
    except ProviderError as exc:
        if exc.code == "provider_unknown":
            raise InvalidRequest(
                "unknown_provider",
                f"Unknown provider {str(provider)[:50]!r}. Known: {', '.join(PROVIDER_NAMES)}.",
                field="provider",
            ) from None
        raise InvalidRequest(exc.code, exc.message, field="provider") from None
    return name, (model or None)


def validate_media_type_hint(media_type: Any) -> str | None:
    if media_type in (None, ""):
        return None
    if media_type not in MediaType.values:
        raise InvalidRequest(
            "invalid_media_type",
            f"media_type must be one of: {', '.join(MediaType.values)}.",
            field="media_type",
        )
    return media_type


def validate_media_url(media_url: Any) -> str:
    """Syntax, scheme and the address rule, checked before anything is stored; the
    download checks the address again (and on every redirect)."""
    if not isinstance(media_url, str) or not media_url.strip():
        raise InvalidRequest(
            "media_url_required", "media_url (or a file upload) is required.", field="media_url"
        )
    try:
        target = validate_url(media_url.strip())
        resolve_public_addresses(target.host, target.port, policy=AddressPolicy.from_settings())
    except IngestError as exc:
        raise InvalidRequest(str(exc.code), exc.message, field="media_url") from None
    return media_url.strip()


# --------------------------------------------------------------------- submit
@dataclass(frozen=True)
class PreparedUrlSubmission:
    """A URL submission that passed every check; nothing is stored yet."""

    media_url: str
    fields: dict[str, Any]  # prompt, provider and metadata, as the row takes them


def prepare_url_submission(
    *,
    media_url: Any,
    prompt: Any,
    provider: Any = None,
    model: Any = None,
    media_type: Any = None,
    options: dict[str, Any] | None = None,
    callback_url: Any = None,
) -> PreparedUrlSubmission:
    """Every check of a URL submission (raises ``InvalidRequest`` naming the field);
    a batch checks all its items this way before creating any."""
    fields = validated_fields(prompt, provider, model, media_type, options, callback_url)
    return PreparedUrlSubmission(media_url=validate_media_url(media_url), fields=fields)


def create_url_request(
    prepared: PreparedUrlSubmission,
    *,
    owner=None,
    correlation_id: uuid.UUID | None = None,
    batch=None,
) -> AnalysisRequest:
    """The request row for a checked submission, queued after the caller's commit;
    call inside a transaction."""
    request = AnalysisRequest.objects.create(
        media_url=prepared.media_url,
        owner=owner,
        correlation_id=correlation_id or uuid.uuid4(),
        batch=batch,
        **prepared.fields,
    )
    transitions.announce_created(request)
    return request


def submit_url_request(
    *,
    media_url: Any,
    prompt: Any,
    owner=None,
    provider: Any = None,
    model: Any = None,
    media_type: Any = None,
    options: dict[str, Any] | None = None,
    correlation_id: uuid.UUID | None = None,
    callback_url: Any = None,
) -> AnalysisRequest:
    """Record a request for media at a URL and queue its analysis. Refused (507)
    while the disk is too full for new media, whichever door it came by."""
    prepared = prepare_url_submission(
        media_url=media_url,
        prompt=prompt,
        provider=provider,
        model=model,
        media_type=media_type,
        options=options,
        callback_url=callback_url,
    )
    check_submit_budget(owner)  # 429 budget_exceeded (analysis/costs/budgets.py)
    ensure_space_for_write()
    with transaction.atomic():
        return create_url_request(prepared, owner=owner, correlation_id=correlation_id)


def submit_upload_request(
    *,
    chunks: Iterable[bytes],
    original_filename: str | None,
    prompt: Any,
    owner=None,
    provider: Any = None,
    model: Any = None,
    media_type: Any = None,
    options: dict[str, Any] | None = None,
    correlation_id: uuid.UUID | None = None,
    expected_bytes: int = 0,
    callback_url: Any = None,
) -> AnalysisRequest:
    """Store an uploaded file under uploads/ and record its request, in one
    transaction; a failure leaves neither the row nor the file."""
    fields = validated_fields(prompt, provider, model, media_type, options, callback_url)
    check_submit_budget(owner)
    request_id = uuid.uuid4()
    name = (original_filename or "")[:1000] or None
    stored = store_incoming_media(
        request_id, chunks, expected_bytes=expected_bytes, source="upload"
    )
    with stored.discard_on_error(), transaction.atomic():
        request = AnalysisRequest.objects.create(
            id=request_id,
            media_url=f"{UPLOAD_URL_SCHEME}{request_id}",
            original_filename=name,
            # Detected from the bytes just stored: known before the analysis is
            # queued, so it picks the queue (analysis/queues.py).
            media_type=stored.detected.media_type,
            owner=owner,
            correlation_id=correlation_id or uuid.uuid4(),
            **fields,
        )
        stored.record(
            Submission(
                request_id=request.id,
                created_at=request.created_at,
                submitter_id=getattr(owner, "pk", None),
                original_filename=name,
            )
        )
        transitions.announce_created(request)
    return request


def validated_fields(
    prompt, provider, model, media_type, options, callback_url=None
) -> dict[str, Any]:
    """A submission's fields checked by every rule (not the media's): the columns
    and metadata its request gets. Also what an estimate checks (analysis/costs/)."""
    prompt = validate_prompt(prompt)
    provider, model = validate_provider(provider, model)
    hint = validate_media_type_hint(media_type)
    parsed = AnalysisOptions.parse(options)
    metadata: dict[str, Any] = {"options": parsed.as_dict()}
    # Where the ending is announced (analysis/webhooks), by the media URL's address rule.
    callback = validate_callback_url(callback_url)
    if callback:
        metadata["callback_url"] = callback
    # The HTTP exchange that submitted it: the worker's log lines carry it too.
    http_request_id = current_request_id()
    if http_request_id:
        metadata["http_request_id"] = http_request_id
    if model:
        metadata["requested_model"] = model
    if hint:
        metadata["media_type_hint"] = hint
    return {"prompt": prompt, "provider": provider, "metadata": metadata}


# -------------------------------------------------------------- state changes
def _locked(request_id: uuid.UUID | str, *, include_deleted: bool = False) -> AnalysisRequest:
    try:
        request_id = uuid.UUID(str(request_id))
    except ValueError:
        raise RequestNotFound("not_found", "No such analysis request.") from None
    queryset = AnalysisRequest.objects.select_for_update()
    if not include_deleted:
        queryset = queryset.filter(deleted_at__isnull=True)
    try:
        return queryset.get(pk=request_id)
    except (AnalysisRequest.DoesNotExist, ValueError):
        raise RequestNotFound("not_found", "No such analysis request.") from None


def retry_request(request_id: uuid.UUID | str) -> AnalysisRequest:
    """A failed or cancelled request goes back to pending, at most 10 times."""
    with transaction.atomic():
        request = _locked(request_id)
        if request.status not in (AnalysisStatus.FAILED, AnalysisStatus.CANCELLED):
            raise StateConflict(
                "not_retryable",
                f"Only failed or cancelled requests can be retried; this one is {request.status}.",
            )
        if (request.retry_count or 0) >= MAX_RETRY_COUNT:
            raise StateConflict(
                "retry_limit_reached", f"This request was already retried {MAX_RETRY_COUNT} times."
            )
        check_submit_budget(request.owner)
        transitions.move(
            request,
            AnalysisStatus.PENDING,
            reason="retry",
            retry_count=(request.retry_count or 0) + 1,
        )
    return request


def cancel_request(request_id: uuid.UUID | str) -> AnalysisRequest:
    """A pending or processing request becomes cancelled; a running task notices
    at its next stage and stops without recording a result."""
    with transaction.atomic():
        request = _locked(request_id)
        if request.status not in (AnalysisStatus.PENDING, AnalysisStatus.PROCESSING):
            raise StateConflict(
                "not_cancellable",
                f"Only pending or processing requests can be cancelled; this one is {request.status}.",
            )
        transitions.move(request, AnalysisStatus.CANCELLED, reason="cancelled")
    return request


def soft_delete_request(request_id: uuid.UUID | str) -> AnalysisRequest:
    """Hide a request: status ``deleted`` and ``deleted_at`` set; the row, its
    results and files stay (retention cleans files on its own schedule)."""
    with transaction.atomic():
        request = _locked(request_id)
        metadata = {**(request.metadata or {}), "status_before_delete": request.status}
        transitions.move(request, AnalysisStatus.DELETED, reason="deleted", metadata=metadata)
    return request


def restore_request(request_id: uuid.UUID | str) -> AnalysisRequest:
    """Undo a soft delete: the status it had before comes back (a request deleted
    mid-processing comes back as failed, since its task stopped)."""
    with transaction.atomic():
        request = _locked(request_id, include_deleted=True)
        if request.deleted_at is None:
            raise StateConflict("not_deleted", "This request is not deleted.")
        metadata = dict(request.metadata or {})
        previous = metadata.pop("status_before_delete", AnalysisStatus.FAILED)
        changes: dict[str, Any] = {"metadata": metadata}
        if previous in (AnalysisStatus.PENDING, AnalysisStatus.PROCESSING):
            previous = AnalysisStatus.FAILED  # its task stopped when it was deleted
            changes["error_code"] = "deleted_while_running"
            changes["error_message"] = "The request was deleted before its analysis finished."
        transitions.move(request, previous, reason="restored", **changes)
    return request
