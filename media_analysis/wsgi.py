"""The web's entry point: gunicorn (``media_analysis.wsgi``) and runserver load it.

``application`` is Django's, wrapped by the status poll's fast path."""

import os

from django.core.wsgi import get_wsgi_application

from media_analysis.db_backend import disable_connect_retries

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")

# The web fails fast: a request never sleeps on a database connection retry
# (DB_CONNECT_RETRIES is for workers, beat and management commands). With
# PostgreSQL down the request answers 503 and the circuit breaker opens; see
# docs/database-pool.md.
disable_connect_retries()

django_application = get_wsgi_application()

# Imported once Django is set up (the fast path's modules load models). A cached
# status poll is answered before Django's handler; see analysis/api/status_poll_wsgi.py.
from analysis.api.status_poll_wsgi import StatusPollApplication  # noqa: E402

application = StatusPollApplication(django_application)
