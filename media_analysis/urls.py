from django.contrib import admin
from django.urls import include, path

from media_analysis import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    path("", include("django_prometheus.urls")),
]
