"""The Celery application, configured from Django settings (namespace ``CELERY``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")

app = Celery("media_analysis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
