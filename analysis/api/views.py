"""The media endpoints. Thin: authenticate, check shapes, call ``analysis.services``,
answer. Reads go through the Redis cache (``analysis.cache``); database work goes
through the database breaker (``media_analysis.resilience``), so with PostgreSQL
down cached reads still answer (``X-Data-Source: cache``) and writes get 503 with
Retry-After before any byte of an upload is read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from analysis import cache, services
from analysis.api import idempotency
from analysis.api.authentication import HashedTokenAuthentication
from analysis.api.error_serializers import ErrorSerializer
from analysis.api.exceptions import ApiError, not_found
from analysis.api.filters import HistoryFilter, HistoryPagination
from analysis.api.history_schema import HISTORY_PARAMETERS
from analysis.api.history_serializers import HISTORY_COLUMNS, HistoryItemSerializer, history_items
from analysis.api.serializers import (
    AcceptedSerializer,
    AnalyzeSerializer,
    AnalyzeUploadSerializer,
    AuditTrailSerializer,
    StatusSerializer,
    status_path,
)
from analysis.api.status_poll import DATA_SOURCE_HEADER, prefetch_for
from analysis.api.throttling import TokenRateThrottle
from analysis.api.uploads import use_upload_handler
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.webhooks import registry as webhook_registry
from audit.queries import trail_for
from media_analysis.context import current_correlation_id
from media_analysis.resilience import call_database, database_breaker_open, database_unavailable
from storage_app.layout import Category, UnsafePathError, frame_name
from storage_app.models import ContactSheet, MediaFile
from storage_app.serving import serve_record

WRITE_ACTIONS = {"analyze", "retry", "cancel", "destroy"}
_json = JSONRenderer()
# A request's trail is short (a few dozen entries); the cap keeps a pathological
# one from building a huge response.
AUDIT_TRAIL_LIMIT = 1000


class JPEGRenderer(BaseRenderer):
    """Lets ``Accept: image/jpeg`` reach the contact-sheet and frame views (their
    bodies are files)."""

    media_type = "image/jpeg"
    format = "jpg"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


def _error(*codes: int) -> dict[int, Any]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code]) for code in codes
    }


_DESCRIPTIONS = {
    400: "Bad input; the body names the problem.",
    401: "No valid token.",
    404: "No such request (or not yours).",
    405: "Method not allowed.",
    406: "Not acceptable.",
    409: "The request is not in a state that allows this.",
    413: "The upload is over the size limit.",
    415: "Send JSON or multipart/form-data.",
    422: "The Idempotency-Key was used with different fields, or the URL names a refused address.",
    429: "Rate limit or budget reached (budget_exceeded, with resets_at); see Retry-After.",
    502: "The media server failed.",
    503: "The database is unavailable; see Retry-After.",
    504: "The media server was too slow.",
    507: "Storage is full; new media is refused.",
}
_COMMON = (400, 401, 404, 406, 429, 503)
ID_PARAMETER = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Request id."
)


def parse_request_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise ApiError(400, "invalid_id", "The request id must be a UUID.", field="id") from None


def parse_frame_index(value: str) -> int:
    # Matched as text, not <int:>: anything else would fall through to Django's
    # HTML 404 instead of a JSON answer naming the parameter.
    if not (value.isascii() and value.isdigit() and len(value) <= 6):
        raise ApiError(
            400,
            "invalid_frame_index",
            "The frame index is a whole number (1 for the first).",
            field="index",
        )
    return int(value)


def refuse_repeated_fields(form, fields: Iterable[str]) -> None:
    """A field given twice is ambiguous (Django would keep the last): refuse it.
    Fields the form does not read are ignored, given once or twice."""
    for name in fields:
        if len(form.getlist(name)) > 1:
            raise ApiError(
                400, f"invalid_{name}"[:60], f"{name} was given more than once.", field=name
            )


def read_submission(request) -> tuple[dict[str, Any], Any]:
    """An analyze body's fields by shape, and the uploaded file (None for JSON): the
    same parsing for a submission and for its estimate (analysis/costs/api.py)."""
    is_upload = (request.content_type or "").startswith("multipart/form-data")
    if is_upload:
        use_upload_handler(request._request)
        refuse_repeated_fields(request.data, AnalyzeUploadSerializer().fields)
    serializer = (AnalyzeUploadSerializer if is_upload else AnalyzeSerializer)(data=request.data)
    serializer.is_valid(raise_exception=True)
    fields = dict(serializer.validated_data)
    upload = fields.pop("file", None)
    if not is_upload and "file" in request.data:
        raise ApiError(400, "invalid_file", "Upload files as multipart/form-data.", field="file")
    return fields, upload


def json_response(body: bytes, *, status: int = 200, source: str | None = None) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    if source:
        response[DATA_SOURCE_HEADER] = source
    return response


def visible_requests(user) -> Any:
    """What a caller may see: their own requests (staff: all), never soft-deleted ones."""
    queryset = AnalysisRequest.objects.filter(deleted_at__isnull=True)
    return queryset if user.is_staff else queryset.filter(owner_id=user.pk)


def can_see(user, owner_id: int | None) -> bool:
    return user.is_staff or (owner_id is not None and owner_id == user.pk)


class MediaViewSet(viewsets.GenericViewSet):
    """One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments)."""

    authentication_classes = [HashedTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    filter_backends = [DjangoFilterBackend]
    filterset_class = HistoryFilter
    pagination_class = HistoryPagination
    serializer_class = StatusSerializer
    queryset = AnalysisRequest.objects.none()  # per caller: visible_requests()

    def initial(self, request, *args, **kwargs):
        if self.action == "status":
            # The hot path: token lookup, throttle counter and cached status in one
            # Redis round trip (already made when StatusPollMiddleware passed the
            # request on), before DRF authenticates and throttles with its result.
            prefetch_for(request._request, kwargs.get("id"))
        super().initial(request, *args, **kwargs)

    def get_throttles(self):
        return [TokenRateThrottle("write" if self.action in WRITE_ACTIONS else "read")]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and isinstance(response.accepted_renderer, JPEGRenderer):
            response.accepted_renderer = _json  # errors are JSON whatever was asked
            response.accepted_media_type = "application/json"
        return response

    # ------------------------------------------------------------------ submit
    @extend_schema(
        summary="Submit media for analysis (by URL, or upload as multipart 'file')",
        request={
            "application/json": AnalyzeSerializer,
            "multipart/form-data": AnalyzeUploadSerializer,
        },
        parameters=[
            OpenApiParameter(
                idempotency.HEADER,
                idempotency.HEADER_SCHEMA,
                OpenApiParameter.HEADER,
                required=False,
                description="Repeat a submission safely: the same key returns the first request.",
            )
        ],
        responses={202: AcceptedSerializer, **_error(*_COMMON, 413, 415, 422, 507)},
    )
    def analyze(self, request):
        if database_breaker_open():
            raise database_unavailable()  # before reading a possibly large body
        key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
        fields, upload = read_submission(request)
        common = {
            "prompt": fields.get("prompt"),
            "owner": request.user,
            "provider": fields.get("provider"),
            "model": fields.get("model"),
            "media_type": fields.get("media_type"),
            "options": fields.get("options"),
            "correlation_id": current_correlation_id(),
            "callback_url": fields.get("callback_url"),
        }
        if upload is not None:
            described = {**common, "file": upload.name, "size": upload.size}

            def submit() -> AnalysisRequest:
                return services.submit_upload_request(
                    chunks=upload.chunks(),
                    original_filename=upload.name,
                    expected_bytes=upload.size,
                    **common,
                )
        else:
            described = {**common, "media_url": fields.get("media_url")}

            def submit() -> AnalysisRequest:
                return services.submit_url_request(media_url=fields.get("media_url"), **common)

        described.pop("owner"), described.pop("correlation_id")
        analysis, replayed = call_database(
            idempotency.submit_once,
            owner=request.user,
            key=key,
            fields_fingerprint=idempotency.fingerprint(described),
            submit=submit,
        )
        headers = {"Location": status_path(analysis.id)}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        body = AcceptedSerializer.of(analysis)
        if common["callback_url"] and not replayed:
            # The user's callback secret is made on first use, shown in that answer only.
            secret = call_database(webhook_registry.ensure_callback_secret, request.user)
            if secret:
                body["callback_secret"] = secret
        return Response(body, status=202, headers=headers)

    # ------------------------------------------------------------------ status
    @extend_schema(
        summary="A request's state, timings, error, and (completed) result and contact sheet",
        parameters=[ID_PARAMETER],
        responses={200: StatusSerializer, **_error(*_COMMON)},
    )
    def status(self, request, id: str):
        request_id = parse_request_id(id)
        prefetched = getattr(request._request, "api_prefetch", None)
        lookup = prefetched.status if prefetched is not None else cache.lookup_status(request_id)
        if lookup.hit:
            if not can_see(request.user, lookup.owner_id):
                raise not_found()
            return json_response(lookup.body, source="cache")
        analysis = call_database(self._load_status, request_id, request.user)
        body = _json.render(StatusSerializer(analysis).data)
        cache.store_status(
            request_id, lookup, owner_id=analysis.owner_id, status=analysis.status, body=body
        )
        return json_response(body, source="database")

    @staticmethod
    def _load_status(request_id: uuid.UUID, user) -> AnalysisRequest:
        analysis = (
            visible_requests(user)
            .prefetch_related(
                Prefetch("results", queryset=AnalysisResult.objects.order_by("-created_at")),
                "contact_sheets",
            )
            .filter(pk=request_id)
            .first()
        )
        if analysis is None:
            raise not_found()
        return analysis

    # ----------------------------------------------------------- contact sheet
    @extend_schema(
        summary="The contact sheet image (JPEG)",
        parameters=[ID_PARAMETER],
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The image."),
            **_error(*_COMMON),
        },
    )
    def contact_sheet(self, request, id: str):
        request_id = parse_request_id(id)
        sheet = call_database(self._load_sheet, request_id, request.user)
        try:
            return serve_record(
                sheet.relative_path,
                sheet.storage_path,
                content_type="image/jpeg",
                filename=f"{request_id}-contact-sheet.jpg",
            )
        except (OSError, UnsafePathError):
            raise ApiError(
                404, "contact_sheet_missing", "The contact sheet file is no longer stored."
            ) from None

    @staticmethod
    def _load_sheet(request_id: uuid.UUID, user) -> ContactSheet:
        if not visible_requests(user).filter(pk=request_id).exists():
            raise not_found()
        sheet = ContactSheet.objects.filter(request_id=request_id).order_by("-created_at").first()
        if sheet is None:
            raise ApiError(404, "no_contact_sheet", "This request has no contact sheet (yet).")
        return sheet

    # ------------------------------------------------------------------- frames
    @extend_schema(
        summary="One frame taken from the video (JPEG), numbered as the status lists them",
        parameters=[
            ID_PARAMETER,
            OpenApiParameter(
                "index",
                # As parse_frame_index reads it: at most six digits.
                {"type": "integer", "minimum": 1, "maximum": 999_999},
                OpenApiParameter.PATH,
                description="1 for the first.",
            ),
        ],
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The image."),
            **_error(*_COMMON),
        },
    )
    def frame(self, request, id: str, index: str):
        request_id = parse_request_id(id)
        number = parse_frame_index(index)
        row = call_database(self._load_frame, request_id, number, request.user)
        try:
            return serve_record(
                row.relative_path,
                row.storage_path,
                content_type="image/jpeg",
                filename=f"{request_id}-{row.filename}",
            )
        except (OSError, UnsafePathError):
            raise ApiError(404, "frame_missing", "The frame file is no longer stored.") from None

    @staticmethod
    def _load_frame(request_id: uuid.UUID, index: int, user) -> MediaFile:
        if not visible_requests(user).filter(pk=request_id).exists():
            raise not_found()
        row = None
        if index >= 1:  # frames are numbered from 1; the URL's converter also takes 0
            row = (
                MediaFile.objects.filter(
                    request_id=request_id,
                    filename=frame_name(index),
                    relative_path__startswith=f"{Category.FRAMES.value}/",
                    deleted_at__isnull=True,
                )
                .order_by("-uploaded_at")
                .first()
            )
        if row is None:
            raise ApiError(404, "no_frame", f"This request has no frame {index} (yet).")
        return row

    # ------------------------------------------------------------------ audit
    @extend_schema(
        summary="A request's audit trail: every change to it and its results, files and sheets",
        parameters=[ID_PARAMETER],
        responses={200: AuditTrailSerializer, **_error(*_COMMON)},
    )
    def audit(self, request, id: str):
        request_id = self._owned(request, id)
        entries = call_database(lambda: list(trail_for(request_id)[: AUDIT_TRAIL_LIMIT + 1]))
        body = {
            "request_id": str(request_id),
            "entries": [entry.as_dict() for entry in entries[:AUDIT_TRAIL_LIMIT]],
            "truncated": len(entries) > AUDIT_TRAIL_LIMIT,
        }
        return json_response(_json.render(body), source="database")

    # ----------------------------------------------------------------- history
    @extend_schema(
        summary="Your requests, newest first, filtered and paginated",
        parameters=HISTORY_PARAMETERS,
        responses={200: HistoryItemSerializer(many=True), **_error(400, 401, 404, 406, 429, 503)},
    )
    def history(self, request):
        scope = cache.history_scope(request.user)
        query = f"{request.get_host()}?{sorted(request.query_params.lists())}"
        lookup = cache.lookup_history(scope, query)
        if lookup.hit:
            return json_response(lookup.body, source="cache")
        body = call_database(self._history_page, request)
        cache.store_history(scope, query, lookup, body)
        return json_response(body, source="database")

    def _history_page(self, request) -> bytes:
        queryset = self.filter_queryset(visible_requests(request.user))
        # Plain rows of the columns a line shows, built by a plain function: the
        # same bytes as HistoryItemSerializer, a fraction of its cost (issue 12).
        page = self.paginate_queryset(queryset.values(*HISTORY_COLUMNS))
        return _json.render(self.get_paginated_response(history_items(page)).data)

    # ------------------------------------------------------------ transitions
    def _owned(self, request, id: str) -> uuid.UUID:
        request_id = parse_request_id(id)
        exists = call_database(
            lambda: visible_requests(request.user).filter(pk=request_id).exists()
        )
        if not exists:
            raise not_found()
        return request_id

    def _guard_write(self) -> None:
        if database_breaker_open():
            raise database_unavailable()

    @extend_schema(
        summary="Retry a failed or cancelled request (at most 10 times)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={202: AcceptedSerializer, **_error(*_COMMON, 409)},
    )
    def retry(self, request, id: str):
        self._guard_write()
        request_id = self._owned(request, id)
        analysis = call_database(services.retry_request, request_id)
        return Response(AcceptedSerializer.of(analysis), status=202)

    @extend_schema(
        summary="Cancel a pending or processing request",
        request=None,
        parameters=[ID_PARAMETER],
        responses={200: AcceptedSerializer, **_error(*_COMMON, 409)},
    )
    def cancel(self, request, id: str):
        self._guard_write()
        request_id = self._owned(request, id)
        analysis = call_database(services.cancel_request, request_id)
        return Response(AcceptedSerializer.of(analysis), status=200)

    @extend_schema(
        summary="Soft-delete a request (kept, hidden from status and history)",
        request=None,
        parameters=[ID_PARAMETER],
        responses={204: OpenApiResponse(description="Deleted."), **_error(*_COMMON)},
    )
    def destroy(self, request, id: str):
        self._guard_write()
        request_id = self._owned(request, id)
        call_database(services.soft_delete_request, request_id)
        return Response(status=204)
