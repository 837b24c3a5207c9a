"""``POST /api/media/estimate`` and ``GET /api/usage``. Thin: the body is parsed as
analyze parses it (``analysis.api.views.read_submission``) and checked by the same
rules (``services.validated_fields``, the media URL rule); the work is in
``estimate``, ``budgets`` and ``usage``. An estimate stores nothing: an upload is
read from the temporary file the request brought (deleted when it ends).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from analysis import services
from analysis.api.authentication import HashedTokenAuthentication
from analysis.api.error_serializers import ErrorSerializer
from analysis.api.exceptions import ApiError
from analysis.api.serializers import AnalyzeSerializer, AnalyzeUploadSerializer
from analysis.api.throttling import TokenRateThrottle
from analysis.api.views import read_submission
from analysis.costs import estimate, usage
from analysis.costs.budgets import Standing, standings
from analysis.options import AnalysisOptions
from media_analysis.resilience import call_database, database_breaker_open, database_unavailable


# ------------------------------------------------------------------ answers
class PeriodBudgetSerializer(serializers.Serializer):
    limit_usd = serializers.CharField(allow_null=True, help_text="Null: unlimited.")
    spent_usd = serializers.CharField(help_text="Recorded results' cost in the period.")
    reserved_usd = serializers.CharField(help_text="Held by analyses running now.")
    remaining_usd = serializers.CharField(allow_null=True, help_text="Null: unlimited.")
    resets_at = serializers.DateTimeField(help_text="Next 00:00 UTC (day) or 1st (month).")


class BudgetSerializer(serializers.Serializer):
    today = PeriodBudgetSerializer()
    month = PeriodBudgetSerializer()


class EstimateSerializer(serializers.Serializer):
    provider = serializers.CharField()
    model = serializers.CharField()
    media_type = serializers.CharField(help_text="As known before processing.")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_usd = serializers.CharField(
        allow_null=True, help_text="Null when the model has no price in the price table."
    )
    assumptions = serializers.ListField(child=serializers.CharField())
    basis = serializers.DictField(help_text="What was known: the media's size and type, prices.")
    within_budget = serializers.BooleanField(
        allow_null=True, help_text="The estimate fits what is left today and this month."
    )
    budget = BudgetSerializer()


class UsageLineSerializer(serializers.Serializer):
    provider = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    results = serializers.IntegerField()
    cost_usd = serializers.CharField()
    unpriced_results = serializers.IntegerField(help_text="Results of unknown cost (counted 0).")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class UsagePeriodSerializer(PeriodBudgetSerializer):
    start = serializers.DateTimeField()
    results = serializers.IntegerField()
    by_model = UsageLineSerializer(many=True)


class UsageSerializer(serializers.Serializer):
    user = serializers.CharField()
    timezone = serializers.CharField(help_text="Periods are UTC.")
    today = UsagePeriodSerializer()
    month = UsagePeriodSerializer()


_DESCRIPTIONS = {
    400: "Bad input; the body names the problem.",
    401: "No valid token.",
    404: "No such user (or not staff).",
    406: "Not acceptable.",
    413: "The upload is over the size limit.",
    415: "Send JSON or multipart/form-data.",
    422: "The URL names a refused address.",
    429: "Rate limit reached; see Retry-After.",
    503: "The database is unavailable; see Retry-After.",
    507: "Storage is full (an upload cannot even be read).",
}


def _errors(*codes: int) -> dict[int, Any]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code]) for code in codes
    }


_COMMON = (400, 401, 404, 406, 429, 503)


def period_body(standing: Standing) -> dict[str, Any]:
    return {
        "limit_usd": _text(standing.limit),
        "spent_usd": str(standing.spent),
        "reserved_usd": str(standing.reserved),
        "remaining_usd": _text(standing.remaining),
        "resets_at": standing.resets_at.isoformat(),
    }


def _text(value) -> str | None:
    return None if value is None else str(value)


# -------------------------------------------------------------------- views
class CostViewSet(viewsets.GenericViewSet):
    authentication_classes = [HashedTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    serializer_class = EstimateSerializer
    queryset = get_user_model().objects.none()
    pagination_class = None

    def get_throttles(self):
        return [TokenRateThrottle("write" if self.action == "estimate" else "read")]

    @extend_schema(
        summary="What an analysis would cost, without submitting it (the analyze body)",
        request={
            "application/json": AnalyzeSerializer,
            "multipart/form-data": AnalyzeUploadSerializer,
        },
        responses={200: EstimateSerializer, **_errors(*_COMMON, 413, 415, 422, 507)},
    )
    def estimate(self, request):
        if database_breaker_open():
            raise database_unavailable()
        fields, upload = read_submission(request)
        checked = services.validated_fields(
            fields.get("prompt"),
            fields.get("provider"),
            fields.get("model"),
            fields.get("media_type"),
            fields.get("options"),
            fields.get("callback_url"),
        )
        options = AnalysisOptions.parse(checked["metadata"]["options"], stored=True)
        hint = checked["metadata"].get("media_type_hint")
        if upload is not None:
            media = estimate.media_of_upload(upload.temporary_file_path(), upload.size)
        else:
            url = services.validate_media_url(fields.get("media_url"))
            media = estimate.media_of_url(url, hint)
        guess = estimate.estimate(
            prompt=checked["prompt"],
            provider=checked["provider"],
            model=checked["metadata"].get("requested_model"),
            options=options,
            media=media,
        )
        day, month = call_database(standings, request.user.pk)
        fits = None
        if guess.cost_usd is not None:
            fits = all(s.remaining is None or guess.cost_usd <= s.remaining for s in (day, month))
        body = {
            "provider": guess.provider,
            "model": guess.model,
            "media_type": guess.media_type,
            "input_tokens": guess.input_tokens,
            "output_tokens": guess.output_tokens,
            "cost_usd": _text(guess.cost_usd),
            "assumptions": guess.assumptions,
            "basis": guess.basis,
            "within_budget": fits,
            "budget": {"today": period_body(day), "month": period_body(month)},
        }
        return Response(body)

    @extend_schema(
        summary="Spend today and this month (UTC) per provider and model, with budgets",
        parameters=[
            OpenApiParameter(
                "user",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="Staff only: another user's username.",
            )
        ],
        responses={200: UsageSerializer, **_errors(*_COMMON)},
    )
    def usage(self, request):
        user = self._whose(request)
        return Response(call_database(usage_body, user))

    @staticmethod
    def _whose(request):
        name = request.query_params.get("user")
        if name is None or name == request.user.get_username():
            return request.user
        if "\x00" in name or len(name) > 150:
            raise ApiError(400, "invalid_user", "user must be a username.", field="user")
        found = None
        if request.user.is_staff:
            found = call_database(
                lambda: (
                    get_user_model()
                    .objects.filter(**{get_user_model().USERNAME_FIELD: name})
                    .first()
                )
            )
        if found is None:
            raise ApiError(404, "user_not_found", "No such user.", field="user")
        return found


def usage_body(user) -> dict[str, Any]:
    """A user's spend today and this month, by provider and model, with budgets."""
    now = usage.now()
    day, month = standings(user.pk, now=now)
    periods = {}
    for name, standing, start in (
        ("today", day, usage.day_start(now)),
        ("month", month, usage.month_start(now)),
    ):
        lines = usage.spend_by_model(user.pk, start)
        periods[name] = {
            "start": start.isoformat(),
            **period_body(standing),
            "results": sum(line.results for line in lines),
            "by_model": [line.as_dict() for line in lines],
        }
    return {"user": user.get_username(), "timezone": "UTC", **periods}


ESTIMATE_VIEW = CostViewSet.as_view(
    {"post": "estimate"}, parser_classes=[JSONParser, MultiPartParser]
)
USAGE_VIEW = CostViewSet.as_view({"get": "usage"})
