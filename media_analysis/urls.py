from django.contrib import admin
from django.urls import include, path

from analysis.api import metrics
from media_analysis import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    path("api/", include("analysis.api.urls")),
    # Our exporter adds the API's gauges to django-prometheus's page.
    path("metrics", metrics.export, name="prometheus-django-metrics"),
    path("", include("django_prometheus.urls")),
]
