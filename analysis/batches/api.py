"""``POST /api/media/analyze/batch`` and ``GET /api/media/batch/{id}``. Thin: the
envelope and each item's shape are checked here (every bad item is listed in one
400), the rules and the writes are ``analysis.batches.service``'s."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from analysis.api import idempotency
from analysis.api.authentication import HashedTokenAuthentication
from analysis.api.error_serializers import ErrorSerializer
from analysis.api.exceptions import validation_body
from analysis.api.serializers import AnalyzeSerializer
from analysis.api.throttling import TokenRateThrottle
from analysis.api.views import ID_PARAMETER, parse_request_id
from analysis.batches import service
from analysis.batches.serializers import (
    BatchAcceptedSerializer,
    BatchSerializer,
    BatchSubmitDocsSerializer,
    BatchSubmitSerializer,
    batch_path,
)
from analysis.webhooks import registry as webhook_registry
from media_analysis.context import current_correlation_id
from media_analysis.resilience import call_database, database_breaker_open, database_unavailable


def _errors(*codes: int) -> dict[int, Any]:
    return {code: OpenApiResponse(ErrorSerializer) for code in codes}


class BatchViewSet(viewsets.GenericViewSet):
    authentication_classes = [HashedTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    serializer_class = BatchSerializer

    def get_throttles(self):
        return [TokenRateThrottle("write" if self.action == "submit" else "read")]

    @extend_schema(
        summary="Submit up to 100 analyses at once (media by URL); all or none are created",
        request=BatchSubmitDocsSerializer,
        parameters=[
            OpenApiParameter(
                idempotency.HEADER,
                idempotency.HEADER_SCHEMA,
                OpenApiParameter.HEADER,
                required=False,
                description="Repeat a batch submission safely: the same key returns the first batch.",
            )
        ],
        responses={
            202: BatchAcceptedSerializer,
            **_errors(400, 401, 404, 406, 415, 422, 429, 503, 507),
        },
    )
    def submit(self, request):
        if database_breaker_open():
            raise database_unavailable()
        key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
        envelope = BatchSubmitSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        body = envelope.validated_data
        prepared = prepare_items(body["items"])
        callback_url = body.get("callback_url")
        batch, replayed = call_database(
            idempotency.submit_batch_once,
            owner=request.user,
            key=key,
            fields_fingerprint=idempotency.fingerprint(
                {"items": body["items"], "callback_url": callback_url}
            ),
            submit=lambda: service.submit_batch(
                prepared,
                owner=request.user,
                callback_url=callback_url,
                correlation_id=current_correlation_id(),
            ),
        )
        answer = BatchAcceptedSerializer.of(batch)
        wants_callback = callback_url or any(item.get("callback_url") for item in body["items"])
        if wants_callback and not replayed:
            # The user's callback secret is made on first use, shown in that answer only.
            secret = call_database(webhook_registry.ensure_callback_secret, request.user)
            if secret:
                answer["callback_secret"] = secret
        headers = {"Location": batch_path(batch.id)}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(answer, status=202, headers=headers)

    @extend_schema(
        summary="A batch's progress: counts per status and every item",
        parameters=[ID_PARAMETER],
        responses={200: BatchSerializer, **_errors(400, 401, 404, 406, 429, 503)},
    )
    def retrieve(self, request, id: str):
        batch_id = parse_request_id(id)

        def load() -> dict[str, Any]:
            batch = service.visible_batch(batch_id, request.user)
            return BatchSerializer.of(service.progress_of(batch))

        return Response(call_database(load))


def prepare_items(items: list[dict[str, Any]]) -> list:
    """Every item checked, shape then rules; one ``BatchInvalid`` lists them all."""
    prepared, problems = [], []
    for index, item in enumerate(items):
        shape = AnalyzeSerializer(data=item)
        if not shape.is_valid():
            error = validation_body(shape.errors)["error"]
            problems.append(
                service.ItemProblem(index, error["code"], error["message"], error.get("field"))
            )
            continue
        try:
            prepared.append(service.prepare_item(index, dict(shape.validated_data)))
        except service.ItemRefused as refused:
            problems.append(refused.problem)
    if problems:
        raise service.BatchInvalid(problems, len(items))
    return prepared
