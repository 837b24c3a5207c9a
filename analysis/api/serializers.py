"""What the API accepts and answers. Input serializers check shapes and types only;
the rules (prompt length, known providers, the URL guard, options) live in
``analysis.services`` so every door applies the same ones."""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analysis.api.frames import FrameSerializer, frames_of
from analysis.api.ocr import OcrSerializer, ocr_of
from analysis.api.progress import PROGRESS_HELP, ProgressSerializer, progress_of
from analysis.api.schema_fields import (
    PROMPT_SCHEMA,
    PROVIDER_SCHEMA,
    RESOLUTION_PATTERN,
    UPLOAD_SCHEMA,
    URL_PATTERN,
)
from analysis.api.transcript import TranscriptSerializer, transcript_of
from analysis.models import AnalysisRequest, AnalysisResult, MediaType

UNICODE_PROBLEM = "must be valid text without NUL characters"


class SafeCharField(serializers.CharField):
    """Text PostgreSQL can store: no NUL, no lone surrogates (they cannot be encoded)."""

    default_error_messages = {"invalid_text": f"This field {UNICODE_PROBLEM}."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):  # no silent 12 -> "12": the schema says string
            self.fail("invalid")
        value = super().to_internal_value(data)
        if "\x00" in value:
            self.fail("invalid_text")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("invalid_text")
        return value


@extend_schema_field(PROMPT_SCHEMA)
class RequiredTextField(SafeCharField):
    """Blank is refused by the service (with its own code); the schema says so."""


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 8192, "pattern": URL_PATTERN})
class MediaUrlField(SafeCharField):
    """An http(s) URL; everything else about it is checked by the URL guard."""


@extend_schema_field(UPLOAD_SCHEMA)
class UploadField(serializers.FileField):
    """The media file of an upload: not empty."""


@extend_schema_field(PROVIDER_SCHEMA)
class ProviderField(SafeCharField):
    """A provider's name; whether it is configured is checked by the service."""


class OptionsSerializer(serializers.Serializer):
    """Schema of ``options`` (documentation only: unknown keys are refused by the service)."""

    frames = serializers.IntegerField(required=False, min_value=1, max_value=100)
    grid = serializers.RegexField(r"^([1-9]|10)x([1-9]|10)$", required=False)
    resolution = serializers.RegexField(RESOLUTION_PATTERN, required=False)
    force = serializers.BooleanField(required=False)
    ocr = serializers.BooleanField(
        required=False,
        help_text=(
            "Text in pictures: unset reads the image and text-less PDF pages, true "
            "reads the chosen video frames too, false reads nothing."
        ),
    )
    response_schema = serializers.DictField(
        required=False,
        help_text=(
            "A JSON Schema (Draft 2020-12 unless $schema names another draft), at most "
            "16 KB as compact JSON, references inside itself only. The answer is JSON "
            "matching it, returned as result.data; a model's answer that does not match "
            "is repaired once, then the request fails with schema_mismatch."
        ),
    )
    transcribe = serializers.BooleanField(
        required=False,
        help_text=(
            "Speech to text for audio and video. Unset: transcribed whenever the service "
            "has a transcription endpoint, a failure only recorded. true: required (400 "
            "without TRANSCRIPTION_BASE_URL; a failure fails the request with "
            "transcription_failed). false: skipped."
        ),
    )
    max_cost_usd = serializers.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=6,
        min_value=Decimal("0.000001"),
        max_value=Decimal("100000"),
        coerce_to_string=False,
        help_text=(
            "The most this request may spend, in USD (provider calls and speech to text). "
            "A provider call that could take it past this is not made: the request fails "
            "with budget_exceeded."
        ),
    )


@extend_schema_field(OptionsSerializer)
class OptionsField(serializers.DictField):
    """A JSON object passed to the service as is, so unknown keys are refused there."""


@extend_schema_field(OptionsSerializer)
class OptionsTextField(SafeCharField):
    """``options`` in a multipart form: the object's JSON text, which is how OpenAPI
    sends an object in a form part (application/json), so the schema gives the object."""


PROMPT_HELP = (
    "What to ask about the media. Required, not blank, at most "
    "MEDIA_ANALYSIS_MAX_PROMPT_CHARS characters (10000 by default)."
)
CALLBACK_HELP = (
    "http(s) URL told when the request completes, fails or is cancelled: a signed POST "
    "(Standard Webhooks) of its status JSON. Public addresses only (the media URL rule)."
)
PROVIDER_HELP = "A configured provider (builtin, openrouter, novita, openai, gemini); the default one when omitted."


class AnalyzeSerializer(serializers.Serializer):
    """A JSON submission: media by URL."""

    media_url = MediaUrlField(
        max_length=8192,
        trim_whitespace=False,
        help_text="http(s) URL of the media; public addresses only.",
    )
    prompt = RequiredTextField(trim_whitespace=False, help_text=PROMPT_HELP)
    provider = ProviderField(
        required=False, allow_null=True, allow_blank=True, max_length=50, help_text=PROVIDER_HELP
    )
    model = SafeCharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    media_type = serializers.ChoiceField(choices=MediaType.choices, required=False)
    options = OptionsField(required=False, allow_null=True)
    callback_url = MediaUrlField(
        required=False, allow_null=True, max_length=8192, help_text=CALLBACK_HELP
    )


class AnalyzeUploadSerializer(serializers.Serializer):
    """A multipart submission: the media as ``file``; ``options`` as a JSON text."""

    file = UploadField(allow_empty_file=False, use_url=False)
    prompt = RequiredTextField(trim_whitespace=False, help_text=PROMPT_HELP)
    provider = ProviderField(
        required=False, allow_blank=True, max_length=50, help_text=PROVIDER_HELP
    )
    model = SafeCharField(required=False, allow_blank=True, max_length=100)
    media_type = serializers.ChoiceField(choices=MediaType.choices, required=False)
    callback_url = MediaUrlField(required=False, max_length=8192, help_text=CALLBACK_HELP)
    options = OptionsTextField(
        required=False,
        allow_blank=True,
        # Room for a 16 KB response schema, pretty-printed; its own limit is checked
        # by the service with a code of its own (response_schema_too_large).
        max_length=64_000,
        help_text='A JSON object, e.g. {"grid": "3x3"}.',
    )

    def validate_options(self, value: str) -> dict[str, Any] | None:
        if not value:
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            raise serializers.ValidationError("options must be a JSON object.") from None
        if not isinstance(parsed, dict):
            raise serializers.ValidationError("options must be a JSON object.")
        return parsed


# --------------------------------------------------------------------- output
class LinksSerializer(serializers.Serializer):
    status = serializers.CharField()
    contact_sheet = serializers.CharField()
    retry = serializers.CharField()
    cancel = serializers.CharField()
    delete = serializers.CharField()


_LINK_ROUTES = {
    "status": "media-status",
    "contact_sheet": "media-contact-sheet",
    "retry": "media-retry",
    "cancel": "media-cancel",
    "delete": "media-delete",
}
ID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@functools.cache
def link_templates() -> tuple[tuple[str, str], ...]:
    # Reversed once (a history page links 100 requests): each URL with a
    # placeholder id, filled in per request.
    return tuple(
        (name, reverse(route, kwargs={"id": ID_PLACEHOLDER}))
        for name, route in _LINK_ROUTES.items()
    )


def links_for(request_id: Any) -> dict[str, str]:
    """The paths of what a caller can do with a request, from the URL configuration."""
    request_id = str(request_id)
    return {name: path.replace(ID_PLACEHOLDER, request_id) for name, path in link_templates()}


def status_path(request_id: Any) -> str:
    return links_for(request_id)["status"]


class AcceptedSerializer(serializers.Serializer):
    """The answer to a submission or a retry (202)."""

    id = serializers.UUIDField()
    correlation_id = serializers.UUIDField(allow_null=True)
    status = serializers.CharField()
    retry_count = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    links = LinksSerializer()
    callback_secret = serializers.CharField(
        required=False,
        help_text=(
            "Only in the answer to your first submission with a callback_url: the "
            "secret (whsec_...) its deliveries are signed with. Shown once; "
            "POST /api/webhooks/callback-secret replaces it."
        ),
    )

    @classmethod
    def of(cls, request: AnalysisRequest) -> dict[str, Any]:
        return cls(
            {
                "id": request.id,
                "correlation_id": request.correlation_id,
                "status": request.status,
                "retry_count": request.retry_count,
                "created_at": request.created_at,
                "links": links_for(request.id),
            }
        ).data


class ErrorInfoSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


@extend_schema_field({"nullable": True, "description": "Any JSON value."})
class AnyJSONField(serializers.JSONField):
    """JSON as stored (object, array, string, number, boolean or null)."""


class ResultSerializer(serializers.ModelSerializer):
    text = serializers.CharField(source="result_text")
    data = AnyJSONField(
        allow_null=True,
        help_text="The answer as JSON matching options.response_schema; null without one.",
    )
    tokens = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisResult
        fields = [
            "text",
            "data",
            "model_used",
            "provider",
            "input_tokens",
            "output_tokens",
            "tokens",
            "cost_usd",
            "latency_ms",
            "created_at",
        ]

    def get_tokens(self, result: AnalysisResult) -> int | None:
        if result.input_tokens is None and result.output_tokens is None:
            return None
        return (result.input_tokens or 0) + (result.output_tokens or 0)


class ContactSheetSerializer(serializers.Serializer):
    frames_count = serializers.IntegerField()
    grid_layout = serializers.CharField(allow_null=True)
    resolution = serializers.CharField(allow_null=True)
    file_size_bytes = serializers.IntegerField(allow_null=True)
    url = serializers.CharField()


class StatusSerializer(serializers.ModelSerializer):
    """One request: state, timings, error and, once completed, result and contact sheet."""

    progress = serializers.SerializerMethodField()
    model = serializers.SerializerMethodField()
    options = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()
    contact_sheet = serializers.SerializerMethodField()
    frames = serializers.SerializerMethodField()
    ocr = serializers.SerializerMethodField()
    transcript = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisRequest
        fields = [
            "id",
            "correlation_id",
            "status",
            "progress",
            "media_type",
            "media_url",
            "original_filename",
            "prompt",
            "provider",
            "model",
            "model_used",
            "options",
            "retry_count",
            "created_at",
            "started_at",
            "completed_at",
            "latency_ms",
            "error",
            "result",
            "contact_sheet",
            "frames",
            "ocr",
            "transcript",
            "links",
        ]

    @extend_schema_field(ProgressSerializer(allow_null=True, help_text=PROGRESS_HELP))
    def get_progress(self, request: AnalysisRequest) -> dict[str, Any] | None:
        return progress_of(request)  # stage and percent (issue 14)

    def get_model(self, request: AnalysisRequest) -> str | None:
        return (request.metadata or {}).get("requested_model")

    @extend_schema_field(OptionsSerializer)
    def get_options(self, request: AnalysisRequest) -> dict[str, Any]:
        options = dict((request.metadata or {}).get("options") or {})
        if options.get("max_cost_usd") is not None:
            # Stored as exact text; a number in the answer, as the schema says.
            options["max_cost_usd"] = Decimal(options["max_cost_usd"])
        return options

    @extend_schema_field(ErrorInfoSerializer(allow_null=True))
    def get_error(self, request: AnalysisRequest) -> dict[str, str] | None:
        if not request.error_code and not request.error_message:
            return None
        return {"code": request.error_code or "", "message": request.error_message or ""}

    @extend_schema_field(ResultSerializer(allow_null=True))
    def get_result(self, request: AnalysisRequest) -> dict[str, Any] | None:
        if request.status != "completed":
            return None
        results = list(request.results.all())  # prefetched, newest first
        return ResultSerializer(results[0]).data if results else None

    @extend_schema_field(ContactSheetSerializer(allow_null=True))
    def get_contact_sheet(self, request: AnalysisRequest) -> dict[str, Any] | None:
        if request.status != "completed":
            return None
        sheets = sorted(request.contact_sheets.all(), key=lambda s: s.created_at, reverse=True)
        if not sheets:
            return None
        sheet = sheets[0]
        return {
            "frames_count": sheet.frames_count,
            "grid_layout": sheet.grid_layout,
            "resolution": sheet.resolution,
            "file_size_bytes": sheet.file_size_bytes,
            "url": links_for(request.id)["contact_sheet"],
        }

    @extend_schema_field(FrameSerializer(many=True))
    def get_frames(self, request: AnalysisRequest) -> list[dict[str, Any]]:
        return frames_of(request)  # video frames with timestamps (issue 13)

    @extend_schema_field(OcrSerializer(many=True))
    def get_ocr(self, request: AnalysisRequest) -> list[dict[str, Any]]:
        return ocr_of(request)  # text read from pictures (issue 13)

    @extend_schema_field(TranscriptSerializer(allow_null=True))
    def get_transcript(self, request: AnalysisRequest) -> dict[str, Any] | None:
        return transcript_of(request)  # speech to text (issue 13)

    @extend_schema_field(LinksSerializer)
    def get_links(self, request: AnalysisRequest) -> dict[str, str]:
        return links_for(request.id)


# -------------------------------------------------------------------- audit
class AuditEntrySerializer(serializers.Serializer):
    """One ``audit_log`` row, as ``AuditLogEntry.as_dict()`` gives it."""

    id = serializers.UUIDField()
    table_name = serializers.CharField()
    record_id = serializers.UUIDField()
    action = serializers.ChoiceField(choices=["INSERT", "UPDATE", "DELETE"])
    old_values = serializers.JSONField(allow_null=True)
    new_values = serializers.JSONField(allow_null=True)
    performed_by = serializers.CharField(allow_null=True)
    ip_address = serializers.IPAddressField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    correlation_id = serializers.UUIDField(allow_null=True)


class AuditTrailSerializer(serializers.Serializer):
    request_id = serializers.UUIDField()
    entries = AuditEntrySerializer(many=True, help_text="Oldest first.")
    truncated = serializers.BooleanField(
        help_text="True when the trail is longer than the entries shown (the newest are cut)."
    )
