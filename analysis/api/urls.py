"""API paths, exactly as the plan names them (mounted under ``/api/``)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer

from analysis.api.views import JPEGRenderer, MediaViewSet
from analysis.batches.api import BatchViewSet
from analysis.costs.api import ESTIMATE_VIEW, USAGE_VIEW
from analysis.webhooks.api import WebhookViewSet

urlpatterns = [
    path(
        "media/analyze",
        MediaViewSet.as_view({"post": "analyze"}, parser_classes=[JSONParser, MultiPartParser]),
        name="media-analyze",
    ),
    path(
        "media/analyze/batch", BatchViewSet.as_view({"post": "submit"}), name="media-analyze-batch"
    ),
    path("media/batch/<str:id>", BatchViewSet.as_view({"get": "retrieve"}), name="media-batch"),
    # Before media/<id>, which would take "estimate" for an id.
    path("media/estimate", ESTIMATE_VIEW, name="media-estimate"),
    path("media/history", MediaViewSet.as_view({"get": "history"}), name="media-history"),
    path("media/status/<str:id>", MediaViewSet.as_view({"get": "status"}), name="media-status"),
    path(
        "media/<str:id>/contact-sheet",
        MediaViewSet.as_view(
            {"get": "contact_sheet"}, renderer_classes=[JSONRenderer, JPEGRenderer]
        ),
        name="media-contact-sheet",
    ),
    path(
        "media/<str:id>/frames/<str:index>",
        MediaViewSet.as_view({"get": "frame"}, renderer_classes=[JSONRenderer, JPEGRenderer]),
        name="media-frame",
    ),
    path("media/<str:id>/retry", MediaViewSet.as_view({"post": "retry"}), name="media-retry"),
    path("media/<str:id>/cancel", MediaViewSet.as_view({"post": "cancel"}), name="media-cancel"),
    path("media/<str:id>/audit", MediaViewSet.as_view({"get": "audit"}), name="media-audit"),
    path("media/<str:id>", MediaViewSet.as_view({"delete": "destroy"}), name="media-delete"),
    path(
        "webhooks",
        WebhookViewSet.as_view({"get": "list", "post": "create"}),
        name="webhooks",
    ),
    path(
        "webhooks/callback-secret",
        WebhookViewSet.as_view({"post": "rotate_callback_secret"}),
        name="webhooks-callback-secret",
    ),
    path(
        "webhooks/<str:id>",
        WebhookViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="webhook",
    ),
    path(
        "webhooks/<str:id>/rotate-secret",
        WebhookViewSet.as_view({"post": "rotate_secret"}),
        name="webhook-rotate-secret",
    ),
    path("usage", USAGE_VIEW, name="usage"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
