"""``/api/webhooks``: register, list, show, edit (``PATCH``) and delete endpoints,
rotate an endpoint's secret and the callback secret. Thin: shapes checked here,
rules in ``registry``.

A secret is in the answer of the call that made it, and never again: an
endpoint's in ``POST /api/webhooks`` and ``POST /api/webhooks/{id}/rotate-secret``
(which replaces it; ``PATCH`` never changes it), the callback secret in the first
submission with a ``callback_url`` (``callback_secret``) or in
``POST /api/webhooks/callback-secret``, which replaces it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from analysis.api.authentication import HashedTokenAuthentication
from analysis.api.error_serializers import ErrorSerializer
from analysis.api.serializers import MediaUrlField, SafeCharField
from analysis.api.throttling import TokenRateThrottle
from analysis.webhooks import registry
from analysis.webhooks.models import WebhookEndpoint, WebhookEvent
from media_analysis.errors import InvalidRequest
from media_analysis.resilience import call_database, database_breaker_open, database_unavailable

SHOWN_ONCE_HELP = (
    "The Standard Webhooks signing secret (whsec_ + base64). Shown in this answer "
    "only: store it now."
)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(WebhookEvent.choices))
    disabled_reason = serializers.CharField(
        allow_null=True, help_text="Why it stopped receiving (410 Gone, 3 days of failures)."
    )
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="Attempts have failed since then, without a success."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "created_at",
        ]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text=SHOWN_ONCE_HELP)

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = MediaUrlField(
        max_length=8192, help_text="http(s) URL; public addresses only (the media URL rule)."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(WebhookEvent.choices),
        required=False,
        min_length=1,
        max_length=len(WebhookEvent.values),
        help_text="Which events it receives; default: every request.* event.",
    )
    description = SafeCharField(required=False, allow_blank=True, max_length=200)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: no silent "yes" -> true (the schema says boolean)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class WebhookEndpointChangesSerializer(serializers.Serializer):
    """Every field optional; the ones sent change, the others stay."""

    url = MediaUrlField(
        required=False,
        max_length=8192,
        help_text="A new http(s) URL; the address rule is checked again.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(WebhookEvent.choices),
        required=False,
        min_length=1,
        max_length=len(WebhookEvent.values),
        help_text="Which events it receives from now on.",
    )
    description = SafeCharField(required=False, allow_blank=True, max_length=200)
    enabled = StrictBooleanField(
        required=False,
        help_text="true puts a disabled endpoint back in service (its reason and failure "
        "streak are cleared); false disables it by hand (what was waiting is cancelled).",
    )


class CallbackSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text=SHOWN_ONCE_HELP)
    created_at = serializers.DateTimeField()


class EndpointSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text=SHOWN_ONCE_HELP)
    created_at = serializers.DateTimeField(help_text="When this secret replaced the old one.")


_DESCRIPTIONS = {
    400: "Bad input; the body names the field.",
    401: "No valid token.",
    404: "No such webhook endpoint (or not yours).",
    406: "Not acceptable.",
    409: "Too many endpoints.",
    415: "Send JSON.",
    429: "Rate limit reached; see Retry-After.",
    503: "The database is unavailable, or webhooks are not configured (WEBHOOK_ENCRYPTION_KEY).",
}


def _errors(*codes: int) -> dict[int, Any]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code]) for code in codes
    }


_COMMON = (400, 401, 404, 406, 429, 503)
ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Endpoint id.")


class WebhookViewSet(viewsets.GenericViewSet):
    authentication_classes = [HashedTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    serializer_class = WebhookEndpointSerializer
    queryset = WebhookEndpoint.objects.none()  # per caller: registry.visible_endpoints
    pagination_class = None  # at most WEBHOOK_MAX_ENDPOINTS_PER_USER each

    def get_throttles(self):
        return [TokenRateThrottle("read" if self.action in ("list", "retrieve") else "write")]

    def _guard_write(self) -> None:
        if database_breaker_open():
            raise database_unavailable()

    @extend_schema(
        summary="Register a webhook endpoint (its signing secret is in this answer only)",
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **_errors(*_COMMON, 409, 415)},
    )
    def create(self, request):
        self._guard_write()
        form = WebhookEndpointInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        fields = form.validated_data
        new = call_database(
            registry.register_endpoint,
            request.user,
            url=fields["url"],
            events=fields.get("events"),
            description=fields.get("description", ""),
        )
        body = {**WebhookEndpointSerializer(new.endpoint).data, "secret": new.secret}
        return Response(body, status=201)

    @extend_schema(
        summary="Your webhook endpoints, newest first (secrets are never shown again)",
        responses={200: WebhookEndpointSerializer(many=True), **_errors(*_COMMON)},
    )
    def list(self, request):
        endpoints = call_database(lambda: list(registry.visible_endpoints(request.user)))
        return Response(WebhookEndpointSerializer(endpoints, many=True).data)

    @extend_schema(
        summary="One webhook endpoint",
        parameters=[ID],
        responses={200: WebhookEndpointSerializer, **_errors(*_COMMON)},
    )
    def retrieve(self, request, id: str):
        endpoint = call_database(registry.endpoint_for, request.user, id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Delete a webhook endpoint (what was waiting for it is cancelled)",
        request=None,
        parameters=[ID],
        responses={204: OpenApiResponse(description="Deleted."), **_errors(*_COMMON)},
    )
    def destroy(self, request, id: str):
        self._guard_write()
        call_database(registry.delete_endpoint, request.user, id)
        return Response(status=204)

    @extend_schema(
        summary="Change a webhook endpoint's URL, events, description or enabled",
        description="Only the fields sent change. The signing secret is never changed "
        "here: POST /api/webhooks/{id}/rotate-secret replaces it.",
        request=WebhookEndpointChangesSerializer,
        parameters=[ID],
        responses={200: WebhookEndpointSerializer, **_errors(*_COMMON, 415)},
    )
    def partial_update(self, request, id: str):
        self._guard_write()
        if isinstance(request.data, dict) and "secret" in request.data:
            raise InvalidRequest(
                "secret_read_only",
                "The secret cannot be set; POST /api/webhooks/{id}/rotate-secret issues a new one.",
                field="secret",
            )
        form = WebhookEndpointChangesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        changes = registry.EndpointChanges(**form.validated_data)
        endpoint = call_database(registry.update_endpoint, request.user, id, changes)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="A new signing secret for a webhook endpoint (the old one stops at once)",
        request=None,
        parameters=[ID],
        responses={201: EndpointSecretSerializer, **_errors(*_COMMON)},
    )
    def rotate_secret(self, request, id: str):
        self._guard_write()
        issued = call_database(registry.rotate_endpoint_secret, request.user, id)
        body = EndpointSecretSerializer({"secret": issued.secret, "created_at": issued.created_at})
        return Response(body.data, status=201)

    @extend_schema(
        summary="A new secret for your callback_url deliveries (the old one stops at once)",
        request=None,
        responses={201: CallbackSecretSerializer, **_errors(*_COMMON)},
    )
    def rotate_callback_secret(self, request):
        self._guard_write()
        issued = call_database(registry.rotate_callback_secret, request.user)
        body = CallbackSecretSerializer({"secret": issued.secret, "created_at": issued.created_at})
        return Response(body.data, status=201)
