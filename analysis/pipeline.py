"""One analysis, from a pending request to a recorded result.

claim -> ingest (download or the stored upload) -> process -> store frames and the
contact sheet -> the optional steps (speech to text, a video's sound-track
loudness) -> answer from an earlier request asking the same question
(``analysis/reuse.py``), or ask the provider (with a response schema: validated,
repaired once, see ``analysis/providers/structured.py``) -> record the result and
write outputs/.
Each stage is timed into the request's metadata.

Safe to run twice for the same request (a redelivered message after a worker was
killed, ``acks_late``): a PostgreSQL advisory lock lets one run at a time, every
file goes to a path fixed by the request id and its creation date (rewritten
atomically, rows upserted), and the result is recorded only while the request is
still ``processing``, under a row lock. A request that is completed, failed,
cancelled or deleted is left alone.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from analysis import outbox, progress, recovery, reuse, search_document, transitions
from analysis.cache import invalidate_request
from analysis.costs.guard import RunBudget, release_reservation
from analysis.ingest.download import open_download
from analysis.ingest.store import Submission, source_folder, store_incoming_media
from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus, MediaType
from analysis.options import UPLOAD_URL_SCHEME, AnalysisOptions
from analysis.processing import process_media
from analysis.processing.detect import detect_media
from analysis.providers import get_provider, structured
from analysis.providers.base import AudioInput, ImageInput, ProviderError, ProviderRequest
from analysis.sound_track import SoundTrackOutcome, loudness_metadata, measure_video_loudness
from analysis.transcription.service import (
    TranscriptionOutcome,
    transcribe_media,
    transcript_files,
    transcript_metadata,
    transcription_fields,
)
from audit.recording import audited_update
from media_analysis.errors import ServiceError
from storage_app import objects
from storage_app.layout import (
    CONTACT_SHEET_NAME,
    RESULT_NAME,
    SUMMARY_NAME,
    Category,
    frame_name,
    make_folders,
    request_folder,
)
from storage_app.models import ContactSheet, MediaFile
from storage_app.records import discard_on_error, record_contact_sheet, record_media_file

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "internal_error"


class Cancelled(Exception):
    """The request was cancelled or deleted while we worked on it."""


@dataclass
class Run:
    """What one run knows about its request as it goes."""

    request: AnalysisRequest
    options: AnalysisOptions
    progress: progress.Tracker
    started: float = field(default_factory=time.monotonic)
    stages: dict[str, int] = field(default_factory=dict)
    heard: TranscriptionOutcome = field(default_factory=TranscriptionOutcome)  # speech
    loudness: SoundTrackOutcome | None = None  # a video's sound track

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.progress.enter(progress.FOR_PIPELINE_STAGE[name])
        began = time.monotonic()
        try:
            yield
        finally:
            self.stages[name] = int((time.monotonic() - began) * 1000)

    @property
    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def run_analysis(request_id: uuid.UUID | str) -> str:
    """Analyse one request; returns what happened ("completed", "failed",
    "cancelled", "busy" or "skipped") for the task's log line."""
    with recovery.run_lock(request_id) as acquired:
        if not acquired:
            return "busy"  # another worker is on it right now
        claimed = _claim(request_id)
        if claimed is None:
            return "skipped"
        request, tracker = claimed
        options = AnalysisOptions.parse(request.metadata.get("options"), stored=True)
        run = Run(request=request, options=options, progress=tracker)
        try:
            with recovery.Heartbeat(request.id):
                _analyse(run)
        except Cancelled:
            return "cancelled"
        except ServiceError as failure:
            # Every error media, downloads, storage and providers raise by design:
            # its code and message become the request's. Anything else is a bug.
            _fail(run, failure.code, failure.failure_message, failure.failure_metadata)
            return "failed"
        except Exception as exc:
            if _is_database_outage(exc):
                raise  # the task retries later; the request stays "processing"
            logger.exception("analysis crashed", extra={"analysis_id": str(request_id)})
            _fail(run, INTERNAL_ERROR, "The analysis failed unexpectedly; the error was logged.")
            return "failed"
        finally:
            shutil.rmtree(request_folder(Category.TEMP, request.id), ignore_errors=True)
            release_reservation(request.id)
        return "completed"


# ------------------------------------------------------------------- stages
def _analyse(run: Run) -> None:
    with run.stage("ingest"):
        media_path, media = _ingest(run)
    _check_still_wanted(run)

    work_dir = make_folders(request_folder(Category.TEMP, run.request.id))
    processing = run.options.processing()
    with run.stage("process"):
        outcome = process_media(
            media_path, media["media_type"], work_dir, processing, on_frame=run.progress.advance
        )
    with run.stage("store_derivatives"):
        _store_derivatives(run, outcome)
    _check_still_wanted(run)
    if outcome.media_type == MediaType.VIDEO and outcome.facts.audio is not None:
        # Its own step, not process_video's: see analysis/sound_track.py (issue 13).
        with run.stage("loudness"):
            run.loudness = measure_video_loudness(media_path, outcome.facts, processing)
            outcome.facts = run.loudness.facts
    with run.stage("transcribe"):  # speech to text when configured (issue 13)
        run.heard = transcribe_media(
            media_path, media["media_type"], work_dir, requested=run.options.transcribe
        )
    _check_still_wanted(run)

    with run.stage("provider"):
        result_fields = transcription_fields(run.heard, _answer(run, media, outcome, media_path))
    with run.stage("record"):
        _record(run, media, outcome, result_fields)


def _ingest(run: Run) -> tuple[Path, dict[str, Any]]:
    """The media on disk under uploads/, with its detected type and checksum."""
    request = run.request
    if request.media_url.startswith(UPLOAD_URL_SCHEME):
        row = (
            MediaFile.objects.filter(
                request_id=request.id, relative_path__startswith=f"{Category.UPLOADS}/"
            )
            .order_by("-uploaded_at")
            .first()
        )
        if row is None or row.deleted_at is not None:
            raise ServiceError(
                "media_missing", "The uploaded file is no longer stored (retention)."
            )
        path = _local_media(request.id, row.relative_path, row.storage_path)
        detected = detect_media(path)
        media = {"sha256": row.checksum, "size_bytes": row.size_bytes}
    else:
        with open_download(request.media_url) as remote:
            chunks = run.progress.counting(remote.chunks(), remote.declared_length)
            incoming = store_incoming_media(
                request.id, chunks, on_date=request.created_at, keep_local_copy=True
            )
        with incoming.discard_on_error(), transaction.atomic():
            incoming.record(
                Submission(
                    request_id=request.id,
                    created_at=request.created_at,
                    submitter_id=request.owner_id,
                    source_url=request.media_url,
                )
            )
        stored, detected, path = incoming.stored, incoming.detected, incoming.local_path
        media = {"sha256": stored.sha256, "size_bytes": stored.size_bytes}
    media.update(detected.as_facts())
    # A URL queued light by its hint or extension may turn out heavy (a ".jpg" that
    # is a video). It is finished here, not handed over to the heavy queue: the
    # download is done and paid for, a hand-over would need a second claim and
    # outbox entry, and a wrong guess costs one light slot for one run. The type
    # recorded now routes any retry or takeover right (analysis/queues.py).
    audited_update(AnalysisRequest.objects.filter(pk=request.id), media_type=detected.media_type)
    request.media_type = detected.media_type
    invalidate_request(request)
    if detected.media_type == MediaType.UNKNOWN:
        raise ServiceError(
            "unsupported_media",
            "The file is not a video, audio, image or document type this service can analyse.",
        )
    return path, media


def _local_media(request_id: uuid.UUID, relative_path: str, storage_path: str) -> Path:
    """The stored media as a file on this worker's disk (ffmpeg and the parsers read
    files): the file itself, or a copy from the object store in the run's own temp
    folder, which ``run_analysis`` removes."""
    try:
        return objects.local_path(relative_path, storage_path, work_dir=source_folder(request_id))
    except FileNotFoundError:
        raise ServiceError("media_missing", "The uploaded file is missing from storage.") from None


def _store_derivatives(run: Run, outcome: Any) -> None:
    """Frames under frames/, the contact sheet under contact-sheets/, each indexed."""
    request = run.request
    on_date = request.created_at
    for index, frame in enumerate(outcome.frames, start=1):
        stored = objects.store(
            frame,
            category=Category.FRAMES,
            request_id=request.id,
            name=frame_name(index),
            on_date=on_date,
        )
        with discard_on_error(stored), transaction.atomic():
            record_media_file(stored, mime_type="image/jpeg")
    sheet = outcome.contact_sheet
    if sheet is None:
        return
    stored = objects.store(
        sheet.path,
        category=Category.CONTACT_SHEETS,
        request_id=request.id,
        name=CONTACT_SHEET_NAME,
        on_date=on_date,
    )
    with discard_on_error(stored), transaction.atomic():
        # A rerun rewrote the same file: replace its row rather than add a second.
        ContactSheet.objects.filter(
            request_id=request.id, relative_path=stored.relative_path
        ).delete()
        record_contact_sheet(
            stored,
            frames_count=sheet.frames_count,
            grid_layout=sheet.grid_layout,
            resolution=sheet.resolution,
        )


def _answer(run: Run, media: dict[str, Any], outcome: Any, media_path: Path) -> dict[str, Any]:
    """The result's fields: copied from a completed request that asked the same
    question (``analysis/reuse.py``), or asked."""
    request = run.request
    provider = get_provider(request.provider)
    model = provider.resolve_model(request.metadata.get("requested_model"))
    schema = run.options.response_schema
    request.prompt_hash = reuse.question_key(
        media=media.get("sha256") or request.media_url,
        prompt=request.prompt,
        provider=provider.name,
        model=model,
        options=run.options,
        transcript=run.heard.transcript,
    )
    audited_update(AnalysisRequest.objects.filter(pk=request.id), prompt_hash=request.prompt_hash)

    if not run.options.force:
        earlier = reuse.earlier_answer(request)
        if earlier is not None:
            return reuse.reused_fields(earlier)
    provider_request = _provider_request(request, model, outcome, media, media_path, schema)
    provider_request = replace(provider_request, transcript=run.heard.transcript)
    # Every call checked against the budgets first (analysis/costs/guard.py).
    spent = run.heard.cost_usd or Decimal(0)
    ask = RunBudget(request.id, request.owner_id, run.options.max_cost_usd, spent).guard(
        provider, model
    )
    data, structured_note = None, {}
    try:
        if schema is None:
            result = ask(provider_request)
        else:
            answered = structured.answer(ask, provider_request)
            result, data = answered.result, answered.data
            structured_note = {
                "structured": {
                    "mode": result.structured_mode,
                    "repaired": answered.repaired,
                    "first_problem": answered.first_problem,
                }
            }
    except ProviderError as exc:
        exc.provider = provider.name  # the failed request names who failed it
        raise
    return {
        "result_text": result.text,
        "data": data,
        "model_used": result.model_used,
        "provider": result.provider,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms,
        "metadata": {
            "usage": result.raw_usage,
            "cost_source": result.cost_source,
            "attempts": result.attempts,
            **structured_note,
        },
    }


def _record(run: Run, media: dict[str, Any], outcome: Any, fields: dict[str, Any]) -> None:
    """Result row, outputs/ files and the completed state, all or nothing."""
    request = run.request
    summary = fields["result_text"]
    document = {
        "request_id": str(request.id),
        "prompt": request.prompt,
        "media": media,
        "facts": outcome.facts.as_dict(),
        **{k: _json_safe(v) for k, v in fields.items()},
        "stages_ms": run.stages,
        **transcript_metadata(run.heard),
        **loudness_metadata(run.loudness),
    }
    files = [
        (RESULT_NAME, json.dumps(document, indent=2, default=str), "application/json"),
        (SUMMARY_NAME, summary, "text/plain"),
        *transcript_files(run.heard),
    ]
    outputs = [
        objects.store(
            content.encode(),
            category=Category.OUTPUTS,
            request_id=request.id,
            name=name,
            on_date=request.created_at,
        )
        for name, content, _ in files
    ]
    mimes = [mime for _, _, mime in files]
    with discard_on_error(*outputs), transaction.atomic():
        locked = AnalysisRequest.objects.select_for_update().get(pk=request.id)
        if locked.status != AnalysisStatus.PROCESSING or locked.deleted_at is not None:
            raise Cancelled()
        AnalysisResult.objects.create(request=locked, prompt_used=request.prompt, **fields)
        for stored, mime in zip(outputs, mimes, strict=True):
            record_media_file(stored, mime_type=mime)
        transitions.move(
            locked,
            AnalysisStatus.COMPLETED,
            reason="recorded",
            latency_ms=run.elapsed_ms,
            model_used=fields["model_used"],
            metadata={
                **locked.metadata,
                "media": media,
                "facts": outcome.facts.as_dict(),
                "stages_ms": run.stages,
                **transcript_metadata(run.heard),
                **loudness_metadata(run.loudness),
            },
        )
        # The result, transcript and OCR text become searchable with the result.
        search_document.refresh(locked.id)


# ------------------------------------------------------------------ helpers
# Audio the OpenAI-style ``input_audio`` part accepts, sent whole when small enough;
# the provider drops it for models that take no audio.
AUDIO_INPUT_MIME_TYPES = {"audio/wav", "audio/x-wav", "audio/mpeg"}
AUDIO_INPUT_MAX_BYTES = 20 * 1024 * 1024


def _provider_request(
    request: AnalysisRequest,
    model: str,
    outcome: Any,
    media: dict[str, Any],
    media_path: Path,
    response_schema: dict[str, Any] | None,
) -> ProviderRequest:
    images = [
        ImageInput(data=Path(path).read_bytes(), mime_type=mime) for path, mime in outcome.images
    ]
    audio = None
    if (
        media.get("media_type") == MediaType.AUDIO
        and media.get("mime_type") in AUDIO_INPUT_MIME_TYPES
        and (media.get("size_bytes") or 0) <= AUDIO_INPUT_MAX_BYTES
    ):
        audio = AudioInput(data=media_path.read_bytes(), mime_type=media["mime_type"])
    return ProviderRequest(
        prompt=request.prompt,
        model=model,
        text=outcome.text,
        images=images,
        audio=audio,
        facts=outcome.facts,
        response_schema=response_schema,
    )


def _claim(request_id: uuid.UUID | str) -> tuple[AnalysisRequest, progress.Tracker] | None:
    """The request, now ``processing`` with a fresh heartbeat, and its run's
    progress (its first stage written in this transaction: a poll never sees the
    run without it); None when there is nothing to do. Runs under the run lock, so "processing" here means an earlier
    run died mid-way (a killed worker child's redelivered message): taken over and
    counted as a recovery."""
    with transaction.atomic():
        request = (
            AnalysisRequest.objects.select_for_update()
            .filter(pk=request_id, deleted_at__isnull=True)
            .first()
        )
        if request is None or request.status not in (
            AnalysisStatus.PENDING,
            AnalysisStatus.PROCESSING,
        ):
            outbox.claimed(request_id)
            return None
        reason = "claimed"
        if request.status == AnalysisStatus.PROCESSING:
            reason = "redelivered"
            recovery.count_recovery(request, reason=reason)
            if request.metadata["recoveries"] > settings.ANALYSIS_MAX_RECOVERIES:
                recovery.fail_worker_lost(request)
                return None
        transitions.move(
            request, AnalysisStatus.PROCESSING, reason=reason, metadata=request.metadata
        )
        # An upload is all there: nothing to download.
        uploaded = request.media_url.startswith(UPLOAD_URL_SCHEME)
        tracker = progress.Tracker.start(request, percent=100 if uploaded else None)
    return request, tracker


def _fail(run: Run, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
    with transaction.atomic():
        locked = AnalysisRequest.objects.select_for_update().filter(pk=run.request.id).first()
        if locked is None or locked.status != AnalysisStatus.PROCESSING:
            return  # cancelled or deleted meanwhile: that state stands
        transitions.move(
            locked,
            AnalysisStatus.FAILED,
            reason="failed",
            error_code=code[:50],
            error_message=message,
            latency_ms=run.elapsed_ms,
            metadata={**locked.metadata, **(extra or {}), "stages_ms": run.stages},
        )
    logger.info("analysis failed", extra={"analysis_id": str(run.request.id), "error_code": code})


def _check_still_wanted(run: Run) -> None:
    status = (
        AnalysisRequest.objects.filter(pk=run.request.id).values_list("status", flat=True).first()
    )
    if status != AnalysisStatus.PROCESSING:
        raise Cancelled()


def _is_database_outage(exc: Exception) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def _json_safe(value: Any) -> Any:
    return (
        str(value)
        if value is not None and not isinstance(value, str | int | float | dict | list | bool)
        else value
    )
