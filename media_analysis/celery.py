"""The Celery application, configured from Django settings (namespace ``CELERY``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")

app = Celery("media_analysis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A task's log lines carry the correlation id it was sent with (header "correlation_id").
from media_analysis.middleware import connect_celery_log_context  # noqa: E402

connect_celery_log_context()
