from django.contrib import admin
from django.urls import include, path

from analysis.api import metrics
from analysis.dashboard import dashboard_view
from media_analysis import health

urlpatterns = [
    # The staff dashboard (analysis/dashboard.py); before admin.site.urls, which
    # would otherwise read "dashboard" as an app label.
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    path("api/", include("analysis.api.urls")),
    # Our exporter adds the API's gauges to django-prometheus's page.
    path("metrics", metrics.export, name="prometheus-django-metrics"),
    path("", include("django_prometheus.urls")),
]
